"""Step 8, the index: ``indexes/index.cdx`` is byte for byte the index of the WARC."""

from __future__ import annotations

import hmac

from evidence._internal import jsonstrict
from evidence.bundle import (
    INDEX_PATH,
    WARC_PATH,
)
from evidence.errors import (
    BundleFormatError,
)
from evidence.verify import common
from evidence.verify.common import (
    Fail,
    WarcScan,
    index_offset,
)
from evidence.verify.context import Context


def check_index(ctx: Context, scan: WarcScan) -> None:
    """``indexes/index.cdx`` must be, byte for byte, the index of the WARC's records."""
    want = ("\n".join(scan.index) + "\n").encode("utf-8")
    if not ctx.v.has(INDEX_PATH):
        raise Fail(f"The bundle has no {INDEX_PATH}.", INDEX_PATH)
    try:
        have = ctx.v.read(INDEX_PATH, limit=common.MAX_INDEX_BYTES)
    except BundleFormatError as e:
        raise Fail(
            f"{INDEX_PATH} cannot be read, or is larger than this verifier accepts: {e.message}", INDEX_PATH
        ) from e
    if hmac.compare_digest(have, want):
        return
    wanted = set(scan.index)
    by_offset: dict[str, str] = {}
    for line in scan.index:
        off = index_offset(line)
        if off is not None:
            by_offset[off] = line
    try:
        got = have.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise Fail(f"{INDEX_PATH} is not UTF-8 text.", INDEX_PATH) from e
    if got and got[-1] == "":
        got = got[:-1]
    seen: set[str] = set()
    for n, line in enumerate(got, start=1):
        if line in seen:
            raise Fail(f"Line {n} of {INDEX_PATH} repeats an earlier line; each record is indexed once.", INDEX_PATH)
        seen.add(line)
        if line in wanted:
            continue
        off = index_offset(line)
        real = by_offset.get(off) if off is not None else None
        if real is None:
            raise Fail(
                f"Line {n} of {INDEX_PATH} ({line[:200]}) does not point at an indexed record of {WARC_PATH} "
                "(no such record starts at the offset it gives). Replay would show something the archive does "
                "not hold as indexed.",
                INDEX_PATH,
                WARC_PATH,
            )
        raise Fail(
            f"Line {n} of {INDEX_PATH} ({line[:200]}) does not describe the record it points at: the record at "
            f"offset {off} of {WARC_PATH} is indexed as {real[:200]}. Replay would show the wrong thing for "
            "that address.",
            INDEX_PATH,
            WARC_PATH,
        )
    missing = [x for x in scan.index if x not in seen]
    if missing:
        parts = missing[0].split(" ", 2)
        data = jsonstrict.loads(parts[2]) if len(parts) == 3 else {}
        raise Fail(
            f"{INDEX_PATH} has no line for the record of {str(data.get('url'))[:300]} at offset "
            f"{data.get('offset')} of {WARC_PATH}; every response, resource and revisit record must be indexed "
            f"(its line would be: {missing[0][:300]}).",
            INDEX_PATH,
            WARC_PATH,
        )
    raise Fail(
        f"{INDEX_PATH} holds the right lines but not in the order (sorted) or form the index rule fixes.",
        INDEX_PATH,
    )
