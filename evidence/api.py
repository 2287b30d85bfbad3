"""The one call: capture a URL, seal it into the log, write a proof bundle.

    import evidence
    bundle = evidence.capture("https://shop.example/item/1", case="2026-017", operator="J. Smith")
    print(bundle.path, bundle.log_index)

The default log is the embedded one in the evidence home (``$EVIDENCE_HOME``, else the
platform data directory): ``log/`` with its keys in ``keys/``, created on first use.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.bundle import Bundle, remove_stale, seal
from evidence.capture import CaptureOptions, Capturer
from evidence.capture.budget import ProgressCallback
from evidence.config import TSAConfig, evidence_home, load_config, select_tsas
from evidence.errors import UsageError
from evidence.log import Log

if TYPE_CHECKING:
    from evidence.log.remote import SealableLog

LogLike = Log | str | os.PathLike[str] | None


def default_origin() -> str:
    """A fresh, unique origin for a new embedded log."""
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-.") or "localhost"
    return f"evidence.invalid/{host}/{secrets.token_hex(4)}"


def default_log(home: Path | None = None, *, tsas: Sequence[TSAConfig] = ()) -> Log:
    """The embedded default log in the evidence home, created with its keys on first use."""
    from evidence.timestamp import timestamper

    h = home or evidence_home()
    hook = timestamper(tsas) if tsas else None
    return Log.open_or_create(h / "log", default_origin(), keys_dir=h / "keys", after_checkpoint=hook)


def resolve_log(log: LogLike, *, tsas: Sequence[TSAConfig] = ()) -> SealableLog:
    """A Log object from what a caller passed: a Log, a directory, an http(s) URL of a log
    server (``evidence log serve``; token from ``$EVIDENCE_LOG_TOKEN`` or config.toml), or
    None (the default)."""
    from evidence.timestamp import timestamper

    if isinstance(log, Log):
        return log
    if log is None:
        return default_log(tsas=tsas)
    text = os.fspath(log)
    if text.startswith(("http://", "https://")):
        from evidence.log.remote import open_remote_log

        # The server time-stamps its checkpoints; ``tsas`` are used only if it returned none.
        return open_remote_log(text)
    hook = timestamper(tsas) if tsas else None
    return Log.open(text, after_checkpoint=hook)


def resolve_tsas(tsa: str | Sequence[str] | None) -> tuple[TSAConfig, ...]:
    """TSAs from the configuration, narrowed or extended by names/URLs the caller gave."""
    requested = [tsa] if isinstance(tsa, str) else list(tsa or [])
    return select_tsas(load_config().tsas, requested)


_CAPTURE_FIELDS = set(CaptureOptions.__dataclass_fields__)


@contextmanager
def session(
    *,
    log: LogLike = None,
    tsa: str | Sequence[str] | None = None,
    executable: str | None = None,
    **options: Any,
) -> Iterator[tuple[Capturer, SealableLog, tuple[TSAConfig, ...]]]:
    """One browser and one log for many captures (what ``preserve`` uses for batches)."""
    unknown = set(options) - _CAPTURE_FIELDS
    if unknown:
        raise UsageError(f"unknown capture option(s): {', '.join(sorted(unknown))}")
    tsas = resolve_tsas(tsa)
    the_log = resolve_log(log, tsas=tsas)
    with Capturer(CaptureOptions(**options), executable=executable) as capturer:
        yield capturer, the_log, tsas


def capture_with(
    capturer: Capturer,
    the_log: SealableLog,
    url: str,
    *,
    out_dir: str | os.PathLike[str] = ".",
    tsas: Sequence[TSAConfig] = (),
    name: str | None = None,
    options: CaptureOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Bundle:
    """Capture one URL with a running browser and seal it into ``the_log``. ``progress``
    is called with a short label as each step starts (see :meth:`Capturer.capture`),
    then with ``"sealing into the log"``."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the output folder {out}: {e.strerror}") from e
    remove_stale(out)
    with tempfile.TemporaryDirectory(prefix=f".evidence-capture-{os.getpid()}-", dir=out) as tmp:
        cap_dir = Path(tmp) / "capture"
        capturer.capture(url, cap_dir, options, progress=progress)
        if progress is not None:
            progress("sealing into the log")
        return seal(cap_dir, the_log, out, name=name, tsas=tsas)


def capture(
    url: str,
    *,
    out_dir: str | os.PathLike[str] = ".",
    log: LogLike = None,
    tsa: str | Sequence[str] | None = None,
    name: str | None = None,
    executable: str | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Bundle:
    """Capture ``url``, seal it into the log and write a proof bundle; return the Bundle.

    ``options`` are :class:`~evidence.capture.CaptureOptions` fields (``case``,
    ``operator``, ``viewport_width``, ``timeout_s``, ``insecure``, ...). ``log`` is a
    :class:`~evidence.log.Log`, a log directory, or None for the embedded default log.
    ``tsa`` names configured time-stamping authorities or gives their URLs (default: all
    configured in ``config.toml``). ``budget_s`` bounds the whole capture (default 120 s);
    ``pdf=False`` / ``mhtml=False`` leave those files out (recorded as turned off).
    ``progress`` is called with a short label (``"PDF"``, ...) as each step starts.

    Raises :class:`~evidence.errors.CaptureError` (nothing written anywhere) when the page
    cannot be captured.
    """
    with session(log=log, tsa=tsa, executable=executable, **options) as (capturer, the_log, tsas):
        return capture_with(capturer, the_log, url, out_dir=out_dir, tsas=tsas, name=name, progress=progress)
