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
- **POST /add** (``Authorization: Bearer <token>``): the body is one entry's raw bytes. The
  answer is the entry's C2SP ``tlog-proof`` against a checkpoint that covers it, carrying
  the witness cosignatures obtained; the RFC 3161 tokens over that exact checkpoint note
  that arrived within ``tsa_wait`` are listed under ``/history/<N>/`` before the answer is
  sent. Every appended entry is answered with its proof, never with a failure.
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
import concurrent.futures
import contextlib
import hmac
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence import merkle
from evidence._internal.files import read_file_or_none
from evidence._internal.toml import parse_table
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.config import TSAConfig
from evidence.config import tsa_from_table as _tsa_from_table
from evidence.errors import EvidenceError, FormatError, LogCorruptError, UsageError
from evidence.log import tiles
from evidence.log.reader import LogReader
from evidence.log.sequencer import VERIFICATION_KEYS_FILE, Log, history_dir
from evidence.log.storage import DirectoryStorage
from evidence.note import ALG_COSIGNATURE_V1, NoteSignature, Verifier

__all__ = [
    "DEFAULT_LISTEN",
    "LogServer",
    "ServerConfig",
    "TokenSet",
    "WitnessConfig",
    "create_app",
    "load_server_config",
    "parse_listen",
    "parse_server_config",
    "serve",
]

logger = logging.getLogger("evidence.server")

DEFAULT_LISTEN = "127.0.0.1:8080"
SERVER_CONFIG_FILE = "server.toml"
MIN_TOKEN_CHARS = 16
MAX_AUTH_HEADER = 4096

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
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")

_SERVER_KEYS = frozenset(
    {
        "listen",
        "prefix",
        "tokens",
        "linger",
        "max_batch",
        "max_pending",
        "max_request_bytes",
        "witness_timeout",
        "tsa_wait",
        "head_timeout",
        "body_timeout",
        "submit_timeout",
        "witness",
        "tsa",
    }
)
_WITNESS_KEYS = frozenset({"name", "url", "vkey"})


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class WitnessConfig:
    """A C2SP tlog-witness the server submits every published checkpoint to.

    ``url`` is the witness's submission URL prefix as its operator publishes it (the
    server POSTs ``add-checkpoint`` requests there through :mod:`evidence.witness`);
    ``vkey`` is the witness's cosignature key (type 0x04), which every cosignature it
    returns must verify against.
    """

    name: str
    url: str
    vkey: str

    @property
    def verifier(self) -> Verifier:
        return Verifier.from_vkey(self.vkey)


