"""C2SP signed notes, Ed25519 keys and cosignatures (pure: no I/O).

Implements ``c2sp.org/signed-note@v1.0.0`` and the Ed25519 form of
``c2sp.org/tlog-cosignature@v1.0.1``:

- A note is UTF-8 text ending in a newline, one empty line, then one or more signature
  lines ``— <key name> base64(keyID[4] || signature)``. The text/signature split is at the
  *last* blank line. Control characters other than ``\\n`` (``\\r`` included) are rejected.
- Key ID: ``SHA-256(name || 0x0A || type || public key)[:4]``, big-endian.
- Verifier keys (vkeys): ``<name>+<8 hex key ID>+base64(type || public key)``; signer keys
  in the Go x/mod form ``PRIVATE+KEY+<name>+<8 hex key ID>+base64(type || seed)``.
- Type ``0x01``: Ed25519 over the note text. Type ``0x04``: a timestamped cosignature;
  the signature field is ``u64 BE timestamp || Ed25519 signature`` over
  ``"cosignature/v1\\ntime <t>\\n" || note text``.

Opening a note: signatures by unknown keys (no verifier with both the name and key ID) are
skipped; a signature by a known key that fails to verify rejects the whole note; a note
with no verified signature is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from evidence.errors import FormatError, KeyFormatError, SignatureError

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
_SUPPORTED = {ALG_ED25519: "Ed25519", ALG_COSIGNATURE_V1: "Ed25519 cosignature/v1"}

EM_DASH = "\u2014"
MAX_NOTE_BYTES = 1 << 20
#: C2SP requires verifiers to accept at least 16; Go's reference rejects more than 100.
MAX_SIGNATURES = 100
MAX_TIMESTAMP = (1 << 63) - 1


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise FormatError(f"{what} is not valid base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise FormatError(f"{what} is not canonical base64 (standard alphabet, '=' padding)")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def check_key_name(name: str) -> None:
    """Raise KeyFormatError unless ``name`` is a valid signed-note key name."""
    if not name:
        raise KeyFormatError("a key name must not be empty")
    if "+" in name:
        raise KeyFormatError(f"the key name {name!r} contains '+', which signed notes forbid")
    if any(c.isspace() for c in name) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise KeyFormatError(f"the key name {name!r} contains whitespace or control characters")


def key_id(name: str, key_type: int, public_key: bytes) -> int:
    """The 32-bit signed-note key ID of a key."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _split_key(text: str, expect_parts: int, what: str) -> list[str]:
    parts = text.split("+", expect_parts - 1)
    if len(parts) != expect_parts:
        raise KeyFormatError(f"{what} {text!r} is not of the form name+keyid+base64key")
    return parts


def _parse_key_id(hex_id: str, what: str) -> int:
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise KeyFormatError(f"the key ID in {what} must be 8 lowercase hex digits, not {hex_id!r}")
    return int(hex_id, 16)


@dataclass(frozen=True)
class Verifier:
    """A public key that verifies note signatures (type 0x01) or cosignatures (type 0x04)."""

    name: str
    key_id: int
    key_type: int
    public_key: bytes

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        """Parse ``<name>+<hex key ID>+base64(type || key)`` strictly."""
        text = text.strip()
        name, hex_id, b64key = _split_key(text, 3, "the verifier key")
        check_key_name(name)
        kid = _parse_key_id(hex_id, "the verifier key")
        try:
            raw = _b64decode(b64key, "the verifier key's key material")
        except FormatError as e:
            raise KeyFormatError(e.message) from e
        if not raw:
            raise KeyFormatError("the verifier key has no key material")
        key_type, pub = raw[0], raw[1:]
        if key_type not in _SUPPORTED:
            raise KeyFormatError(
                f"the verifier key {name!r} uses signature type 0x{key_type:02x}, which this "
                "tool does not support (supported: 0x01 Ed25519, 0x04 Ed25519 cosignature)"
            )
        if len(pub) != 32:
            raise KeyFormatError(f"the Ed25519 key in {name!r} is {len(pub)} bytes long, not 32")
        if key_id(name, key_type, pub) != kid:
            raise KeyFormatError(
                f"the key ID {hex_id} in the verifier key {name!r} does not match its key: "
                "the key was altered or mistyped"
            )
        return cls(name=name, key_id=kid, key_type=key_type, public_key=pub)

    def vkey(self) -> str:
        """The canonical vkey text."""
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([self.key_type]) + self.public_key)}"

    def fingerprint(self) -> str:
        """Hex SHA-256 of the key material (type byte and public key), for people to compare."""
        return hashlib.sha256(bytes([self.key_type]) + self.public_key).hexdigest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the key ID) is valid over note text ``message``."""
        vk = VerifyKey(self.public_key)
        if self.key_type == ALG_COSIGNATURE_V1:
            if len(signature) != 72:
                return False
            (ts,) = struct.unpack(">Q", signature[:8])
            if ts > MAX_TIMESTAMP:
                return False
            signed = cosignature_message(message, ts)
            sig = signature[8:]
        else:
            if len(signature) != 64:
                return False
            signed, sig = message, signature
        try:
            vk.verify(signed, sig)
        except BadSignatureError:
            return False
        return True


def cosignature_message(note_text: bytes, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs for a checkpoint's note text at ``timestamp``."""
    return b"cosignature/v1\ntime %d\n" % timestamp + note_text


