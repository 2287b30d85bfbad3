"""The bearer tokens that may add entries to a served log (a file, re-read when it changes; constant-time checks)."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from pathlib import Path

from evidence.errors import UsageError

__all__ = [
    "MAX_AUTH_HEADER",
    "MIN_TOKEN_CHARS",
    "TokenSet",
]

logger = logging.getLogger("evidence.server")

MIN_TOKEN_CHARS = 16
MAX_AUTH_HEADER = 4096


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
