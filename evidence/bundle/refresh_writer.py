"""Refreshing a bundle: fetch the log's newer checkpoint, check it, add it (writer side).

``evidence refresh BUNDLE`` and :func:`refresh_bundle`. The files it adds and their pure
check are :mod:`evidence.bundle.refresh` (the verify path imports only that module); this
one reads logs (the embedded one through :mod:`evidence.log.writer`'s layout, remote ones
over HTTP), asks TSAs and rewrites the bundle, so nothing on the verify path imports it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence import merkle
from evidence._internal import jsonstrict
from evidence._internal.words import entries
from evidence.bundle.format import DATAPACKAGE, DATAPACKAGE_DIGEST, PROOF_PATH, VKEY_PATH
from evidence.bundle.reader import BundleView
from evidence.bundle.refresh import (
    check_refresh,
    format_consistency,
)
from evidence.checkpoint import Checkpoint, SignedCheckpoint
from evidence.errors import (
    BundleFormatError,
    ConsistencyError,
    EvidenceError,
    FormatError,
    LogError,
    SignatureError,
    UsageError,
)
from evidence.note import ALG_ED25519, Verifier

__all__ = ["RefreshOutcome", "refresh_bundle"]


@dataclass(frozen=True)
class RefreshOutcome:
    """What ``refresh_bundle`` did. ``failures`` name each TSA that gave no token, and why."""

    bundle: Path
    k: int | None
    base: Checkpoint
    checkpoint: Checkpoint
    consistency_hashes: int
    tokens: int
    anchored: bool
    message: str
    failures: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.k is not None


def _embedded_log(origin: str) -> tuple[Path, Verifier] | None:
    """The embedded default log of this machine (``$EVIDENCE_HOME/log``) when it is ``origin``'s log."""
    from evidence.config import evidence_home
    from evidence.log.writer import META_FILE, LogInfo

    where = evidence_home() / "log"
    try:
        from evidence._internal.files import read_file
        from evidence.log.storage import MAX_META_BYTES

        raw = read_file(where / META_FILE, limit=MAX_META_BYTES, what="log description", error=LogError)
        info = LogInfo.from_json(raw, where / META_FILE)
        key = Verifier.from_vkey(info.log_vkey)
    except (OSError, EvidenceError):
        return None
    return (where, key) if info.origin == origin and key.name == origin else None


def _log_keys(origin: str, log_keys: Sequence[Verifier], policy: Any, view: BundleView) -> tuple[list[Verifier], bool]:
    keys = [k for k in log_keys if k.key_type == ALG_ED25519 and k.name == origin]
    if not keys and policy is not None:
        keys = list(policy.log_verifiers(origin))
    if not keys and (embedded := _embedded_log(origin)) is not None:
        keys = [embedded[1]]  # this machine's own log: its key from its own directory
    if keys:
        return keys, True
    if view.has(VKEY_PATH):
        first = view.read(VKEY_PATH, limit=4096).decode("utf-8", "replace").splitlines()[:1]
        try:
            shown = Verifier.from_vkey(first[0]) if first else None
        except EvidenceError:
            shown = None
        if shown is not None and shown.key_type == ALG_ED25519 and shown.name == origin:
            return [shown], False
    raise UsageError(
        f"no key for the log {origin!r} is known, and the bundle shows none usable",
        hint="Give the log's key with --log-key, or add it to your trust policy.",
    )


def _log_location(origin: str, location: str | None, policy: Any) -> str:
    if location:
        return location
    if policy is not None:
        for lg in policy.logs_for_origin(origin):
            if lg.url:
                return str(lg.url)
    embedded = _embedded_log(origin)
    if embedded is not None:
        return str(embedded[0])
    raise UsageError(
        f"where is the log {origin!r}? Give its URL (or directory) with --log",
        hint="A 'log <vkey> <url>' line in the trust policy names it too; the embedded default log "
        "($EVIDENCE_HOME/log) is found by itself.",
    )