@dataclass(frozen=True, repr=False)
class Signer:
    """A private Ed25519 key that signs notes (type 0x01) or cosignatures (type 0x04)."""

    name: str
    key_type: int
    seed: bytes

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_type=0x{self.key_type:02x}, key_id={self.key_id:08x})"

    @classmethod
    def generate(cls, name: str, key_type: int = ALG_ED25519) -> Signer:
        """A new random key."""
        check_key_name(name)
        if key_type not in _SUPPORTED:
            raise KeyFormatError(f"unsupported signature type 0x{key_type:02x}")
        return cls(name=name, key_type=key_type, seed=os.urandom(32))

    @classmethod
    def from_skey(cls, text: str) -> Signer:
        """Parse the Go form ``PRIVATE+KEY+<name>+<hex id>+base64(type || seed)``."""
        text = text.strip()
        parts = text.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise KeyFormatError("the signer key is not of the form PRIVATE+KEY+name+keyid+base64key")
        name, hex_id, b64key = parts[2:]
        check_key_name(name)
        kid = _parse_key_id(hex_id, "the signer key")
        try:
            raw = _b64decode(b64key, "the signer key's key material")
        except FormatError as e:
            raise KeyFormatError(e.message) from e
        if len(raw) != 33 or raw[0] not in _SUPPORTED:
            raise KeyFormatError("the signer key must hold a type byte (0x01 or 0x04) and a 32-byte seed")
        signer = cls(name=name, key_type=raw[0], seed=raw[1:])
        if signer.key_id != kid:
            raise KeyFormatError(f"the key ID {hex_id} in the signer key {name!r} does not match its key")
        return signer

    @property
    def public_key(self) -> bytes:
        return bytes(SigningKey(self.seed).verify_key)

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.key_type, self.public_key)

    def skey(self) -> str:
        """The Go-compatible private key text. Keep it secret."""
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{_b64(bytes([self.key_type]) + self.seed)}"

    def verifier(self) -> Verifier:
        return Verifier(name=self.name, key_id=self.key_id, key_type=self.key_type, public_key=self.public_key)

    def sign(self, message: bytes, timestamp: int | None = None) -> bytes:
        """The signature field (without key ID) over note text ``message``.

        Cosigners (type 0x04) need ``timestamp`` (POSIX seconds).
        """
        sk = SigningKey(self.seed)
        if self.key_type == ALG_COSIGNATURE_V1:
            if timestamp is None or not 0 <= timestamp <= MAX_TIMESTAMP:
                raise ValueError("a cosignature needs a timestamp between 0 and 2**63-1")
            sig = sk.sign(cosignature_message(message, timestamp)).signature
            return struct.pack(">Q", timestamp) + sig
        return bytes(sk.sign(message).signature)

    def signature_line(self, message: bytes, timestamp: int | None = None) -> NoteSignature:
        return NoteSignature(self.name, self.key_id, self.sign(message, timestamp))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the key ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {_b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"

    @property
    def timestamp(self) -> int | None:
        """The cosignature/v1 timestamp, when the signature has the 72-byte cosignature shape.

        Only meaningful once the signature verified with a type 0x04 key.
        """
        if len(self.signature) != 72:
            return None
        return int(struct.unpack(">Q", self.signature[:8])[0])


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")


def _check_text(text: str) -> None:
    bad = _CONTROL.search(text)
    if bad:
        o = ord(bad.group())
        raise FormatError(
            f"the note contains the control character U+{o:04X}; signed notes allow only "
            "line feeds (a carriage return usually means an editor or git converted line endings)"
        )


@dataclass(frozen=True)
class Note:
    """A parsed signed note: its text (ending in a newline) and its signatures, in order."""

    text: str
    signatures: tuple[NoteSignature, ...] = field(default=())

    @classmethod
    def parse(cls, data: bytes) -> Note:
        """Parse a signed note strictly; raise FormatError with the reason."""
        if len(data) > MAX_NOTE_BYTES:
            raise FormatError(f"the note is {len(data)} bytes long; at most {MAX_NOTE_BYTES} are accepted")
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormatError("the note is not valid UTF-8") from e
        _check_text(s)
        if not s.endswith("\n"):
            raise FormatError("the note does not end with a newline (it may be truncated)")
        split = s.rfind("\n\n")
        if split < 0:
            raise FormatError("the note has no signatures: no blank line separates text from signatures")
        text, sigblock = s[: split + 1], s[split + 2 :]
        if not text or text == "\n":
            raise FormatError("the note text is empty")
        if not sigblock:
            raise FormatError("the note has no signature lines after the blank line")
        lines = sigblock[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise FormatError(f"the note has {len(lines)} signatures; at most {MAX_SIGNATURES} are accepted")
        sigs: list[NoteSignature] = []
        for line in lines:
            if not line.startswith(EM_DASH + " "):
                raise FormatError(f"the note line {line[:60]!r} is not a signature line ('— name signature')")
            rest = line[2:]
            parts = rest.split(" ")
            if len(parts) != 2:
                raise FormatError(f"the signature line {line[:60]!r} is malformed")
            name, b64sig = parts
            try:
                check_key_name(name)
            except KeyFormatError as e:
                raise FormatError(f"a signature line has a bad key name: {e.message}") from e
            raw = _b64decode(b64sig, f"the signature by {name!r}")
            if len(raw) < 5:
                raise FormatError(f"the signature by {name!r} is too short")
            sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
        return cls(text=text, signatures=tuple(sigs))

    def to_bytes(self) -> bytes:
        """Serialise: text, blank line, signature lines."""
        return (self.text + "\n" + "".join(sig.line() for sig in self.signatures)).encode("utf-8")

    @property
    def text_bytes(self) -> bytes:
        return self.text.encode("utf-8")


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose signatures were checked: which verified, which were unknown."""

    note: Note
    verified: tuple[tuple[Verifier, NoteSignature], ...]
    unknown: tuple[NoteSignature, ...]

    def verified_by(self, verifier: Verifier) -> NoteSignature | None:
        for v, sig in self.verified:
            if v == verifier:
                return sig
        return None


def open_note(data: bytes | Note, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Parse (if needed) and verify a signed note against known keys.

    Signatures whose (name, key ID) matches no verifier are skipped as unknown. A known
    key whose signature fails rejects the note (SignatureError); so does a note with no
    verified signature at all.
    """
    note = data if isinstance(data, Note) else Note.parse(data)
    known: dict[tuple[str, int], list[Verifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    msg = note.text_bytes
    verified: list[tuple[Verifier, NoteSignature]] = []
    unknown: list[NoteSignature] = []
    seen: set[tuple[str, int, bytes]] = set()
    for sig in note.signatures:
        cands = known.get((sig.name, sig.key_id))
        if not cands:
            unknown.append(sig)
            continue
        ident = (sig.name, sig.key_id, sig.signature)
        if ident in seen:
            continue
        seen.add(ident)
        good = next((v for v in cands if v.verify(msg, sig.signature)), None)
        if good is None:
            raise SignatureError(
                f"the signature by {sig.name} (key ID {sig.key_id:08x}) does not verify: the "
                "signed text was changed after signing, or the signature was forged or damaged"
            )
        verified.append((good, sig))
    if not verified:
        names = ", ".join(sorted({s.name for s in note.signatures})) or "none"
        raise SignatureError(
            f"no signature on the note is by a trusted key (signed by: {names})",
            hint="Check that you supplied the right public key (vkey) for the log or witness.",
        )
    return VerifiedNote(note=note, verified=tuple(verified), unknown=tuple(unknown))


def sign_note(text: str, signers: Sequence[Signer], timestamp: int | None = None) -> Note:
    """Sign ``text`` (which must end in a newline) with each signer, in order.

    Cosigners (type 0x04) use ``timestamp``.
    """
    if not text.endswith("\n") or text == "\n":
        raise FormatError("the note text must be non-empty and end with a newline")
    _check_text(text)
    msg = text.encode("utf-8")
    return Note(text=text, signatures=tuple(s.signature_line(msg, timestamp) for s in signers))


def add_signatures(note: Note, sigs: Iterable[NoteSignature]) -> Note:
    """The note with extra signature lines appended (duplicates dropped)."""
    existing = list(note.signatures)
    for s in sigs:
        if s not in existing:
            existing.append(s)
    return Note(text=note.text, signatures=tuple(existing))
