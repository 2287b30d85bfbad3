"""WACZ 1.1.1 packaging: CDXJ index, pages list, datapackage, deterministic ZIP.

A WACZ is a ZIP with ``archive/*.warc.gz``, ``indexes/index.cdx``, ``pages/pages.jsonl``,
``datapackage.json`` (every other file with its SHA-256 and size) and
``datapackage-digest.json`` (the SHA-256 of ``datapackage.json``). ReplayWeb.page and pywb
replay it; ``wacz validate`` checks it.

Determinism: members are written in a fixed order, all with the same fixed timestamp
(1980-01-01 00:00:00, the earliest ZIP date) and fixed permissions, by the one writer the
strict reader accepts (:class:`evidence.bundle.container.ZipWriter`). WARCs (already gzip per
record, and read by replay tools at random offsets) are stored; every other member is
deflated at a fixed zlib level, so the same inputs give the same bytes for a given zlib
version (docs/design.md says why that trade was made).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence._internal.durable import fsync_dir
from evidence._internal.timefmt import utc_text
from evidence.bundle.container import ZipWriter
from evidence.bundle.surt import surt

WACZ_VERSION = "1.1.1"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
CHUNK = 1 << 20


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def cdxj_lines(warc_path: Path, filename: str) -> list[str]:
    """CDXJ index lines for the response, resource and revisit records of a WARC.

    Sorted by SURT key and timestamp, as CDXJ requires. Lines with the same key and
    second keep the browser's records before the raw fetch's (``WARC-Evidence-Source``):
    a replayer (pywb) takes the first of equally close captures, so replay shows what the
    browser saw, not the raw fetch's copy, even when the site answered the two differently.
    """
    from warcio.archiveiterator import ArchiveIterator

    keyed: list[tuple[str, str, int, str]] = []
    with open(warc_path, "rb") as f:
        it = ArchiveIterator(f)
        for record in it:
            if not is_indexed(record):
                continue
            # The offset and length are known once the record is read to its end (warcio
            # reads the rest of it, in chunks, when they are asked for).
            line = cdxj_line(record, it.get_record_offset(), it.get_record_length(), filename)
            if line is not None:
                keyed.append(index_order(line, record))
    keyed.sort()
    return [k[-1] for k in keyed]


def index_order(line: str, record: Any) -> tuple[str, str, int, str]:
    """The sort key of an index line: SURT key, timestamp, then the browser's records before
    the raw fetch's (``WARC-Evidence-Source: raw-fetch``), then the line itself."""
    key, ts, _ = line.split(" ", 2)
    raw_fetch = int(record.rec_headers.get_header("WARC-Evidence-Source") == "raw-fetch")
    return (key, ts, raw_fetch, line)


def is_indexed(record: Any) -> bool:
    """Whether a WARC record gets an index line (before reading it): a response, resource
    or revisit record with a target URI. :func:`cdxj_line` may still skip it."""
    return record.rec_type in ("response", "resource", "revisit") and bool(
        record.rec_headers.get_header("WARC-Target-URI")
    )


def cdxj_line(record: Any, offset: int, length: int, filename: str) -> str | None:
    """The CDXJ line of one WARC record (warcio) at ``offset``, ``length`` bytes long, or
    ``None`` for a record that is not indexed (see docs/bundle-format.md, the index rule)."""
    rtype = record.rec_type
    url = record.rec_headers.get_header("WARC-Target-URI")
    if rtype not in ("response", "resource", "revisit") or not url:
        return None
    if rtype == "resource" and url.startswith("urn:"):
        return None
    date = record.rec_headers.get_header("WARC-Date") or ""
    ts = "".join(c for c in date if c.isdigit())[:14].ljust(14, "0")
    data: dict[str, Any] = {"url": url}
    if rtype == "response" and record.http_headers is not None:
        data["mime"] = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip()
        data["status"] = str(record.http_headers.get_statuscode())
    elif rtype == "resource":
        data["mime"] = (record.rec_headers.get_header("Content-Type") or "").split(";")[0].strip()
        data["status"] = "200"
    else:
        data["mime"] = "warc/revisit"
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    if digest:
        data["digest"] = digest
    data["offset"] = str(offset)
    data["length"] = str(length)
    data["filename"] = filename
    return f"{surt(url)} {ts} {json.dumps(data, sort_keys=True, separators=(',', ':'))}"


def pages_jsonl(pages: Sequence[dict[str, Any]]) -> bytes:
    """``pages/pages.jsonl``: a header line, then one JSON object per page."""
    header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    out = [json.dumps(header, sort_keys=True)]
    out.extend(json.dumps(p, sort_keys=True, ensure_ascii=False) for p in pages)
    return ("\n".join(out) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Member:
    """One file to put into the ZIP: its path inside the archive and its source."""

    path: str
    source: Path | bytes

    def open_bytes(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else self.source.read_bytes()

    def digest(self) -> tuple[str, int]:
        if isinstance(self.source, bytes):
            return hashlib.sha256(self.source).hexdigest(), len(self.source)
        return sha256_file(self.source)


def resource_name(path: str) -> str:
    """The ``name`` of a ``datapackage.json`` resource for a member path (the verifier requires it)."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.lower())
    return name.strip("-.") or "resource"


def datapackage(
    members: Iterable[Member],
    *,
    title: str,
    main_url: str | None,
    main_date: str | None,
    created: str,
    software: str,
    extras: dict[str, Any] | None = None,
) -> bytes:
    """``datapackage.json`` for the members (which must not include the datapackage files)."""
    resources = []
    for m in members:
        digest, size = m.digest()
        resources.append({"name": resource_name(m.path), "path": m.path, "hash": f"sha256:{digest}", "bytes": size})
    pkg: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "created": created,
        "software": software,
        "resources": resources,
    }
    if main_url:
        pkg["mainPageUrl"] = main_url
    if main_date:
        pkg["mainPageDate"] = main_date
    if extras:
        pkg.update(extras)
    return (json.dumps(pkg, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def datapackage_digest(datapackage_bytes: bytes) -> bytes:
    digest = hashlib.sha256(datapackage_bytes).hexdigest()
    body = {"path": "datapackage.json", "hash": f"sha256:{digest}"}
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")


def deflated(path: str) -> bool:
    """Whether the member ``path`` is deflated: everything except WARCs and gzip files.

    WACZ readers fetch WARC records at offsets inside the member, so WARCs stay stored; a
    ``.gz`` member is already compressed.
    """
    return not (path.endswith((".gz", ".warc")) or path.startswith("archive/"))


def write_zip(dest: Path, members: Sequence[Member]) -> None:
    """Write the deterministic bundle ZIP (see :func:`deflated`) atomically at ``dest``."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        with open(tmp, "w+b") as f:
            writer = ZipWriter(f)
            for m in members:
                writer.add(m.path, m.source, deflate=deflated(m.path))
            writer.finish()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def iso_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return utc_text(datetime.now(UTC))
