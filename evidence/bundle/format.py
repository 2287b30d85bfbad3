"""The bundle format's rules: member names and patterns, format constants, member order,
and the records derived from sealed data (the log entry, the page line, the package fields).

Pure (no I/O). Imports only the standard library and hashlib; the writer, the reader and
the verifier all take their names from here (docs/bundle-format.md is the specification).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MANIFEST_FORMAT = "evidence-manifest/1"
ENTRY_HEADER = b"evidence-entry/v1\n"
#: An attempt record's format, and the header of its log entry (distinct from a manifest's).
ATTEMPT_FORMAT = "evidence-attempt/1"
ATTEMPT_HEADER = b"evidence-attempt/v1\n"
#: The format of ``evidence/attempts.json``: the bundle's own attempt and the earlier ones.
ATTEMPTS_FORMAT = "evidence-attempts/1"
TOOL_NAME = "preserve-evidence"

WARC_PATH = "archive/data.warc.gz"
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
MANIFEST_PATH = "evidence/manifest.json"
PROOF_PATH = "evidence/entry.tlog-proof"
NOTE_PATH = "evidence/checkpoint.note"
VKEY_PATH = "evidence/log.vkey"
REPORT_PATH = "evidence/report.html"
VERIFY_PATH = "evidence/VERIFY.txt"
ATTEMPTS_PATH = "evidence/attempts.json"
DATAPACKAGE = "datapackage.json"
DATAPACKAGE_DIGEST = "datapackage-digest.json"

#: Capture artifacts sealed into the manifest, by their name in the capture directory.
CAPTURE_ARTIFACTS = (
    "capture.json",
    "environment.json",
    "screenshot-full.png",
    "screenshot-viewport.png",
    "dom.html",
    "page.pdf",
    "page.mhtml",
    "tls-chain.pem",
    "clean-environment.json",
    "start.tsr",
)
#: A walk's files (docs/bundle-format.md, "Walks"): its steps, a screenshot after each step,
#: the artifacts of each snapshot, and the screen recording. Sealed like the capture artifacts.
STEPS_PATH = "evidence/steps.json"
WALK_FORMAT = "evidence-walk/1"
#: The actions a step of ``steps.json`` may have (0 is always ``start``; ``navigate`` is a
#: navigation an investigator made in an interactive session).
WALK_ACTIONS = frozenset(
    {"start", "goto", "click", "fill", "press", "select", "scroll", "wait", "snapshot", "navigate"}
)
WALK_FILE_RE = re.compile(
    r"\Aevidence/(?:steps\.json|step-[0-9]{3}\.png|session\.webm|session\.mp4|"
    r"snapshot-[A-Za-z0-9][A-Za-z0-9_-]{0,39}-"
    r"(?:screenshot-full\.png|screenshot-viewport\.png|dom\.html|page\.mhtml|page\.pdf))\Z"
)
#: Token and certificate names. Use them with ``fullmatch``; the ``\\A...\\Z`` anchors make even
#: ``match`` exact (``$`` would also match before a final newline: ``evidence/tsa-1.pem\\n``).
TOKEN_RE = re.compile(r"\Aevidence/checkpoint\.([1-9][0-9]{0,2})\.tsr\Z")
CLEAN_PATH = "evidence/clean-environment.json"
START_TOKEN_PATH = "evidence/start.tsr"
TSA_CERT_RE = re.compile(r"\Aevidence/tsa-([1-9][0-9]{0,2})\.pem\Z")


CLEAN_FORMAT = "evidence-clean-environment/1"


def clean_report_digest(report: dict[str, Any]) -> bytes:
    """SHA-256 of the stamped part of ``clean-environment.json``: the object of its
    ``format``, ``checked_at`` and ``items`` members, as JSON with sorted keys, no
    whitespace, UTF-8 (the values hold no floating-point numbers)."""
    part = {k: report.get(k) for k in ("format", "checked_at", "items")}
    text = json.dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


def start_message(report_digest: bytes, nonce: bytes) -> bytes:
    """What the start token's imprint is the SHA-256 of: the 32-byte report digest, then the nonce."""
    return report_digest + nonce


