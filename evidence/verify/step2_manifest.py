"""Step 2: every sealed file matches the manifest."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from evidence.bundle import (
    MANIFEST_FORMAT,
    MANIFEST_PATH,
    TOKEN_RE,
    TSA_CERT_RE,
)
from evidence.bundle.refresh import is_refresh_file
from evidence.verify.common import (
    HEX64,
    POST_SEAL,
    REQUIRED_SEALED,
    Fail,
    keep_learned,
)
from evidence.verify.context import Context


@dataclass(frozen=True)
class Step2Result:
    """The sealed manifest: its bytes (the log entry is made from them) and its fields."""

    detail: str
    files: tuple[str, ...]
    manifest_bytes: bytes
    manifest: dict[str, Any]


def run(ctx: Context) -> Step2Result:
    """Step 2: every sealed file matches the manifest, nothing unsealed was added."""
    manifest_bytes = ctx.read(MANIFEST_PATH, " (the seal that lists every preserved file)")
    m = ctx.json(MANIFEST_PATH)
    if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
        raise Fail(f"{MANIFEST_PATH} is not an evidence manifest (format {MANIFEST_FORMAT}).", MANIFEST_PATH)
    log = m.get("log")
    if not isinstance(log, dict) or not isinstance(log.get("origin"), str):
        raise Fail(f"{MANIFEST_PATH} does not name the log it was sealed into.", MANIFEST_PATH)
    if not isinstance(m.get("tool", {}), dict):
        raise Fail(f"{MANIFEST_PATH} has a malformed 'tool' field.", MANIFEST_PATH)
    files = m.get("files")
    if not isinstance(files, list) or not files:
        raise Fail(f"{MANIFEST_PATH} lists no sealed files.", MANIFEST_PATH)
    sealed: dict[str, tuple[str, int]] = {}
    for f in files:
        path = f.get("path") if isinstance(f, dict) else None
        digest = f.get("sha256") if isinstance(f, dict) else None
        size = f.get("size") if isinstance(f, dict) else None
        if (
            not isinstance(path, str)
            or not isinstance(digest, str)
            or not HEX64.fullmatch(digest)
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
        ):
            raise Fail(f"{MANIFEST_PATH} has a malformed file entry ({str(f)[:120]}).", MANIFEST_PATH)
        if path in sealed:
            raise Fail(f"{MANIFEST_PATH} seals {path} twice.", MANIFEST_PATH)
        if path in POST_SEAL or TOKEN_RE.match(path) or TSA_CERT_RE.match(path) or is_refresh_file(path):
            raise Fail(
                f"{MANIFEST_PATH} claims to seal {path}, a file that can only be added after sealing.",
                MANIFEST_PATH,
            )
        sealed[path] = (digest, size)
    try:
        _check_sealed(ctx, sealed)
    except Exception as e:
        keep_learned(e, Step2Result("", (), manifest_bytes, m))  # the facts show the manifest even so
        raise
    return Step2Result(
        f"All {len(sealed)} sealed files match the SHA-256 and size recorded in {MANIFEST_PATH}; nothing else "
        "is in the bundle except the proof files added after sealing.",
        (),
        manifest_bytes,
        m,
    )


def _check_sealed(ctx: Context, sealed: dict[str, tuple[str, int]]) -> None:
    """Every file sealed is present and matches; every other file is a proof file added after sealing."""
    for path in REQUIRED_SEALED:
        if path not in sealed:
            raise Fail(f"{MANIFEST_PATH} does not seal {path}, which every bundle must contain.", MANIFEST_PATH)
    for path, (digest, size) in sealed.items():
        if not ctx.v.has(path):
            raise Fail(
                f"{path} was sealed at capture time (SHA-256 {digest} in {MANIFEST_PATH}) but is missing from "
                "the bundle: the file was removed, or the manifest was altered.",
                path,
                MANIFEST_PATH,
            )
        actual, n = ctx.hash(path)
        if n != size or not hmac.compare_digest(actual, digest):
            raise Fail(
                f"{path} does not match its seal: its SHA-256 is {actual} ({n} bytes), but {MANIFEST_PATH} "
                f"sealed {digest} ({size} bytes). The file, or the manifest, was changed after sealing.",
                path,
                MANIFEST_PATH,
            )
    for name in ctx.v.names:
        if name in sealed or name in POST_SEAL or TOKEN_RE.match(name) or TSA_CERT_RE.match(name):
            continue
        if is_refresh_file(name):
            continue  # checked in step 5
        raise Fail(
            f"{name} is not part of the sealed evidence: the manifest does not list it, and it is not one of "
            "the proof files added after sealing. It was added to the bundle later.",
            name,
        )
