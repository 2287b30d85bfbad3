"""What the browser exchanged: Chrome DevTools Protocol Network events, per request.

One :class:`NetworkRecorder` listens on the page's CDP session from before navigation
until the page is recorded. It keeps every http(s) request with its redirect hops, the
headers as sent and received (the raw HTTP/1.x head from ``*ExtraInfo`` events where
Chromium gives it), where it was served from, and after the page settled, its body
(``Network.getResponseBody``). It also tells when the network has gone quiet, and stops
the capture as soon as a body grows past the size limit.
"""

from __future__ import annotations

import base64
import codecs
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evidence.capture.warc import parse_headers_text

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession

__all__ = ["Exchange", "Hop", "NetworkRecorder"]

_EVENTS = (
    "requestWillBeSent",
    "requestWillBeSentExtraInfo",
    "responseReceived",
    "responseReceivedExtraInfo",
    "dataReceived",
    "loadingFinished",
    "loadingFailed",
    "requestServedFromCache",
)


@dataclass
class Hop:
    """One HTTP request/response of a request id (redirects make several)."""

    url: str
    method: str
    headers: dict[str, Any]
    post_data: bytes
    wall_time: float
    via: str
    response: dict[str, Any] | None = None
    request_extra: dict[str, Any] | None = None
    response_extra: dict[str, Any] | None = None

    @property
    def status(self) -> int | None:
        return int(self.response["status"]) if self.response else None

    def request_header_list(self) -> list[tuple[str, str]]:
        """Request headers as sent (ExtraInfo, with cookies) or as Blink planned them."""
        source = (self.request_extra or {}).get("headers") or self.headers
        out: list[tuple[str, str]] = []
        authority = None
        for name, value in source.items():
            if name.startswith(":"):
                if name == ":authority":
                    authority = str(value)
                continue
            for part in str(value).split("\n"):
                out.append((name, part))
        if authority and not any(n.lower() == "host" for n, _ in out):
            out.insert(0, ("Host", authority))
        return out

    def response_head(self) -> tuple[str, list[tuple[str, str]], bool]:
        """(status line, headers in order, came from the raw wire head)."""
        assert self.response is not None
        extra = self.response_extra or {}
        text = extra.get("headersText")
        if text and int(extra.get("statusCode", -1)) == self.status:
            parsed = parse_headers_text(str(text))
            if parsed:
                _protocol, status_line, headers = parsed
                return status_line, headers, True
        raw = extra.get("headers") if extra.get("statusCode") == self.status else None
        source: dict[str, Any] = raw or self.response.get("headers") or {}
        headers = [
            (name, part)
            for name, value in source.items()
            if not name.startswith(":")
            for part in str(value).split("\n")
        ]
        text_status = str(self.response.get("statusText") or "")
        return f"{self.status} {text_status}".strip(), headers, False


@dataclass
class Exchange:
    """Everything about one browser request id."""

    request_id: str
    resource_type: str
    frame_id: str | None
    hops: list[Hop]
    order: int
    finished: bool = False
    failed: str | None = None
    encoded_length: int | None = None
    data_length: int = 0
    body: bytes | None = field(default=None, repr=False)
    body_encoding: str | None = None
    body_note: str | None = None
    from_cache: bool = False
    fetched: dict[str, Any] | str | None = field(default=None, repr=False)

    @property
    def final(self) -> Hop:
        return self.hops[-1]


