"""Why a capture failed, in words a lawyer can act on.

Every class here is a :class:`evidence.errors.CaptureError`: the page was not captured and
nothing was written to the output folder. The message says what happened; the hint (shown
by :meth:`~evidence.errors.EvidenceError.diagnostics`) says what to do about it.
"""

from __future__ import annotations

from evidence.errors import CaptureError

__all__ = [
    "BodyTooLargeError",
    "BrowserError",
    "BrowserNotFoundError",
    "CaptureError",
    "CaptureTimeoutError",
    "ConnectionFailedError",
    "HostNotFoundError",
    "InvalidOptionError",
    "InvalidURLError",
    "InvalidWalkError",
    "OutputDirError",
    "RedirectLoopError",
    "StorageStateError",
    "TLSFailedError",
    "WalkStepError",
    "seconds",
]


def seconds(value: float) -> str:
    """'1 second', '2.5 seconds': durations in messages."""
    return f"{value:g} second" + ("" if value == 1 else "s")


class InvalidURLError(CaptureError):
    """The address is malformed or is not an http:// or https:// web address."""


class InvalidOptionError(CaptureError):
    """A capture option has a value that cannot be used (for example a zero timeout)."""


class OutputDirError(CaptureError):
    """The output folder cannot be used (it already holds files, or cannot be written)."""


class StorageStateError(CaptureError):
    """The cookies / storage-state file cannot be read."""


class HostNotFoundError(CaptureError):
    """The site's name could not be looked up (DNS failure)."""


class ConnectionFailedError(CaptureError):
    """The server could not be reached (refused, reset, unreachable)."""


class TLSFailedError(CaptureError):
    """The secure (HTTPS) connection failed, usually because the certificate is not valid."""


class CaptureTimeoutError(CaptureError):
    """The site, or an element waited for, did not answer in time."""


class RedirectLoopError(CaptureError):
    """The site redirects in a loop (or through too many addresses)."""


class BodyTooLargeError(CaptureError):
    """A response is larger than the configured maximum size."""


class BrowserNotFoundError(CaptureError):
    """No Chromium or Chrome program was found to render the page."""


class BrowserError(CaptureError):
    """The browser failed to start or stopped working during the capture."""


class InvalidWalkError(CaptureError):
    """A walk's description (its start address or one of its steps) cannot be used; nothing
    was captured."""


class WalkStepError(CaptureError):
    """A step of a walk failed (its element was not found, its page did not load, it took
    too long): the walk ended there and nothing was written.

    ``step`` is the step's number (from 1, as in the walk file) and ``action`` its action.
    """

    def __init__(self, message: str, *, step: int, action: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.action = action
