"""The screen recording of a walk: Playwright's video, and an MP4 copy made with ffmpeg.

Playwright records a browser context's screen (``new_context(record_video_dir=...)``) by
piping the page's screencast frames into an ``ffmpeg`` program of its own, looked up in its
browser folder (``ffmpeg-<revision>/ffmpeg-linux``, installed by ``playwright install
ffmpeg``). A machine that has the system's ffmpeg (Debian: ``apt-get install ffmpeg``) but
not Playwright's gets a private browser folder for this process, holding links to every
entry of Playwright's own folder and, as its ffmpeg, the system's: Playwright then records
with that one (:func:`driver_env`). Nothing outside the temporary folder is changed.

:func:`to_mp4` transcodes the WebM to H.264 MP4 (the format court players take) when an
``ffmpeg`` is on PATH. Both run real programs with a deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from evidence._internal.files import read_file_or_none

__all__ = ["MP4_NAME", "VIDEO_NAME", "driver_env", "playwright_ffmpeg", "system_ffmpeg", "to_mp4"]

VIDEO_NAME = "session.webm"
MP4_NAME = "session.mp4"

_EXECUTABLE = {"linux": "ffmpeg-linux", "darwin": "ffmpeg-mac", "win32": "ffmpeg-win64.exe"}
_lock = threading.Lock()
_private: list[Path] = []


def system_ffmpeg() -> str | None:
    """The ffmpeg program on PATH, if any."""
    return shutil.which("ffmpeg")


def _registry() -> Path:
    """Playwright's browser folder (``PLAYWRIGHT_BROWSERS_PATH``, else its per-user default)."""
    given = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if given and given != "0":
        return Path(given)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", str(Path.home()))) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ms-playwright"


def _ffmpeg_revision() -> str | None:
    """The ffmpeg revision this Playwright expects (its ``browsers.json``)."""
    try:
        import playwright
    except ImportError:  # pragma: no cover - a declared dependency of the capture extra
        return None
    raw = read_file_or_none(Path(playwright.__file__).parent / "driver" / "package" / "browsers.json", limit=1 << 20)
    try:
        listed = json.loads(raw or b"{}").get("browsers", [])
    except ValueError:
        return None
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and entry.get("name") == "ffmpeg":
            return str(entry.get("revision"))
    return None


def playwright_ffmpeg() -> Path | None:
    """Where Playwright looks for its ffmpeg (whether or not it is there)."""
    revision = _ffmpeg_revision()
    name = _EXECUTABLE.get(sys.platform, "ffmpeg-linux")
    return _registry() / f"ffmpeg-{revision}" / name if revision else None


@contextlib.contextmanager
def driver_env() -> Iterator[None]:
    """Start the Playwright driver inside this block: when Playwright's own ffmpeg is missing
    and the system has one, the driver is given a private browser folder that uses it."""
    own = playwright_ffmpeg()
    system = system_ffmpeg()
    if own is None or own.is_file() or system is None or sys.platform == "win32":
        yield
        return
    with _lock:
        if not _private:
            _private.append(_make_private(_registry(), own, Path(system)))
            atexit.register(shutil.rmtree, _private[0], True)
        folder = _private[0]
        before = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(folder)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("PLAYWRIGHT_BROWSERS_PATH", None)
            else:
                os.environ["PLAYWRIGHT_BROWSERS_PATH"] = before


def _make_private(registry: Path, own: Path, system: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="evidence-playwright-"))
    with contextlib.suppress(OSError):
        for entry in registry.iterdir():
            (folder / entry.name).symlink_to(entry)
    target = folder / own.parent.name
    if target.is_symlink():
        target.unlink()
    target.mkdir(exist_ok=True)
    (target / own.name).symlink_to(system)
    return folder


def to_mp4(webm: Path, mp4: Path, timeout_s: float) -> str | None:
    """Transcode ``webm`` to H.264 MP4 at ``mp4`` with the system's ffmpeg; None when done,
    else why not (no ffmpeg, it failed, or it took longer than ``timeout_s``)."""
    program = system_ffmpeg()
    if program is None:
        return "no ffmpeg program on PATH"
    argv = [
        program, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(webm),
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "23",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", "-an", str(mp4),
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        mp4.unlink(missing_ok=True)
        return f"ffmpeg took longer than {timeout_s:g} seconds"
    except OSError as e:
        return f"ffmpeg could not run ({e.strerror or e})"
    if done.returncode != 0 or not mp4.is_file():
        mp4.unlink(missing_ok=True)
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        return f"ffmpeg failed ({tail[0][:200]})"
    return None
