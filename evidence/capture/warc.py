"""WARC writing shared by the browser recorder and the raw fetch (warcio underneath).

Records are WARC/1.1, gzip-compressed one member per record, with SHA-256 block and
payload digests (``warcio check`` verifies them). Every HTTP record carries
``WARC-Evidence-Source``: ``browser`` (what Chromium exchanged, bodies as the browser
decoded them) or ``raw-fetch`` (the independent requests + warcio capture, bytes exactly
as the server sent them). Secret request headers (``Cookie``, ``Authorization``,
``Proxy-Authorization``) are replaced by a note of what was there.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

__all__ = [
    "REDACTED_REQUEST_HEADERS",
    "EvidenceWARCWriter",
    "archive_response_headers",
    "parse_headers_text",
    "redact_request_headers",
    "warc_date",
]

#: Request headers whose values never reach the WARC.
REDACTED_REQUEST_HEADERS = ("cookie", "authorization", "proxy-authorization")

#: Response headers that describe the wire encoding; renamed because bodies the browser
#: hands over are already decoded (the usual ``X-Archive-Orig-`` convention).
_ENCODING_HEADERS = ("content-encoding", "transfer-encoding", "content-length")


class EvidenceWARCWriter(WARCWriter):  # type: ignore[misc]
    """warcio's writer with SHA-256 digests and WARC/1.1 (microsecond dates)."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__(out, gzip=True, warc_version="1.1")

    @staticmethod
    def _create_digester() -> Any:
        return Digester("sha256")


class VerbatimHeaders(StatusAndHeaders):  # type: ignore[misc]
    """HTTP headers that keep the exact bytes received instead of being re-serialised."""

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        if self.headers_buff is None:
            super().compute_headers_buffer(header_filter)


def warc_date(epoch_seconds: float) -> str:
    """ISO 8601 UTC with microseconds, as WARC/1.1 allows."""
    moment = dt.datetime.fromtimestamp(epoch_seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def redact_request_headers(
    headers: Iterable[tuple[str, str]],
) -> tuple[list[tuple[str, str]], bool]:
    """Replace secret header values by a description; returns (headers, anything_redacted)."""
    out: list[tuple[str, str]] = []
    redacted = False
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            count = len([c for c in value.split(";") if c.strip()])
            out.append((name, f"[redacted by evidence: {count} cookie(s)]"))
            redacted = True
        elif lower in ("authorization", "proxy-authorization"):
            scheme = value.split(" ", 1)[0] if value else ""
            out.append((name, f"[redacted by evidence: {scheme} credentials]"))
            redacted = True
        else:
            out.append((name, value))
    return out, redacted


def parse_headers_text(text: str) -> tuple[str, str, list[tuple[str, str]]] | None:
    """Split a raw HTTP/1.x response head ("HTTP/1.1 200 OK\\r\\nName: v\\r\\n...") into
    (protocol, "200 OK", headers in wire order). ``None`` if it does not look like one."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].startswith("HTTP/"):
        return None
    protocol, _, status = lines[0].partition(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name, value.strip()))
    return protocol, status.strip(), headers


def archive_response_headers(
    headers: Iterable[tuple[str, str]], body_length: int
) -> list[tuple[str, str]]:
    """Rename wire-encoding headers to ``X-Archive-Orig-*`` and state the real length of
    the (decoded) body, so replay tools read the record correctly."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() in _ENCODING_HEADERS:
            out.append(("X-Archive-Orig-" + name, value))
        else:
            out.append((name, value))
    out.append(("Content-Length", str(body_length)))
    return out


def request_target(url: str) -> str:
    """The request-target of an origin-form request line: path and query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def write_warcinfo(writer: EvidenceWARCWriter, filename: str, fields: dict[str, str]) -> None:
    """The first record: which software wrote the file and how."""
    writer.write_record(writer.create_warcinfo_record(filename, fields))


def write_exchange(
    writer: EvidenceWARCWriter,
    *,
    url: str,
    method: str,
    request_headers: list[tuple[str, str]],
    request_body: bytes,
    status_line: str,
    response_headers: list[tuple[str, str]],
    body: bytes,
    date: str,
    ip: str | None,
    protocols: list[str],
    cipher: str | None,
) -> None:
    """Write one browser request/response pair (``WARC-Evidence-Source: browser``)."""
    warc_headers: dict[str, str] = {"WARC-Date": date, "WARC-Evidence-Source": "browser"}
    if ip:
        warc_headers["WARC-IP-Address"] = ip.strip("[]")
    if cipher:
        warc_headers["WARC-Cipher-Suite"] = cipher
    response_http = StatusAndHeaders(
        status_line, archive_response_headers(response_headers, len(body)), protocol="HTTP/1.1"
    )
    response = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=response_http,
        warc_headers_dict=dict(warc_headers),
    )
    for proto in protocols:
        response.rec_headers.add_header("WARC-Protocol", proto)
    request_http = StatusAndHeaders(
        f"{request_target(url)} HTTP/1.1",
        request_headers,
        protocol=method,
        is_http_request=True,
    )
    request = writer.create_warc_record(
        url,
        "request",
        payload=io.BytesIO(request_body),
        length=len(request_body),
        http_headers=request_http,
        warc_headers_dict={"WARC-Date": date, "WARC-Evidence-Source": "browser"},
    )
    writer.write_request_response_pair(request, response)