@dataclass(frozen=True)
class ServerConfig:
    """The server's settings (``server.toml``); every field has a usable default.

    - ``tokens``: the file of bearer tokens allowed to POST /add (none: nobody can add);
    - ``linger``: seconds the writer waits for more entries before each append (0..1), so an
      entry is integrated at most ``linger`` seconds plus two appends after it arrives;
    - ``max_batch``: most entries per append (a full batch is integrated at once);
    - ``max_pending``: entries queued at most before new ones get 503 (back-pressure);
    - ``max_request_bytes``: larger requests get 413 (entries over 65,535 bytes get 400);
    - ``witness_timeout``: how long a publication waits for the witnesses, in seconds (and
      each witness request's total deadline);
    - ``tsa_wait``: how long a publication waits for the TSAs before the clients are
      answered without the tokens still missing (each TSA request has its own total
      deadline, ``timeout`` of its ``[[tsa]]`` table; a late token is still stored);
    - ``head_timeout``, ``body_timeout``: a connection must send a complete request head
      within ``head_timeout`` seconds (of opening, or of the previous answer), and its body
      within ``body_timeout`` seconds of the head, else 408 (see
      :mod:`evidence._internal.serving` for the size limits);
    - ``submit_timeout``: how long a client's request waits for its proof; an entry
      appended by then is answered with its proof against the newest signed checkpoint,
      one not appended yet with 503 (resubmitting it returns its index);
    - ``witnesses``, ``tsas``: whom to ask for cosignatures and RFC 3161 tokens.
    """

    listen: str | None = None
    prefix: str = ""
    tokens: Path | None = None
    linger: float = 0.005
    max_batch: int = 4096
    max_pending: int = 100_000
    max_request_bytes: int = 1 << 20
    witness_timeout: float = 5.0
    tsa_wait: float = 5.0
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    submit_timeout: float = 120.0
    witnesses: tuple[WitnessConfig, ...] = ()
    tsas: tuple[TSAConfig, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.linger <= 1:
            raise FormatError(
                f"linger must be between 0 and 1 second (the log integrates at least once a second), not {self.linger}"
            )
        if not 1 <= self.max_batch <= 1_000_000:
            raise FormatError(f"max_batch must be between 1 and 1,000,000, not {self.max_batch}")
        if not 1 <= self.max_pending <= 10_000_000:
            raise FormatError(f"max_pending must be between 1 and 10,000,000, not {self.max_pending}")
        if not tiles.MAX_ENTRY_SIZE <= self.max_request_bytes <= 1 << 26:
            raise FormatError(f"max_request_bytes must be between 65,535 and 64 MiB, not {self.max_request_bytes}")
        if not 0 < self.witness_timeout <= 300:
            raise FormatError(f"witness_timeout must be between 0 and 300 seconds, not {self.witness_timeout}")
        if not 0 < self.tsa_wait <= 300:
            raise FormatError(f"tsa_wait must be between 0 and 300 seconds, not {self.tsa_wait}")
        for key in ("head_timeout", "body_timeout"):
            if not 0 < getattr(self, key) <= 600:
                raise FormatError(f"{key} must be between 0 and 600 seconds, not {getattr(self, key)}")
        if not 0 < self.submit_timeout <= 3600:
            raise FormatError(f"submit_timeout must be between 0 and 3600 seconds, not {self.submit_timeout}")
        if not _PREFIX_RE.match(self.prefix) or any(seg in (".", "..") for seg in self.prefix.split("/")):
            raise FormatError(
                f"the URL prefix {self.prefix!r} must be empty or look like /log or /firm/log "
                "(letters, digits, '.', '_', '~', '-'; no trailing slash)"
            )
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise FormatError("two witnesses have the same name; names must be unique")


def _number(table: Mapping[str, Any], key: str, default: float, where: str, *, integer: bool = False) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        kind = "a whole number" if integer else "a number"
        raise FormatError(f"{where}: {key} must be {kind}, not {value!r}")
    return value


def _witness_from_table(table: Mapping[str, Any], index: int, where: str) -> WitnessConfig:
    label = f"{where}: [[witness]] entry {index + 1}"
    unknown = sorted(set(table) - _WITNESS_KEYS)
    if unknown:
        raise FormatError(
            f"{label} has unknown key(s) {', '.join(unknown)}",
            hint=f"Allowed keys: {', '.join(sorted(_WITNESS_KEYS))}.",
        )
    for key in ("url", "vkey"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise FormatError(f"{label} needs a {key} (a string)")
    url = table["url"]
    if not url.startswith(("http://", "https://")):
        raise FormatError(f"{label}: the url must start with http:// or https://, not {url!r}")
    try:
        verifier = Verifier.from_vkey(table["vkey"])
    except EvidenceError as e:
        raise FormatError(f"{label}: the vkey is not a verifier key: {e.message}") from e
    if verifier.key_type != ALG_COSIGNATURE_V1:
        raise FormatError(
            f"{label}: the vkey of witness {verifier.name!r} is not a cosignature key (type 0x04); "
            "witnesses cosign with cosignature/v1 keys"
        )
    name = table.get("name", verifier.name)
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise FormatError(f"{label}: name must be a non-empty string without spaces")
    return WitnessConfig(name=name, url=url, vkey=verifier.vkey())


def parse_server_config(text: str, base_dir: Path, *, where: str = SERVER_CONFIG_FILE) -> ServerConfig:
    """Parse ``server.toml`` text; relative paths resolve against ``base_dir``."""
    data = parse_table(text, where, _SERVER_KEYS)
    listen = data.get("listen")
    if listen is not None and not isinstance(listen, str):
        raise FormatError(f'{where}: listen must be a string like "127.0.0.1:8080"')
    if listen is not None:
        parse_listen(listen)
    prefix = data.get("prefix", "")
    if not isinstance(prefix, str):
        raise FormatError(f'{where}: prefix must be a string like "/log"')
    tokens: Path | None = None
    if "tokens" in data:
        if not isinstance(data["tokens"], str) or not data["tokens"]:
            raise FormatError(f"{where}: tokens must be the path of the bearer-token file")
        p = Path(data["tokens"]).expanduser()
        tokens = p if p.is_absolute() else base_dir / p
    wtables = data.get("witness", [])
    ttables = data.get("tsa", [])
    for key, tables in (("witness", wtables), ("tsa", ttables)):
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise FormatError(f"{where}: '{key}' must be an array of tables, written [[{key}]]")
    witnesses = tuple(_witness_from_table(t, i, where) for i, t in enumerate(wtables))
    tsas = tuple(_tsa_from_table(t, i, base_dir, where) for i, t in enumerate(ttables))
    if len({t.name for t in tsas}) != len(tsas):
        raise FormatError(f"{where}: two TSAs have the same name; names must be unique")
    try:
        return ServerConfig(
            listen=listen,
            prefix=prefix.rstrip("/") if prefix != "/" else "",
            tokens=tokens,
            linger=float(_number(data, "linger", ServerConfig.linger, where)),
            max_batch=_number(data, "max_batch", ServerConfig.max_batch, where, integer=True),
            max_pending=_number(data, "max_pending", ServerConfig.max_pending, where, integer=True),
            max_request_bytes=_number(data, "max_request_bytes", ServerConfig.max_request_bytes, where, integer=True),
            witness_timeout=float(_number(data, "witness_timeout", ServerConfig.witness_timeout, where)),
            tsa_wait=float(_number(data, "tsa_wait", ServerConfig.tsa_wait, where)),
            head_timeout=float(_number(data, "head_timeout", ServerConfig.head_timeout, where)),
            body_timeout=float(_number(data, "body_timeout", ServerConfig.body_timeout, where)),
            submit_timeout=float(_number(data, "submit_timeout", ServerConfig.submit_timeout, where)),
            witnesses=witnesses,
            tsas=tsas,
        )
    except FormatError as e:
        raise FormatError(f"{where}: {e.message}", hint=e.hint) from e


def load_server_config(path: Path | str) -> ServerConfig:
    """Read ``server.toml`` (FormatError if unreadable or invalid)."""
    from evidence._internal.files import MAX_CONFIG_BYTES, read_file_or_none

    p = Path(path)
    raw = read_file_or_none(p, limit=MAX_CONFIG_BYTES, what="server configuration", error=FormatError)
    if raw is None:
        raise UsageError(f"the server configuration {p} does not exist")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"could not read the server configuration {p}: {e}") from e
    return parse_server_config(text, p.parent, where=str(p))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0 picks a free port)."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise UsageError(f"--listen must look like HOST:PORT (for example 127.0.0.1:8080), not {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_s)