def _history_tokens(reader: Any, size: int, note: bytes) -> list[bytes]:
    """RFC 3161 responses the log keeps for the checkpoint of ``size``, over exactly ``note``."""
    import hashlib

    from evidence.log.storage import DirectoryStorage
    from evidence.log.writer import history_dir
    from evidence.timestamp import TimestampToken

    storage = reader.storage
    names: list[str] = []
    if isinstance(storage, DirectoryStorage):
        d = storage.root / history_dir(size)
        if d.is_dir():
            names = [f"{history_dir(size)}/{p.name}" for p in sorted(d.glob("*.tsr"))]
    else:
        raw = storage.read(f"{history_dir(size)}/")
        if raw is not None:
            try:
                listed = jsonstrict.loads(raw).get("timestamps", [])
            except (ValueError, AttributeError, RecursionError):
                listed = []
            names = [
                n
                for n in listed
                if isinstance(n, str) and n.startswith(history_dir(size) + "/") and n.endswith(".tsr") and ".." not in n
            ]
    want = hashlib.sha256(note).digest()
    out = []
    for name in names:
        der = storage.read(name)
        if der is None:
            continue
        try:
            tok = TimestampToken.parse(der)
        except EvidenceError:
            continue
        if tok.imprint == want:
            out.append(der)
    return out


def refresh_bundle(
    bundle: Path | str,
    *,
    location: str | None = None,
    log_keys: Sequence[Verifier] = (),
    policy: Any = None,
    tsas: Sequence[Any] = (),
    stamps: dict[bytes, tuple[list[bytes], list[str]]] | None = None,
) -> RefreshOutcome:
    """Add the log's current checkpoint (and a consistency proof to it) to ``bundle``.

    ``location`` is the log's base URL or directory (default: the trust policy's URL for
    the bundle's log); ``log_keys``/``policy`` give the log key to trust (default: the key
    the bundle shows, and the outcome says it was not anchored); ``tsas`` are extra TSAs
    (:class:`~evidence.config.TSAConfig`) to time-stamp the new note, beside the tokens
    the log already holds for it. The bundle is rewritten atomically; nothing in it is
    changed or removed, and ``report.html`` / ``VERIFY.txt`` stay as they were.
    ``stamps`` (note bytes -> tokens and failures) lets a caller refreshing many bundles ask
    each TSA once per note rather than once per bundle.
    """
    from evidence.log.reader import LogReader

    path = Path(bundle)
    with BundleView.open(path) as view:
        try:
            base_signed = view.proof().signed_checkpoint
        except FormatError as e:
            raise BundleFormatError(f"{PROOF_PATH} in {path} is malformed: {e.message}") from e
        base = base_signed.checkpoint
        keys, anchored = _log_keys(base.origin, log_keys, policy, view)
        try:
            base_signed.verify(keys, origin=base.origin)
        except SignatureError as e:
            raise SignatureError(f"the bundle's own checkpoint is not signed by the log's key: {e.message}") from e
        existing = check_refresh(view, keys, base=base_signed)
        existing_tokens = view.tokens()
    where = _log_location(base.origin, location, policy)
    reader = LogReader(where)
    try:
        current = reader.signed_checkpoint(keys, origin=base.origin)
    except FormatError as e:
        raise LogError(f"the log at {where} serves a malformed checkpoint: {e.message}") from e
    cp = current.checkpoint
    if cp.size < base.size:
        raise ConsistencyError(
            f"the log at {where} now shows {entries(cp.size)}, fewer than the {base.size} of the bundle's checkpoint: "
            "it rolled back. Keep the bundle as it is and report this to the log operator and the witnesses."
        )
    note = current.to_bytes()
    # The log keeps its time-stamps beside history/<size>/checkpoint; prefer those exact bytes.
    from evidence.log.writer import history_dir

    hist = reader.storage.read(f"{history_dir(cp.size)}/checkpoint")
    if hist is not None and hist != note:
        try:
            hs = SignedCheckpoint.parse(hist)
            hs.verify(keys, origin=base.origin)
            if hs.checkpoint == cp:
                note = hist
        except EvidenceError:
            pass
    proof = reader.hashes(cp.size).consistency_proof(base.size) if cp.size != base.size else []
    try:
        merkle.verify_consistency(base.size, cp.size, base.root_hash, cp.root_hash, proof)
    except ConsistencyError as e:
        raise ConsistencyError(
            f"the log at {where} is NOT consistent with the bundle's checkpoint ({e.message}): the log forked or "
            "rewrote history. Keep the bundle as it is and report this to the log operator and the witnesses."
        ) from e
    # Tokens the log holds for this note (for example added later by `evidence timestamp add`)
    # and fresh ones from --tsa; none that the bundle already carries.
    known = {der for _, der in existing_tokens} | {der for r in existing for _, der in r.tokens}
    tokens = [der for der in _history_tokens(reader, cp.size, note) if der not in known]
    cached = stamps.get(note) if stamps is not None else None
    if cached is None:
        from evidence.timestamp import TimestampRequestError, request_timestamp

        cached = ([], [])
        for tsa in tsas:
            try:
                cached[0].append(request_timestamp(note, tsa).der)
            except TimestampRequestError as e:
                cached[1].append(e.message)
        if stamps is not None:
            stamps[note] = cached
    tokens += [der for der in cached[0] if der not in known and der not in tokens]
    failures = list(cached[1])
    already = note == base_signed.to_bytes() or any(r.note == note for r in existing)
    if already and not tokens:
        return RefreshOutcome(
            path,
            None,
            base,
            cp,
            len(proof),
            0,
            anchored,
            f"{path}: nothing newer; the log's current checkpoint ({entries(cp.size)}) is already in the bundle, "
            "with every time-stamp the log holds for it",
            tuple(failures),
        )
    k = len(existing) + 1
    new = {f"evidence/refresh-{k}.note": note, f"evidence/refresh-{k}.consistency": format_consistency(proof)}
    for j, der in enumerate(tokens, start=1):
        new[f"evidence/refresh-{k}.{j}.tsr"] = der
    _add_members(path, new)
    if already:
        msg = (
            f"{path}: added refresh {k}: {len(tokens)} new RFC 3161 time-stamp(s) over the same checkpoint of "
            f"{entries(cp.size)} that the bundle already holds (the log has not grown since)."
        )
    else:
        msg = (
            f"{path}: added refresh {k}: the log's checkpoint of {entries(cp.size)} (the bundle's has {base.size}), "
            f"a consistency proof of {len(proof)} hashes between them, and {len(tokens)} RFC 3161 time-stamp(s) "
            "over it."
        )
    return RefreshOutcome(path, k, base, cp, len(proof), len(tokens), anchored, msg, tuple(failures))


