"""Every HTTP request the project makes goes through here: a total deadline and a size cap.

``requests`` timeouts are per socket operation: a server that answers one byte per second
never trips them, and the status line and headers alone may be megabytes long. So
:func:`fetch` gives each request a **deadline for the whole exchange** (connect, send,
status line, headers, body, redirects): a watchdog shuts the connection's socket down when
the deadline passes, which ends any read or write blocked on it, and the caller gets
:class:`DeadlineExceeded`. The body is read in small pieces and refused past ``limit``
bytes (:class:`AnswerTooLarge`); compressed answers are not asked for and not accepted
(no decompression bombs).

Used by the RFC 3161 client (:mod:`evidence.timestamp`), the witness client
(:mod:`evidence.witness`), the log server client and the remote tiles reader
(:mod:`evidence.log.remote`, :mod:`evidence.log.storage`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import requests.adapters
import urllib3.exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Answer", "AnswerTooLarge", "DeadlineExceeded", "base_url", "fetch", "new_session"]

CONNECT_TIMEOUT = 10.0
_PIECE = 16384
MAX_REDIRECTS = 5


def base_url(url: str) -> str:
    """A base URL (a log's, a witness's, a server's prefix) with exactly one trailing slash.

    The one URL-prefix normaliser: paths below the base are joined as ``base_url(u) + path``.
    """
    return url.rstrip("/") + "/"


class DeadlineExceeded(requests.Timeout):
    """The whole exchange did not complete within its deadline."""


class AnswerTooLarge(requests.RequestException):
    """The answer's body is larger than the caller's cap."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class Answer:
    """A complete HTTP answer: status, headers (keys lower-case) and the whole body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


class _Watch:
    """The sockets of one exchange; shut down when its deadline passes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._owned: list[socket.socket] = []
        self.fired = False
        self.done = False

    def add(self, sock: socket.socket | None, *, owned: bool = False) -> None:
        if sock is None:
            return
        with self._lock:
            if self.done:
                if owned:
                    sock.close()
                return
            self._socks.append(sock)
            if owned:
                self._owned.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            socks = list(self._socks)
        for s in socks:
            _shut(s)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._socks.clear()
            owned, self._owned = self._owned, []
        for s in owned:
            s.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_local = threading.local()


def _watch_sock(sock: socket.socket | None) -> None:
    watch: _Watch | None = getattr(_local, "watch", None)
    if watch is not None:
        watch.add(sock)


class _WatchedMixin:
    sock: Any

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        watch: _Watch | None = getattr(_local, "watch", None)
        if watch is not None:
            # A duplicate descriptor of the same socket: shutting it down ends a TLS handshake
            # too (wrapping the socket for TLS detaches the original object from its descriptor).
            watch.add(sock.dup(), owned=True)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_sock(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        _watch_sock(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _Conn(_WatchedMixin, HTTPConnection):
    pass


class _SConn(_WatchedMixin, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Conn


class _SPool(HTTPSConnectionPool):
    ConnectionCls = _SConn


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _SPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _Pool, "https": _SPool}
        return manager


def new_session() -> requests.Session:
    """A ``requests.Session`` whose connections :func:`fetch` can cut at a deadline."""
    s = requests.Session()
    bound(s)
    return s


def bound(session: requests.Session) -> requests.Session:
    """Mount the watched adapters on ``session`` (idempotent)."""
    if not isinstance(session.get_adapter("https://x/"), _Adapter):
        session.mount("https://", _Adapter())
        session.mount("http://", _Adapter())
    session.max_redirects = MAX_REDIRECTS
    return session


def fetch(
    method: str,
    url: str,
    *,
    deadline: float,
    limit: int,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    allow_redirects: bool = True,
) -> Answer:
    """One HTTP exchange, complete within ``deadline`` seconds, with a body of at most ``limit`` bytes.

    Raises :class:`DeadlineExceeded` (a ``requests.Timeout``), :class:`AnswerTooLarge`,
    or another ``requests.RequestException`` (connection refused, reset, malformed answer).
    """
    if deadline <= 0:
        raise DeadlineExceeded(f"no time was left to ask {url}")
    http = bound(session) if session is not None else new_session()
    watch = _Watch()
    previous = getattr(_local, "watch", None)
    _local.watch = watch
    timer = threading.Timer(deadline, watch.fire)
    timer.daemon = True
    timer.start()
    end = time.monotonic() + deadline
    head = {"Accept-Encoding": "identity", **(headers or {})}
    try:
        try:
            with http.request(
                method,
                url,
                data=data,
                headers=head,
                timeout=(min(CONNECT_TIMEOUT, deadline), deadline),
                stream=True,
                allow_redirects=allow_redirects,
            ) as resp:
                encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
                if encoding not in ("", "identity"):
                    raise requests.ConnectionError(
                        f"{url} sent a compressed answer ({encoding}) although none was asked for"
                    )
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise AnswerTooLarge(
                        f"{url} announced {int(declared):,} bytes; at most {limit:,} are accepted", limit
                    )
                body = bytearray()
                while True:
                    if watch.fired or time.monotonic() > end:
                        raise DeadlineExceeded(f"{url} did not complete its answer within {deadline:g} seconds")
                    piece = resp.raw.read1(_PIECE, decode_content=False)
                    if not piece:
                        break
                    body += piece
                    if len(body) > limit:
                        raise AnswerTooLarge(f"{url} sent more than {limit:,} bytes", limit)
                answer = Answer(
                    resp.status_code,
                    resp.reason or "",
                    {k.lower(): v for k, v in resp.headers.items()},
                    bytes(body),
                    resp.url or url,
                )
        except (DeadlineExceeded, AnswerTooLarge):
            raise
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            if watch.fired:
                raise DeadlineExceeded(f"{url} did not complete its answer within {deadline:g} seconds") from e
            if isinstance(e, requests.RequestException):
                raise
            if isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError):
                raise requests.Timeout(str(e)) from e
            raise requests.ConnectionError(str(e) or type(e).__name__) from e
    finally:
        timer.cancel()
        watch.finish()
        _local.watch = previous
        if session is None:
            http.close()
    return answer

