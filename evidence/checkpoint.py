"""C2SP tlog-checkpoint and tlog-proof@v1, parsed strictly (pure: no I/O).

Checkpoint note text (``c2sp.org/tlog-checkpoint@v1.0.0``)::

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 of the 32-byte root hash>\\n
    [<extension line>\\n]*

Offline proof (``c2sp.org/tlog-proof@v1``)::

    c2sp.org/tlog-proof@v1\\n
    [extra <base64>\\n]
    index <decimal>\\n
    <base64 hash>\\n          (0 or more, leaf sibling first)
    \\n
    <signed checkpoint note, verbatim>

Every parser re-serialises its result and requires the same bytes back, so what was parsed
is exactly what will be re-emitted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field

from evidence import merkle
from evidence._internal.words import entries
from evidence.errors import FormatError, InclusionError, SignatureError
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, MAX_NOTE_BYTES, Note, VerifiedNote, Verifier, open_note

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_PROOF_HEADER_LINE = (PROOF_HEADER + "\n").encode("ascii")
MAX_ORIGIN = 1024
MAX_EXTENSIONS = 16


def clock_key_name(origin: str) -> str:
    """The name of the log's clock key: ``<origin>/timestamp``.

    The clock key cosigns every checkpoint (cosignature/v1, type 0x04) with the time it was
    signed; this is the one home of that rule (the log makes the key under this name, the
    remote reader and the verifier check it).
    """
    return f"{origin}/timestamp"


def is_clock_key(key: Verifier, origin: str) -> bool:
    """Whether ``key`` is the clock key of the log ``origin``: a cosignature/v1 key named
    :func:`clock_key_name` ``(origin)``."""
    return key.key_type == ALG_COSIGNATURE_V1 and key.name == clock_key_name(origin)


def _decimal(text: str, what: str, maximum: int = merkle.MAX_TREE_SIZE) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise FormatError(f"the {what} {text[:40]!r} is not a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise FormatError(f"the {what} {text!r} has a leading zero")
    if len(text) > 19:
        raise FormatError(f"the {what} is too large")
    value = int(text)
    if value > maximum:
        raise FormatError(f"the {what} {value} is too large")
    return value


def _hash(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise FormatError(f"the {what} is not valid base64") from e
    if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw).decode() != text:
        raise FormatError(f"the {what} is not the base64 of a 32-byte hash")
    return raw


@dataclass(frozen=True)
class Checkpoint:
    """A log's claim: ``origin`` has ``size`` entries whose Merkle root is ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.root_hash) != merkle.HASH_SIZE:
            raise FormatError("a checkpoint root hash must be 32 bytes")

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text (without signatures)."""
        if not text.endswith("\n"):
            raise FormatError("the checkpoint text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("a checkpoint needs at least three lines: origin, size and root hash")
        origin, size_s, root_s, *ext = lines
        if not origin or len(origin) > MAX_ORIGIN:
            raise FormatError("the checkpoint origin line is empty or too long")
        if len(ext) > MAX_EXTENSIONS or any(not e for e in ext):
            raise FormatError("the checkpoint has empty or too many extension lines")
        cp = cls(origin, _decimal(size_s, "tree size"), _hash(root_s, "root hash"), tuple(ext))
        if cp.to_text() != text:
            raise FormatError("the checkpoint text is not in canonical form")
        return cp

    def to_text(self) -> str:
        root = base64.b64encode(self.root_hash).decode()
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with the verbatim signed note it came from."""

    checkpoint: Checkpoint
    note: Note

    @classmethod
    def parse(cls, data: bytes) -> SignedCheckpoint:
        n = Note.parse(data)
        return cls(Checkpoint.from_text(n.text), n)

    def to_bytes(self) -> bytes:
        return self.note.to_bytes()

    def verify(self, log_keys: Iterable[Verifier], *, origin: str | None = None) -> VerifiedNote:
        """Verify the log signature (and parse cosignatures) against trusted log keys.

        Checks the origin as well as the signature: a checkpoint from a different log
        signed by the same key is refused.
        """
        if origin is not None and self.checkpoint.origin != origin:
            raise SignatureError(f"the checkpoint is for the log {self.checkpoint.origin!r}, not {origin!r}")
        keys = [k for k in log_keys if k.key_type == ALG_ED25519]
        if not keys:
            raise SignatureError("no log key (type 0x01 Ed25519) was given to check the checkpoint against")
        return open_note(self.note, keys)

    def cosignatures(self, cosigners: Iterable[Verifier]) -> dict[Verifier, int]:
        """The cosigners among ``cosigners`` whose cosignature/v1 verifies, with its time.

        A cosigner with no signature line is simply absent from the result; one whose line
        is present but does not verify raises SignatureError (fail closed).
        """
        wanted = [k for k in cosigners if k.key_type == ALG_COSIGNATURE_V1]
        out: dict[Verifier, int] = {}
        msg = self.note.text_bytes
        for key in wanted:
            lines = [s for s in self.note.signatures if s.name == key.name and s.key_id == key.key_id]
            for sig in lines:
                if not key.verify(msg, sig.signature):
                    raise SignatureError(f"the cosignature by {key.name} (key ID {key.key_id:08x}) does not verify")
                ts = sig.timestamp
                if ts is not None:
                    out[key] = ts
        return out


