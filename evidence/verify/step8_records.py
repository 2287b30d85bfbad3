"""Step 8, the WACZ records: ``pages.jsonl`` and ``datapackage.json`` show exactly what the seal determines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evidence._internal import jsonstrict
from evidence.bundle import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    MANIFEST_PATH,
    PAGES_PATH,
)
from evidence.verify.common import (
    CAPTURE_PATH,
    MAX_PAGES_LINES,
    PACKAGE_FIELDS,
    PAGES_HEADER,
    Fail,
    same_json,
    short_json,
)
from evidence.verify.context import Context


def check_pages(ctx: Context, targets: Sequence[str], cap: dict[str, Any]) -> None:
    """``pages/pages.jsonl``: the fixed header line, then exactly the sealed page's line."""
    from evidence.bundle import page_entry

    raw = ctx.read(PAGES_PATH)
    lines_in_file = raw.count(b"\n")
    if lines_in_file > MAX_PAGES_LINES:
        # Counted before anything is split or parsed: millions of short lines would take
        # minutes and gigabytes to read as JSON.
        raise Fail(
            f"{PAGES_PATH} has {lines_in_file} lines; a bundle preserves one page (a header line and one page "
            "line), so a viewer could open another.",
            PAGES_PATH,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Fail(f"{PAGES_PATH} is not UTF-8 text.", PAGES_PATH) from e
    rows = text.split("\n")
    if rows[-1] != "" or "\r" in text or any(not r.strip() for r in rows[:-1]):
        raise Fail(f"{PAGES_PATH} must be JSON lines, each ending in a newline, with no blank line.", PAGES_PATH)
    try:
        lines = [jsonstrict.loads(x) for x in rows[:-1]]
    except (ValueError, RecursionError) as e:
        raise Fail(f"{PAGES_PATH} is not a valid JSON Lines pages list ({e}).", PAGES_PATH) from e
    if not lines or not same_json(lines[0], PAGES_HEADER):
        raise Fail(
            f"{PAGES_PATH} does not start with the header line {json.dumps(PAGES_HEADER, sort_keys=True)}.",
            PAGES_PATH,
        )
    pages = lines[1:]
    if not any(isinstance(p, dict) and p.get("url") in targets for p in pages):
        raise Fail(f"{PAGES_PATH} does not list the preserved page {targets[0]}.", PAGES_PATH)
    if len(pages) != 1:
        raise Fail(
            f"{PAGES_PATH} lists {len(pages)} pages; a bundle preserves one page, so a viewer could open another.",
            PAGES_PATH,
        )
    want, page = page_entry(cap), pages[0]
    assert isinstance(page, dict)
    for key in sorted(set(page) | set(want)):
        if key not in want:
            raise Fail(f"{PAGES_PATH} gives the page a field {key!r} that the bundle format does not have.", PAGES_PATH)
        if key not in page or not same_json(page[key], want[key]):
            raise Fail(
                f"{PAGES_PATH} gives the page's {key!r} as {short_json(page.get(key))}, but the sealed capture "
                f"record gives {short_json(want[key])}; a viewer would show what the capture did not record.",
                PAGES_PATH,
                CAPTURE_PATH,
            )


def check_package(ctx: Context, manifest: dict[str, Any]) -> None:
    """``datapackage.json`` (not sealed) may hold only the fields the writer puts there, each
    exactly as the sealed manifest determines it; the same for ``datapackage-digest.json``."""
    from evidence.bundle import package_fields
    from evidence.bundle.wacz import WACZ_VERSION, resource_name

    pkg = ctx.json(DATAPACKAGE)
    assert isinstance(pkg, dict)
    unknown = sorted(set(pkg) - PACKAGE_FIELDS)
    if unknown:
        raise Fail(
            f"{DATAPACKAGE} has the field {unknown[0]!r}, which bundles never carry: it was added after sealing, "
            "and a viewer might show it.",
            DATAPACKAGE,
        )
    fields = package_fields(manifest)
    want: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": fields["title"],
        "created": fields["created"],
        "software": fields["software"],
    }
    if fields["main_url"]:
        want["mainPageUrl"] = fields["main_url"]
    if fields["main_date"]:
        want["mainPageDate"] = fields["main_date"]
    for key in sorted(PACKAGE_FIELDS - {"resources"}):
        if key not in want and key in pkg:
            raise Fail(f"{DATAPACKAGE} has {key!r}, but the sealed manifest gives it no value.", DATAPACKAGE)
        if key in want and (key not in pkg or not same_json(pkg[key], want[key])):
            raise Fail(
                f"{DATAPACKAGE} gives {key!r} as {short_json(pkg.get(key))}, but the sealed manifest makes it "
                f"{short_json(want[key])}: it was rewritten after sealing, and WACZ viewers show it.",
                DATAPACKAGE,
                MANIFEST_PATH,
            )
    for r in pkg.get("resources", []):
        assert isinstance(r, dict)
        extra = sorted(set(r) - {"name", "path", "hash", "bytes"})
        if extra or r.get("name") != resource_name(str(r.get("path"))):
            what = f"the field {extra[0]!r}" if extra else f"the name {short_json(r.get('name'))}"
            raise Fail(
                f"{DATAPACKAGE} gives the resource {r.get('path')} {what}, which the writer never does.",
                DATAPACKAGE,
            )
    dig = ctx.json(DATAPACKAGE_DIGEST)
    if not isinstance(dig, dict) or set(dig) != {"path", "hash"}:
        raise Fail(f"{DATAPACKAGE_DIGEST} must hold exactly the fields 'path' and 'hash'.", DATAPACKAGE_DIGEST)
