"""The wire, independently of the browser: DNS answers and a raw fetch of the main document.

The raw fetch uses ``requests`` with ``warcio.capture_http``'s recorder, so the WARC holds
the request and the response exactly as they crossed the connection (status line, header
spacing, chunked framing and compression included), next to the server's IP address,
port, TLS version, cipher and certificate as Python's ``ssl`` saw them.

``warcio.capture_http`` patches ``http.client`` when imported, which only reaches
``urllib3`` if ``urllib3`` is imported afterwards. So as not to depend on import order, the
session here uses its own recording connection classes on top of ``urllib3``'s (and
switches off warcio's patch on them), feeding warcio's ``RequestRecorder``. They also fix
warcio's recording of short reads (it records the whole buffer, not the bytes read).
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import http.client
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
import warcio.capture_http  # noqa: F401  (imported before requests, as warcio asks)
from warcio.capture_http import RecordingHTTPConnection, capture_http

from evidence.capture.errors import (
    BodyTooLargeError,
    CaptureError,
    CaptureTimeoutError,
    ConnectionFailedError,
    HostNotFoundError,
    InvalidURLError,
    RedirectLoopError,
    TLSFailedError,
    seconds,
)
from evidence.capture.result import RedirectHop
from evidence.capture.urls import Target, check_url
from evidence.capture.warc import (
    EvidenceWARCWriter,
    VerbatimHeaders,
    redact_request_headers,
)

__all__ = ["DNSLookup", "RawFetch", "WireConnection", "raw_fetch", "resolve", "verify_tls"]

_local = threading.local()
_INSECURE_HINT = (
    "If you must preserve this site as it is (for example a site with a self-signed or "
    "expired certificate), capture again with --insecure (CaptureOptions(insecure=True)); "
    "the evidence will record that the certificate was not verified and why."
)


# ---------------------------------------------------------------------------------------
# DNS


@dataclass(frozen=True)
class DNSLookup:
    """The system resolver's answers for a host (``getaddrinfo``, so ``/etc/hosts`` and
    the platform's resolver configuration apply, as they do for the browser)."""

    host: str
    addresses: tuple[str, ...]
    is_ip_literal: bool
    elapsed_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "answers": list(self.addresses),
            "is_ip_literal": self.is_ip_literal,
            "resolver": "operating system (getaddrinfo)",
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def resolve(target: Target, timeout_s: float) -> DNSLookup:
    """Look up ``target.host``; :class:`HostNotFoundError` when the name does not exist."""
    start = time.monotonic()
    if target.is_ip_literal:
        return DNSLookup(target.host, (target.host,), True, 0.0)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, target.host, target.port, 0, socket.SOCK_STREAM)
        infos = future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        raise CaptureTimeoutError(
            f"Looking up the site name {target.host} took longer than {seconds(timeout_s)}.",
            hint="Check this computer's network connection and DNS settings, then try again.",
        ) from None
    except (socket.gaierror, UnicodeError) as err:
        raise HostNotFoundError(
            f"The site name {target.host} could not be found (DNS lookup failed: {err}).",
            hint="Check the spelling of the address. If it is right, the site may no longer "
            "exist, or this computer may have no working internet connection.",
        ) from None
    finally:
        pool.shutdown(wait=False)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return DNSLookup(target.host, tuple(addresses), False, (time.monotonic() - start) * 1000)


# ---------------------------------------------------------------------------------------
# Recording connections


@dataclass(frozen=True)
class WireConnection:
    """The connection one raw-fetch response arrived on."""

    server_ip: str | None
    server_port: int | None
    local_ip: str | None
    local_port: int | None
    tls_version: str | None = None
    tls_cipher: str | None = None
    leaf_der: bytes | None = field(default=None, repr=False)

    @property
    def leaf_sha256(self) -> str | None:
        return hashlib.sha256(self.leaf_der).hexdigest() if self.leaf_der else None

    def to_json(self) -> dict[str, Any]:
        return {
            "server_ip": self.server_ip,
            "server_port": self.server_port,
            "local_ip": self.local_ip,
            "local_port": self.local_port,
            "tls_version": self.tls_version,
            "tls_cipher": self.tls_cipher,
            "tls_leaf_sha256": self.leaf_sha256,
        }


