"""A log server reached over HTTP(S): the client side of ``evidence log serve``.

:class:`RemoteLog` provides what :func:`evidence.bundle.seal` needs from a log
(:class:`SealableLog`), so ``preserve --log https://...`` and
``evidence.capture(url, log="https://...")`` seal into a shared log:

    from evidence.log.remote import RemoteLog
    with RemoteLog("https://log.example.org/", token="...", verifier=my_pinned_key) as log:
        [index] = log.append([entry])          # POST /add: retried on 5xx and network errors
        proof = log.prove(index, log.checkpoint().checkpoint.size)

Nothing the server says is taken on trust: every proof is verified (log signature and
inclusion) before it is used, and when the caller pinned the log's key the key the server
presents (``GET /log.json``) must be that key.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import requests

from evidence import merkle
from evidence._internal import http
from evidence.checkpoint import SignedCheckpoint, TlogProof, clock_key_name, is_clock_key
from evidence.errors import (
    ConsistencyError,
    EntryTooLargeError,
    FormatError,
    InclusionError,
    LogError,
    SignatureError,
    UsageError,
)
from evidence.log import tiles
from evidence.log.net import network_reason
from evidence.log.reader import LogReader
from evidence.log.storage import HTTPStorage
from evidence.log.writer import FORMAT, history_dir
from evidence.note import ALG_ED25519, Verifier

__all__ = ["ENV_TOKEN", "RemoteLog", "SealableLog", "open_remote_log"]

#: The environment variable holding the bearer token for a log server.
ENV_TOKEN = "EVIDENCE_LOG_TOKEN"
MAX_ANSWER_BYTES = 1 << 20
MAX_TOKEN_FILE_BYTES = 64 << 10
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SealableLog(Protocol):
    """What :func:`evidence.bundle.seal` uses from a log (a local :class:`~evidence.log.Log`
    or a :class:`RemoteLog`)."""

    @property
    def origin(self) -> str: ...

    @property
    def verifier(self) -> Verifier: ...

    @property
    def timestamp_verifier(self) -> Verifier: ...

    def append(self, entries: Iterable[bytes]) -> list[int]: ...

    def checkpoint(self) -> SignedCheckpoint: ...

    def checkpoint_note(self, size: int | None = None) -> bytes: ...

    def timestamps(self, size: int) -> list[bytes]: ...

    def add_timestamp(self, size: int, token_der: bytes) -> None: ...

    def prove(self, index: int, size: int | None = None) -> TlogProof: ...


class RemoteLog:
    """A log served by ``evidence log serve``, used as a client.

    - ``token``: the bearer token for ``POST /add`` (only appending needs one);
    - ``verifier``: the log key the caller trusts (vkey from the operator, a trust policy);
      when given, the server must present exactly this key, and every checkpoint must be
      signed by it. Without it, the key the server presents is used, and the trust
      decision is left to whoever verifies the bundles (who must pin the key);
    - ``timeout``: the deadline in seconds for each read, retries included; an append's
      deadline is ``add_timeout`` (the server answers once the entry is durable and the
      checkpoint signed, after at most a short wait for witnesses and TSAs). These are
      deadlines for the whole exchange, not per socket read;
    - ``attempts``: how often a request is tried on 5xx answers and network errors, with
      exponential backoff (0.5 s, 1 s, 2 s, ... at most 8 s), within the deadline.
      Resubmitting an entry is safe: the log de-duplicates, so a retried entry keeps its index.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        verifier: Verifier | str | None = None,
        timeout: float = 30.0,
        add_timeout: float = 180.0,
        attempts: int = 6,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"a log server URL starts with http:// or https://, not {base_url!r}")
        if not 1 <= attempts <= 20:
            raise UsageError("attempts must be between 1 and 20")
        self.base = http.base_url(base_url)
        self.token = token
        self.timeout = timeout
        self.add_timeout = add_timeout
        self.attempts = attempts
        self._session = http.bound(session or requests.Session())
        self._storage: HTTPStorage | None = None
        self._proofs: dict[tuple[int, int], TlogProof] = {}
        self._notes: dict[int, bytes] = {}
        self._latest: SignedCheckpoint | None = None
        self._local_tokens: dict[int, list[bytes]] = {}
        self._keeps_attempts: bool | None = None
        pinned = Verifier.from_vkey(verifier) if isinstance(verifier, str) else verifier
        origin, served, clock = self._describe()
        if pinned is not None and served != pinned:
            raise SignatureError(
                f"the log server {self.base} presents the log key {served.vkey()}, but the key you configured for "
                f"it is {pinned.vkey()}: refusing to log evidence there",
                hint="Check the URL. If the operator has really started a new log, confirm its new key with them "
                "through a separate channel before changing your configuration.",
            )
        self._origin = origin
        self._verifier = pinned or served
        self._clock = clock

    # ------------------------------------------------------------------ identity
    def _describe(self) -> tuple[str, Verifier, Verifier]:
        raw = self._get("log.json")
        if raw is None:
            raise LogError(
                f"{self.base} is not an evidence log server (it has no log.json)",
                hint="Give the base URL that `evidence log serve` prints, including any path prefix.",
            )
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise LogError(f"{self.base} serves a log of format {data.get('format')!r}, not {FORMAT!r}")
            origin, log_vkey, ts_vkey = data["origin"], data["log_vkey"], data["timestamp_vkey"]
            if not all(isinstance(x, str) for x in (origin, log_vkey, ts_vkey)):
                raise TypeError("origin and keys must be strings")
            served = Verifier.from_vkey(log_vkey)
            clock = Verifier.from_vkey(ts_vkey)
        except (ValueError, KeyError, TypeError, AttributeError, FormatError) as e:
            raise LogError(f"the log description {self.base}log.json is malformed: {e}") from e
        if served.key_type != ALG_ED25519 or served.name != origin:
            raise LogError(f"the log key served by {self.base} is not an Ed25519 key named after the log {origin!r}")
        if not is_clock_key(clock, origin):
            raise LogError(
                f"the clock key served by {self.base} is not a cosignature key named {clock_key_name(origin)}"
            )
        return origin, served, clock

    @property
    def origin(self) -> str:
        """The log's origin (its name in every checkpoint)."""
        return self._origin

    @property
    def verifier(self) -> Verifier:
        """The log key: the pinned one when given, else the one the server presents."""
        return self._verifier

    @property
    def timestamp_verifier(self) -> Verifier:
        """The log's clock key (cosignature/v1, ``<origin>/timestamp``), as the server presents it."""
        return self._clock

    @property
    def path(self) -> str:
        """Where the log is (its base URL), for messages."""
        return self.base

    # ------------------------------------------------------------------ HTTP
    def _request(
        self, method: str, path: str, *, body: bytes | None = None, timeout: float, auth: bool = False
    ) -> tuple[int, bytes]:
        """(status, body), retrying 429/5xx answers and network errors with backoff.

        ``timeout`` is a deadline for the whole call, retries and waits included: each
        attempt gets what is left of it (see :mod:`evidence._internal.http`).
        """
        from evidence._internal.http import AnswerTooLarge, fetch

        url = self.base + path
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        if self.token is not None and (method == "POST" or auth):
            headers["Authorization"] = f"Bearer {self.token}"
        end = time.monotonic() + timeout
        delay = 0.5
        last = ""
        unreachable = False
        began = time.monotonic()
        tried = 0
        for attempt in range(1, self.attempts + 1):
            left = end - time.monotonic()
            if left <= 0:
                break
            tried = attempt
            wait = delay
            try:
                answer = fetch(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    deadline=left,
                    limit=MAX_ANSWER_BYTES,
                    session=self._session,
                )
                if answer.status not in RETRY_STATUSES:
                    return answer.status, answer.body
                last = f"HTTP {answer.status}: {_text(answer.body)}"
                unreachable = False
                retry_after = answer.header("Retry-After")
                if retry_after.isdigit():
                    wait = min(10.0, max(wait, float(retry_after)))
            except AnswerTooLarge:
                raise LogError(f"{url} answered with more than {MAX_ANSWER_BYTES} bytes; that is no proof") from None
            except requests.RequestException as e:
                last, unreachable = network_reason(e, timeout), True
            if attempt == self.attempts:
                break
            pause = wait * (0.8 + 0.4 * random.random())
            if time.monotonic() + pause >= end:
                break
            time.sleep(pause)
            delay = min(8.0, delay * 2)
        attempts = f"{tried} attempt(s) over {time.monotonic() - began:.0f} s, within a deadline of {timeout:g} s"
        if unreachable or not last:
            raise LogError(
                f"the log server {self.base} could not be reached: {last or 'no time was left'} ({attempts})",
                hint="Check the URL (the one `evidence log serve` printed, with any path prefix), that the "
                "server is running, and that this machine can reach it (network, VPN, firewall, proxy). "
                "Nothing was added to the log by this request; an entry sent again keeps its index.",
            )
        raise LogError(
            f"the log server {self.base} is not working: it answered {method} /{path} with {last} ({attempts})",
            hint="Try again later, or ask the log's operator; an entry sent again keeps its index.",
        )

    def check_writable(self) -> None:
        """Confirm that this client's token may add entries (``POST /auth``, which changes
        nothing), so a missing or refused token is found before anything is captured.

        A server from before ``/auth`` answers 405 there: then an empty ``POST /add`` asks
        the same (the token is checked first; an empty entry is refused with 400, never
        logged)."""
        status, data = self._request("POST", "auth", body=b"", timeout=self.timeout)
        if status in (404, 405):
            status, data = self._request("POST", "add", body=b"", timeout=self.timeout)
            if status == 400:
                return
        if status == 200:
            return
        self._refused(status, data)

    def _refused(self, status: int, data: bytes) -> None:
        if status == 401:
            raise LogError(
                f"the log server {self.base} needs a token to add entries, and none was given: {_text(data)}",
                hint=f"Set {ENV_TOKEN}, or token_file in a [[log_server]] table of config.toml "
                "(ask the log operator for a token).",
            )
        if status == 403:
            raise LogError(
                f"the log server {self.base} refused the token: {_text(data)}",
                hint=f"Check the token in {ENV_TOKEN} or your token_file for typos, and ask the log operator "
                "whether it is still valid.",
            )
        raise LogError(f"the log server {self.base} answered HTTP {status}: {_text(data)}")

    def _get(self, path: str) -> bytes | None:
        status, data = self._request("GET", path, timeout=self.timeout)
        if status == 404:
            return None
        if status != 200:
            raise LogError(f"fetching {self.base}{path} gave HTTP {status}: {_text(data)}")
        return data

    def _reader(self) -> LogReader:
        if self._storage is None:
            self._storage = HTTPStorage(self.base, timeout=self.timeout)
        return LogReader(self._storage)

    # ------------------------------------------------------------------ appending
    def append(self, entries: Iterable[bytes]) -> list[int]:
        """Submit entries (POST /add each); return their indices once each is durably logged.

        Each answer's proof is verified (log key, origin, inclusion of exactly this entry)
        before it is accepted, and kept for :meth:`prove`.
        """
        batch = [bytes(e) for e in entries]
        for e in batch:
            if len(e) > tiles.MAX_ENTRY_SIZE:
                raise EntryTooLargeError(
                    f"an entry of {len(e)} bytes exceeds the 65,535-byte limit of tlog-tiles; "
                    "log a digest of large data, not the data itself"
                )
        return [self._add(e) for e in batch]

    def add_attempt(self, record: bytes) -> int:
        """Submit an attempt record (``POST /attempts``): the server keeps the record and logs
        its entry (:func:`evidence.bundle.format.attempt_entry`); return the entry's index,
        once its proof is verified. Resubmitting is safe (the entry keeps its index)."""
        from evidence.bundle.format import attempt_entry

        return self._add(attempt_entry(record), path="attempts", body=record)

    def keeps_attempts(self) -> bool:
        """Whether the server keeps attempt records (a server from before them answers 404 at
        ``/attempts``: then captures are sealed without them, as before). Asked once."""
        if self._keeps_attempts is None:
            status, _ = self._request("GET", "attempts?limit=1", timeout=self.timeout, auth=True)
            self._keeps_attempts = status not in (404, 405)
        return self._keeps_attempts

    def list_attempts(
        self, case: str | None = None, *, start: int = 0, limit: int = 100
    ) -> tuple[list[tuple[int, bytes]], int | None]:
        """One page of the server's attempt records (``GET /attempts``, with the token): a list
        of (index, record bytes) of ``case`` (all, when None) from index ``start`` on, and the
        ``start`` of the next page (None after the last)."""
        from urllib.parse import urlencode

        query = {"from": str(start), "limit": str(limit), **({"case": case} if case is not None else {})}
        status, data = self._request("GET", f"attempts?{urlencode(query)}", timeout=self.timeout, auth=True)
        if status in (401, 403):
            self._refused(status, data)
        if status != 200:
            raise LogError(f"the log server {self.base} answered GET /attempts with HTTP {status}: {_text(data)}")
        try:
            doc = json.loads(data)
            items = [(int(x["index"]), str(x["record"]).encode("utf-8")) for x in doc["attempts"]]
            nxt = doc.get("next")
            if nxt is not None and (not isinstance(nxt, int) or nxt <= start):
                raise ValueError("the next page must start after this one")
        except (ValueError, KeyError, TypeError) as e:
            raise LogError(f"the log server's list of attempts is malformed: {e}") from e
        return items, nxt

    def _add(self, entry: bytes, *, path: str = "add", body: bytes | None = None) -> int:
        status, data = self._request("POST", path, body=entry if body is None else body, timeout=self.add_timeout)
        if status in (401, 403):
            self._refused(status, data)
        if status != 200:
            raise LogError(f"the log server {self.base} refused the entry (HTTP {status}): {_text(data)}")
        try:
            proof = TlogProof.parse(data)
        except FormatError as e:
            raise LogError(f"the log server's answer is not a tlog-proof: {e.message}") from e
        try:
            verified = proof.verify(entry, [self._verifier], origin=self._origin)
        except (SignatureError, InclusionError) as e:
            raise type(e)(
                f"the log server {self.base} returned a proof that does not verify: {e.message}",
                hint="Do not use this server until its operator explains; the entry may not be logged.",
            ) from e
        signed = SignedCheckpoint(verified.checkpoint, proof.signed_checkpoint.note)
        self._remember(proof, verified.checkpoint.size, signed)
        return proof.index

    def _remember(self, proof: TlogProof, size: int, signed: SignedCheckpoint) -> None:
        known = self._notes.get(size)
        if known is not None and known != proof.checkpoint_note:
            old = SignedCheckpoint.parse(known).checkpoint
            if not merkle.hashes_equal(old.root_hash, signed.checkpoint.root_hash):
                raise ConsistencyError(
                    f"the log server {self.base} showed two different trees of size {size} "
                    f"(roots {old.root_hash.hex()} and {signed.checkpoint.root_hash.hex()}): the log forked",
                    hint="Keep both answers; they prove the log misbehaved.",
                )
        self._notes[size] = proof.checkpoint_note
        self._proofs[(proof.index, size)] = proof
        if self._latest is None or size >= self._latest.checkpoint.size:
            self._latest = signed

    # ------------------------------------------------------------------ reading
    def checkpoint(self) -> SignedCheckpoint:
        """The newest checkpoint this client verified: the one covering its last submission,
        else the server's current checkpoint (fetched and verified)."""
        if self._latest is None:
            self._latest = self.fetch_checkpoint()
            self._notes.setdefault(self._latest.checkpoint.size, self._latest.to_bytes())
        return self._latest

    def fetch_checkpoint(self) -> SignedCheckpoint:
        """The server's current checkpoint, verified against the log key."""
        return self._reader().signed_checkpoint([self._verifier], origin=self._origin)

    @property
    def size(self) -> int:
        return self.checkpoint().checkpoint.size

    def checkpoint_note(self, size: int | None = None) -> bytes:
        """The signed checkpoint note of ``size`` (None: :meth:`checkpoint`), verified."""
        if size is None:
            return self.checkpoint().to_bytes()
        note = self._notes.get(size)
        if note is not None:
            return note
        raw = self._get(f"{history_dir(size)}/checkpoint")
        if raw is None:
            raise LogError(f"the log server {self.base} has no checkpoint of size {size}")
        signed = SignedCheckpoint.parse(raw)
        signed.verify([self._verifier], origin=self._origin)
        if signed.checkpoint.size != size:
            raise LogError(f"the log server sent a checkpoint of size {signed.checkpoint.size} for size {size}")
        self._notes[size] = raw
        return raw

    def timestamps(self, size: int) -> list[bytes]:
        """RFC 3161 responses over the checkpoint of ``size``: the server's (listed under
        ``/history/<N>/``), then any this client added with :meth:`add_timestamp`."""
        listing = self._get(f"{history_dir(size)}/")
        found: list[bytes] = []
        if listing is not None:
            try:
                names = json.loads(listing)["timestamps"]
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise TypeError("timestamps must be a list of paths")
            except (ValueError, KeyError, TypeError) as e:
                raise LogError(f"the log server's listing of {history_dir(size)}/ is malformed: {e}") from e
            for name in names:
                if not name.startswith(history_dir(size) + "/") or not name.endswith(".tsr") or ".." in name:
                    raise LogError(f"the log server listed an unexpected file {name!r}")
                der = self._get(name)
                if der is not None:
                    found.append(der)
        return found + list(self._local_tokens.get(size, []))

    def add_timestamp(self, size: int, token_der: bytes) -> None:
        """Keep a token this client obtained over the checkpoint of ``size`` (it stays with
        this client: it goes into the bundle, not to the server)."""
        self.checkpoint_note(size)
        self._local_tokens.setdefault(size, []).append(bytes(token_der))

    def prove(self, index: int, size: int | None = None) -> TlogProof:
        """A tlog-proof for entry ``index`` against the checkpoint of ``size`` (None: latest).

        The proof from the entry's own submission when it matches; else computed from the
        server's tiles and checked against the signed root.
        """
        target = self.checkpoint().checkpoint.size if size is None else size
        cached = self._proofs.get((index, target))
        if cached is not None:
            return cached
        signed = SignedCheckpoint.parse(self.checkpoint_note(target))
        if not 0 <= index < target:
            raise LogError(f"entry {index} is not in the checkpoint of size {target}")
        reader = self._reader()
        proof = reader.prove(index, signed)
        leaf = reader.hashes(target).perfect(0, index)
        root = merkle.root_from_inclusion_proof(index, target, leaf, proof.hashes)
        if not merkle.hashes_equal(root, signed.checkpoint.root_hash):
            raise InclusionError(f"the log server's tiles do not lead to the signed root of size {target}")
        self._proofs[(index, target)] = proof
        return proof

    def consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """A consistency proof from ``old_size`` to ``new_size``, computed from the tiles and
        verified against both signed roots."""
        new = self.checkpoint().checkpoint.size if new_size is None else new_size
        old_cp = SignedCheckpoint.parse(self.checkpoint_note(old_size)).checkpoint if old_size else None
        new_cp = SignedCheckpoint.parse(self.checkpoint_note(new)).checkpoint
        proof = self._reader().hashes(new).consistency_proof(old_size)
        old_root = old_cp.root_hash if old_cp is not None else merkle.EMPTY_ROOT
        merkle.verify_consistency(old_size, new, old_root, new_cp.root_hash, proof)
        return proof

    def close(self) -> None:
        self._session.close()
        if self._storage is not None:
            self._storage.close()

    def __enter__(self) -> RemoteLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(data: bytes, limit: int = 300) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text[:limit] + ("..." if len(text) > limit else "")