def _add_members(path: Path, new: dict[str, bytes]) -> None:
    """Rewrite the bundle at ``path`` atomically with ``new`` members added (nothing else changes)."""
    from evidence.bundle.format import member_order
    from evidence.bundle.wacz import Member, datapackage_digest, resource_name, write_zip

    with BundleView.open(path) as view, tempfile.TemporaryDirectory(prefix=".evidence-refresh-", dir=path.parent) as t:
        clash = [n for n in new if view.has(n)]
        if clash:
            raise BundleFormatError(f"the bundle already holds {', '.join(clash)}")
        pkg = view.json(DATAPACKAGE)
        if not isinstance(pkg, dict) or not isinstance(pkg.get("resources"), list):
            raise BundleFormatError(f"{DATAPACKAGE} in {path} is malformed")
        tmp = Path(t)
        view.extract_to(tmp)
        members = [Member(n, tmp / n) for n in view.names if n not in (DATAPACKAGE, DATAPACKAGE_DIGEST)]
        members += [Member(n, data) for n, data in new.items()]
        members.sort(key=lambda m: member_order(m.path))
        by_path = {r.get("path"): r for r in pkg["resources"] if isinstance(r, dict)}
        for name, data in new.items():
            digest, size = Member(name, data).digest()
            by_path[name] = {"name": resource_name(name), "path": name, "hash": f"sha256:{digest}", "bytes": size}
        order = {m.path: i for i, m in enumerate(members)}
        pkg["resources"] = sorted(by_path.values(), key=lambda r: order.get(r.get("path"), len(order)))
        pkg_bytes = (json.dumps(pkg, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        final = [*members, Member(DATAPACKAGE, pkg_bytes), Member(DATAPACKAGE_DIGEST, datapackage_digest(pkg_bytes))]
        write_zip(path, final)
