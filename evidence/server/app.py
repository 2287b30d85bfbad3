"""The shared log server: ``evidence log serve DIR`` (an ASGI app, Starlette on uvicorn).

One log directory, served to a firm's capture machines. uvicorn runs it with its C HTTP
parser (``httptools``) and, except on Windows, the libuv event loop (``uvloop``), both
dependencies of this package: with the pure-Python ``h11`` parser the event loop costs
about twice the CPU per request.

- **Read paths**, exactly as a static web server would serve the directory (C2SP
  tlog-tiles): ``GET /checkpoint``, ``/tile/<L>/<N>[.p/<W>]``, ``/tile/entries/<N>[.p/<W>]``,
  and our ``/history/<N>/checkpoint`` and ``/history/<N>/<hex>.tsr``. Every path is checked
  against the exact grammar (:func:`evidence.log.tiles.parse_tile_path` and the history
  grammar) on the *raw* request path, so ``..``, percent-encoded slashes and anything under
  ``.state/`` are 404. Plus ``GET /log.json`` (the public part of ``.state/log.json``:
  origin and keys), ``GET /verification-keys.txt`` (the log key and clock key, the file
  verifiers give to ``evidence verify --log-key``), ``GET /history/<N>/`` (a JSON listing
  of that checkpoint's files) and ``GET /status`` (JSON: sizes, the last result of every witness and TSA).
- ``GET /lookup/<manifest-sha256>`` (no login, rate-limited per client address): every entry
  for that manifest digest with its tlog-proof, as JSON (:mod:`evidence.server.lookup`).
- **POST /add** (``Authorization: Bearer <token>``): the body is one entry's raw bytes. The
  answer is the entry's C2SP ``tlog-proof`` against a checkpoint that covers it, carrying
  the witness cosignatures obtained; the RFC 3161 tokens over that exact checkpoint note
  that arrived within ``tsa_wait`` are listed under ``/history/<N>/`` before the answer is
  sent. Every appended entry is answered with its proof, never with a failure.
- **POST /attempts** (bearer token): the body is one attempt record
  (:mod:`evidence.bundle.attempts`); the server keeps it in ``.state/attempts/`` and logs its
  entry; the answer is as for ``POST /add``. **GET /attempts?case=C&from=N&limit=M** (bearer
  token: the records are private) lists them, JSON ``{"attempts": [{"index", "record"}],
  "next"}``, at most 1,000 a page.
- **POST /auth** (``Authorization: Bearer <token>``, no body): changes nothing; answers 200
  when the token may add entries, else 401/403 exactly as ``POST /add`` would. Clients
  (``preserve --log URL``) ask it before their first capture, so a missing or wrong token
  is found before any page of a batch is captured.

How an entry travels (one writer, group commit):

1. The handler checks the token (constant time), the size, and queues the entry.
2. The **writer** thread takes everything queued (having waited up to ``linger`` seconds for
   more before each append, unless ``max_batch`` are queued; at most ``max_batch``) and
   calls :meth:`evidence.log.Log.append`, which integrates, signs and makes the batch
   durable. Entries arriving meanwhile form the next batch, so the log integrates as often
   as the disk allows. (With clients waiting for their proofs, the linger lets one batch
   gather all of them, which beats overlapping two half batches while an append costs
   more than the linger: see benchmarks/README.md.)
3. The **publisher** thread takes the newest checkpoint, submits it to every configured
   witness in parallel (bounded by ``witness_timeout``), adds the cosignatures obtained
   (:meth:`~evidence.log.Log.add_cosignatures`), *then* asks every TSA for a token over
   the cosigned note (waiting at most ``tsa_wait``: a slow TSA's token is stored when it
   comes, and ``/status`` shows it as ``slow``), then answers every waiting client with
   its proof against that checkpoint. While it works, the writer goes on; the next round
   publishes the newest checkpoint again, so under load intermediate checkpoints are
   skipped (they stay signed and consistent, just not witnessed or time-stamped).

A client is answered only after ``append`` returned, so a server killed at any instant
(SIGKILL included) has lost no acknowledged entry; the log's own commit protocol makes
the restart clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from evidence.errors import FormatError, LogError, UsageError
from evidence.log import tiles
from evidence.log.storage import is_database_url
from evidence.log.writer import VERIFICATION_KEYS_FILE, history_dir, open_log_at
from evidence.server.batching import (
    Answer,
    Sequencer,
)
from evidence.server.config import (
    DEFAULT_LISTEN,
    ServerConfig,
    parse_listen,
)
from evidence.server.lookup import RateLimiter, lookup_answer
from evidence.server.tokens import (
    MAX_AUTH_HEADER,
    TokenSet,
)

__all__ = [
    "LogServer",
    "create_app",
    "serve",
]

logger = logging.getLogger("evidence.server")

CHECKPOINT_TYPE = "text/plain; charset=utf-8"
TILE_TYPE = "application/octet-stream"
TSR_TYPE = "application/timestamp-reply"
JSON_TYPE = "application/json"
CACHE_MUTABLE = "no-cache"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_PARTIAL = "public, max-age=60"
CACHE_NONE = "no-store"

_HISTORY_RE = re.compile(r"^history/((?:x\d{3}/)*\d{3})/(checkpoint|[0-9a-f]{16}\.tsr)?$")
_TSR_NAME = re.compile(r"^[0-9a-f]{16}\.tsr$")
#: The most attempt records one GET /attempts answers with.
MAX_ATTEMPTS_PAGE = 1000


class LogServer:
    """The ASGI application around one log directory (see the module docstring): POST /add is
    handled directly, the read paths and the lifespan by Starlette."""

    def __init__(
        self,
        path: Path | str,
        config: ServerConfig,
        *,
        keys_dir: Path | None = None,
        announce: str | None = None,
    ) -> None:
        # A log directory, or a postgresql:// URL (evidence.log.pgstore): files are read
        # through the log's storage, never from the directory behind its back.
        self.location: Path | str = path if (isinstance(path, str) and is_database_url(path)) else Path(path)
        self.path = Path(path)
        self.config = config
        self.keys_dir = keys_dir
        self.announce = announce
        self.tokens = TokenSet(config.tokens)
        self.prefix = config.prefix
        self.sequencer: Sequencer | None = None
        self._public_info = b""
        self._verification_keys = b""
        self._add_target = (self.prefix + "/add").encode("ascii")
        self._auth_target = (self.prefix + "/auth").encode("ascii")
        self._lookup_rate = RateLimiter(config.lookup_per_minute)
        self._attempts_target = (self.prefix + "/attempts").encode("ascii")
        self._starlette = self._build()
        self.app = self  # ASGI: POST /add is handled here directly, everything else by Starlette

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            await self._post(scope, receive, send)
        else:
            await self._starlette(scope, receive, send)

    def _build(self) -> Any:
        from starlette.applications import Starlette
        from starlette.routing import Route

        return Starlette(
            routes=[Route("/{rest:path}", self._handle, methods=["GET", "HEAD"])],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        seq = Sequencer(self.location, self.config, keys_dir=self.keys_dir)
        seq.log.checkpoint()  # refuse to start on a damaged commit record
        from evidence.log.attempts import LocalAttempts

        LocalAttempts(seq.log).recover()  # attempt records a crash left pending
        self._public_info = seq.log.info.to_json()
        self._verification_keys = seq.log.info.verification_keys()

        def settle(answers: Sequence[tuple[Any, Answer]]) -> None:
            loop.call_soon_threadsafe(_settle_all, answers)

        seq.start(settle)
        self.sequencer = seq
        if not len(self.tokens):
            logger.warning("no bearer tokens are configured: the log is read-only (POST /add answers 401/403)")
        if self.announce:
            print(f"evidence log server: listening on {self.announce} (log {seq.log.origin})", flush=True)
        try:
            yield
        finally:
            await asyncio.to_thread(seq.stop)

    # ------------------------------------------------------------------ dispatch
    async def _handle(self, request: Any) -> Any:
        from starlette.responses import Response

        raw = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
        try:
            path = raw.decode("ascii")
        except UnicodeDecodeError:
            return _not_found()
        if "%" in path or "\\" in path or "//" in path:
            return _not_found()
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return _not_found()
            path = path[len(self.prefix) :]
        rel = path[1:]
        if rel == "add":
            return Response(b"POST entries to /add\n", 405, media_type="text/plain", headers={"Allow": "POST"})
        if rel == "auth":
            return Response(b"POST to /auth checks a token\n", 405, media_type="text/plain", headers={"Allow": "POST"})
        if rel.startswith("lookup/"):
            return await self._lookup(request, rel[len("lookup/") :])
        if rel == "attempts":
            return await self._list_attempts(request)
        return self._get(rel)

    async def _lookup(self, request: Any, digest: str) -> Any:
        from starlette.responses import Response

        client = request.client.host if request.client is not None else ""
        delay = self._lookup_rate.wait(client)
        if delay > 0:
            body = json.dumps({"error": "too many lookups from this address; try again later"}).encode() + b"\n"
            headers = {"Retry-After": str(int(delay) + 1), "Cache-Control": CACHE_NONE}
            return Response(body, 429, media_type=JSON_TYPE, headers=headers)
        assert self.sequencer is not None
        status, body = await asyncio.to_thread(lookup_answer, self.sequencer.log, digest)
        return Response(body, status, media_type=JSON_TYPE, headers={"Cache-Control": CACHE_NONE})

    async def _list_attempts(self, request: Any) -> Any:
        """GET /attempts?case=C&from=N&limit=M (bearer token): one page of attempt records."""
        from starlette.responses import Response

        auth = request.headers.get("authorization")
        status, who = self.tokens.check(auth[:MAX_AUTH_HEADER] if auth is not None else None)
        if status != 200:
            return Response((who + "\n").encode(), status, media_type="text/plain; charset=utf-8")
        q = request.query_params
        start, limit = q.get("from", "0"), q.get("limit", "100")
        if not start.isdigit() or not limit.isdigit() or not 1 <= int(limit) <= MAX_ATTEMPTS_PAGE or len(start) > 18:
            return Response(
                f"from is an entry index and limit a number from 1 to {MAX_ATTEMPTS_PAGE}\n".encode(),
                400,
                media_type="text/plain; charset=utf-8",
            )
        from evidence.log.attempts import AttemptFiles

        assert self.sequencer is not None
        files = AttemptFiles.of(self.sequencer.log)
        found = await asyncio.to_thread(files.list, q.get("case"), start=int(start), limit=int(limit) + 1)
        page = found[: int(limit)]
        body = {
            "attempts": [{"index": a.index, "record": a.record.raw.decode("utf-8")} for a in page],
            "next": found[-1].index if len(found) > int(limit) else None,
        }
        return Response(
            json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8") + b"\n",
            200,
            media_type=JSON_TYPE,
            headers={"Cache-Control": CACHE_NONE},
        )

    def _get(self, rel: str) -> Any:
        from starlette.responses import Response

        if rel == "checkpoint":
            return self._file(rel, CHECKPOINT_TYPE, CACHE_MUTABLE)
        if rel == "log.json":
            return Response(self._public_info, 200, media_type=JSON_TYPE, headers={"Cache-Control": CACHE_MUTABLE})
        if rel == VERIFICATION_KEYS_FILE:
            return Response(
                self._verification_keys, 200, media_type=CHECKPOINT_TYPE, headers={"Cache-Control": CACHE_MUTABLE}
            )
        if rel == "status":
            assert self.sequencer is not None
            body = json.dumps(self.sequencer.status(), indent=2, sort_keys=True).encode() + b"\n"
            return Response(body, 200, media_type=JSON_TYPE, headers={"Cache-Control": CACHE_NONE})
        if rel.startswith("tile/"):
            try:
                tid = tiles.parse_tile_path(rel)
            except FormatError:
                return _not_found()
            cache = CACHE_IMMUTABLE if tid.width == tiles.TILE_WIDTH else CACHE_PARTIAL
            return self._file(rel, TILE_TYPE, cache)
        if rel.startswith("history/"):
            m = _HISTORY_RE.match(rel)
            if not m:
                return _not_found()
            try:
                size = int(m.group(1).replace("x", "").replace("/", ""))
            except ValueError:
                return _not_found()
            if tiles.encode_index(size) != m.group(1):
                return _not_found()
            name = m.group(2)
            if name is None:
                return self._listing(size)
            if name == "checkpoint":
                return self._file(rel, CHECKPOINT_TYPE, CACHE_MUTABLE)
            return self._file(rel, TSR_TYPE, CACHE_IMMUTABLE)
        return _not_found()

    def _file(self, rel: str, media_type: str, cache: str) -> Any:
        from starlette.responses import Response

        assert self.sequencer is not None
        try:
            data = self.sequencer.log.storage.read(rel)
        except LogError as e:  # a FIFO, a device, a file larger than what it is: never served
            logger.error("refusing to serve %s: %s", rel, e.message)
            return Response(b"the file could not be read\n", 500, media_type="text/plain")
        if data is None:
            return _not_found()
        return Response(data, 200, media_type=media_type, headers={"Cache-Control": cache})

    def _listing(self, size: int) -> Any:
        from starlette.responses import Response

        assert self.sequencer is not None
        try:
            found = self.sequencer.log.storage.listdir(history_dir(size))
        except LogError as e:
            logger.error("refusing to list %s: %s", history_dir(size), e.message)
            return Response(b"the listing could not be read\n", 500, media_type="text/plain")
        names = [n for n in found if n == "checkpoint" or _TSR_NAME.match(n)]
        if "checkpoint" not in names:
            return _not_found()
        body = {
            "size": size,
            "checkpoint": f"{history_dir(size)}/checkpoint",
            "timestamps": [f"{history_dir(size)}/{n}" for n in names if n != "checkpoint"],
        }
        return Response(
            json.dumps(body, indent=2).encode() + b"\n",
            200,
            media_type=JSON_TYPE,
            headers={"Cache-Control": CACHE_MUTABLE},
        )

    # ------------------------------------------------------------------ POST /add
    async def _post(self, scope: Any, receive: Any, send: Any) -> None:
        """POST /add as a plain ASGI handler: the hot path, kept free of per-request objects."""
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        if raw not in (self._add_target, self._auth_target, self._attempts_target):
            await _send(send, 405, b"only /add, /attempts and /auth accept POST\n", (b"allow", b"GET, HEAD"))
            return
        auth: bytes | None = None
        length: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                auth = value[:MAX_AUTH_HEADER]
            elif key == b"content-length":
                length = value
        status, who = self.tokens.check(auth.decode("latin-1") if auth is not None else None)
        if status != 200:
            extra = (b"www-authenticate", b'Bearer realm="evidence-log"') if status == 401 else None
            await _send_text(send, status, who, extra)
            return
        if raw == self._auth_target:  # the authenticated no-op: the token may add entries
            await _send_text(send, 200, "this token may add entries to the log")
            return
        limit = self.config.max_request_bytes
        if length is not None:
            if not length.isdigit():
                await _send_text(send, 400, "the Content-Length header is not a number")
                return
            if int(length) > limit:
                await _send_text(send, 413, f"the request is larger than the {limit}-byte limit")
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await _send_text(send, 413, f"the request is larger than the {limit}-byte limit")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        entry = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if not entry:
            await _send_text(send, 400, "the request body is empty; POST the entry's bytes")
            return
        if raw == self._attempts_target:
            await self._reply(send, await self.submit_attempt(entry))
            return
        if len(entry) > tiles.MAX_ENTRY_SIZE:
            await _send_text(
                send,
                400,
                f"the entry is {len(entry)} bytes; tlog-tiles entries are at most 65,535 bytes. "
                "Log a digest of large data, not the data itself.",
            )
            return
        await self._reply(send, await self.submit(entry))

    async def _reply(self, send: Any, answer: Answer) -> None:
        await _send(send, answer.status, answer.body, *((k.encode(), v.encode()) for k, v in answer.headers))

    async def submit_attempt(self, record: bytes) -> Answer:
        """POST /attempts: keep an attempt record (pending first, so a crash loses none) and log
        its entry; the answer is the entry's tlog-proof, as for POST /add."""
        from evidence.bundle.attempts import parse_record
        from evidence.bundle.format import attempt_entry
        from evidence.checkpoint import TlogProof
        from evidence.log.attempts import AttemptFiles

        try:
            parsed = parse_record(record)
        except FormatError as e:
            return Answer.error(400, f"the body is not an attempt record: {e.message}")
        assert self.sequencer is not None
        if parsed.log_origin != self.sequencer.log.origin:
            return Answer.error(400, f"the attempt record names the log {parsed.log_origin!r}, not this one")
        assert self.sequencer is not None
        files = AttemptFiles.of(self.sequencer.log)
        pending = await asyncio.to_thread(files.put_pending, record)
        answer = await self.submit(attempt_entry(record))
        if answer.status == 200:
            index = TlogProof.parse(answer.body).index
            await asyncio.to_thread(files.commit, index, record, pending)
        return answer

    async def submit(self, entry: bytes) -> Answer:
        """Queue one entry and wait (at most ``submit_timeout``) for its answer."""
        seq = self.sequencer
        assert seq is not None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Answer] = loop.create_future()
        refused = seq.submit(entry, fut)
        if refused is not None:
            return refused
        timer = loop.call_later(self.config.submit_timeout, _settle_all, [(fut, _TIMED_OUT)])
        try:
            answer = await fut
        finally:
            timer.cancel()
        if answer is not _TIMED_OUT:
            return answer
        # Appended already? Then its proof against the newest signed checkpoint, never a failure.
        try:
            late = await asyncio.to_thread(seq.proof_now, fut)
        except Exception as e:
            logger.error("could not make a proof for an entry that waited %g s: %s", self.config.submit_timeout, e)
            late = None
        return late if late is not None else _expired(self.config.submit_timeout)