def log_entry(manifest_bytes: bytes) -> bytes:
    """The log entry for a manifest: a versioned record holding its SHA-256."""
    return entry_for_digest(hashlib.sha256(manifest_bytes).hexdigest())


def entry_for_digest(manifest_sha256: str) -> bytes:
    """The log entry for a manifest known only by its SHA-256 (64 lower-case hex digits)."""
    return ENTRY_HEADER + b"manifest-sha256 " + manifest_sha256.encode("ascii") + b"\n"


def attempt_entry(record_bytes: bytes) -> bytes:
    """The log entry for an attempt record: a versioned record holding its SHA-256."""
    return ATTEMPT_HEADER + b"attempt-sha256 " + hashlib.sha256(record_bytes).hexdigest().encode() + b"\n"


def page_entry(facts: dict[str, Any]) -> dict[str, Any]:
    """The line of ``pages/pages.jsonl`` for the preserved page, from ``capture.json``'s facts.

    The verifier derives it the same way and requires exactly these fields and values.
    """
    return {
        "id": hashlib.sha256(str(facts.get("requested_url")).encode()).hexdigest()[:32],
        "url": facts.get("final_url") or facts.get("requested_url"),
        "ts": _replay_ts(facts),
        "title": facts.get("page_title") or "",
    }


def package_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``datapackage.json`` metadata (arguments of :func:`evidence.bundle.wacz.datapackage`)
    that a bundle's manifest determines: what WACZ viewers show as its title, main page,
    date and software. The verifier derives them the same way and requires them."""
    tool = manifest.get("tool") if isinstance(manifest.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    return {
        "title": f"Evidence: {manifest.get('url')}",
        "main_url": manifest.get("final_url") or manifest.get("url"),
        "main_date": manifest.get("capture_started"),
        "created": manifest.get("created"),
        "software": f"{tool.get('name')} {tool.get('version')}",
    }


def _replay_ts(facts: dict[str, Any]) -> Any:
    """The page's time for replay: the WARC-Date of the browser's response for the page, so
    that a replayer picking the capture closest to it shows what the browser saw (the raw
    fetch's record of the same address is older); the capture's start for older records."""
    main = facts.get("main_document")
    date = main.get("warc_date") if isinstance(main, dict) else None
    return date if isinstance(date, str) and date else facts.get("started_at")


_ORDER = [WARC_PATH, INDEX_PATH, PAGES_PATH]


def member_order(path: str) -> tuple[int, str]:
    """Sort key of a bundle member: the WARC, the index and the pages list first, the rest by name."""
    if path in _ORDER:
        return (_ORDER.index(path), path)
    return (len(_ORDER), path)


__all__ = [
    "ATTEMPTS_FORMAT",
    "ATTEMPTS_PATH",
    "ATTEMPT_FORMAT",
    "ATTEMPT_HEADER",
    "CAPTURE_ARTIFACTS",
    "CLEAN_FORMAT",
    "CLEAN_PATH",
    "DATAPACKAGE",
    "DATAPACKAGE_DIGEST",
    "ENTRY_HEADER",
    "INDEX_PATH",
    "MANIFEST_FORMAT",
    "MANIFEST_PATH",
    "NOTE_PATH",
    "PAGES_PATH",
    "PROOF_PATH",
    "REPORT_PATH",
    "START_TOKEN_PATH",
    "STEPS_PATH",
    "TOKEN_RE",
    "TOOL_NAME",
    "TSA_CERT_RE",
    "VERIFY_PATH",
    "VKEY_PATH",
    "WALK_ACTIONS",
    "WALK_FILE_RE",
    "WALK_FORMAT",
    "WARC_PATH",
    "attempt_entry",
    "clean_report_digest",
    "entry_for_digest",
    "log_entry",
    "member_order",
    "package_fields",
    "page_entry",
    "start_message",
]