def _wire_facts(sock: Any) -> WireConnection:
    def addr(getter: Callable[[], Any]) -> tuple[str | None, int | None]:
        try:
            value = getter()
            return str(value[0]), int(value[1])
        except (OSError, AttributeError, IndexError, TypeError, ValueError):
            return None, None

    server_ip, server_port = addr(sock.getpeername)
    local_ip, local_port = addr(sock.getsockname)
    version = cipher = None
    leaf = None
    if isinstance(sock, ssl.SSLSocket):
        version = sock.version()
        c = sock.cipher()
        cipher = c[0] if c else None
        leaf = sock.getpeercert(binary_form=True)
    return WireConnection(server_ip, server_port, local_ip, local_port, version, cipher, leaf)


class _RecordingStream:
    """Records what http.client reads from the socket file (exactly the bytes read)."""

    def __init__(self, fp: Any, recorder: Any) -> None:
        self.fp = fp
        self.recorder = recorder
        self._done = False

    def _record(self, data: Any) -> None:
        if data:
            self.recorder.write_response(bytes(data))

    def read(self, amt: int | None = None) -> bytes:
        data: bytes = self.fp.read(amt)
        self._record(data)
        return data

    def read1(self, n: int = -1) -> bytes:
        data: bytes = self.fp.read1(n)
        self._record(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count: int = self.fp.readinto(buffer)
        if count:
            self._record(memoryview(buffer)[:count])
        return count

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.fp.readline(limit)
        self._record(line)
        return line

    def peek(self, n: int = 0) -> bytes:
        data: bytes = self.fp.peek(n)
        return data

    def flush(self) -> None:
        self.fp.flush()

    def close(self) -> None:
        if not self._done:
            self._done = True
            self.recorder.done()
        self.fp.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fp, name)


class _RecordingHTTPResponse(http.client.HTTPResponse):
    def __init__(self, recorder: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = _RecordingStream(self.fp, recorder)  # type: ignore[assignment]


if TYPE_CHECKING:
    _ConnectionBase = urllib3.connection.HTTPConnection
else:
    _ConnectionBase = object


class _RecordingMixin(_ConnectionBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self, RecordingHTTPConnection):
            self.recorder = None  # warcio's import-time patch: this class records instead
        self._ev_recorder = getattr(RecordingHTTPConnection.local, "recorder", None)
        if self._ev_recorder is not None:
            self.response_class = functools.partial(  # type: ignore[assignment]
                _RecordingHTTPResponse, self._ev_recorder
            )

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        if self._ev_recorder is not None:
            self._ev_recorder.start()
        super().putrequest(*args, **kwargs)

    def send(self, data: Any) -> None:
        recorder = self._ev_recorder
        if recorder is None or hasattr(data, "read"):
            super().send(data)
            return
        recorder.extract_url(data, self.host, self.port, self.default_port)
        super().send(data)
        recorder.write_request(data)

    def getresponse(self) -> Any:
        if self._ev_recorder is not None:
            facts = _wire_facts(self.sock)
            _local.connections.append(facts)
            if facts.server_ip:
                self._ev_recorder.set_remote_ip(facts.server_ip)
        return super().getresponse()


class _RecordingHTTPConnection(_RecordingMixin, urllib3.connection.HTTPConnection):
    pass


class _RecordingHTTPSConnection(_RecordingMixin, urllib3.connection.HTTPSConnection):
    pass


class _RecordingHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _RecordingHTTPConnection


class _RecordingHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _RecordingHTTPSConnection


_POOLS = {"http": _RecordingHTTPPool, "https": _RecordingHTTPSPool}


class _RecordingAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


# ---------------------------------------------------------------------------------------
# The raw fetch


@dataclass(frozen=True)
class RawFetch:
    """The main document fetched by ``requests``, recorded byte for byte."""

    requested_url: str
    final_url: str
    status: int
    status_text: str
    redirect_chain: tuple[RedirectHop, ...]
    connection: WireConnection
    body_bytes: int
    body_sha256: str
    date_header: str | None
    elapsed_ms: float
    warc: bytes = field(repr=False)
    redacted: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "client": f"python-requests/{requests.__version__} + warcio.capture_http",
            "requested_url": self.requested_url,
            "final_url": self.final_url,
            "status": self.status,
            "status_text": self.status_text,
            "redirect_chain": [hop.to_json() for hop in self.redirect_chain],
            "connection": self.connection.to_json(),
            "body_bytes": self.body_bytes,
            "body_sha256": self.body_sha256,
            "date_header": self.date_header,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "secret_request_headers_redacted": self.redacted,
        }


