"""The one call: capture a URL, seal it into the log, write a proof bundle.

    import evidence
    bundle = evidence.capture("https://shop.example/item/1", case="2026-017", operator="J. Smith")
    print(bundle.path, bundle.log_index)

    with evidence.Session(case="2026-017") as s:      # a batch: one browser for every page
        bundles = [s.capture(u, out_dir="bundles") for u in urls]

The default log is the embedded one in the evidence home (``$EVIDENCE_HOME``, else the
platform data directory): ``log/`` with its keys in ``keys/``, created on first use, with
its verification keys in ``log/verification-keys.txt``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.bundle import Bundle, remove_stale, seal
from evidence.capture import CaptureOptions, Capturer
from evidence.capture.budget import ProgressCallback
from evidence.capture.steps import Walk
from evidence.config import (
    TSAConfig,
    check_origin,
    chosen_origin,
    evidence_home,
    home_keys_dir,
    load_config,
    select_tsas,
)
from evidence.errors import UsageError
from evidence.log import Log

if TYPE_CHECKING:
    from evidence.log.attempts import Attempt
    from evidence.log.remote import SealableLog

LogLike = Log | str | os.PathLike[str] | None


def default_log(home: Path | None = None, *, tsas: Sequence[TSAConfig] = (), origin: str | None = None) -> Log:
    """The embedded default log in the evidence home, created with its keys on first use.

    Its name is chosen once, at creation: ``origin``, else ``$EVIDENCE_ORIGIN``, else
    ``origin`` in config.toml, else ``evidence-log.localhost/<random>``
    (:func:`evidence.config.chosen_origin`). Asking for another name for an existing log
    is a :class:`UsageError` (a log's name never changes).
    """
    from evidence.log.writer import META_FILE
    from evidence.timestamp import timestamper

    h = home or evidence_home()
    hook = timestamper(tsas) if tsas else None
    path = h / "log"
    if (path / META_FILE).exists():
        log = Log.open(path, keys_dir=home_keys_dir(h), after_checkpoint=hook)
        _same_origin(log, origin)
        return log
    name = chosen_origin(origin, config=load_config(h))
    return Log.open_or_create(path, name, keys_dir=home_keys_dir(h), after_checkpoint=hook)


def _same_origin(log: SealableLog, origin: str | None) -> None:
    if origin is not None and check_origin(origin, "--origin") != log.origin:
        raise UsageError(
            f"the log {getattr(log, 'path', '')} is already named {log.origin!r}; a log's name is chosen once, "
            f"when it is created, so it cannot become {origin!r}",
            hint="Drop --origin, or start a new log under another EVIDENCE_HOME (or `evidence log init DIR "
            "--origin NAME`, then --log DIR).",
        )


def resolve_log(log: LogLike, *, tsas: Sequence[TSAConfig] = (), origin: str | None = None) -> SealableLog:
    """A Log object from what a caller passed: a Log, a directory, an http(s) URL of a log
    server (``evidence log serve``; token from ``$EVIDENCE_LOG_TOKEN`` or config.toml), or
    None (the default). ``origin`` names the default log when it is created; for any
    other log it must be the log's name."""
    from evidence.timestamp import timestamper

    if isinstance(log, Log):
        _same_origin(log, origin)
        return log
    if log is None:
        return default_log(tsas=tsas, origin=origin)
    text = os.fspath(log)
    if text.startswith(("http://", "https://")):
        from evidence.log.remote import open_remote_log

        # The server time-stamps its checkpoints; ``tsas`` are used only if it returned none.
        remote = open_remote_log(text)
        _same_origin(remote, origin)
        return remote
    hook = timestamper(tsas) if tsas else None
    opened = Log.open(text, after_checkpoint=hook)
    _same_origin(opened, origin)
    return opened


def resolve_tsas(tsa: str | Sequence[str] | None) -> tuple[TSAConfig, ...]:
    """TSAs from the configuration, narrowed or extended by names/URLs the caller gave."""
    requested = [tsa] if isinstance(tsa, str) else list(tsa or [])
    return select_tsas(load_config().tsas, requested)


_CAPTURE_FIELDS = set(CaptureOptions.__dataclass_fields__)


def _check_options(options: dict[str, Any]) -> None:
    unknown = set(options) - _CAPTURE_FIELDS
    if unknown:
        raise UsageError(
            f"unknown capture option(s): {', '.join(sorted(unknown))}",
            hint=f"Capture options are the fields of CaptureOptions: {', '.join(sorted(_CAPTURE_FIELDS))}.",
        )


def check_options(options: dict[str, Any]) -> CaptureOptions:
    """The :class:`CaptureOptions` of these keyword options, or a UsageError naming the unknown ones."""
    _check_options(options)
    return CaptureOptions(**options)


def open_session_log(
    *, log: LogLike = None, tsa: str | Sequence[str] | None = None, origin: str | None = None
) -> tuple[SealableLog, tuple[TSAConfig, ...]]:
    """The log and the TSAs of a batch, as :func:`session` resolves them; a log that cannot
    take entries is refused now, before the first capture."""
    tsas = resolve_tsas(tsa)
    the_log = resolve_log(log, tsas=tsas, origin=origin)
    _check_writable(the_log)
    return the_log, tsas


@contextmanager
def session(
    *,
    log: LogLike = None,
    tsa: str | Sequence[str] | None = None,
    executable: str | None = None,
    origin: str | None = None,
    **options: Any,
) -> Iterator[tuple[Capturer, SealableLog, tuple[TSAConfig, ...]]]:
    """One browser and one log for many captures (what ``preserve`` uses for batches).

    The lower-level form of :class:`Session`: yields the running
    :class:`~evidence.capture.Capturer`, the log and the TSAs, for :func:`capture_with`.
    """
    _check_options(options)
    the_log, tsas = open_session_log(log=log, tsa=tsa, origin=origin)
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
    then with ``"sealing into the log"``.

    The attempt is put on the record whatever its outcome (:func:`evidence.log.attempts.attempt`):
    sealed, failed (the error's kind) or abandoned (interrupted)."""
    from evidence.log.attempts import attempt

    opts = options or capturer.options
    with attempt(the_log, url=url, case=opts.case, operator=opts.operator) as a:
        return _capture_and_seal(capturer, the_log, url, a, out_dir, tsas, name, options, progress)


def _capture_and_seal(
    capturer: Capturer,
    the_log: SealableLog,
    url: str,
    a: Attempt,
    out_dir: str | os.PathLike[str],
    tsas: Sequence[TSAConfig],
    name: str | None,
    options: CaptureOptions | None,
    progress: ProgressCallback | None,
) -> Bundle:
    out = Path(out_dir)
    with _capture_folder(out) as cap_dir:
        capturer.capture(url, cap_dir, options, progress=progress, tsas=tsas)
        if progress is not None:
            progress("sealing into the log")
        return seal(cap_dir, the_log, out, name=name, tsas=tsas, attempt=a)


@contextmanager
def _capture_folder(out: Path) -> Iterator[Path]:
    """A capture folder (not yet made) in a hidden temporary folder inside ``out``, for one
    capture to write and :func:`seal` to read; gone afterwards. A failed (or interrupted)
    capture leaves nothing: not even the folders made for it."""
    created = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create the output folder {out}: {e.strerror}") from e
    try:
        remove_stale(out)
        with tempfile.TemporaryDirectory(prefix=f".evidence-capture-{os.getpid()}-", dir=out) as tmp:
            yield Path(tmp) / "capture"
    except BaseException:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (another capture's bundle, or a file someone put there)
        raise


def walk_with(
    capturer: Capturer,
    the_log: SealableLog,
    start: str,
    steps: Sequence[Mapping[str, Any]] | Walk,
    *,
    out_dir: str | os.PathLike[str] = ".",
    tsas: Sequence[TSAConfig] = (),
    name: str | None = None,
    options: CaptureOptions | None = None,
    video: bool = True,
    mp4: bool = True,
    progress: ProgressCallback | None = None,
) -> Bundle:
    """Walk ``start`` and ``steps`` (see :mod:`evidence.capture.steps`) with a running browser
    and seal the whole session into ``the_log`` as one bundle, like :func:`capture_with`.

    A step that fails raises :class:`~evidence.capture.errors.WalkStepError` naming it, and
    nothing is written; bad steps raise :class:`~evidence.capture.errors.InvalidWalkError`
    before the browser is used.
    """
    from evidence.capture.steps import parse_walk
    from evidence.capture.walk import run_walk
    from evidence.log.attempts import attempt

    walk = steps if isinstance(steps, Walk) else parse_walk(start, steps)
    out = Path(out_dir)
    opts = options or capturer.options
    # On the record whatever its outcome, like every capture (a failed step included).
    with (
        attempt(the_log, url=walk.start, walk=walk.definition(), case=opts.case, operator=opts.operator) as a,
        _capture_folder(out) as cap_dir,
    ):
        run_walk(capturer, walk, cap_dir, options, video=video, mp4=mp4, progress=progress, tsas=tsas)
        if progress is not None:
            progress("sealing into the log")
        return seal(cap_dir, the_log, out, name=name, tsas=tsas, attempt=a)


def _check_writable(the_log: object) -> None:
    """A log that cannot take entries (a log server refusing the token) is found now, before
    the first capture, not after every page of a batch has been captured in vain."""
    check_writable = getattr(the_log, "check_writable", None)
    if callable(check_writable):
        check_writable()


def close_log(the_log: object) -> None:
    """Close a log object that has a ``close`` (a log server's client), ignoring errors."""
    close = getattr(the_log, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class Session:
    """Many captures with one browser and one log: the way to preserve a batch from Python.

        import evidence
        with evidence.Session(case="2026-017", operator="J. Smith") as s:
            for url in urls:
                bundle = s.capture(url, out_dir="bundles")

    ``log``, ``tsa``, ``executable`` and ``origin`` are as for :func:`capture`; ``options``
    (:class:`~evidence.capture.CaptureOptions` fields) are the defaults of every capture,
    and :meth:`capture` may override some of them for one page. The browser starts with
    the first capture and stops on :meth:`close` (the end of the ``with`` block). Not
    thread-safe: use one Session per thread.
    """

    def __init__(
        self,
        *,
        log: LogLike = None,
        tsa: str | Sequence[str] | None = None,
        executable: str | None = None,
        origin: str | None = None,
        **options: Any,
    ) -> None:
        _check_options(options)
        self.options = CaptureOptions(**options)
        self.tsas = resolve_tsas(tsa)
        self.log: SealableLog = resolve_log(log, tsas=self.tsas, origin=origin)
        _check_writable(self.log)
        self._own_log = not isinstance(log, Log)
        self._capturer = Capturer(self.options, executable=executable)

    def capture(
        self, url: str, *, out_dir: str | os.PathLike[str] = ".", name: str | None = None, **options: Any
    ) -> Bundle:
        """Capture ``url`` with this session's browser, seal it, write its bundle in ``out_dir``."""
        _check_options(options)
        opts = replace(self.options, **options) if options else None
        return capture_with(self._capturer, self.log, url, out_dir=out_dir, tsas=self.tsas, name=name, options=opts)

    def close(self) -> None:
        """Stop the browser (and close the log if this session opened it). Safe to call twice."""
        self._capturer.close()
        if self._own_log:
            close_log(self.log)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ``evidence.capture()`` keeps one browser per thread (and browser program) across calls, started
# on the first call and stopped when the interpreter exits: a browser start costs seconds.
_shared = threading.local()
_all_shared: list[Capturer] = []
_shared_lock = threading.Lock()


def _shared_capturer(executable: str | None) -> Capturer:
    capturers: dict[str | None, Capturer] | None = getattr(_shared, "capturers", None)
    if capturers is None:
        capturers = _shared.capturers = {}
    found = capturers.get(executable)
    if found is None:
        found = capturers[executable] = Capturer(executable=executable)
        with _shared_lock:
            if not _all_shared:
                atexit.register(close_shared_browsers)
            _all_shared.append(found)
    return found


def close_shared_browsers() -> None:
    """Stop the browsers :func:`capture` keeps between calls (also done at interpreter exit)."""
    with _shared_lock:
        capturers, _all_shared[:] = list(_all_shared), []
    for c in capturers:
        with contextlib.suppress(Exception):
            c.close()
    if getattr(_shared, "capturers", None):
        _shared.capturers = {}


def capture(
    url: str,
    *,
    out_dir: str | os.PathLike[str] = ".",
    log: LogLike = None,
    tsa: str | Sequence[str] | None = None,
    name: str | None = None,
    executable: str | None = None,
    origin: str | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Bundle:
    """Capture ``url``, seal it into the log and write a proof bundle; return the Bundle.

    ``options`` are :class:`~evidence.capture.CaptureOptions` fields (``case``,
    ``operator``, ``viewport_width``, ``timeout_s``, ``insecure``, ...). ``log`` is a
    :class:`~evidence.log.Log`, a log directory, a log server URL, or None for the embedded
    default log (named ``origin`` when this call creates it; see
    :func:`evidence.config.chosen_origin`). ``tsa`` names configured time-stamping
    authorities or gives their URLs (default: all configured in ``config.toml``).

    The browser is started on the first call and kept for the next ones (in the same
    thread), so a loop of ``capture()`` calls costs one browser start; it stops when the
    program exits, or on :func:`close_shared_browsers`. :class:`Session` does the same with
    an explicit lifetime.
    ``budget_s`` bounds the whole capture (default 120 s); ``pdf=False`` / ``mhtml=False``
    leave those files out (recorded as turned off). ``progress`` is called with a short label
    (``"PDF"``, ...) as each step starts.

    Raises :class:`~evidence.errors.CaptureError` (nothing written anywhere) when the page
    cannot be captured.
    """
    _check_options(options)
    tsas = resolve_tsas(tsa)
    the_log = resolve_log(log, tsas=tsas, origin=origin)
    try:
        return capture_with(
            _shared_capturer(executable),
            the_log,
            url,
            out_dir=out_dir,
            tsas=tsas,
            name=name,
            options=CaptureOptions(**options),
            progress=progress,
        )
    finally:
        if not isinstance(log, Log):
            close_log(the_log)
            close_log(the_log)


def walk(
    start: str,
    steps: Sequence[Mapping[str, Any]],
    *,
    out_dir: str | os.PathLike[str] = ".",
    log: LogLike = None,
    tsa: str | Sequence[str] | None = None,
    name: str | None = None,
    executable: str | None = None,
    origin: str | None = None,
    video: bool = True,
    mp4: bool = True,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Bundle:
    """Walk from ``start`` through ``steps``, recorded on video, and seal it all as one bundle.

        bundle = evidence.walk("https://shop.example/", [
            {"fill": "#q", "text": "handbag"}, {"press": "Enter"},
            {"click": "a.result"}, {"click": "#variant-red"},
            {"snapshot": "listing"}, {"click": "#seller"},
        ], case="2026-017", operator="J. Smith")

    Steps are mappings with one action each (``goto``, ``click``, ``fill`` with ``text``
    and optional ``secret``, ``press``, ``select`` with ``value``, ``scroll``, ``wait``,
    ``snapshot``; see :mod:`evidence.capture.steps`). Each step waits at most ``timeout_s``.
    The bundle holds ``evidence/steps.json`` (every step with its times and offsets into the
    video), a screenshot after every step, each snapshot's artifacts, one WARC of the whole
    session and the screen recording ``session.webm`` (and ``session.mp4`` when ffmpeg is
    present). ``log``, ``tsa``, ``executable``, ``origin`` and ``options`` are as for
    :func:`capture` (the browser is the one :func:`capture` keeps).

    Raises :class:`~evidence.capture.errors.InvalidWalkError` for a bad step and
    :class:`~evidence.capture.errors.WalkStepError` (naming the step) when one fails; nothing
    is written then.
    """
    from evidence.capture.steps import parse_walk

    _check_options(options)
    the_walk = parse_walk(start, steps)  # refuse bad steps before the log or the browser is touched
    tsas = resolve_tsas(tsa)
    the_log = resolve_log(log, tsas=tsas, origin=origin)
    try:
        return walk_with(
            _shared_capturer(executable),
            the_log,
            the_walk.start,
            the_walk,
            out_dir=out_dir,
            tsas=tsas,
            name=name,
            options=CaptureOptions(**options),
            video=video,
            mp4=mp4,
            progress=progress,
        )
    finally:
        if not isinstance(log, Log):
            close_log(the_log)