def _read_token_file(path: Path) -> str:
    from evidence._internal.files import read_text_file

    text = read_text_file(path, limit=MAX_TOKEN_FILE_BYTES, what="log token file", error=UsageError)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if len(lines) != 1:
        raise UsageError(f"the log token file {path} must hold exactly one token line")
    return lines[0]


def open_remote_log(url: str, *, home: Path | None = None, token: str | None = None) -> RemoteLog:
    """A :class:`RemoteLog` for ``url`` configured from the evidence home.

    - Token: ``token``, else ``$EVIDENCE_LOG_TOKEN``, else the ``token_file`` of a
      ``[[log_server]]`` table with this URL in ``config.toml``.
    - Key: the ``key`` of that table, else a ``log`` line of ``trust.policy`` whose URL is
      this one. Whichever is found, the server must present it. And if the trust policy
      lists keys for the origin the server announces, the server's key must be one of them.
    """
    from evidence.config import load_config
    from evidence.trust import TrustPolicy

    cfg = load_config(home)
    base = http.base_url(url)
    entry = next((s for s in cfg.log_servers if http.base_url(s.url) == base), None)
    tok = token or os.environ.get(ENV_TOKEN) or None
    if tok is None and entry is not None and entry.token_file is not None:
        tok = _read_token_file(entry.token_file)
    policy: TrustPolicy | None = None
    policy_path = cfg.trust_policy_path
    if policy_path.is_file():
        policy = TrustPolicy.load(policy_path)
    pinned: Verifier | None = None
    if entry is not None and entry.key is not None:
        pinned = Verifier.from_vkey(entry.key)
    elif policy is not None:
        by_url = [lg.verifier for lg in policy.logs if lg.url and http.base_url(lg.url) == base]
        pinned = by_url[0] if len(by_url) == 1 else None
    log = RemoteLog(url, token=tok, verifier=pinned)
    if policy is not None:
        trusted = policy.log_verifiers(log.origin)
        if trusted and log.verifier not in trusted:
            log.close()
            raise SignatureError(
                f"the log server {base} presents the key {log.verifier.vkey()} for the log {log.origin!r}, but your "
                f"trust policy {policy_path} trusts other keys for that log: refusing to log evidence there",
                hint="Confirm the log's key with its operator through a separate channel.",
            )
    return log
