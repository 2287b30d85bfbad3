"""``GET /lookup/<manifest-sha256>``: does this log hold a bundle's seal? (no login).

The answer (JSON, docs/bundle-format.md "Lookup by hash")::

    {"manifest_sha256": "<hex>", "origin": "<log origin>",
     "entries": [{"index": 11, "proof": "<C2SP tlog-proof text>"}]}

one item for every entry of the log that names that manifest digest (the entry bytes are
rebuilt from the digest alone, :func:`evidence.bundle.format.entry_for_digest`, and found with
the log's de-duplication index, each hit confirmed in the tiles), each with its inclusion
proof against the newest signed checkpoint (cosignatures included). At most
:data:`MAX_LOOKUP_ENTRIES` items. 404 with ``{"error": ...}`` when the log holds none; 400 for
anything but 64 hex digits; 429 (``Retry-After``) past the per-address rate
(:class:`RateLimiter`, ``lookup_per_minute`` in ``server.toml``).

The answer proves nothing by itself: the client checks every proof against the bundle's
manifest and the log key it trusts (``evidence lookup``, the verifier page).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from evidence.bundle.format import entry_for_digest
from evidence.checkpoint import SignedCheckpoint

if TYPE_CHECKING:
    from evidence.log.writer import Log

__all__ = ["MAX_LOOKUP_ENTRIES", "RateLimiter", "lookup_answer"]

#: Most entries one answer lists (one per entry format that names a manifest digest: one today).
MAX_LOOKUP_ENTRIES = 16
#: Client addresses the rate limiter remembers (the least recently seen are forgotten first).
MAX_CLIENTS = 10_000
_HEX64 = re.compile(r"\A[0-9a-fA-F]{64}\Z")


class RateLimiter:
    """A token bucket per client address: ``per_minute`` requests a minute, bursts of as many."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """0 if ``client`` may be answered now (and counts it), else the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                tokens, delay = tokens - 1, 0.0
            else:
                delay = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return delay


def _json(status: int, body: dict[str, object]) -> tuple[int, bytes]:
    return status, json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"


def lookup_answer(log: Log, digest: str) -> tuple[int, bytes]:
    """(HTTP status, JSON body) for ``GET /lookup/<digest>`` on ``log`` (blocking: call it in a thread)."""
    if not _HEX64.match(digest):
        return _json(400, {"error": "give the manifest's SHA-256 as 64 hexadecimal digits: /lookup/<sha256>"})
    digest = digest.lower()
    found = log.find([entry_for_digest(digest)])
    if not found:
        return _json(
            404,
            {"error": "this log holds no entry for that manifest SHA-256", "manifest_sha256": digest},
        )
    note = log.checkpoint_note()
    size = SignedCheckpoint.parse(note).checkpoint.size
    indices = sorted(found.values())[:MAX_LOOKUP_ENTRIES]
    entries = [{"index": i, "proof": log.prove(i, size).to_bytes().decode("utf-8")} for i in indices]
    return _json(200, {"manifest_sha256": digest, "origin": log.origin, "entries": entries})
