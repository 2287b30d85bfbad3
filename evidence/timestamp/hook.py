"""The log's hook that time-stamps checkpoints (:func:`stamp_checkpoint`, :class:`Timestamper`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from evidence.config import TSAConfig

if TYPE_CHECKING:
    # Imported where a token is requested: verifying one needs no HTTP client.
    import requests
from evidence.timestamp.client import request_timestamp
from evidence.timestamp.token import MissingTimestampWarning, TimestampRequestError, TimestampToken


class TimestampedLog(Protocol):
    """What this module needs from a log (``evidence.log.Log`` provides it)."""

    def checkpoint_note(self, size: int | None = None) -> bytes:
        """The exact signed checkpoint note the log signed at ``size`` (None: latest)."""
        ...

    def add_timestamp(self, size: int, token_der: bytes) -> None:
        """Store one TimeStampResp beside the checkpoint of ``size``."""
        ...

    def timestamps(self, size: int) -> list[bytes]:
        """The TimeStampResps stored for the checkpoint of ``size``."""
        ...


@dataclass(frozen=True)
class StampOutcome:
    """What one TSA gave for one checkpoint: a ``token``, or the ``error`` why not."""

    tsa: str
    url: str
    token: TimestampToken | None
    error: str | None
    verified_on_receipt: bool = False

    @property
    def ok(self) -> bool:
        """Whether a token was obtained and stored."""
        return self.token is not None


@dataclass(frozen=True)
class StampReport:
    """The outcome of asking every configured TSA for a token over one checkpoint."""

    size: int
    outcomes: tuple[StampOutcome, ...]

    @property
    def tokens(self) -> tuple[TimestampToken, ...]:
        """The tokens obtained (and stored)."""
        return tuple(o.token for o in self.outcomes if o.token is not None)

    @property
    def failures(self) -> tuple[StampOutcome, ...]:
        """The TSAs that gave no token, with the reason."""
        return tuple(o for o in self.outcomes if o.token is None)


def stamp_checkpoint(
    log: TimestampedLog,
    size: int,
    tsas: Sequence[TSAConfig],
    *,
    session: requests.Session | None = None,
) -> StampReport:
    """Request a token over the checkpoint of ``size`` from each TSA and store each one.

    Never raises because a TSA failed: each failure becomes a
    :class:`MissingTimestampWarning` naming the TSA and an entry in the report's
    ``failures``. Errors of the log itself (reading the note, storing a token) propagate.
    """
    note = log.checkpoint_note(size)
    outcomes = []
    for tsa in tsas:
        try:
            token = request_timestamp(note, tsa, session=session)
        except TimestampRequestError as e:
            reason = e.diagnostics()
            warnings.warn(
                MissingTimestampWarning(
                    f"checkpoint {size} got no time-stamp from TSA {tsa.name}: {reason}\n"
                    "The checkpoint is kept; it lacks this independent time-stamp until "
                    "'evidence timestamp add --missing' obtains one for the log, and 'evidence refresh "
                    "BUNDLE' then brings it into a bundle sealed under this checkpoint."
                ),
                stacklevel=2,
            )
            outcomes.append(StampOutcome(tsa.name, tsa.url, None, reason))
            continue
        log.add_timestamp(size, token.der)
        outcomes.append(StampOutcome(tsa.name, tsa.url, token, None, tsa.pinned))
    return StampReport(size=size, outcomes=tuple(outcomes))


class Timestamper:
    """The log's ``after_checkpoint`` hook: stamps each new checkpoint with every TSA.

    Call it as ``hook(log, size)``. It never raises for a failing TSA (see
    :func:`stamp_checkpoint`); its ``reports`` keep what happened, newest last.
    """

    def __init__(self, tsas: Sequence[TSAConfig], *, session: requests.Session | None = None) -> None:
        self.tsas = tuple(tsas)
        self.session = session
        self.reports: list[StampReport] = []

    def __call__(self, log: TimestampedLog, size: int) -> None:
        if not self.tsas:
            return
        report = stamp_checkpoint(log, size, self.tsas, session=self.session)
        self.reports.append(report)


def timestamper(tsas: Sequence[TSAConfig], *, session: requests.Session | None = None) -> Timestamper:
    """A hook for ``Log(..., after_checkpoint=...)`` that stamps every new checkpoint."""
    return Timestamper(tsas, session=session)