#: The largest ``extra`` a tlog-proof may carry (decoded), and the largest proof file.
MAX_PROOF_EXTRA = 1 << 16
MAX_PROOF_BYTES = MAX_NOTE_BYTES + 2 * MAX_PROOF_EXTRA + 64 * 48 + 64


@dataclass(frozen=True)
class TlogProof:
    """A C2SP tlog-proof@v1: the inclusion proof of one entry and a signed checkpoint."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint_note: bytes
    extra: bytes | None = None

    @classmethod
    def parse(cls, data: bytes) -> TlogProof:
        # Bounded before anything is split or decoded: a proof holds at most 63 hashes, an
        # ``extra`` of at most MAX_PROOF_EXTRA bytes and a note of at most MAX_NOTE_BYTES.
        if len(data) > MAX_PROOF_BYTES:
            raise FormatError(f"the proof is {len(data)} bytes long; at most {MAX_PROOF_BYTES} are accepted")
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormatError("the proof is not valid UTF-8") from e
        head, sep, rest = s.partition("\n\n")
        if not sep:
            raise FormatError("the proof has no blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != PROOF_HEADER:
            raise FormatError(f"the proof does not start with {PROOF_HEADER!r}")
        i = 1
        extra: bytes | None = None
        if i < len(lines) and lines[i].startswith("extra "):
            try:
                extra = base64.b64decode(lines[i][6:].encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError, ValueError) as e:
                raise FormatError("the proof's extra line is not valid base64") from e
            if len(extra) > MAX_PROOF_EXTRA:
                raise FormatError(f"the proof's extra line holds {len(extra)} bytes; at most {MAX_PROOF_EXTRA}")
            i += 1
        if i >= len(lines) or not lines[i].startswith("index "):
            raise FormatError("the proof has no 'index' line")
        index = _decimal(lines[i][6:], "leaf index")
        if len(lines) - i - 1 > 63:
            raise FormatError(f"the proof has {len(lines) - i - 1} hashes; at most 63 are possible")
        hashes = tuple(_hash(h, f"proof hash #{n}") for n, h in enumerate(lines[i + 1 :]))
        if len(hashes) > 63:
            raise FormatError(f"the proof has {len(hashes)} hashes; at most 63 are possible")
        note_bytes = rest.encode("utf-8")
        SignedCheckpoint.parse(note_bytes)  # must be a well-formed checkpoint
        proof = cls(index, hashes, note_bytes, extra)
        if proof.to_bytes() != data:
            raise FormatError("the proof is not in canonical form")
        return proof

    def to_bytes(self) -> bytes:
        b64 = binascii.b2a_base64  # standard alphabet, padded, newline-terminated
        out = [_PROOF_HEADER_LINE]
        if self.extra is not None:
            out.append(b"extra " + b64(self.extra))
        out.append(b"index %d\n" % self.index)
        out.extend(b64(h) for h in self.hashes)
        out.append(b"\n")
        out.append(self.checkpoint_note)
        return b"".join(out)

    @property
    def signed_checkpoint(self) -> SignedCheckpoint:
        return SignedCheckpoint.parse(self.checkpoint_note)

    def verify(self, entry: bytes, log_keys: Iterable[Verifier], *, origin: str | None = None) -> VerifiedProof:
        """The tlog-proof steps for one entry's raw bytes.

        1. recompute the leaf hash from ``entry``; 2. check the log signature (and
        origin); 4. check the inclusion proof against the signed root. (Step 3, the
        witness quorum, is the caller's policy: see :func:`evidence.trust`.)
        """
        leaf = merkle.leaf_hash(entry)
        signed = self.signed_checkpoint
        verified = signed.verify(log_keys, origin=origin)
        cp = signed.checkpoint
        if self.index >= cp.size:
            raise InclusionError(
                f"the proof is for entry {self.index}, but the checkpoint covers only {entries(cp.size)}"
            )
        merkle.verify_inclusion(self.index, cp.size, leaf, self.hashes, cp.root_hash)
        return VerifiedProof(proof=self, checkpoint=cp, note=verified)


@dataclass(frozen=True)
class VerifiedProof:
    """A proof whose log signature and inclusion path both checked out."""

    proof: TlogProof
    checkpoint: Checkpoint
    note: VerifiedNote