def _filter_records(state: dict[str, Any]) -> Callable[[Any, Any, Any], tuple[Any, Any]]:
    def keep_verbatim(record: Any) -> None:
        stream = record.raw_stream
        end = stream.tell()
        stream.seek(0)
        head = stream.read(end)
        stream.seek(end)
        record.http_headers.__class__ = VerbatimHeaders
        record.http_headers.headers_buff = head

    def filter_func(request: Any, response: Any, _recorder: Any) -> tuple[Any, Any]:
        for record in (request, response):
            record.rec_headers.add_header("WARC-Evidence-Source", "raw-fetch")
        conns: list[WireConnection] = _local.connections
        conn = conns[-1] if conns else None
        if conn and conn.tls_version:
            response.rec_headers.add_header(
                "WARC-Protocol", conn.tls_version.lower().replace("v", "/")
            )
            if conn.tls_cipher:
                response.rec_headers.add_header("WARC-Cipher-Suite", conn.tls_cipher)
        if response.http_headers is not None:
            keep_verbatim(response)
        if request.http_headers is not None:
            headers, redacted = redact_request_headers(request.http_headers.headers)
            if redacted:
                request.http_headers.headers = headers
                state["redacted"] = True
            else:
                keep_verbatim(request)
        return request, response

    return filter_func


