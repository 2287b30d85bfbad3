"""Step 1: the bundle is a complete, undamaged WACZ container."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from evidence.bundle import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
)
from evidence.verify.common import (
    HEX64,
    Fail,
)
from evidence.verify.context import Context


@dataclass(frozen=True)
class Step1Result:
    """What step 1 established (it only opens the bundle: the digests stay cached in the context)."""

    detail: str
    files: tuple[str, ...]


def run(ctx: Context) -> Step1Result:
    """Step 1: open the bundle; check the ZIP and its table of contents (datapackage.json)."""
    ctx.open()
    names = set(ctx.v.names)
    if DATAPACKAGE not in names:
        raise Fail(
            "The file has no datapackage.json, so it is not a WACZ bundle (or its table of contents was removed).",
            DATAPACKAGE,
            unusable=True,
        )
    pkg_bytes = ctx.read(DATAPACKAGE)
    pkg = ctx.json(DATAPACKAGE, unusable=True)
    resources = pkg.get("resources") if isinstance(pkg, dict) else None
    if not isinstance(resources, list):
        raise Fail(
            "datapackage.json has no list of resources; it is not a WACZ table of contents.",
            DATAPACKAGE,
            unusable=True,
        )
    listed: dict[str, tuple[str, int]] = {}
    for r in resources:
        path = r.get("path") if isinstance(r, dict) else None
        digest = r.get("hash") if isinstance(r, dict) else None
        size = r.get("bytes") if isinstance(r, dict) else None
        if (
            not isinstance(path, str)
            or not isinstance(digest, str)
            or not digest.startswith("sha256:")
            or not HEX64.fullmatch(digest[7:])
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
        ):
            raise Fail(
                f"datapackage.json has a malformed resource entry ({str(r)[:120]}); each needs a path, a "
                "'sha256:<64 hex digits>' hash and a size in bytes.",
                DATAPACKAGE,
                unusable=True,
            )
        if path in listed:
            raise Fail(f"datapackage.json lists {path} twice; the bundle is ambiguous.", DATAPACKAGE, path)
        if path in (DATAPACKAGE, DATAPACKAGE_DIGEST):
            raise Fail(f"datapackage.json lists {path} as one of its own resources.", DATAPACKAGE)
        listed[path] = (digest[7:], size)
    if DATAPACKAGE_DIGEST not in names:
        raise Fail(
            "The bundle has no datapackage-digest.json, the fingerprint of its table of contents.",
            DATAPACKAGE_DIGEST,
        )
    dig = ctx.json(DATAPACKAGE_DIGEST)
    want = hashlib.sha256(pkg_bytes).hexdigest()
    got = dig.get("hash") if isinstance(dig, dict) else None
    if not isinstance(dig, dict) or dig.get("path") != DATAPACKAGE or not isinstance(got, str):
        raise Fail("datapackage-digest.json does not give the SHA-256 of datapackage.json.", DATAPACKAGE_DIGEST)
    if not hmac.compare_digest(got.encode(), f"sha256:{want}".encode()):
        raise Fail(
            f"datapackage.json has SHA-256 {want}, but datapackage-digest.json records {got[:80]}: the table "
            "of contents was changed after the bundle was written.",
            DATAPACKAGE,
            DATAPACKAGE_DIGEST,
        )
    for name in ctx.v.names:
        if name not in listed and name not in (DATAPACKAGE, DATAPACKAGE_DIGEST):
            raise Fail(
                f"{name} is in the bundle but not listed in datapackage.json: it was added after the bundle "
                "was written.",
                name,
            )
    for path in listed:
        if path not in names:
            raise Fail(f"datapackage.json lists {path}, but the bundle has no such file: it was removed.", path)
    for path, (digest, size) in listed.items():
        declared = ctx.v.size(path)
        if declared != size:
            raise Fail(
                f"{path} is {declared} bytes long, but datapackage.json records {size} bytes: the file was "
                "changed after the bundle was written.",
                path,
            )
        actual, n = ctx.hash(path)
        if n != size or not hmac.compare_digest(actual, digest):
            raise Fail(
                f"{path} has SHA-256 {actual}, but datapackage.json records {digest}: the file was changed "
                "after the bundle was written.",
                path,
            )
    total = sum(s for _, s in listed.values())
    return Step1Result(
        f"{len(ctx.v.names)} files, {total} bytes; each file matches the SHA-256 and size in "
        "datapackage.json, which matches datapackage-digest.json; no file is unlisted or missing.",
        (),
    )
