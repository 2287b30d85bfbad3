"""Hand-made captures for the verifier's tests: a bundle the verifier accepts as a browser-made one.

No browser: the test writes the capture directory itself, with the files the capturer
writes (a WARC/1.1 written with warcio holding a page reached through two redirects and a few
resources, both screenshots, the DOM, a PDF, an MHTML, the server's certificate chain,
``environment.json`` and ``capture.json`` in the capturer's format), then seals it with the real
:func:`evidence.bundle.seal` into a real :class:`evidence.log.Log`, time-stamped by the tests'
local RFC 3161 TSA when the test gives one. Importable by name (tests/ is on sys.path).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import ipaddress
import json
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PORT = 8443
BASE = f"https://{HOST}:{PORT}"
REQUESTED = f"{BASE}/redirect/1"
FINAL = f"{BASE}/listing"
TITLE = "Marketplace listing: designer goods"
IP = HOST

HTML = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>" + TITLE + "</title>"
    '<link rel=stylesheet href="/static/style.css"><link rel=icon href="/img/favicon.png"></head>'
    '<body><h1>Designer handbag</h1><p class=price>1 200 EUR</p><img src="/img/product-1.png" alt="bag">'
    '<script src="/static/listing.js"></script></body></html>\n'
).encode()
CSS = b"body { font-family: sans-serif; } .price { color: #a00; }\n"
JS = b"document.querySelector('.price').dataset.seen = '1';\n"


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
    )


def pdf(text: str = TITLE) -> bytes:
    """A one-page PDF showing ``text`` (valid cross-reference table)."""
    stream = f"BT /F1 18 Tf 40 760 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def mhtml(html: bytes = HTML) -> bytes:
    boundary = "----MultipartBoundary--handmade----"
    return (
        (
            f"From: <Saved by Blink>\r\nSnapshot-Content-Location: {FINAL}\r\nSubject: {TITLE}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/related;\r\n"
            f'\ttype="text/html";\r\n\tboundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/html\r\nContent-ID: <frame-1@mhtml.blink>\r\n"
            f"Content-Transfer-Encoding: binary\r\nContent-Location: {FINAL}\r\n\r\n"
        ).encode()
        + html
        + f"\r\n--{boundary}--\r\n".encode()
    )


def certificate_chain(now: dt.datetime) -> tuple[bytes, list[str]]:
    """A server certificate for HOST under a throw-away root: the PEM chain and each DER's SHA-256."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=30)
    root = (
        x509.CertificateBuilder()
        .subject_name(name("Hand-made Test Root CA"))
        .issuer_name(name("Hand-made Test Root CA"))
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(HOST))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    chain = [leaf, root]
    pem = b"".join(c.public_bytes(Encoding.PEM) for c in chain)
    return pem, [hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in chain]


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange the browser (or the raw fetch) made."""

    url: str
    status: int
    reason: str
    mime: str
    body: bytes
    resource_type: str
    location: str | None = None
    source: str = "browser"


def exchanges() -> list[Exchange]:
    return [
        Exchange(REQUESTED, 307, "Temporary Redirect", "text/html", b"", "Document", "/redirect/0"),
        Exchange(f"{BASE}/redirect/0", 301, "Moved Permanently", "text/html", b"", "Document", "/listing"),
        Exchange(FINAL, 200, "OK", "text/html", HTML, "Document"),
        Exchange(f"{BASE}/static/style.css", 200, "OK", "text/css", CSS, "Stylesheet"),
        Exchange(f"{BASE}/img/product-1.png", 200, "OK", "image/png", png(8, 8, (10, 120, 200)), "Image"),
        Exchange(f"{BASE}/static/listing.js", 200, "OK", "application/javascript", JS, "Script"),
        Exchange(f"{BASE}/img/favicon.png", 200, "OK", "image/png", png(2, 2), "Other"),
    ]


def warc_bytes(items: Sequence[Exchange], start: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """A gzipped WARC/1.1: warcinfo, then a request/response pair per exchange (browser ones,
    then the raw fetch of the main document). Returns it and the WARC-Date of each browser URL."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True, warc_version="1.1")
    info = w.create_warcinfo_record(
        "archive.warc.gz", {"software": "evidence (hand-made in a test)", "format": "WARC/1.1"}
    )
    info.rec_headers.replace_header("WARC-Date", iso(start))
    w.write_record(info)
    dates: dict[str, str] = {}
    raw = [
        Exchange(e.url, e.status, e.reason, e.mime, e.body, e.resource_type, e.location, "raw-fetch") for e in items[:3]
    ]
    for k, e in enumerate([*items, *raw]):
        date = iso(start + dt.timedelta(milliseconds=200 + 50 * k))
        if e.source == "browser":
            dates.setdefault(e.url, date)
        headers = [("Content-Type", e.mime), ("Content-Length", str(len(e.body)))]
        if e.location:
            headers.append(("Location", e.location))
        path = e.url.removeprefix(BASE) or "/"
        extra = {"WARC-Date": date, "WARC-Evidence-Source": e.source, "WARC-IP-Address": IP}
        resp = w.create_warc_record(
            e.url,
            "response",
            payload=io.BytesIO(e.body),
            length=len(e.body),
            http_headers=StatusAndHeaders(f"{e.status} {e.reason}", headers, protocol="HTTP/1.1"),
            warc_headers_dict=dict(extra),
        )
        req = w.create_warc_record(
            e.url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1", [("Host", f"{HOST}:{PORT}")], is_http_request=True),
            warc_headers_dict={"WARC-Date": date, "WARC-Evidence-Source": e.source},
        )
        w.write_request_response_pair(req, resp)
    return buf.getvalue(), dates