def raw_fetch(
    target: Target,
    *,
    user_agent: str,
    cookies: list[dict[str, Any]],
    timeout_s: float,
    max_body_bytes: int,
    max_redirects: int,
    insecure: bool,
) -> RawFetch:
    """GET ``target`` with ``requests``, following redirects, recording every exchange.

    Raises a :class:`CaptureError` subclass for DNS, connection, TLS, timeout, redirect
    loop and size failures. 4xx/5xx answers are not errors here.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    session = requests.Session()
    adapter = _RecordingAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    for c in cookies:
        session.cookies.set(
            str(c.get("name", "")),
            str(c.get("value", "")),
            domain=str(c.get("domain", "")),
            path=str(c.get("path", "/")),
            secure=bool(c.get("secure", False)),
        )
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    writer = EvidenceWARCWriter(spool)
    state: dict[str, Any] = {"redacted": False}
    _local.connections = []
    hops: list[RedirectHop] = []
    url = target.url.split("#", 1)[0]
    body_bytes = 0
    body_sha256 = hashlib.sha256().hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            with capture_http(writer, filter_func=_filter_records(state)):
                via = "requested"
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise requests.exceptions.ReadTimeout("deadline")
                    response = session.get(
                        url,
                        allow_redirects=False,
                        stream=True,
                        timeout=(remaining, remaining),
                        verify=not insecure,
                    )
                    try:
                        body_bytes, body_sha256 = _read_body(
                            response, url, max_body_bytes, deadline
                        )
                    finally:
                        response.close()
                    conns: list[WireConnection] = _local.connections
                    conn = conns[-1] if conns else WireConnection(None, None, None, None)
                    location = response.headers.get("Location")
                    hops.append(
                        RedirectHop(
                            url=url,
                            status=response.status_code,
                            status_text=response.reason or "",
                            location=location,
                            via=via,
                            server_ip=conn.server_ip,
                            server_port=conn.server_port,
                        )
                    )
                    if not (response.is_redirect and location):
                        break
                    if len(hops) > max_redirects:
                        raise requests.exceptions.TooManyRedirects()
                    url = urljoin(url, location).split("#", 1)[0]
                    try:
                        next_target = check_url(url)
                    except InvalidURLError as err:
                        raise CaptureError(
                            f"The site redirected to an address that cannot be captured: {url}",
                            hint=err.diagnostics(),
                        ) from None
                    url = next_target.url
                    via = "http-redirect"
    except requests.exceptions.RequestException as err:
        raise _explain(err, target, url, timeout_s, max_redirects) from None
    finally:
        session.close()
    spool.seek(0)
    warc = spool.read()
    spool.close()
    conns = _local.connections
    final = hops[-1]
    return RawFetch(
        requested_url=target.url,
        final_url=final.url,
        status=final.status,
        status_text=final.status_text,
        redirect_chain=tuple(hops),
        connection=conns[-1] if conns else WireConnection(None, None, None, None),
        body_bytes=body_bytes,
        body_sha256=body_sha256,
        date_header=response.headers.get("Date"),
        elapsed_ms=(time.monotonic() - start) * 1000,
        warc=warc,
        redacted=bool(state["redacted"]),
    )


def _read_body(
    response: requests.Response, url: str, limit: int, deadline: float
) -> tuple[int, str]:
    """Read the (decoded) body within the size limit; returns its length and SHA-256."""
    total = 0
    digest = hashlib.sha256()
    for chunk in response.iter_content(chunk_size=65536):
        total += len(chunk)
        digest.update(chunk)
        if total > limit:
            raise BodyTooLargeError(
                f"The page at {url} is larger than the allowed maximum of {limit:,} bytes.",
                hint="If this size is expected, capture again with a higher maximum body size "
                "(CaptureOptions(max_body_bytes=...)).",
            )
        if time.monotonic() > deadline:
            raise requests.exceptions.ReadTimeout("deadline")
    return total, digest.hexdigest()


def _explain(
    err: requests.exceptions.RequestException,
    target: Target,
    url: str,
    timeout_s: float,
    max_redirects: int,
) -> CaptureError:
    host = urlsplit(url).hostname or target.host
    if isinstance(err, requests.exceptions.TooManyRedirects):
        return RedirectLoopError(
            f"The site redirected more than {max_redirects} times without reaching a page "
            f"(a redirect loop), starting from {target.url}.",
            hint="Open the address in a browser: it will show the same problem. The site may "
            "need cookies (capture with a storage-state file) or be misconfigured.",
        )
    if isinstance(err, requests.exceptions.SSLError):
        reason = _ssl_reason(err)
        return TLSFailedError(
            f"The secure connection to {host} failed: {reason}.",
            hint="The site's certificate could not be verified, so its identity is not proven. "
            + _INSECURE_HINT,
        )
    if isinstance(err, requests.exceptions.Timeout):
        return CaptureTimeoutError(
            f"The site {host} did not answer within {seconds(timeout_s)}.",
            hint="Try again later, or allow more time (CaptureOptions(timeout_s=...)).",
        )
    if isinstance(err, requests.exceptions.ConnectionError):
        text = str(err)
        if "NameResolutionError" in text or "Name or service not known" in text:
            return HostNotFoundError(
                f"The site name {host} could not be found (DNS lookup failed).",
                hint="Check the spelling of the address.",
            )
        if "refused" in text.lower():
            return ConnectionFailedError(
                f"The server {host} refused the connection: nothing is accepting web "
                f"requests at {urlsplit(url).netloc}.",
                hint="Check the address (and port). The site may be down; try again later.",
            )
        return ConnectionFailedError(
            f"The connection to {host} failed ({_short(text)}).",
            hint="Check this computer's network connection, then try again.",
        )
    return CaptureError(f"Fetching {url} failed ({_short(str(err))}).")


def _ssl_reason(err: BaseException) -> str:
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"the certificate was rejected ({e.verify_message})"
        if isinstance(e, ssl.SSLError):
            return f"the TLS handshake failed ({e.reason or e})"
        stack.extend([e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        stack.append(
            getattr(e, "reason", None)
            if isinstance(getattr(e, "reason", None), BaseException)
            else None
        )
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip()
        return f"the certificate was rejected ({detail})"
    return _short(text)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verify_tls(host: str, port: int, timeout_s: float) -> str | None:
    """Try a verified TLS handshake; ``None`` if the certificate verifies, else why not.

    Used with ``insecure`` so the evidence says what was wrong with the certificate.
    """
    context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(certifi.where())
    except (ImportError, OSError):
        pass
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as err:
        return str(err.verify_message or err)
    except (OSError, ssl.SSLError) as err:
        return f"TLS handshake failed ({err})"
