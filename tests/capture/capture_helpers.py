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