def _hop(e: Exchange, via: str) -> dict[str, Any]:
    return {
        "url": e.url,
        "status": e.status,
        "status_text": e.reason,
        "location": e.location,
        "via": via,
        "server_ip": IP,
        "server_port": PORT,
    }


ARTIFACTS = (
    "archive.warc.gz",
    "screenshot-full.png",
    "screenshot-viewport.png",
    "dom.html",
    "page.pdf",
    "page.mhtml",
    "tls-chain.pem",
    "environment.json",
    "capture.json",
)


def capture_facts(
    start: dt.datetime, end: dt.datetime, chain_sha256: list[str], dates: dict[str, str]
) -> dict[str, Any]:
    """``capture.json`` as the capturer writes it (evidence/capture/result.py), for these exchanges."""
    items = exchanges()
    chain = [_hop(e, "requested" if i == 0 else "http-redirect") for i, e in enumerate(items[:3])]
    main_sha = hashlib.sha256(HTML).hexdigest()
    return {
        "format": "evidence-capture/1",
        "requested_url": REQUESTED,
        "final_url": FINAL,
        "status": 200,
        "status_text": "OK",
        "http_error": False,
        "error_kind": None,
        "mime_type": "text/html",
        "page_title": TITLE,
        "redirect_chain": chain,
        "server": {"ip": IP, "port": PORT, "protocol": "http/1.1"},
        "dns": {
            "host": HOST,
            "answers": [IP],
            "is_ip_literal": True,
            "resolver": "operating system (getaddrinfo)",
            "elapsed_ms": 1.0,
            "other_hosts": {},
        },
        "tls": {
            "protocol": "TLS 1.3",
            "cipher": "AES_256_GCM",
            "key_exchange": None,
            "key_exchange_group": "X25519",
            "server_signature_algorithm": 1027,
            "subject": HOST,
            "issuer": "Hand-made Test Root CA",
            "san": ["localhost", HOST],
            "valid_from": iso(start - dt.timedelta(days=1)),
            "valid_to": iso(start + dt.timedelta(days=30)),
            "chain_sha256": chain_sha256,
            "certificate_transparency": "unknown",
            "verified": False,
            "verification_error": "self-signed certificate in certificate chain",
        },
        "insecure": True,
        "user_agent": (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
        ),
        "storage_state": {"used": False},
        "started_at": iso(start),
        "finished_at": iso(end),
        "timings_ms": {"total_ms": (end - start).total_seconds() * 1000},
        "page": {
            "viewport": {"width": 1280, "height": 800},
            "width": 1280,
            "height": 1600,
            "full_page_cap": 20000,
            "full_page_captured_height": 1600,
            "full_page_truncated": False,
            "scrolled": True,
            "load_event": True,
            "network_quiet": True,
            "recordings": 1,
            "document_charset": "UTF-8",
        },
        "main_document": {
            "url": FINAL,
            "body_sha256": main_sha,
            "body_bytes": len(HTML),
            "body_encoding": "utf-8",
            "raw_fetch_body_sha256": main_sha,
            "matches_raw_fetch": True,
            "warc_date": dates[FINAL],
            "raw_fetch_differs": None,
        },
        "raw_fetch": {
            "client": "python-requests + warcio.capture_http",
            "requested_url": REQUESTED,
            "final_url": FINAL,
            "status": 200,
            "status_text": "OK",
            "redirect_chain": chain,
            "body_bytes": len(HTML),
            "body_sha256": main_sha,
        },
        "warc": {
            "file": "archive.warc.gz",
            "warc_version": "WARC/1.1",
            "digest_algorithm": "sha256",
            "records": 1 + 2 * (len(items) + 3),
            "browser_exchanges": len(items),
            "raw_fetch_exchanges": 3,
            "source_header": "WARC-Evidence-Source (browser | raw-fetch)",
        },
        "requests": [
            {
                "url": e.url,
                "method": "GET",
                "resource_type": e.resource_type,
                "status": e.status,
                "mime_type": e.mime,
                "size": len(e.body),
                "server_ip": IP,
                "server_port": PORT,
                "protocol": "http/1.1",
                "body_recorded": True,
                "note": None,
            }
            for e in items
        ],
        "request_count": len(items),
        "options": {
            "viewport_width": 1280,
            "viewport_height": 800,
            "insecure": True,
            "operator": None,
            "case": None,
            "notes": None,
            "pdf": True,
            "mhtml": True,
        },
        "browser": {"version": "none (hand-made in a test)", "captures_before_in_this_browser_process": 0},
        "warnings": [],
        "artifacts": list(ARTIFACTS),
        "artifacts_not_made": {},
    }


