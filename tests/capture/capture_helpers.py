"""Helpers for the capture tests (importable by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

SITE_DIR = Path(__file__).resolve().parents[1] / "site"


def load_site_module() -> ModuleType:
    """Import tests/site as ``evidence_test_site`` (once)."""
    name = "evidence_test_site"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, SITE_DIR / "__init__.py", submodule_search_locations=[str(SITE_DIR)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed warcio's ``warcio check -v`` on a WARC."""
    script = Path(sys.executable).parent / "warcio"
    if script.exists():
        argv = [str(script)]
    elif shutil.which("warcio"):
        argv = [str(shutil.which("warcio"))]
    else:
        argv = [sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*argv, "check", "-v", str(path)], capture_output=True, text=True, check=False
    )


def read_warc(path: Path) -> list[dict[str, Any]]:
    """Every record: type, URI, source, WARC headers, HTTP status/headers and payload."""
    from warcio.archiveiterator import ArchiveIterator

    records = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            http = rec.http_headers
            records.append(
                {
                    "type": rec.rec_type,
                    "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                    "source": rec.rec_headers.get_header("WARC-Evidence-Source"),
                    "warc_headers": rec.rec_headers,
                    "status": http.get_statuscode()
                    if http and rec.rec_type == "response"
                    else None,
                    "http_headers": http,
                    "payload": rec.content_stream().read(),
                }
            )
    return records


def read_raw_records(path: Path) -> list[tuple[str, str | None, bytes]]:
    """(type, URI, exact record block) for each record, without HTTP parsing."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, no_record_parse=True):
            out.append(
                (
                    rec.rec_type,
                    rec.rec_headers.get_header("WARC-Target-URI"),
                    rec.raw_stream.read(),
                )
            )
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def leftovers(parent: Path) -> list[str]:
    """Anything a failed capture left in its output's parent folder."""
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, unfiltered pixel rows) of an 8-bit, non-interlaced
    RGB/RGBA/grey PNG (what Chromium writes), decoded here with zlib: no image library."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0, "only 8-bit non-interlaced PNGs"
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    out = bytearray(stride * height)
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return width, height, bpp, bytes(out)


def count_colour(png: bytes, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    """Pixels of this colour (within ``tolerance`` per channel) in a PNG."""
    _width, _height, bpp, pixels = decode_png(png)
    r, g, b = rgb
    n = 0
    for i in range(0, len(pixels), bpp):
        if abs(pixels[i] - r) < tolerance and abs(pixels[i + 1] - g) < tolerance and abs(pixels[i + 2] - b) < tolerance:
            n += 1
    return n


def mhtml_html(data: bytes) -> str:
    """The decoded text/html part of an MHTML snapshot (quoted-printable undone)."""
    import email

    message = email.message_from_bytes(data)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    raise AssertionError("no text/html part in the MHTML")


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF (pypdf)."""
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