# --------------------------------------------------------------------------- tokens


class TokenSet:
    """The bearer tokens allowed to add entries, read from a file and re-read when it changes.

    File format: one token per line, optionally preceded by a label and a space
    (``capture-pc-3 Zm9vYmFy...``), so the server's log can say who submitted; ``#``
    starts a comment. Tokens must be at least 16 characters. Comparison is constant-time
    over every configured token.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._tokens: tuple[tuple[str, bytes], ...] = ()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        if path is not None:
            self._load(force=True)

    def __len__(self) -> int:
        return len(self._tokens)

    def _load(self, *, force: bool = False) -> None:
        assert self.path is not None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if force:
                raise UsageError(f"the token file {self.path} does not exist") from None
            logger.error("the token file %s has disappeared; nobody can add entries until it is back", self.path)
            self._tokens, self._stamp = (), None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        if st.st_mode & 0o077:
            logger.warning(
                "the token file %s can be read by other users (mode %o); make it 0600", self.path, st.st_mode & 0o777
            )
        from evidence._internal.files import MAX_CONFIG_BYTES, read_text_file

        try:
            text = read_text_file(self.path, limit=MAX_CONFIG_BYTES, what="token file", error=UsageError)
        except UsageError as e:
            if force:
                raise
            logger.error("cannot re-read the token file (%s); keeping the tokens read before", e.message)
            return
        tokens: list[tuple[str, bytes]] = []
        for n, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) > 2:
                raise UsageError(f"{self.path}, line {n}: expected 'TOKEN' or 'LABEL TOKEN'")
            label, token = (parts[0], parts[1]) if len(parts) == 2 else (f"token on line {n}", parts[0])
            if len(token) < MIN_TOKEN_CHARS:
                raise UsageError(
                    f"{self.path}, line {n}: the token is shorter than {MIN_TOKEN_CHARS} characters",
                    hint="Make tokens with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'",
                )
            tokens.append((label, token.encode("utf-8")))
        self._tokens, self._stamp = tuple(tokens), stamp

    def refresh(self) -> None:
        """Re-read the file if it changed (at most every 2 seconds)."""
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked < 2.0:
            return
        with self._lock:
            self._checked = now
            try:
                self._load()
            except UsageError as e:
                logger.error(
                    "the token file %s is invalid now (%s); keeping the tokens read before", self.path, e.message
                )

    def check(self, header: str | None) -> tuple[int, str]:
        """(HTTP status, label or reason): 200 for a known token, 401 without one, 403 for a wrong one."""
        if header is None:
            return 401, "no Authorization header; send 'Authorization: Bearer <token>'"
        scheme, _, given = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return 401, "the Authorization header must be 'Bearer <token>'"
        self.refresh()
        candidate = given.strip().encode("utf-8", "replace")
        found: str | None = None
        for label, token in self._tokens:  # no early exit: time does not depend on which matched
            if hmac.compare_digest(candidate, token) and found is None:
                found = label
        if found is None:
            return 403, "the token is not accepted by this log server"
        return 200, found


# --------------------------------------------------------------------------- the sequencer


@dataclass(frozen=True)
class Answer:
    """What one POST /add gets back."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def error(cls, status: int, message: str, *headers: tuple[str, str]) -> Answer:
        return cls(status, (message.rstrip("\n") + "\n").encode("utf-8"), headers=tuple(headers))


