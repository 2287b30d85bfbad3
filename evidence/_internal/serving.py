"""Bounds for the HTTP servers (the log server and the witness): one place, one protocol.

uvicorn's ``httptools`` protocol enforces no limit on a request's head: httptools (llhttp)
accepts header lines for as long as a client sends them, and uvicorn keeps every one in a
list; its keep-alive timer is cancelled by every byte received, so a client trickling one
header byte a second holds a connection (and its growing buffers) forever. (uvicorn's
``h11_max_incomplete_event_size`` applies only to the slower pure-Python h11 parser.)

:func:`bounded_protocol` returns a subclass of uvicorn's ``HttpToolsProtocol`` that adds:

- **request head size** (request line plus all header lines): at most
  ``max_head_bytes``; a longer head is answered ``431`` and the connection closed;
- **request line** (the URL): at most ``max_url_bytes``, else ``414``;
- **header count**: at most ``max_headers``, else ``431``;
- **head deadline**: a connection must deliver a complete request head within
  ``head_timeout`` seconds of opening, or of the end of the previous response (idle
  keep-alive connections included), else ``408`` and close. Trickling bytes does not
  extend it;
- **body deadline**: the body must be complete within ``body_timeout`` seconds of the
  head, else ``408`` (or a plain close once an answer has begun).

Body *size* is bounded by each application (413 past its limit; uvicorn pauses reading
past 64 KiB buffered, so memory stays bounded meanwhile), and :func:`uvicorn_options`
adds uvicorn's own ``limit_concurrency`` (503 past that many connections or tasks) and
``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

__all__ = ["ServerLimits", "bounded_protocol", "uvicorn_options"]


@dataclass(frozen=True)
class ServerLimits:
    """The bounds of one server; see the module docstring (and docs/operating.md)."""

    max_head_bytes: int = 16 << 10
    max_url_bytes: int = 4096
    max_headers: int = 64
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    max_concurrency: int = 1024


_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class _Refused(Exception):
    pass


def bounded_protocol(limits: ServerLimits) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class (httptools) enforcing ``limits``; pass it as ``http=``."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        bounds = limits

        def connection_made(self, transport: Any) -> None:
            self._head_bytes = 0
            self._head_exact = 0
            self._boundary = False
            self._in_body = False
            self._header_count = 0
            self._refusal: tuple[int, str] | None = None
            self._deadline: asyncio.TimerHandle | None = None
            super().connection_made(transport)
            self._arm(self.bounds.head_timeout, "head")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        # -------------------------------------------------------------- deadlines
        def _arm(self, seconds: float, phase: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired, phase)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self, phase: str) -> None:
            self._deadline = None
            if self.transport is None or self.transport.is_closing():
                return
            cycle = self.cycle
            if phase == "head":
                if cycle is not None and not cycle.response_complete:
                    return  # a request is being answered; its head arrived in time
                self._answer(408, f"no complete request within {self.bounds.head_timeout:g} seconds")
                return
            if cycle is not None and not cycle.response_started:
                self._answer(408, f"the request body was not complete within {self.bounds.body_timeout:g} seconds")
            else:
                self.transport.close()

        def _answer(self, status: int, message: str) -> None:
            body = (message + "\n").encode("ascii", "replace")
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body)) + body
            )
            self.transport.close()

        # -------------------------------------------------------------- limits
        def _refuse(self, status: int, message: str) -> None:
            self._refusal = (status, message)
            raise _Refused(message)

        def send_400_response(self, msg: str) -> None:
            if self._refusal is not None:
                status, message = self._refusal
                self.logger.info("refused a request (%d): %s", status, message)
                self._answer(status, message)
                return
            super().send_400_response(msg)

        def data_received(self, data: bytes) -> None:
            # A chunk that leaves a head incomplete, and holds nothing but head bytes (no
            # message began or ended in it), counts against the cap: a header line that never
            # ends included. A head completed within a chunk is measured exactly by the
            # callbacks below; bytes before a message begins in a chunk are at most one chunk.
            if self._refusal is not None:
                return
            self._boundary = False
            super().data_received(data)
            if self._refusal is None and not self._in_body and not self._boundary and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self.bounds.max_head_bytes:
                    self._refusal = (431, self._too_large())
                    self.send_400_response("")

        def _too_large(self) -> str:
            return f"the request head is larger than {self.bounds.max_head_bytes} bytes"

        def on_message_begin(self) -> None:
            self._header_count = 0
            self._head_bytes = 0
            self._head_exact = 0
            self._boundary = True
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            self._head_exact += len(url)
            if len(self.url) > self.bounds.max_url_bytes:
                self._refuse(414, f"the request line is longer than {self.bounds.max_url_bytes} bytes")

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            self._head_exact += len(name) + len(value) + 4
            if self._header_count > self.bounds.max_headers:
                self._refuse(431, f"the request has more than {self.bounds.max_headers} header lines")
            if self._head_exact > self.bounds.max_head_bytes:
                self._refuse(431, self._too_large())
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_body = True
            self._arm(self.bounds.body_timeout, "body")
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._boundary = True  # a message boundary in this chunk: its bytes are not all head
            self._in_body = False
            self._head_bytes = 0
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._in_body:
                self._arm(self.bounds.head_timeout, "head")

    return BoundedHttpToolsProtocol


def uvicorn_options(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that apply ``limits``."""
    return {
        "http": bounded_protocol(limits),
        "limit_concurrency": limits.max_concurrency,
        "timeout_keep_alive": limits.keep_alive,
        "h11_max_incomplete_event_size": limits.max_head_bytes,
    }
