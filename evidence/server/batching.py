"""The server's batching: one writer thread (group commit) and one publisher thread (witnesses, TSAs, answers).

The class is :class:`Sequencer` (not the log's writer, :class:`evidence.log.Log`): it queues
entries, appends them in batches and settles every waiting request with its :class:`Answer`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence import merkle
from evidence._internal.timefmt import utc_text
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.config import TSAConfig
from evidence.errors import EvidenceError
from evidence.log.reader import LogReader
from evidence.log.writer import open_log_at
from evidence.note import NoteSignature
from evidence.server.config import (
    ServerConfig,
    WitnessConfig,
)

__all__ = [
    "Answer",
    "PartyStatus",
    "Sequencer",
    "Settle",
]

logger = logging.getLogger("evidence.server")


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
    return utc_text(int(t))  # whole seconds, truncated (as time.gmtime did)


def _is_conflict(err: BaseException) -> bool:
    """Whether a witness refused because our checkpoint contradicts what it saw: a fork, a
    rollback of the log, or a witness that lost its own state (409 and 422 outcomes)."""
    from evidence.witness.protocol import WitnessBadResponse, WitnessConflict, WitnessInconsistent

    if isinstance(err, WitnessConflict | WitnessInconsistent):
        return True
    return isinstance(err, WitnessBadResponse) and getattr(err, "status", None) == 409


class Sequencer:
    """Queue -> writer thread (append) -> publisher thread (witness, time-stamp, prove, answer)."""

    def __init__(self, path: Path | str, config: ServerConfig, *, keys_dir: Path | None = None) -> None:
        self.path = path
        self.config = config
        # One Log for both threads: append and add_cosignatures serialise on its lock, and
        # its readers are thread-safe; proofs for clients come from our own reader. ``path``
        # is a directory, or a postgresql:// URL of a log several servers share.
        self.log = open_log_at(path, keys_dir=keys_dir)
        self.log.recover()  # republish a checkpoint a crash left unpublished, before serving it
        self._reader = LogReader(self.log.storage)
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
            from evidence.witness.client import witness_checkpoint

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
            from evidence.witness.protocol import WitnessRefused

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