Settle = Callable[[Sequence[tuple[Any, Answer]]], None]


@dataclass
class PartyStatus:
    """The last outcome with one witness or TSA (shown by GET /status)."""

    name: str
    url: str
    kind: str
    last_size: int | None = None
    last_result: str = "not asked yet"
    last_error: str | None = None
    last_at: float | None = None
    ok_count: int = 0
    fail_count: int = 0
    conflict: bool = False  # sticky: a refusal over a fork or rollback stays shown until a restart
    busy: bool = False
    known_size: int | None = None
    last_logged: float = field(default=0.0, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "last_size": self.last_size,
            "last_result": self.last_result,
            "last_error": self.last_error,
            "last_at": _iso(self.last_at) if self.last_at else None,
            "ok": self.ok_count,
            "failed": self.fail_count,
        }
        if self.kind == "witness":
            out["conflict"] = self.conflict
            out["known_size"] = self.known_size
        return out


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _is_conflict(err: BaseException) -> bool:
    """Whether a witness refused because our checkpoint contradicts what it saw: a fork, a
    rollback of the log, or a witness that lost its own state (409 and 422 outcomes)."""
    from evidence.witness import WitnessBadResponse, WitnessConflict, WitnessInconsistent

    if isinstance(err, WitnessConflict | WitnessInconsistent):
        return True
    return isinstance(err, WitnessBadResponse) and getattr(err, "status", None) == 409


