"""Fonts: which are installed, and whether they can draw the page's text.

A browser draws a character no installed font has as an empty box ("tofu"); the
screenshots and the PDF of a listing written in Chinese are then boxes, while the DOM
holds the text, and nothing in the page itself shows it. Chromium on Linux finds its
fonts through fontconfig, so fontconfig's own view is the one to ask: ``fc-list`` gives
every font file with its family and the characters it covers (its charset), in one call
(about 50 ms for 70 fonts). The capture runs it with the same environment the browser
process gets (``FONTCONFIG_FILE`` and the like included), records the families in
``environment.json`` and checks every distinct character of the page's visible text
against the union of the charsets; characters no font covers are reported by script.
Where fontconfig is not available (Windows, macOS without it) the check says so.
"""

from __future__ import annotations

import bisect
import os
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["InstalledFonts", "installed_fonts", "uncovered_text", "uncovered_warning"]

#: The longest ``fc-list`` may take, and the most output read from it.
_FC_TIMEOUT_S = 5.0
_FC_MAX_BYTES = 32 * 1024 * 1024
#: The most distinct characters of the page text checked (the text is cut before).
MAX_TEXT_CHARS = 200_000
_SAMPLE = 12
_ENV_VARS = ("FONTCONFIG_FILE", "FONTCONFIG_PATH", "FONTCONFIG_SYSROOT")


@dataclass(frozen=True)
class InstalledFonts:
    """The fonts fontconfig lists, and the characters they cover together."""

    available: bool
    method: str
    families: tuple[str, ...]
    font_files: int
    ranges: tuple[tuple[int, int], ...]
    environment: tuple[tuple[str, str], ...]
    error: str | None = None

    def covers(self, codepoint: int) -> bool:
        i = bisect.bisect_right(self.ranges, (codepoint, 0x110000)) - 1
        return i >= 0 and self.ranges[i][0] <= codepoint <= self.ranges[i][1]

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "available": self.available,
            "families": list(self.families),
            "family_count": len(self.families),
            "font_files": self.font_files,
            "characters_covered": sum(b - a + 1 for a, b in self.ranges),
            "fontconfig_environment": dict(self.environment),
            "error": self.error,
        }


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    ranges.sort()
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def installed_fonts(env: dict[str, str] | None = None) -> InstalledFonts:
    """Ask fontconfig (``fc-list``, bounded in time and output) for every font: family and
    charset. ``env`` is the environment the browser runs with (default: this process's)."""
    environ = dict(os.environ if env is None else env)
    seen_env = tuple((k, environ[k]) for k in _ENV_VARS if k in environ)
    method = "fc-list --format '%{family[0]}\\t%{charset}\\n' (fontconfig, as Chromium on Linux uses)"
    program = shutil.which("fc-list", path=environ.get("PATH"))
    if program is None:
        return InstalledFonts(False, "fc-list not found: fonts not checked", (), 0, (), seen_env)
    try:
        out, why = _bounded_output([program, "--format", "%{family[0]}\t%{charset}\n"], environ)
    except OSError as err:
        return InstalledFonts(False, method, (), 0, (), seen_env, f"fc-list could not run ({err})")
    if why is not None:
        return InstalledFonts(False, method, (), 0, (), seen_env, why)
    families: set[str] = set()
    ranges: list[tuple[int, int]] = []
    files = 0
    for line in out.decode("utf-8", errors="replace").splitlines():
        family, _, charset = line.partition("\t")
        if not family:
            continue
        files += 1
        families.add(family.strip())
        for part in charset.split():
            lo, _, hi = part.partition("-")
            try:
                a = int(lo, 16)
                b = int(hi, 16) if hi else a
            except ValueError:
                continue
            ranges.append((a, b))
    return InstalledFonts(True, method, tuple(sorted(families)), files, _merge(ranges), seen_env)


def _bounded_output(argv: list[str], env: dict[str, str]) -> tuple[bytes, str | None]:
    """A command's standard output, read within ``_FC_TIMEOUT_S`` and ``_FC_MAX_BYTES``;
    the reason when it could not be (too slow, too much, failed)."""
    import selectors
    import time

    deadline = time.monotonic() + _FC_TIMEOUT_S
    chunks: list[bytes] = []
    size = 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as proc:
        assert proc.stdout is not None
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return b"", f"fc-list took longer than {_FC_TIMEOUT_S:g} s"
                    if not sel.select(left):
                        continue
                    chunk = os.read(proc.stdout.fileno(), 1 << 16)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > _FC_MAX_BYTES:
                        return b"", f"fc-list wrote more than {_FC_MAX_BYTES:,} bytes"
                    chunks.append(chunk)
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return b"", f"fc-list took longer than {_FC_TIMEOUT_S:g} s"
        finally:
            if proc.poll() is None:
                proc.kill()
    if code != 0:
        return b"", f"fc-list exited with {code}"
    return b"".join(chunks), None


def _script(ch: str) -> str:
    """A reader's name for the writing system of a character."""
    name = unicodedata.name(ch, "")
    category = unicodedata.category(ch)
    if name.startswith(("CJK", "IDEOGRAPHIC", "KANGXI")):
        return "Chinese characters (Han)"
    for prefix, label in (
        ("HIRAGANA", "Japanese Hiragana"),
        ("KATAKANA", "Japanese Katakana"),
        ("HALFWIDTH KATAKANA", "Japanese Katakana"),
        ("HANGUL", "Korean Hangul"),
        ("FULLWIDTH", "full-width forms"),
    ):
        if name.startswith(prefix):
            return label
    if category.startswith("S"):
        return "symbols and emoji"
    return name.split(" ", 1)[0].title() if name else "unnamed characters"


def uncovered_text(text: str, fonts: InstalledFonts) -> dict[str, Any]:
    """Which characters of ``text`` no installed font covers, by script (a few of each)."""
    if not fonts.available:
        return {"checked": False, "why_not": fonts.error or fonts.method}
    chars = {
        ch
        for ch in text[:MAX_TEXT_CHARS]
        if ord(ch) > 0x7E and not ch.isspace() and unicodedata.category(ch)[0] not in "CZM"
    }
    missing = sorted(ch for ch in chars if not fonts.covers(ord(ch)))
    by_script: dict[str, list[str]] = {}
    for ch in missing:
        by_script.setdefault(_script(ch), []).append(ch)
    return {
        "checked": True,
        "method": "each distinct character of the page's visible text (document title and "
        "body innerText) against the charsets fontconfig lists",
        "text_characters": min(len(text), MAX_TEXT_CHARS),
        "distinct_non_ascii_characters": len(chars),
        "uncovered_count": len(missing),
        "uncovered_by_script": {
            script: {"count": len(found), "sample": "".join(found[:_SAMPLE])}
            for script, found in sorted(by_script.items(), key=lambda kv: -len(kv[1]))
        },
    }


def uncovered_warning(report: dict[str, Any]) -> str | None:
    """The warning for text no installed font can draw (``None`` when there is none)."""
    scripts = report.get("uncovered_by_script") or {}
    if not scripts:
        return None
    parts = [f"{name}: {v['count']} character(s), e.g. {v['sample']}" for name, v in scripts.items()]
    return (
        "TEXT NO INSTALLED FONT CAN DRAW: the page's text uses characters for which this "
        f"computer has no font ({'; '.join(parts)}), so the screenshots and the PDF show them as "
        "empty boxes; the DOM, MHTML and WARC hold the text itself. Install fonts for them "
        "(Debian/Ubuntu: apt-get install fonts-noto-cjk for Chinese, Japanese and Korean) and "
        "capture again."
    )
