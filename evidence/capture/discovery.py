"""Finding a Chromium or Chrome program to capture with.

Order: the ``EVIDENCE_CHROMIUM`` environment variable; Chromium/Chrome names on ``PATH``;
well-known install locations (Linux, macOS, Windows); the browser Playwright downloads
with ``playwright install chromium``. Debian's ``/usr/bin/chromium`` is a shell wrapper
that adds its own flags; the real program beside it (``/usr/lib/chromium/chromium``) is
used instead so the flags in force are exactly the ones recorded.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evidence.capture.errors import BrowserNotFoundError

__all__ = ["ENV_VAR", "BrowserExecutable", "find_chromium"]

ENV_VAR = "EVIDENCE_CHROMIUM"

_PATH_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "chrome.exe",
)

#: Wrapper scripts whose real program is known.
_WRAPPERS = {"/usr/bin/chromium": "/usr/lib/chromium/chromium"}

INSTALL_HINT = (
    "Install one, then try again:\n"
    "  Debian or Ubuntu: sudo apt-get install chromium\n"
    "  Fedora: sudo dnf install chromium\n"
    "  macOS or Windows: install Google Chrome (https://www.google.com/chrome/)\n"
    "  any system: python -m playwright install chromium\n"
    f"Or set {ENV_VAR} to the full path of a Chromium or Chrome program."
)


@dataclass(frozen=True)
class BrowserExecutable:
    """A browser program and how it was found (recorded in ``environment.json``)."""

    path: Path
    source: str


def well_known_paths(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> list[Path]:
    """Usual install locations of Chromium and Chrome on ``platform`` (``sys.platform``)."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    if platform.startswith("win"):
        bases = [env.get(k) for k in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")]
        return [
            Path(base) / sub / "Application" / "chrome.exe"
            for base in bases
            if base
            for sub in ("Google/Chrome", "Chromium")
        ]
    if platform == "darwin":
        apps = [Path("/Applications"), Path.home() / "Applications"]
        return [
            app / bundle
            for app in apps
            for bundle in (
                "Google Chrome.app/Contents/MacOS/Google Chrome",
                "Chromium.app/Contents/MacOS/Chromium",
            )
        ]
    return [
        Path(p)
        for p in (
            "/usr/lib/chromium/chromium",
            "/usr/bin/chromium",
            "/usr/lib/chromium-browser/chromium-browser",
            "/usr/bin/chromium-browser",
            "/snap/bin/chromium",
            "/usr/bin/google-chrome",
            "/usr/bin/google-chrome-stable",
            "/opt/google/chrome/chrome",
        )
    ]


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _unwrap(path: Path) -> tuple[Path, str]:
    real = _WRAPPERS.get(str(path.resolve()))
    if real and _usable(Path(real)):
        return Path(real), f" (the wrapper script {path} bypassed)"
    return path, ""


def find_chromium(
    *,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    candidates: Sequence[Path] | None = None,
    playwright_executable: str | None = None,
) -> BrowserExecutable:
    """Find a Chromium/Chrome program or raise :class:`BrowserNotFoundError` saying how to
    install one. The keyword arguments exist for tests and embedding; by default the real
    environment, ``PATH`` and install locations are searched."""
    env = os.environ if environ is None else environ
    override = env.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
        if not _usable(path):
            raise BrowserNotFoundError(
                f"{ENV_VAR} is set to {override!r}, but there is no browser program there.",
                hint=f"Set {ENV_VAR} to the full path of a Chromium or Chrome program, or "
                "unset it to let evidence look for one.",
            )
        return BrowserExecutable(path, ENV_VAR)
    for name in _PATH_NAMES:
        found = which(name)
        if found and _usable(Path(found)):
            path, note = _unwrap(Path(found))
            return BrowserExecutable(path, f"PATH ({name}){note}")
    for path in candidates if candidates is not None else well_known_paths(environ=env):
        if _usable(path):
            path, note = _unwrap(path)
            return BrowserExecutable(path, f"well-known location{note}")
    if playwright_executable and _usable(Path(playwright_executable)):
        return BrowserExecutable(Path(playwright_executable), "Playwright's own browser")
    raise BrowserNotFoundError(
        "No Chromium or Google Chrome browser was found on this computer, so the page cannot be captured.",
        hint=INSTALL_HINT,
    )
