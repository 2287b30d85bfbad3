"""The evidence number of a log entry and the text its QR code carries (pure, no I/O).

The **evidence number** names one entry of one log: ``<origin>#<index>`` (``index`` from 0,
as in the inclusion proof). The **QR text** carries what a verifier needs to find and check
that entry, in one short line of ASCII (docs/bundle-format.md, "The certificate's QR code")::

    evidence:1;o=<origin>;i=<index>;s=<tree size>;m=<manifest SHA-256, hex>;r=<root, base64>

``o`` is percent-encoded (RFC 3986: every byte outside ``A-Z a-z 0-9 - . _ ~ /`` and ``:``),
so a ``;`` or a space in an origin cannot split a field. Fields are in this order; a reader
ignores fields it does not know that come after ``r`` (later versions may add some).

Imported by the certificate and by anyone reading a scanned QR code; imports only the standard
library and :mod:`evidence.errors`.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from dataclasses import dataclass

from evidence.errors import FormatError

__all__ = ["QR_PREFIX", "EvidenceNumber"]

QR_PREFIX = "evidence:1;"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SAFE = "-._~/:"
_MAX_TEXT = 2048


@dataclass(frozen=True)
class EvidenceNumber:
    """One log entry, and the checkpoint (size and root) its inclusion proof was checked against."""

    origin: str
    index: int
    tree_size: int
    manifest_sha256: str
    root_hash: bytes

    @property
    def label(self) -> str:
        """The evidence number a person reads and quotes: ``<origin>#<index>``."""
        return f"{self.origin}#{self.index}"

    def qr_text(self) -> str:
        """The text of the certificate's QR code (see the module docstring)."""
        return (
            f"{QR_PREFIX}o={urllib.parse.quote(self.origin, safe=_SAFE)};i={self.index};s={self.tree_size};"
            f"m={self.manifest_sha256};r={base64.b64encode(self.root_hash).decode('ascii')}"
        )

    @classmethod
    def parse_qr(cls, text: str) -> EvidenceNumber:
        """The evidence number in a QR code's text; :class:`~evidence.errors.FormatError` if it is not one."""
        if len(text) > _MAX_TEXT or not text.startswith(QR_PREFIX):
            raise FormatError(f"not an evidence QR code (it must start with {QR_PREFIX!r})")
        fields: dict[str, str] = {}
        for part in text[len(QR_PREFIX) :].strip().split(";"):
            key, sep, value = part.partition("=")
            if not sep or key in fields:
                raise FormatError(f"the evidence QR code has a malformed or repeated field {part[:40]!r}")
            fields[key] = value
        order = [k for k in fields if k in "oismr"]
        if order != list("oismr"):
            raise FormatError("the evidence QR code must hold the fields o, i, s, m and r, in that order")
        try:
            origin = urllib.parse.unquote(fields["o"], errors="strict")
            index, size = int(fields["i"]), int(fields["s"])
            root = base64.b64decode(fields["r"], validate=True)
        except (ValueError, binascii.Error, UnicodeDecodeError) as e:
            raise FormatError(f"the evidence QR code has a malformed field ({e})") from None
        if not fields["i"].isdigit() or not fields["s"].isdigit() or not 0 <= index < size:
            raise FormatError("the evidence QR code's index must be below its tree size (decimal numbers)")
        if not _HEX64.match(fields["m"]) or len(root) != 32 or not origin:
            raise FormatError("the evidence QR code needs an origin, a 64-hex-digit SHA-256 and a 32-byte root")
        return cls(origin, index, size, fields["m"], root)
