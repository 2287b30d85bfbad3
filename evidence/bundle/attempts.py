"""Attempt records: every capture attempt, whatever its outcome, as a small salted record.

An attempt record (``evidence-attempt/1``, docs/bundle-format.md "Attempt records") says who
tried to capture what, for which case, when, and how it ended: ``sealed`` (with the SHA-256
of the bundle's manifest), ``failed`` (with the error's kind) or ``abandoned`` (interrupted).
Its log entry is ``evidence-attempt/v1\\nattempt-sha256 <hex>\\n``
(:func:`evidence.bundle.format.attempt_entry`); the record carries a random salt, so the
public log reveals nothing about it. A sealed record also names the earlier attempts of the
same case in the same log (index and SHA-256), so the list a bundle carries in
``evidence/attempts.json`` cannot be shortened without breaking the record the log holds.

Pure (no I/O), on the verify path: the standard library, :mod:`evidence._internal` and the
format only.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evidence._internal import jsonstrict
from evidence.bundle.format import ATTEMPT_FORMAT, ATTEMPTS_FORMAT, TOOL_NAME
from evidence.errors import FormatError

__all__ = [
    "ABANDONED",
    "FAILED",
    "MAX_EARLIER",
    "MAX_RECORD_BYTES",
    "OUTCOMES",
    "SEALED",
    "AttemptRecord",
    "ListedAttempt",
    "describe_earlier",
    "encode_attempts_file",
    "error_kind",
    "kind_in_words",
    "make_record",
    "parse_attempts_file",
    "parse_record",
]

SEALED = "sealed"
FAILED = "failed"
ABANDONED = "abandoned"
OUTCOMES = (SEALED, FAILED, ABANDONED)
#: An attempt record is small: far below the log's entry limit, and bounded on every read.
MAX_RECORD_BYTES = 128 << 10
#: The most earlier attempts a sealed record names (and a bundle lists); older ones are left out.
MAX_EARLIER = 1000
_MAX_TEXT = 2000
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_TIME = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
_KIND = re.compile(r"\A[A-Za-z][A-Za-z0-9_.-]{0,79}\Z")

#: What an error kind means, in plain words, for the report ("1 failed (page did not load)").
_WORDS = {
    "ConnectionFailedError": "the site could not be reached",
    "HostNotFoundError": "the site's name could not be looked up",
    "CaptureTimeoutError": "the page did not load in time",
    "TLSFailedError": "the secure connection failed",
    "InvalidURLError": "the address is not valid",
    "RedirectLoopError": "the site redirected in a loop",
    "BodyTooLargeError": "the page was too large",
    "BrowserError": "the browser failed",
    "BrowserNotFoundError": "no browser was found",
    "CaptureError": "the page could not be captured",
    "LogError": "the log could not be written",
    "BundleFormatError": "the bundle could not be written",
    "KeyboardInterrupt": "interrupted by the operator",
    "Terminated": "stopped by SIGTERM",
    "SystemExit": "the program ended",
    "process-ended": "the capture's process ended without recording an outcome",
    "no-bundle": "the attempt ended without a bundle",
}


def kind_in_words(kind: str | None) -> str:
    """An error kind in plain words (its name when it has none)."""
    if not kind:
        return "no reason recorded"
    return _WORDS.get(kind, kind)


def error_kind(err: BaseException) -> tuple[str, int | None]:
    """The stable name and exit code of an exception: its class name (``ConnectionFailedError``,
    ``KeyboardInterrupt``) and the exit code of an EvidenceError (else None)."""
    code = getattr(err, "exit_code", None)
    return type(err).__name__, code if isinstance(code, int) and not isinstance(code, bool) else None


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt record, parsed strictly (:func:`parse_record`); ``raw`` is its exact bytes."""

    raw: bytes
    sha256: str
    log_origin: str
    case: str | None
    operator: str | None
    url: str | None
    walk_sha256: str | None
    started: str
    finished: str
    outcome: str
    error_kind: str | None
    error_code: int | None
    error_message: str | None
    manifest_sha256: str | None
    earlier: tuple[tuple[int, str], ...]

    @property
    def target(self) -> str:
        """What was captured, for a person: the URL, or the walk's digest."""
        if self.walk_sha256:
            start = f" from {self.url}" if self.url else ""
            return f"walk {self.walk_sha256[:16]}...{start}"
        return self.url or "(no target recorded)"

    def in_words(self) -> str:
        """``failed (the site could not be reached)``, ``sealed``, ``abandoned (interrupted ...)``."""
        if self.outcome == SEALED:
            return SEALED
        return f"{self.outcome} ({kind_in_words(self.error_kind)})"

    def to_dict(self) -> dict[str, Any]:
        """The record's fields (as parsed) for JSON output."""
        return json.loads(self.raw)  # type: ignore[no-any-return]


