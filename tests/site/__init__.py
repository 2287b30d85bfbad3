"""A local test site for capture tests: HTTP and HTTPS on 127.0.0.1, standard library only.

    site = TestSite.start()
    site.url("/listing")              # http://127.0.0.1:PORT/listing
    site.url("/listing", https=True)  # https://127.0.0.1:PORT2/listing (private test CA)
    site.close()

Routes (see :meth:`_Handler.do_GET`): ``/`` index, ``/listing`` a product listing with
images, a stylesheet, a script and a lazy-loaded reviews section far below the fold,
``/redirect/N`` a chain of N redirects ending at ``/listing``, ``/loop`` a redirect loop,
``/not-found`` (404), ``/server-error`` (500), ``/slow?ms=N``, ``/long?px=N`` a very long
page, ``/files/catalogue.pdf`` and ``/img/*.png`` (non-HTML), ``/big?bytes=N`` a large
body, ``/big-resource-page?bytes=N`` a page whose stylesheet is large,
``/broken-image-page`` an image the browser gives up on, ``/gzip`` a gzip +
chunked response with unusual header spacing, ``/account`` a page that needs a cookie,
``/framed`` a page with a cross-site frame, ``/js-redirect`` a script redirect to
``/listing``, ``/staged?gap=MS`` content arriving in stages (``/api/stage?n=N``,
``/img/stage-final.png``) with MS of network quiet before each, ``/cloaked`` a page that
shows browsers (``Sec-Fetch-Mode`` sent) one price and other clients another,
``/timed?ms=N`` reviews put in by a timer after N ms (no request), ``/ticker?ms=N`` a
countdown changing every N ms for ever, ``/listing-zh`` a listing written in Chinese
(and a line of Japanese), ``/huge?mb=N`` a listing of N MiB (default 30, at most 64;
generated once, kept in memory).
"""

from __future__ import annotations

import contextlib
import gzip
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import pages
from .certs import TestCertificates, make_certificates

SESSION_COOKIE = ("session", "s3cr3t-session-token-for-tests")