def capture_dir(root: Path, *, started: dt.datetime | None = None) -> Path:
    """A finished capture directory, as :class:`evidence.capture.Capturer` leaves it."""
    start = started or dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    end = start + dt.timedelta(seconds=3)
    d = root / "capture"
    d.mkdir(parents=True)
    warc, dates = warc_bytes(exchanges(), start)
    pem, chain_sha = certificate_chain(start)
    (d / "archive.warc.gz").write_bytes(warc)
    (d / "screenshot-full.png").write_bytes(png(32, 64))
    (d / "screenshot-viewport.png").write_bytes(png(32, 20))
    (d / "dom.html").write_bytes(HTML)
    (d / "page.pdf").write_bytes(pdf())
    (d / "page.mhtml").write_bytes(mhtml())
    (d / "tls-chain.pem").write_bytes(pem)
    env = {
        "format": "evidence-environment/1",
        "tool": {"name": "evidence", "distribution": "preserve-evidence", "version": "0.1.0"},
        "browser": {"version": "none (hand-made in a test)"},
        "os": {"platform": "test"},
    }
    (d / "environment.json").write_text(json.dumps(env, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    facts = capture_facts(start, end, chain_sha, dates)
    (d / "capture.json").write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return d


def clean_environment(d: Path, tsa: Any) -> None:
    """A clean-environment report (two items) and its start token from ``tsa``, as the capture writes them."""
    import secrets
    from dataclasses import replace

    from evidence.capture.clean import CleanItem, CleanReport, start_message
    from evidence.timestamp import request_timestamp

    items = (
        CleanItem("proxy-environment", "PASS", {"environment_variables": {}}, "no proxy variable is set"),
        CleanItem("hosts-file", "PASS", {"path": "/etc/hosts", "entries_for_captured_hosts": []}, "no override"),
    )
    report = CleanReport(iso(dt.datetime.now(dt.UTC)), items, secrets.token_bytes(32))
    token = request_timestamp(start_message(bytes.fromhex(report.report_sha256()), report.nonce), tsa)
    report = replace(report, start_token=token.der, start_tsa=tsa.url, start_gen_time=iso(token.gen_time))
    for name, data in report.files().items():
        (d / name).write_bytes(data)


def make_bundle(root: Path, tsa_url: str | None, origin: str, *, name: str = "listing.wacz") -> tuple[Any, Any]:
    """A hand-made capture sealed into a new log (two other entries first, so that other
    entries' proofs exist to swap in), time-stamped by the TSA at ``tsa_url``.

    The same shape as :func:`verify_helpers.make_bundle`: the :class:`evidence.bundle.Bundle`
    and the log.
    """
    from evidence.bundle import seal
    from evidence.config import TSAConfig
    from evidence.log import Log
    from evidence.log.attempts import attempt

    log = Log.create(root / "log", origin=origin)
    log.append([b"other entry 0", b"other entry 1"])
    tsas = [TSAConfig(name="local-tsa", url=tsa_url)] if tsa_url else []
    d = capture_dir(root)
    if tsas:
        clean_environment(d, tsas[0])
    # Recorded as an attempt, as every capture is: the bundle carries evidence/attempts.json.
    with attempt(log, url=REQUESTED) as a:
        bundle = seal(d, log, root / "out", name=name, tsas=tsas, attempt=a)
    return bundle, log
