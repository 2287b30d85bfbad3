"""Lookup by hash: ask a log server whether it holds a bundle's seal, and check its answer.

``GET <log>/lookup/<manifest-sha256>`` (:mod:`evidence.server.lookup`) answers with every
entry of the log for that manifest digest and a C2SP tlog-proof for each. The answer is
believed only as far as it checks out here: each proof must prove the entry rebuilt from *the
bundle's own manifest* (:func:`evidence.bundle.format.log_entry`) against a checkpoint signed
by a log key the user trusts (:func:`check_lookup`). With no trusted key, the proofs are
checked with the key found in the bundle, and the result says it is NOT ANCHORED.

The network call goes through the project's one HTTP client (a size cap and a total
deadline). On the verify path: imports the bundle format, the checkpoint formats and (when
fetching) :mod:`evidence._internal.http`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from evidence.bundle.format import log_entry
from evidence.checkpoint import TlogProof
from evidence.errors import EvidenceError, FormatError, LogError
from evidence.note import Verifier

__all__ = [
    "MAX_LOOKUP_ANSWER",
    "LookupEntry",
    "LookupResult",
    "check_lookup",
    "fetch_lookup",
    "parse_lookup",
]

#: The most a lookup answer may be (a tlog-proof is a few kilobytes; at most 16 of them).
MAX_LOOKUP_ANSWER = 1 << 20
#: The most entries of an answer that are checked.
MAX_CHECKED = 16


@dataclass(frozen=True)
class LookupEntry:
    """One entry the log named, and whether its proof checked out."""

    index: int
    ok: bool
    #: The checkpoint size the proof is against (0 if it could not be read).
    tree_size: int
    detail: str


@dataclass(frozen=True)
class LookupResult:
    """What a log answered for a manifest digest, as far as it checks out."""

    url: str
    manifest_sha256: str
    origin: str
    #: False: the log says it holds no entry for the digest (404).
    found: bool
    entries: tuple[LookupEntry, ...] = ()
    #: True when the proofs were checked with keys the user trusts (not the bundle's own).
    anchored: bool = False

    @property
    def confirmed(self) -> bool:
        """At least one entry's proof checked out against the keys used."""
        return any(e.ok for e in self.entries)


def parse_lookup(body: bytes, manifest_sha256: str) -> tuple[str, list[tuple[int, str]]]:
    """(origin, [(index, proof text)]) of a lookup answer; :class:`FormatError` if it is not one."""
    if len(body) > MAX_LOOKUP_ANSWER:
        raise FormatError(f"the lookup answer is larger than {MAX_LOOKUP_ANSWER} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FormatError(f"the lookup answer is not JSON ({e})") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("entries"), list)
        or not isinstance(data.get("origin"), str)
    ):
        raise FormatError('the lookup answer must be a JSON object with "origin" and "entries"')
    if data.get("manifest_sha256") != manifest_sha256:
        raise FormatError(
            f"the lookup answer is about the manifest SHA-256 {str(data.get('manifest_sha256'))[:80]!r}, "
            f"not {manifest_sha256}"
        )
    entries = []
    for item in data["entries"][:MAX_CHECKED]:
        index, proof = (
            item.get("index") if isinstance(item, dict) else None,
            item.get("proof") if isinstance(item, dict) else None,
        )
        if not isinstance(index, int) or isinstance(index, bool) or index < 0 or not isinstance(proof, str):
            raise FormatError('every item of "entries" must be {"index": <number>, "proof": "<tlog-proof text>"}')
        entries.append((index, proof))
    return data["origin"], entries


def check_lookup(
    url: str, body: bytes, manifest_bytes: bytes, keys: Sequence[Verifier], *, anchored: bool
) -> LookupResult:
    """Check a lookup answer (status 200) against the bundle's manifest and ``keys``."""
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    origin, items = parse_lookup(body, digest)
    entry = log_entry(manifest_bytes)
    checked = []
    for index, text in items:
        try:
            proof = TlogProof.parse(text.encode("utf-8"))
            if proof.index != index:
                raise FormatError(f"the answer says entry {index}, its proof is for entry {proof.index}")
            verified = proof.verify(entry, keys, origin=origin)
        except EvidenceError as e:
            checked.append(LookupEntry(index, False, 0, e.message))
            continue
        size = verified.checkpoint.size
        checked.append(
            LookupEntry(index, True, size, f"entry {index} of {origin!r}, in its signed checkpoint of {size} entries")
        )
    return LookupResult(url, digest, origin, True, tuple(checked), anchored)


def fetch_lookup(log_url: str, manifest_sha256: str, *, deadline: float = 30.0) -> tuple[int, bytes]:
    """``GET <log_url>/lookup/<digest>``: (status, body), within ``deadline`` seconds in all."""
    import requests

    from evidence._internal.http import AnswerTooLarge, base_url, fetch

    url = base_url(log_url) + "lookup/" + manifest_sha256
    try:
        answer = fetch("GET", url, deadline=deadline, limit=MAX_LOOKUP_ANSWER)
    except AnswerTooLarge:
        raise LogError(f"the log at {log_url} answered the lookup with more than {MAX_LOOKUP_ANSWER} bytes") from None
    except requests.RequestException as e:
        raise LogError(
            f"could not ask the log at {log_url} ({type(e).__name__}: {str(e)[:200]})",
            hint="Check the address (the log's base URL, as given to preserve --log) and the network.",
        ) from None
    return answer.status, answer.body