def _text(value: str | None, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    return str(value)[:limit]


def make_record(
    *,
    log_origin: str,
    case: str | None,
    operator: str | None,
    url: str | None,
    walk_sha256: str | None,
    started: str,
    finished: str,
    outcome: str,
    error: tuple[str, int | None, str] | None = None,
    manifest_sha256: str | None = None,
    earlier: Sequence[tuple[int, str]] = (),
    tool_version: str = "",
    salt: bytes | None = None,
) -> bytes:
    """The exact bytes of an attempt record (canonical JSON: sorted keys, no spaces, UTF-8, one
    final newline). ``error`` is (kind, exit code, message); ``earlier`` (index, record SHA-256)
    of the earlier attempts of the same case, for a sealed record (the newest MAX_EARLIER)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"an attempt's outcome is one of {OUTCOMES}, not {outcome!r}")
    target: dict[str, str] = {}
    if url is not None:
        target["url"] = _text(url) or ""
    if walk_sha256 is not None:
        target["walk_sha256"] = walk_sha256
    record: dict[str, Any] = {
        "format": ATTEMPT_FORMAT,
        "salt": (salt or secrets.token_bytes(32)).hex(),
        "tool": {"name": TOOL_NAME, "version": tool_version},
        "log": {"origin": log_origin},
        "case": _text(case, 500),
        "operator": _text(operator, 500),
        "target": target,
        "started": started,
        "finished": finished,
        "outcome": outcome,
        "error": None
        if error is None
        else {"kind": error[0][:80], "exit_code": error[1], "message": _text(error[2].partition("\n")[0])},
        "manifest_sha256": manifest_sha256,
        "earlier": [{"index": i, "sha256": h} for i, h in list(earlier)[-MAX_EARLIER:]],
    }
    return _canonical(record)


def _canonical(obj: Any) -> bytes:
    """A record's one serialisation: sorted keys, no whitespace, UTF-8, one final newline."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def _load(raw: bytes, fmt: str, subject: str, kind: str) -> dict[str, Any]:
    """Strict JSON of an object whose ``format`` is ``fmt``, else a FormatError."""
    try:
        d = jsonstrict.loads(raw)
    except (ValueError, RecursionError) as e:
        raise FormatError(f"{subject} is not strict JSON: {e}") from e
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise FormatError(f"{subject} is not {kind} (format {fmt})")
    return d


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is not None and not isinstance(v, str):
        raise FormatError(f"the attempt record's {key!r} is not text")
    return v


def _index(v: Any, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise FormatError(f"{what} is not an entry index (a whole number, 0 or more)")
    return v


def parse_record(raw: bytes) -> AttemptRecord:
    """Parse an attempt record strictly; it must be exactly the bytes :func:`make_record` makes
    of its fields (so one record has one reading). Raises :class:`FormatError`."""
    if len(raw) > MAX_RECORD_BYTES:
        raise FormatError(f"an attempt record is at most {MAX_RECORD_BYTES} bytes; this one is {len(raw)}")
    d = _load(raw, ATTEMPT_FORMAT, "the attempt record", "an attempt record")
    if _canonical(d) != raw:
        raise FormatError("the attempt record is not in its canonical form (sorted keys, no spaces, one newline)")
    try:
        log = d["log"]
        target = d["target"]
        outcome = d["outcome"]
        if not isinstance(log, dict) or not isinstance(log.get("origin"), str):
            raise FormatError("the attempt record does not name its log")
        if not isinstance(target, dict):
            raise FormatError("the attempt record's target is not an object")
        if outcome not in OUTCOMES:
            raise FormatError(f"the attempt's outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        for key in ("started", "finished"):
            if not isinstance(d.get(key), str) or not _TIME.match(d[key]):
                raise FormatError(f"the attempt record's {key!r} is not a time YYYY-MM-DDTHH:MM:SSZ")
        walk = _opt_str(target, "walk_sha256")
        if walk is not None and not _HEX64.match(walk):
            raise FormatError("the attempt record's walk digest is not a SHA-256")
        err = d.get("error")
        kind = code = message = None
        if err is not None:
            if not isinstance(err, dict):
                raise FormatError("the attempt record's error is not an object")
            kind, message = _opt_str(err, "kind"), _opt_str(err, "message")
            if kind is None or not _KIND.match(kind):
                raise FormatError("the attempt record's error kind is not a name")
            code = err.get("exit_code")
            if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
                raise FormatError("the attempt record's exit code is not a number")
        if outcome == SEALED and err is not None:
            raise FormatError("a sealed attempt records no error")
        if outcome != SEALED and err is None:
            raise FormatError(f"a {outcome} attempt must record its error kind")
        manifest = d.get("manifest_sha256")
        if outcome == SEALED:
            if not isinstance(manifest, str) or not _HEX64.match(manifest):
                raise FormatError("a sealed attempt must give its manifest's SHA-256")
        elif manifest is not None:
            raise FormatError(f"a {outcome} attempt has no manifest")
        earlier_raw = d.get("earlier")
        if not isinstance(earlier_raw, list) or len(earlier_raw) > MAX_EARLIER:
            raise FormatError("the attempt record's list of earlier attempts is malformed")
        earlier: list[tuple[int, str]] = []
        for item in earlier_raw:
            sha = item.get("sha256") if isinstance(item, dict) else None
            if not isinstance(sha, str) or not _HEX64.match(sha):
                raise FormatError("an earlier attempt is not named by index and SHA-256")
            earlier.append((_index(item.get("index"), "an earlier attempt's index"), sha))
        if outcome != SEALED and earlier:
            raise FormatError("only a sealed attempt names earlier attempts")
        return AttemptRecord(
            raw=raw,
            sha256=hashlib.sha256(raw).hexdigest(),
            log_origin=log["origin"],
            case=_opt_str(d, "case"),
            operator=_opt_str(d, "operator"),
            url=_opt_str(target, "url"),
            walk_sha256=walk,
            started=d["started"],
            finished=d["finished"],
            outcome=outcome,
            error_kind=kind,
            error_code=code,
            error_message=message,
            manifest_sha256=manifest,
            earlier=tuple(earlier),
        )
    except KeyError as e:
        raise FormatError(f"the attempt record has no {e.args[0]!r}") from e


@dataclass(frozen=True)
class ListedAttempt:
    """One attempt of ``evidence/attempts.json``: its entry index, record and audit path."""

    index: int
    record: AttemptRecord
    inclusion: tuple[bytes, ...]


def encode_attempts_file(own: ListedAttempt, earlier: Sequence[ListedAttempt], tree_size: int) -> bytes:
    """``evidence/attempts.json``: the bundle's own attempt, then the earlier ones, each with its
    inclusion proof against the checkpoint of ``tree_size`` (the bundle's checkpoint)."""

    def one(a: ListedAttempt) -> dict[str, Any]:
        return {"index": a.index, "record": a.record.raw.decode("utf-8"), "inclusion": [h.hex() for h in a.inclusion]}

    doc = {
        "format": ATTEMPTS_FORMAT,
        "tree_size": tree_size,
        "attempt": one(own),
        "earlier": [one(a) for a in earlier],
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def parse_attempts_file(raw: bytes) -> tuple[int, ListedAttempt, tuple[ListedAttempt, ...]]:
    """(tree size, own attempt, earlier attempts) from ``evidence/attempts.json``; strictly.
    Raises :class:`FormatError`; checks no proof (the verifier does)."""
    d = _load(raw, ATTEMPTS_FORMAT, "it", "a list of attempts")
    size = _index(d.get("tree_size"), "its tree_size")

    def one(x: Any, where: str) -> ListedAttempt:
        if not isinstance(x, dict):
            raise FormatError(f"{where} is not an object")
        index = _index(x.get("index"), f"the index of {where}")
        rec = x.get("record")
        inc = x.get("inclusion")
        if not isinstance(rec, str):
            raise FormatError(f"the record of {where} is not text")
        if not isinstance(inc, list) or len(inc) > 64 or not all(isinstance(h, str) and _HEX64.match(h) for h in inc):
            raise FormatError(f"the inclusion proof of {where} is not a list of SHA-256 hashes")
        try:
            record = parse_record(rec.encode("utf-8"))
        except FormatError as e:
            raise FormatError(f"the record of {where} is malformed: {e.message}") from e
        return ListedAttempt(index, record, tuple(bytes.fromhex(h) for h in inc))

    earlier = d.get("earlier")
    if not isinstance(earlier, list) or len(earlier) > MAX_EARLIER:
        raise FormatError("its list of earlier attempts is malformed")
    own = one(d.get("attempt"), "the bundle's own attempt")
    return size, own, tuple(one(x, f"earlier attempt {k}") for k, x in enumerate(earlier, start=1))


def describe_earlier(earlier: Sequence[AttemptRecord]) -> str:
    """The earlier attempts in plain words: ``2 earlier attempts for this case: 1 failed (the
    page did not load in time), 1 abandoned (interrupted by the operator)``."""
    if not earlier:
        return "no earlier attempt for this case in this log"
    groups: dict[str, int] = {}
    for r in earlier:
        key = r.in_words()
        groups[key] = groups.get(key, 0) + 1
    n = len(earlier)
    parts = ", ".join(f"{c} {k}" for k, c in groups.items())
    return f"{n} earlier attempt{'' if n == 1 else 's'} for this case: {parts}"
