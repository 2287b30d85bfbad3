"""The verifier's tests on the base install: a pytest plugin and the corpus they verify.

The base install (``pip install .``) verifies; it cannot capture, serve or write a log. So
CI first builds a corpus of bundles with the full venv (``python tests/verifier_base.py
build DIR``: a hand-made capture sealed into a real log, time-stamped by the local TSA, its
trust policy and the TSA's certificates beside it), then runs the tests marked ``verifier``
in a venv holding only the base install plus pytest and hypothesis::

    EVIDENCE_TEST_CORPUS=DIR python -m pytest -p verifier_base -m verifier tests/

With this plugin loaded the forbidden modules (the browser driver, the server's web stack,
numpy and the POSIX-only ``fcntl``) are unimportable, as on a lawyer's Windows machine, and
the ``made`` fixtures read the corpus instead of capturing or sealing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Unimportable under this plugin (what tests/test_imports.py forbids on the verify path).
FORBIDDEN = ("playwright", "starlette", "uvicorn", "numpy", "uvloop", "httptools", "fcntl")
CORPUS_ENV = "EVIDENCE_TEST_CORPUS"


class _Refuse:
    """A meta-path finder that makes the forbidden modules look not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in FORBIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by tests/verifier_base.py)", name=name)
        return None


def block() -> None:
    """Make the forbidden modules unimportable from now on.

    pytest itself may have imported ``fcntl`` already (the standard library's own users keep
    their reference): it is dropped from ``sys.modules``, so any later ``import fcntl`` fails.
    The project must not be imported yet, or its modules could hold a forbidden one.
    """
    early = sorted(n for n in sys.modules if n.split(".")[0] in ("evidence", "evidence_cli"))
    if early:
        raise RuntimeError(f"imported before the blocker was installed: {', '.join(early)}")
    for name in [n for n in sys.modules if n.split(".")[0] in FORBIDDEN]:
        del sys.modules[name]
    if not any(isinstance(f, _Refuse) for f in sys.meta_path):
        sys.meta_path.insert(0, _Refuse())


def pytest_configure(config: Any) -> None:
    """Loaded with ``-p verifier_base``: block before any test module is imported."""
    block()
    if not os.environ.get(CORPUS_ENV):
        raise RuntimeError(f"-p verifier_base needs {CORPUS_ENV}=DIR (python tests/verifier_base.py build DIR)")


def corpus() -> Path | None:
    """The corpus directory when the tests run on the base install, else None."""
    value = os.environ.get(CORPUS_ENV)
    return Path(value) if value else None


@dataclass(frozen=True)
class LogKeys:
    """What the verifier's tests read of a log they may not open for writing."""

    origin: str
    verifier: Any
    timestamp_verifier: Any


@dataclass(frozen=True)
class TsaFiles:
    """What the verifier's tests read of the local TSA that stamped the corpus."""

    name: str
    cert_path: Path
    root_path: Path

    @property
    def issued(self) -> Any:
        from evidence.timestamp import load_certificates

        @dataclass(frozen=True)
        class _Issued:
            cert: Any

        return _Issued(load_certificates(self.cert_path)[0])


def load(name: str) -> dict[str, Any]:
    """Corpus entry ``name``: its bundle, policy, log keys, TSA files, index and size."""
    from evidence.note import Verifier

    root = corpus()
    assert root is not None
    d = root / name
    meta = json.loads((d / "made.json").read_text(encoding="utf-8"))
    return {
        "bundle": d / meta["bundle"],
        "log": LogKeys(meta["origin"], Verifier.from_vkey(meta["log_vkey"]), Verifier.from_vkey(meta["clock_vkey"])),
        "tsa": TsaFiles(meta["tsa_name"], d / "tsa.pem", d / "tsa-root.pem"),
        "policy_path": d / "trust.policy",
        "entry_index": meta["entry_index"],
        "size": meta["size"],
    }


def build(root: Path) -> None:
    """Build the corpus with the full install (a hand-made bundle per verifier test module)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import handmade
    from tsa.fixtures import start_tsa
    from tsa.server import TestPKI

    root.mkdir(parents=True, exist_ok=True)
    pki = TestPKI(root / "tsa-pki")
    tsa = start_tsa(pki, root / "tsa", "local-tsa", cn="Evidence Test TSA")
    try:
        for name, origin in (("verify", "verify.test/evidence"),):
            d = root / name
            d.mkdir()
            bundle, log = handmade.make_bundle(d / "work", tsa.url, origin)
            shutil.copy(bundle.path, d / "listing.wacz")
            shutil.copy(tsa.cert_path, d / "tsa.pem")
            shutil.copy(tsa.root_path, d / "tsa-root.pem")
            lines = tsa.policy_lines().replace(str(tsa.root_path), str(d / "tsa-root.pem"))
            lines = lines.replace(str(tsa.cert_path), str(d / "tsa.pem"))
            (d / "trust.policy").write_text(
                f"log {log.verifier.vkey()}\nwitness log-clock {log.timestamp_verifier.vkey()}\nquorum none\n" + lines,
                encoding="utf-8",
            )
            meta = {
                "bundle": "listing.wacz",
                "origin": log.origin,
                "log_vkey": log.verifier.vkey(),
                "clock_vkey": log.timestamp_verifier.vkey(),
                "tsa_name": tsa.name,
                "entry_index": bundle.log_index,
                "size": bundle.checkpoint.size,
            }
            (d / "made.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    finally:
        tsa.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        raise SystemExit("usage: python tests/verifier_base.py build DIR")
    build(Path(sys.argv[2]))