class Sequencer:
    """Queue -> writer thread (append) -> publisher thread (witness, time-stamp, prove, answer)."""

    def __init__(self, path: Path, config: ServerConfig, *, keys_dir: Path | None = None) -> None:
        self.path = path
        self.config = config
        # One Log for both threads: append and add_cosignatures serialise on its lock, and
        # its readers are thread-safe; proofs for clients come from our own reader.
        self.log = Log.open(path, keys_dir=keys_dir)
        self.log.recover()  # republish a checkpoint a crash left unpublished, before serving it
        self._reader = LogReader(DirectoryStorage(path))
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._publish_cv = threading.Condition(self._lock)
        self._queue: deque[tuple[bytes, Any]] = deque()
        self._waiting: list[tuple[int, Any]] = []
        self._appended: dict[int, int] = {}  # id(waiter) -> index, appended and not yet answered
        self._latest = self.log.size
        self._published = -1  # the checkpoint found at start is published (witnessed) once too
        self._stopping = False
        self._writer_done = False
        self._settle: Settle | None = None
        self._threads: list[threading.Thread] = []
        self.started_at = time.time()
        self.appended_batches = 0
        self.appended_entries = 0
        self.last_append_at: float | None = None
        self.last_append_error: str | None = None
        self.witnesses = {w.name: PartyStatus(w.name, w.url, "witness") for w in config.witnesses}
        self.tsas = {t.name: PartyStatus(t.name, t.url, "tsa") for t in config.tsas}
        self._wpool = (
            concurrent.futures.ThreadPoolExecutor(len(config.witnesses), thread_name_prefix="evidence-witness")
            if config.witnesses
            else None
        )
        self._tpool = (
            concurrent.futures.ThreadPoolExecutor(len(config.tsas), thread_name_prefix="evidence-tsa")
            if config.tsas
            else None
        )

    # ------------------------------------------------------------------ life cycle
    def start(self, settle: Settle) -> None:
        self._settle = settle
        for target, name in ((self._writer_loop, "evidence-writer"), (self._publisher_loop, "evidence-publisher")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._stopping = True
            self._work.notify_all()
            self._publish_cv.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for pool in (self._wpool, self._tpool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self.log.close()

    # ------------------------------------------------------------------ intake
    def submit(self, entry: bytes, waiter: Any) -> Answer | None:
        """Queue one entry; None when queued (the waiter is settled later), else the refusal."""
        with self._lock:
            if self._stopping:
                return Answer.error(503, "the log server is shutting down; retry shortly", ("Retry-After", "2"))
            if len(self._queue) >= self.config.max_pending:
                return Answer.error(
                    503, f"the log server has {len(self._queue)} entries waiting; retry shortly", ("Retry-After", "1")
                )
            self._queue.append((entry, waiter))
            # Wake the writer only when it waits for a first entry or for a full batch: while
            # it lingers it wakes by itself, and a wake-up per entry costs a thread switch.
            if len(self._queue) == 1 or len(self._queue) >= self.config.max_batch:
                self._work.notify()
        return None

    def _deliver(self, answers: Sequence[tuple[Any, Answer]]) -> None:
        if answers and self._settle is not None:
            self._settle(answers)

    # ------------------------------------------------------------------ writer
    def _take_batch(self) -> list[tuple[bytes, Any]] | None:
        cfg = self.config
        with self._lock:
            while not self._queue and not self._stopping:
                self._work.wait()
            if not self._queue:
                return None
            if cfg.linger > 0 and len(self._queue) < cfg.max_batch and not self._stopping:
                deadline = time.monotonic() + cfg.linger
                while len(self._queue) < cfg.max_batch and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._work.wait(left)
            n = min(len(self._queue), cfg.max_batch)
            return [self._queue.popleft() for _ in range(n)]

    def _writer_loop(self) -> None:
        failures = 0
        while True:
            batch = self._take_batch()
            if batch is None:
                with self._lock:
                    self._writer_done = True
                    self._publish_cv.notify_all()
                return
            try:
                indices = self.log.append([e for e, _ in batch])
                size = self.log.checkpoint().checkpoint.size
            except Exception as e:
                failures += 1
                reason = e.diagnostics() if isinstance(e, EvidenceError) else f"{type(e).__name__}: {e}"
                self.last_append_error = reason
                logger.error("could not append a batch of %d entries: %s", len(batch), reason)
                self._deliver(
                    [
                        (w, Answer.error(503, f"the log could not append the entry: {reason}", ("Retry-After", "5")))
                        for _, w in batch
                    ]
                )
                time.sleep(min(5.0, 0.1 * 2 ** min(failures, 6)))  # a full disk should not spin
                continue
            failures = 0
            self.appended_batches += 1
            self.appended_entries += len(batch)
            self.last_append_at = time.time()
            self.last_append_error = None
            with self._lock:
                self._waiting.extend(zip(indices, (w for _, w in batch), strict=True))
                self._appended.update((id(w), i) for i, (_, w) in zip(indices, batch, strict=True))
                self._latest = max(self._latest, size)
                self._publish_cv.notify()

    # ------------------------------------------------------------------ publisher
    def _publisher_loop(self) -> None:
        while True:
            with self._lock:
                while self._latest <= self._published and not self._waiting and not self._stopping:
                    self._publish_cv.wait()
                if self._stopping and self._latest <= self._published and not self._waiting:
                    if self._writer_done:
                        return
                    self._publish_cv.wait(0.1)  # the writer may still hand over its last batch
                    continue
                size = self._latest
                fresh = size > self._published
                waiting, self._waiting = self._waiting, []
            try:
                # Entries that were all duplicates leave the size as it was: answer them
                # against the checkpoint already published, without asking anyone again.
                note = self.publish(size) if fresh else self.log.checkpoint_note(size)
                answers = self._proofs(size, note, waiting)
            except Exception as e:
                reason = e.diagnostics() if isinstance(e, EvidenceError) else f"{type(e).__name__}: {e}"
                logger.error("could not publish the checkpoint of size %d: %s", size, reason)
                answers = self._fallback_proofs(size, waiting) or [
                    (
                        w,
                        Answer.error(
                            500,
                            f"the entry was logged at index {i}, but its proof could not be made: "
                            f"{reason}; submit it again to get the proof",
                        ),
                    )
                    for i, w in waiting
                ]
            with self._lock:
                self._published = max(self._published, size)
            self._deliver(answers)
            with self._lock:
                for _, w in waiting:
                    self._appended.pop(id(w), None)

    def _fallback_proofs(self, size: int, waiting: Sequence[tuple[int, Any]]) -> list[tuple[Any, Answer]]:
        """Proofs against the plain signed checkpoint (no witness, no time-stamp) when
        publishing failed: an appended entry is answered with its proof, not an error."""
        try:
            return self._proofs(size, self.log.checkpoint_note(size), waiting)
        except Exception as e:
            logger.error("could not make proofs against the checkpoint of size %d either: %s", size, e)
            return []

    def proof_now(self, waiter: Any) -> Answer | None:
        """The answer for ``waiter`` if its entry is appended but not yet answered: its proof
        against the newest signed checkpoint (it covers the entry). None if not appended."""
        with self._lock:
            index = self._appended.get(id(waiter))
        if index is None:
            return None
        note = self.log.checkpoint_note()
        size = SignedCheckpoint.parse(note).checkpoint.size
        [(_, answer)] = self._proofs(size, note, [(index, waiter)])
        return answer

    def _proofs(self, size: int, note: bytes, waiting: Sequence[tuple[int, Any]]) -> list[tuple[Any, Answer]]:
        if not waiting:
            return []
        # One batch's entries are neighbours in the tree: their paths share the hashes near
        # the root, computed once for all of them.
        paths = merkle.inclusion_proofs(self._reader.hashes(size).perfect, [i for i, _ in waiting], size)
        out = []
        for (index, w), path in zip(waiting, paths, strict=True):
            proof = TlogProof(index, tuple(path), note)
            out.append((w, Answer(200, proof.to_bytes(), headers=(("X-Log-Index", str(index)),))))
        return out

    def publish(self, size: int) -> bytes:
        """Witness, then time-stamp the checkpoint of ``size``; return its final note bytes."""
        if size == 0:
            return self.log.checkpoint_note(0)
        if self.log.timestamps(size):
            return self.log.checkpoint_note(size)  # already published (before a restart)
        sigs = self._witness(size)
        if sigs:
            try:
                self.log.add_cosignatures(size, sigs)
            except EvidenceError as e:
                logger.error(
                    "could not add %d witness cosignature(s) to checkpoint %d: %s", len(sigs), size, e.diagnostics()
                )
        note = self.log.checkpoint_note(size)
        self._stamp(size, note)
        return note

    # ------------------------------------------------------------------ witnesses
    def _witness(self, size: int) -> list[NoteSignature]:
        if self._wpool is None:
            return []
        futures: dict[concurrent.futures.Future[list[NoteSignature]], PartyStatus] = {}
        by_name = {w.name: w for w in self.config.witnesses}
        for name, st in self.witnesses.items():
            with self._lock:
                busy = st.busy
                st.busy = True
                known = st.known_size
            if busy:
                self._record(st, size, "skipped", "the previous submission to this witness is still running")
                continue
            futures[self._wpool.submit(self._witness_one, by_name[name], st, size, known)] = st
        done, _ = concurrent.futures.wait(futures, timeout=self.config.witness_timeout)
        sigs: list[NoteSignature] = []
        for fut, st in futures.items():
            if fut in done and fut.exception() is None:
                sigs.extend(fut.result())
            elif fut not in done:
                self._record(st, size, "timeout", f"no answer within {self.config.witness_timeout:g} s")
        return sigs

    def _witness_one(self, w: WitnessConfig, st: PartyStatus, size: int, known: int | None) -> list[NoteSignature]:
        try:
            from evidence.witness import witness_checkpoint

            sigs, new_known = witness_checkpoint(
                self.log, size, w.url, w.verifier, known, timeout=self.config.witness_timeout
            )
        except Exception as e:
            reason = e.diagnostics() if isinstance(e, EvidenceError) else f"{type(e).__name__}: {e}"
            conflict = _is_conflict(e)
            with self._lock:
                st.busy = False
                if conflict:
                    st.conflict = True
            from evidence.witness import WitnessRefused

            refused = "refused" if isinstance(e, WitnessRefused) else "failed"
            result = "REFUSED: fork or rollback?" if conflict else refused
            self._record(st, size, result, reason, loud=conflict)
            raise
        with self._lock:
            st.busy = False
            st.known_size = max(st.known_size or 0, int(new_known))
        self._record(st, size, "cosigned", None)
        return list(sigs)

    # ------------------------------------------------------------------ time-stamps
    def _stamp(self, size: int, note: bytes) -> None:
        """Ask every TSA for a token over ``note``, waiting at most ``tsa_wait`` seconds.

        The clients waiting for this checkpoint are answered after that wait at the latest:
        a slow TSA never holds up the add path. Its request goes on in the background (each
        is bounded by the TSA's own deadline) and a token that comes late is still stored;
        while it runs, that TSA is skipped for newer checkpoints, so a TSA that answers one
        byte a second costs one thread, not one per checkpoint. ``GET /status`` shows it.
        """
        if self._tpool is None:
            return
        futures: dict[concurrent.futures.Future[None], tuple[TSAConfig, PartyStatus]] = {}
        for tsa in self.config.tsas:
            st = self.tsas[tsa.name]
            with self._lock:
                busy = st.busy
                st.busy = True
            if busy:
                self._record(st, size, "skipped", "its answer to an earlier checkpoint is still awaited (slow TSA)")
                continue
            futures[self._tpool.submit(self._stamp_one, tsa, st, size, note)] = (tsa, st)
        _, pending = concurrent.futures.wait(futures, timeout=self.config.tsa_wait)
        for fut in pending:
            tsa, st = futures[fut]
            self._record(
                st,
                size,
                "slow",
                f"no token within {self.config.tsa_wait:g} s (tsa_wait); clients were answered without it, "
                f"and a token still arriving within its {tsa.timeout:g} s deadline is stored",
            )

    def _stamp_one(self, tsa: TSAConfig, st: PartyStatus, size: int, note: bytes) -> None:
        from evidence.timestamp import request_timestamp

        try:
            token = request_timestamp(note, tsa)
            self.log.add_timestamp(size, token.der)
        except Exception as e:  # a TSA never fails the publication
            reason = e.diagnostics() if isinstance(e, EvidenceError) else f"{type(e).__name__}: {e}"
            self._record(st, size, "failed", reason)
            return
        finally:
            with self._lock:
                st.busy = False
        self._record(st, size, "stamped", None)

    def _record(self, st: PartyStatus, size: int, result: str, error: str | None, *, loud: bool = False) -> None:
        now = time.time()
        with self._lock:
            was_failing = st.last_error is not None
            st.last_size, st.last_result, st.last_error, st.last_at = size, result, error, now
            if error is None:
                st.ok_count += 1
            else:
                st.fail_count += 1
            quiet = now - st.last_logged < 60.0
            if error is not None and not quiet:
                st.last_logged = now
        what = f"{st.kind} {st.name} ({st.url})"
        if error is None:
            if was_failing:
                logger.info("%s answers again (checkpoint %d: %s)", what, size, result)
            return
        if loud:
            logger.error(
                "WITNESS %s REFUSED the checkpoint of size %d: %s. A witness refuses when the checkpoint "
                "contradicts one it saw before: this log may have forked or rolled back. Investigate now "
                "(compare the log's history with the witness's) before logging more evidence.",
                what,
                size,
                error,
            )
        elif not quiet:
            consequence = "without its cosignature" if st.kind == "witness" else "without its time-stamp"
            logger.warning(
                "%s gave nothing for checkpoint %d: %s. Checkpoints go on %s; repeats are logged "
                "once a minute, GET /status shows the latest.",
                what,
                size,
                error,
                consequence,
            )

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        with self._lock:
            queued = len(self._queue)
            waiting = len(self._waiting)
            latest, published = self._latest, self._published
            witnesses = [st.to_json() for st in self.witnesses.values()]
            tsas = [st.to_json() for st in self.tsas.values()]
        conflicts = [w["name"] for w in witnesses if w.get("conflict")]
        problems = [
            f"{kind} {p['name']}: {p['last_result']} at checkpoint {p['last_size']}: {p['last_error']}"
            for kind, parties in (("witness", witnesses), ("TSA", tsas))
            for p in parties
            if p["last_error"] is not None
        ]
        if self.last_append_error is not None:
            problems.insert(0, f"appending: {self.last_append_error}")
        return {
            "origin": self.log.origin,
            "log_vkey": self.log.verifier.vkey(),
            "size": latest,
            "published_size": max(published, 0),
            "queued": queued,
            "awaiting_proof": waiting,
            "batches": self.appended_batches,
            "entries_received": self.appended_entries,
            "last_append": _iso(self.last_append_at) if self.last_append_at else None,
            "last_append_error": self.last_append_error,
            "started": _iso(self.started_at),
            "healthy": not conflicts and not problems,
            "problems": problems,
            "witness_conflicts": conflicts,
            "witnesses": witnesses,
            "tsas": tsas,
        }


# --------------------------------------------------------------------------- the ASGI app


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
        self.path = Path(path)
        self.config = config
        self.keys_dir = keys_dir
        self.announce = announce
        self.tokens = TokenSet(config.tokens)
        self.prefix = config.prefix
        self.sequencer: Sequencer | None = None
        self._public_info = b""
        self._verification_keys = b""
        self._root = str(self.path) + os.sep
        self._add_target = (self.prefix + "/add").encode("ascii")
        self._auth_target = (self.prefix + "/auth").encode("ascii")
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
        seq = Sequencer(self.path, self.config, keys_dir=self.keys_dir)
        seq.log.checkpoint()  # refuse to start on a damaged commit record
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
        return self._get(rel)

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

        from evidence.log.storage import describe_file, max_file_size

        try:
            data = read_file_or_none(
                self._root + rel, limit=max_file_size(rel), what=describe_file(rel), error=LogCorruptError
            )
        except LogCorruptError as e:  # a FIFO, a device, a file larger than what it is: never served
            logger.error("refusing to serve %s: %s", rel, e.message)
            return Response(b"the file could not be read\n", 500, media_type="text/plain")
        if data is None:
            return _not_found()
        return Response(data, 200, media_type=media_type, headers={"Cache-Control": cache})

    def _listing(self, size: int) -> Any:
        from starlette.responses import Response

        d = self.path / history_dir(size)
        try:
            names = sorted(p.name for p in d.iterdir() if p.name == "checkpoint" or _TSR_NAME.match(p.name))
        except (FileNotFoundError, NotADirectoryError):
            return _not_found()
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
        if raw != self._add_target and raw != self._auth_target:
            await _send(send, 405, b"only /add and /auth accept POST\n", (b"allow", b"GET, HEAD"))
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
        if len(entry) > tiles.MAX_ENTRY_SIZE:
            await _send_text(
                send,
                400,
                f"the entry is {len(entry)} bytes; tlog-tiles entries are at most 65,535 bytes. "
                "Log a digest of large data, not the data itself.",
            )
            return
        answer = await self.submit(entry)
        await _send(send, answer.status, answer.body, *((k.encode(), v.encode()) for k, v in answer.headers))

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

    p = Path(path)
    Log.open(p, keys_dir=keys_dir).close()  # a clear error now, not inside the event loop
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