class NetworkRecorder:
    """Collects Network events for one page; see the module docstring."""

    def __init__(self, cdp: CDPSession, max_body_bytes: int) -> None:
        self.cdp = cdp
        self.max_body_bytes = max_body_bytes
        #: Set when the page can no longer be asked (an artifact was stopped at its time
        #: limit): bodies not taken yet are then listed with this note instead.
        self.unavailable: str | None = None
        self.exchanges: dict[str, Exchange] = {}
        self._req_extra: dict[str, list[dict[str, Any]]] = {}
        self._resp_extra: dict[str, list[dict[str, Any]]] = {}
        self.inflight: set[str] = set()
        self.last_activity = time.monotonic()
        #: Network events so far (requests, responses, data, ends): a change means the
        #: network was active in between.
        self.activity = 0
        self.too_large: tuple[str, int] | None = None
        self._counter = 0
        for name in _EVENTS:
            cdp.on(f"Network.{name}", getattr(self, f"_on_{name}"))

    def enable(self) -> None:
        """Start receiving events; buffers sized so bodies up to the limit are kept."""
        per_resource = min(self.max_body_bytes + 1, 2**31 - 1)
        total = min(max(per_resource * 4, 256 * 1024 * 1024), 2**31 - 1)
        self.cdp.send(
            "Network.enable",
            {"maxResourceBufferSize": per_resource, "maxTotalBufferSize": total},
        )

    # -- events -----------------------------------------------------------------------
    def _touch(self) -> None:
        self.last_activity = time.monotonic()
        self.activity += 1

    def _on_requestWillBeSent(self, e: dict[str, Any]) -> None:
        request = e.get("request", {})
        url = str(request.get("url", ""))
        if not url.startswith(("http://", "https://")):
            return
        rid = str(e["requestId"])
        post = request.get("postData")
        hop = Hop(
            url=url,
            method=str(request.get("method", "GET")),
            headers=dict(request.get("headers", {})),
            post_data=post.encode("utf-8") if isinstance(post, str) else b"",
            wall_time=float(e.get("wallTime") or time.time()),
            via="requested",
        )
        existing = self.exchanges.get(rid)
        if existing is not None and "redirectResponse" in e:
            existing.hops[-1].response = dict(e["redirectResponse"])
            hop.via = "http-redirect"
            existing.hops.append(hop)
        else:
            if existing is not None:  # a request id reused for a new request
                self.exchanges[f"{rid}#{self._counter}"] = existing
            self._counter += 1
            self.exchanges[rid] = Exchange(
                request_id=rid,
                resource_type=str(e.get("type", "Other")),
                frame_id=e.get("frameId"),
                hops=[hop],
                order=self._counter,
            )
        self.inflight.add(rid)
        self._touch()

    def _on_requestWillBeSentExtraInfo(self, e: dict[str, Any]) -> None:
        self._req_extra.setdefault(str(e["requestId"]), []).append(e)

    def _on_responseReceived(self, e: dict[str, Any]) -> None:
        ex = self.exchanges.get(str(e["requestId"]))
        if ex is None:
            return
        ex.final.response = dict(e.get("response", {}))
        ex.resource_type = str(e.get("type", ex.resource_type))
        self._touch()

    def _on_responseReceivedExtraInfo(self, e: dict[str, Any]) -> None:
        self._resp_extra.setdefault(str(e["requestId"]), []).append(e)

    def _on_dataReceived(self, e: dict[str, Any]) -> None:
        ex = self.exchanges.get(str(e["requestId"]))
        if ex is None:
            return
        ex.data_length += int(e.get("dataLength", 0))
        if ex.data_length > self.max_body_bytes and self.too_large is None:
            self.too_large = (ex.final.url, ex.data_length)
        self._touch()

    def _on_loadingFinished(self, e: dict[str, Any]) -> None:
        rid = str(e["requestId"])
        ex = self.exchanges.get(rid)
        if ex is not None:
            ex.finished = True
            ex.encoded_length = int(e.get("encodedDataLength", 0))
        self.inflight.discard(rid)
        self._touch()
        if ex is not None and ex.final.response is not None and rid == ex.request_id:
            # Take the body at once: the browser drops a document's resources when its
            # frame navigates on (script or meta-refresh redirects), and large pages can
            # push early bodies out of its buffer.
            ex.fetched = self._get_body(rid)

    def _on_requestServedFromCache(self, e: dict[str, Any]) -> None:
        ex = self.exchanges.get(str(e["requestId"]))
        if ex is not None:
            ex.from_cache = True

    def _on_loadingFailed(self, e: dict[str, Any]) -> None:
        rid = str(e["requestId"])
        ex = self.exchanges.get(rid)
        if ex is not None:
            reason = str(e.get("errorText") or "failed")
            if e.get("canceled"):
                reason += " (canceled)"
            if e.get("blockedReason"):
                reason += f" (blocked: {e['blockedReason']})"
            ex.failed = reason
        self.inflight.discard(rid)
        self._touch()

    # -- queries ----------------------------------------------------------------------
    def quiet_for(self) -> float:
        """Seconds since the last network activity, or 0 while requests are in flight."""
        if self.inflight:
            return 0.0
        return time.monotonic() - self.last_activity

    def ordered(self) -> list[Exchange]:
        """Exchanges in the order the browser first requested them."""
        return sorted(self.exchanges.values(), key=lambda ex: ex.order)

    def _get_body(self, request_id: str) -> dict[str, Any] | str:
        """Chromium's ``getResponseBody`` answer, or why there is none."""
        if self.unavailable is not None:
            return self.unavailable
        try:
            got: dict[str, Any] = self.cdp.send(
                "Network.getResponseBody", {"requestId": request_id}
            )
        except Exception as err:  # the browser no longer holds the body
            return f"body not available from the browser ({_first_line(err)})"
        return got

    def finalize(self, document_charset: str | None, main_request_id: str | None) -> None:
        """Attach ExtraInfo events to hops and fetch every finished body from Chromium."""
        for ex in self.ordered():
            rid = ex.request_id
            req_extra = self._req_extra.get(rid, [])
            resp_extra = self._resp_extra.get(rid, [])
            for i, hop in enumerate(ex.hops):
                if i < len(req_extra):
                    hop.request_extra = req_extra[i]
                if i < len(resp_extra):
                    hop.response_extra = resp_extra[i]
            self._fetch_body(ex, document_charset if rid == main_request_id else None)

    def _fetch_body(self, ex: Exchange, document_charset: str | None) -> None:
        hop = ex.final
        if hop.response is None:
            ex.body_note = ex.failed or "no response received before the page was recorded"
            return
        if ex.failed:
            ex.body_note = f"loading failed: {ex.failed}"
            return
        if not ex.finished:
            ex.body_note = "still loading when the page was recorded"
            return
        if hop.method == "OPTIONS" or hop.status in (101, 204, 304):
            ex.body = b""
            ex.body_encoding = "binary"
            return
        got = ex.fetched if ex.fetched is not None else self._get_body(ex.request_id)
        if isinstance(got, str):
            ex.body_note = got
            return
        data = str(got.get("body", ""))
        if got.get("base64Encoded"):
            body = base64.b64decode(data)
            encoding = "binary"
            slack = 0
        else:
            charset = _charset(hop.response) or document_charset or "utf-8"
            try:
                codecs.lookup(charset)
                body = data.encode(charset)
                encoding = charset.lower()
            except (LookupError, UnicodeError):
                body = data.encode("utf-8")
                encoding = "utf-8"
                ex.body_note = (
                    f"text re-encoded as UTF-8 (it could not be written back as {charset})"
                )
            slack = 4  # the browser drops a byte-order mark when it decodes text
        cached = ex.from_cache or any(
            hop.response.get(flag)
            for flag in ("fromDiskCache", "fromPrefetchCache", "fromServiceWorker")
        )
        if body and ex.encoded_length == 0 and not cached:
            # Nothing came over the network, yet the browser offers a body: it handed the
            # response to a built-in viewer (a PDF) and gives the viewer's page instead.
            ex.body_note = (
                "the browser passed this response to a built-in viewer (for example its PDF "
                "viewer) and did not keep the server's bytes; for the page itself they are in "
                "the raw-fetch record"
            )
            return
        if len(body) + slack < ex.data_length:
            # The browser stopped using the response (e.g. an image it could not decode)
            # and kept only part of it: better no body than a wrong one.
            ex.body_note = (
                f"the browser kept only {len(body):,} of the {ex.data_length:,} bytes it "
                "received (it stopped using this response), so no body is recorded"
            )
            return
        ex.body = body
        ex.body_encoding = encoding

    def main_exchanges(self) -> list[Exchange]:
        """The top-level document requests, in order (navigation and any client redirects)."""
        docs = [ex for ex in self.ordered() if ex.resource_type == "Document"]
        if not docs:
            return []
        main_frame = docs[0].frame_id
        return [ex for ex in docs if ex.frame_id == main_frame]


def _charset(response: dict[str, Any]) -> str | None:
    headers = response.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == "content-type":
            for param in str(value).split(";")[1:]:
                key, _, val = param.strip().partition("=")
                if key.lower() == "charset" and val:
                    return val.strip("\"' ")
    return None


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
