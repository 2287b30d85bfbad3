"""What every step reads through: the bundle's path, the user's trust inputs and the open
:class:`~evidence.bundle.reader.BundleView`, with bounded, fail-closed reads of its members.

The context holds no result of any step; the only thing it remembers is the SHA-256 and size
of a member once hashed (a cache: the member cannot change while the view is open).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from evidence._internal import jsonstrict
from evidence.bundle.reader import BundleView
from evidence.errors import BundleFormatError
from evidence.note import Verifier
from evidence.timestamp import PinnedTSA
from evidence.trust import TrustPolicy
from evidence.verify.common import READ_ERRORS, Fail


@dataclass(frozen=True)
class TrustInputs:
    """What the user trusts: a trust policy, log and clock keys, pinned TSAs and certificates."""

    policy: TrustPolicy | None
    keys: tuple[Verifier, ...] = ()
    tsa_pins: tuple[PinnedTSA, ...] = ()
    tsa_certs: tuple[x509.Certificate, ...] = ()


@dataclass
class Context:
    """The bundle being verified and what the user trusts; see the module docstring.

    :meth:`open` (step 1) opens the bundle; :meth:`close` (the runner, always) closes it.
    """

    path: Path
    trust: TrustInputs
    view: BundleView | None = None
    _digests: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def policy(self) -> TrustPolicy | None:
        """The user's trust policy, if any."""
        return self.trust.policy

    @property
    def keys(self) -> tuple[Verifier, ...]:
        """Log and clock keys the user gave."""
        return self.trust.keys

    @property
    def tsa_pins(self) -> tuple[PinnedTSA, ...]:
        """TSAs the user pinned."""
        return self.trust.tsa_pins

    @property
    def tsa_certs(self) -> tuple[x509.Certificate, ...]:
        """Certificates the user trusts for time-stamps."""
        return self.trust.tsa_certs

    @property
    def v(self) -> BundleView:
        """The open bundle (only after :meth:`open`)."""
        assert self.view is not None
        return self.view

    def open(self) -> BundleView:
        """Open the bundle; a file that is not a readable bundle is UNUSABLE INPUT."""
        try:
            self.view = BundleView.open(self.path)
        except BundleFormatError as e:
            raise Fail(e.diagnostics(), unusable=True) from e
        return self.view

    def close(self) -> None:
        """Close the bundle if it was opened."""
        if self.view is not None:
            self.view.close()

    def read(self, name: str, step_hint: str = "", *, limit: int | None = None) -> bytes:
        """The bytes of member ``name``; a missing or damaged member fails the step."""
        if not self.v.has(name):
            raise Fail(f"The bundle has no {name}{step_hint}.", name)
        try:
            return self.v.read(name) if limit is None else self.v.read(name, limit=limit)
        except BundleFormatError as e:
            raise Fail(f"{name} cannot be read from the bundle: {e.message}", name) from e
        except READ_ERRORS as e:
            raise Fail(f"{name} is damaged inside the ZIP file and cannot be read ({e}).", name) from e

    def hash(self, name: str) -> tuple[str, int]:
        """SHA-256 (hex) and size of member ``name``, computed once."""
        if name not in self._digests:
            try:
                self._digests[name] = self.v.sha256(name)
            except BundleFormatError as e:
                raise Fail(f"{name} is damaged inside the ZIP file: {e.message}", name) from e
            except READ_ERRORS as e:
                raise Fail(f"{name} is damaged inside the ZIP file and cannot be read ({e}).", name) from e
        return self._digests[name]

    def json(self, name: str, *, unusable: bool = False) -> Any:
        """Member ``name`` read as strict JSON."""
        data = self.read(name)
        try:
            return jsonstrict.loads(data)
        except jsonstrict.StrictJSONError as e:
            # JSON that readers may read differently (a key twice, NaN, not UTF-8): a forgery
            # signal, so FAILED even where unreadable JSON is UNUSABLE INPUT.
            raise Fail(f"{name} is ambiguous JSON: {e}.", name) from e
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise Fail(f"{name} is not valid JSON ({e}).", name, unusable=unusable) from e