_TIMED_OUT = Answer(503, b"")  # a marker: the wait for an answer ran out (compared by identity)


def _expired(timeout: float) -> Answer:
    return Answer.error(
        503,
        f"the entry was not integrated within {timeout:g} s; resubmit it (an entry already logged keeps its index)",
        ("Retry-After", "5"),
    )


async def _send(send: Any, status: int, body: bytes, *headers: tuple[bytes, bytes] | None) -> None:
    head = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    head += [h for h in headers if h is not None]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def _send_text(send: Any, status: int, message: str, header: tuple[bytes, bytes] | None = None) -> None:
    await _send(send, status, (message + "\n").encode("utf-8"), header)


def _settle_all(answers: Sequence[tuple[Any, Answer]]) -> None:
    for fut, answer in answers:
        if not fut.done():
            fut.set_result(answer)


def _not_found() -> Any:
    from starlette.responses import Response

    return Response(b"not found\n", 404, media_type="text/plain; charset=utf-8")


def create_app(path: Path | str, config: ServerConfig | None = None, *, keys_dir: Path | None = None) -> Any:
    """The ASGI application serving the log in ``path`` (run it with any ASGI server)."""
    return LogServer(path, config or ServerConfig(), keys_dir=keys_dir).app


def serve(
    path: Path | str,
    config: ServerConfig,
    *,
    listen: str | None = None,
    keys_dir: Path | None = None,
    access_log: bool = False,
) -> None:
    """Run the log server in the foreground until interrupted (SIGINT/SIGTERM stop it cleanly).

    Prints ``evidence log server: listening on <url> (log <origin>)`` once it accepts requests
    (with port 0, the URL names the port the system chose).
    """
    import uvicorn

    p: Path | str = path if (isinstance(path, str) and is_database_url(path)) else Path(path)
    open_log_at(p, keys_dir=keys_dir).close()  # a clear error now, not inside the event loop
    host, port = parse_listen(listen or config.listen or DEFAULT_LISTEN)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response's body waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    sock.listen(2048)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}{config.prefix}/"
    server = LogServer(p, config, keys_dir=keys_dir, announce=url)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from evidence._internal.serving import ServerLimits, uvicorn_options

    uv_config = uvicorn.Config(
        server.app,
        lifespan="on",
        access_log=access_log,
        log_config=None,
        timeout_graceful_shutdown=10,
        backlog=2048,
        **uvicorn_options(ServerLimits(head_timeout=config.head_timeout, body_timeout=config.body_timeout)),
    )
    try:
        uvicorn.Server(uv_config).run(sockets=[sock])
    finally:
        sock.close()
