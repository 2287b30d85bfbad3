"""pytest fixtures around the local TSA.

Use them from a test module with ``from tsa.fixtures import local_tsa, make_tsa, tsa_pki``
(tests/ is on sys.path), or register the module once for the whole suite with
``pytest_plugins = ["tsa.fixtures"]`` in tests/conftest.py.

- ``tsa_pki``: a session-wide throw-away root CA (:class:`tsa.server.TestPKI`).
- ``local_tsa``: a session-wide running TSA under that root (:class:`RunningTSA`).
- ``make_tsa``: a factory for more TSAs (other names, EKU profiles, validity periods);
  their servers stop at the end of the test.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from evidence.config import TSAConfig
from evidence.timestamp import CertPin, PinnedTSA
from tsa.server import EkuProfile, Issued, LocalTSA, TestPKI, TSAServer

__all__ = ["RunningTSA", "local_tsa", "make_tsa", "start_tsa", "tsa_pki"]


@dataclass
class RunningTSA:
    """A TSA certificate, the ``openssl ts -reply`` signer using it, and its HTTP server."""

    name: str
    pki: TestPKI
    issued: Issued
    tsa: LocalTSA
    server: TSAServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def cert_path(self) -> Path:
        return self.issued.cert_path

    @property
    def root_path(self) -> Path:
        return self.pki.root.cert_path

    def config(self, *, pinned: bool = True, timeout: float = 5.0) -> TSAConfig:
        """How config.toml would describe this TSA (pinned: certificate + root)."""
        if not pinned:
            return TSAConfig(name=self.name, url=self.url, timeout=timeout)
        return TSAConfig(
            name=self.name,
            url=self.url,
            certificate=self.cert_path,
            root=self.root_path,
            timeout=timeout,
        )

    def pinned(
        self, *, not_before: dt.datetime | None = None, not_after: dt.datetime | None = None
    ) -> PinnedTSA:
        """How a trust policy pins this TSA."""
        return PinnedTSA(
            name=self.name,
            certificate=CertPin.of(self.issued.cert),
            root=CertPin.of(self.pki.root.cert),
            not_before=not_before,
            not_after=not_after,
        )

    def policy_lines(self) -> str:
        """Trust-policy lines pinning this TSA by its certificate files."""
        return (
            f"tsa-root {self.name}-root {self.root_path}\n"
            f"tsa {self.name} {self.cert_path} {self.name}-root\n"
        )

    def close(self) -> None:
        self.server.close()


def start_tsa(
    pki: TestPKI,
    directory: Path,
    name: str = "local-tsa",
    *,
    cn: str | None = None,
    eku: EkuProfile = "critical",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> RunningTSA:
    """Issue a TSA certificate under ``pki`` and serve ``openssl ts -reply`` with it."""
    issued = pki.issue_tsa(
        cn or f"Evidence Test TSA {name}", eku=eku, not_before=not_before, not_after=not_after
    )
    tsa = LocalTSA(directory / name, issued)
    return RunningTSA(name=name, pki=pki, issued=issued, tsa=tsa, server=TSAServer(tsa))


def _need_openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the local TSA needs the openssl command (apt-get install openssl)")


@pytest.fixture(scope="session")
def tsa_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """A throw-away root CA for test TSAs."""
    _need_openssl()
    return TestPKI(tmp_path_factory.mktemp("tsa-pki"))


@pytest.fixture(scope="session")
def local_tsa(tsa_pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTSA]:
    """A running local TSA (``openssl ts -reply`` over HTTP on 127.0.0.1)."""
    running = start_tsa(
        tsa_pki, tmp_path_factory.mktemp("tsa"), "local-tsa", cn="Evidence Test TSA"
    )
    yield running
    running.close()


@pytest.fixture
def make_tsa(tsa_pki: TestPKI, tmp_path: Path) -> Iterator[Callable[..., RunningTSA]]:
    """Factory: ``make_tsa(name, eku=..., not_before=..., not_after=..., pki=...)``."""
    started: list[RunningTSA] = []

    def make(name: str = "other-tsa", *, pki: TestPKI | None = None, **kw: object) -> RunningTSA:
        running = start_tsa(pki or tsa_pki, tmp_path / "tsas", name, **kw)  # type: ignore[arg-type]
        started.append(running)
        return running

    yield make
    for running in started:
        running.close()