@dataclass
class Hit:
    """One request the site received."""

    scheme: str
    method: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EvidenceTestSite/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- helpers ------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        body = pages.simple_html(f"Moved ({status})", f'<a href="{location}">here</a>')
        self._send(status, body, headers=[("Location", location)])

    # -- routes -------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.server.record(self)
        routes: dict[str, Callable[[], None]] = {
            "/": lambda: self._send(200, pages.index_html()),
            "/listing": lambda: self._send(200, pages.listing_html()),
            "/listing-zh": lambda: self._send(200, pages.listing_zh_html()),
            "/static/style.css": lambda: self._send(200, pages.STYLE_CSS, "text/css"),
            "/static/listing.js": lambda: self._send(
                200, pages.LISTING_JS, "application/javascript"
            ),
            "/api/reviews": lambda: self._send(200, pages.reviews_json(), "application/json"),
            "/img/lazy-banner.png": lambda: self._send(200, pages.lazy_banner_png(), "image/png"),
            "/img/footer-lazy.png": lambda: self._send(
                200, pages.png(240, 160, (20, 160, 160), 10), "image/png"
            ),
            "/img/favicon.png": lambda: self._send(
                200, pages.png(16, 16, (27, 42, 73)), "image/png"
            ),
            "/not-found": lambda: self._send(
                404, pages.simple_html("404 Not Found", "<p>This listing was removed.</p>")
            ),
            "/server-error": lambda: self._send(
                500, pages.simple_html("500 Internal Server Error", "<p>Something broke.</p>")
            ),
            "/loop": lambda: self._redirect(302, "/loop"),
            "/files/catalogue.pdf": lambda: self._send(200, pages.minimal_pdf(), "application/pdf"),
            "/img/stage-final.png": lambda: self._send(200, pages.stage_final_png(), "image/png"),
            "/gzip": self._gzip,
            "/account": self._account,
        }
        if path in routes:
            routes[path]()
        elif path.startswith("/img/product-") and path.endswith(".png"):
            self._send(200, pages.product_png(int(path[len("/img/product-") : -4])), "image/png")
        elif path.startswith("/img/avatar-") and path.endswith(".png"):
            self._send(200, pages.avatar_png(int(path[len("/img/avatar-") : -4])), "image/png")
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            if n <= 0:
                self._redirect(301, "/listing")
            else:
                self._redirect((302, 307, 301)[n % 3], f"/redirect/{n - 1}")
        elif path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000)
            self._send(200, pages.simple_html("Slow page", "<p>Finally here.</p>"))
        elif path == "/long":
            self._send(200, pages.long_html(int(query.get("px", "30000"))))
        elif path == "/huge":
            self._send(200, pages.huge_html(int(query.get("mb", "30"))))
        elif path == "/big":
            self._big(int(query.get("bytes", "1000000")), query.get("type", "text/plain"))
        elif path == "/staged":
            self._send(200, pages.staged_html(int(query.get("gap", "250"))))
        elif path == "/api/stage":
            self._send(200, pages.stage_json(int(query.get("n", "1"))), "application/json")
        elif path == "/timed":
            self._send(200, pages.timed_html(int(query.get("ms", "1000"))))
        elif path == "/ticker":
            self._send(200, pages.ticker_html(int(query.get("ms", "100"))))
        elif path == "/cloaked":
            browser = "Sec-Fetch-Mode" in self.headers
            self._send(200, pages.cloaked_html(browser))
        elif path == "/js-redirect":
            script = "<script>setTimeout(function(){location.href='/listing';}, 150);</script>"
            self._send(200, pages.simple_html("Moving...", script))
        elif path == "/framed":
            # A cross-site frame: 127.0.0.1 and localhost are different sites.
            port = self.server.server_address[1]
            other = "localhost" if self.headers.get("Host", "").startswith("127.") else "127.0.0.1"
            src = f"{self.server.scheme}://{other}:{port}/listing"
            frame = f'<iframe src="{src}" width="900" height="600"></iframe>'
            self._send(200, pages.simple_html("Page with a cross-site frame", frame))
        elif path == "/broken-image-page":
            img = '<img src="/big?bytes=3000000&amp;type=image/png">'
            self._send(200, pages.simple_html("Page with a broken image", img))
        elif path == "/big-resource-page":
            size = int(query.get("bytes", "1000000"))
            css = f'<link rel="stylesheet" href="/big?bytes={size}&amp;type=text/css">'
            self._send(200, pages.simple_html("Page with a big stylesheet", css))
        else:
            self._send(404, pages.simple_html("404 Not Found", "<p>No such page.</p>"))

    def _big(self, size: int, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"x" * 65536
        sent = 0
        try:
            while sent < size:
                part = block[: min(len(block), size - sent)]
                self.wfile.write(part)
                sent += len(part)
        except OSError:
            pass

    def _gzip(self) -> None:
        body = gzip.compress(
            pages.simple_html("Compressed page", "<p>gzip and chunked on the wire</p>"), mtime=0
        )
        half = len(body) // 2
        raw = (
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type:text/html; charset=utf-8\r\n"  # no space after the colon
            b"X-Odd-Spacing:   three spaces\r\n"
            b"Content-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n"
            b"\r\n"
            + b"%x\r\n" % half
            + body[:half]
            + b"\r\n"
            + b"%x\r\n" % (len(body) - half)
            + body[half:]
            + b"\r\n0\r\n\r\n"
        )
        self.wfile.write(raw)

    def _account(self) -> None:
        cookie = self.headers.get("Cookie", "")
        name, value = SESSION_COOKIE
        if f"{name}={value}" in cookie:
            self._send(200, pages.simple_html("Your account", "<p>Signed in as test-user.</p>"))
        else:
            self._send(403, pages.simple_html("Please sign in", "<p>Not signed in.</p>"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scheme = "http"
    handler: type[BaseHTTPRequestHandler] = _Handler

    def __init__(self, hits: list[Hit], lock: threading.Lock) -> None:
        super().__init__(("127.0.0.1", 0), self.handler)
        self.hits = hits
        self.lock = lock

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.hits.append(
                Hit(self.scheme, handler.command, handler.path, dict(handler.headers.items()))
            )

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up or reject our certificate are expected


class _TLSServer(_Server):
    scheme = "https"

    def __init__(self, hits: list[Hit], lock: threading.Lock, context: ssl.SSLContext) -> None:
        super().__init__(hits, lock)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Handshake in the per-connection thread, never in the accept loop.
        assert isinstance(request, socket)
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


@dataclass
class TestSite:
    """The running site: one HTTP and one HTTPS server on 127.0.0.1, each on its own port."""

    http_port: int
    https_port: int
    certs: TestCertificates
    hits: list[Hit]
    _servers: list[_Server] = field(repr=False)
    _threads: list[threading.Thread] = field(repr=False)

    @classmethod
    def start(cls) -> TestSite:
        """Generate certificates and start both servers in daemon threads."""
        certs = make_certificates()
        with tempfile.TemporaryDirectory() as tmp:
            chain = Path(tmp) / "chain.pem"
            key = Path(tmp) / "key.pem"
            chain.write_bytes(certs.chain_pem)
            key.write_bytes(certs.key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain, key)
        hits: list[Hit] = []
        lock = threading.Lock()
        servers: list[_Server] = [_Server(hits, lock), _TLSServer(hits, lock, context)]
        threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            for s in servers
        ]
        for t in threads:
            t.start()
        return cls(
            http_port=servers[0].server_address[1],
            https_port=servers[1].server_address[1],
            certs=certs,
            hits=hits,
            _servers=servers,
            _threads=threads,
        )

    def url(self, path: str = "/", *, https: bool = False) -> str:
        """The absolute URL of ``path`` on the HTTP (default) or HTTPS server."""
        if https:
            return f"https://127.0.0.1:{self.https_port}{path}"
        return f"http://127.0.0.1:{self.http_port}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        """Requests received for exactly ``path`` (with its query string)."""
        with self._servers[0].lock:
            return [h for h in self.hits if h.path == path]

    def close(self) -> None:
        """Stop both servers and wait for their threads."""
        for s in self._servers:
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)
