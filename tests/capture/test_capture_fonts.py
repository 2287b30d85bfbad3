"""Fonts: a listing written in Chinese is drawn with real glyphs, or the capture says it
was not.

With a CJK font installed (Debian: fonts-noto-cjk, in the README's set-up and in CI),
Chromium draws the text with it (its own account, over CDP: ``CSS.getPlatformFontsForNode``)
and the capture raises no flag. With the CJK fonts hidden from fontconfig (a
``FONTCONFIG_FILE`` that lists only the DejaVu folder, in the browser's environment), the
same page is drawn with boxes, and the capture flags the Chinese and Japanese text. (CI
installs fonts-noto-cjk, so the first half runs there; without a CJK font it is skipped.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import decode_png, load_site_module

from evidence.capture import CaptureOptions, Capturer, CaptureResult
from evidence.capture.fonts import installed_fonts

pytestmark = pytest.mark.browser

pages = load_site_module().pages
#: A folder of Latin-only fonts (Chromium's Debian package pulls in one of them).
LATIN_ONLY = next(
    (p for p in (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")) if p.is_dir()),
    None,
)
SMALL = CaptureOptions(viewport_width=800, viewport_height=400)
needs_cjk = pytest.mark.skipif(
    not installed_fonts().covers(ord("名")) or LATIN_ONLY is None,
    reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk, as the README says), "
    "or no DejaVu/Liberation folder to show a machine without them",
)


def _platform_fonts(capturer: Capturer, url: str, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium used for the text of ``selector`` (CDP CSS.getPlatformFontsForNode)."""
    page = capturer._ready().browser.new_page()
    try:
        page.goto(url)
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        found: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return found
    finally:
        page.close()


def _heading_band(result: CaptureResult) -> bytes:
    width, _h, bpp, pixels = decode_png(result.artifacts["screenshot-viewport.png"].read_bytes())
    return pixels[20 * width * bpp : 90 * width * bpp]


def _latin_only_config(tmp_path: Path) -> Path:
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig><dir>{LATIN_ONLY}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>\n"
    )
    return conf


def test_environment_lists_the_font_families(listing: CaptureResult) -> None:
    fonts = listing.environment["fonts"]
    assert fonts["available"] is True and fonts["font_files"] > 0
    assert fonts["families"] == list(installed_fonts().families) and fonts["family_count"] == len(fonts["families"])
    assert fonts["characters_covered"] > 1000
    assert listing.facts["page"]["fonts"]["checked"] is True
    assert listing.facts["page"]["fonts"]["uncovered_count"] == 0


@needs_cjk
@pytest.mark.slow
def test_chinese_text_is_drawn_with_a_cjk_font_and_flagged_when_none_is_installed(
    capturer: Capturer, site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = site.url("/listing-zh")
    with_fonts = capturer.capture(url, tmp_path / "with", SMALL)
    assert with_fonts.warnings == ()
    check = with_fonts.facts["page"]["fonts"]
    assert check["checked"] is True and check["uncovered_count"] == 0
    assert check["distinct_non_ascii_characters"] >= len(set(pages.ZH_HEADING + pages.JA_LINE))
    families = json.loads(with_fonts.artifacts["environment.json"].read_text("utf-8"))["fonts"]["families"]
    assert any("CJK" in f for f in families)
    used = _platform_fonts(capturer, url, "#heading")
    assert any("CJK" in f["familyName"] and f["glyphCount"] >= len(pages.ZH_HEADING) for f in used), used

    monkeypatch.setenv("FONTCONFIG_FILE", str(_latin_only_config(tmp_path)))
    with Capturer() as hidden:
        without = hidden.capture(url, tmp_path / "without", SMALL)
        used_without = _platform_fonts(hidden, url, "#heading")
    assert used_without and not any("CJK" in f["familyName"] for f in used_without), used_without
    check = without.facts["page"]["fonts"]
    scripts = check["uncovered_by_script"]
    assert scripts["Chinese characters (Han)"]["count"] >= len(set(pages.ZH_HEADING))
    assert "Japanese Hiragana" in scripts and "Japanese Katakana" in scripts
    [warning] = [w for w in without.warnings if w.startswith("TEXT NO INSTALLED FONT CAN DRAW")]
    assert "Chinese characters (Han)" in warning and "fonts-noto-cjk" in warning
    assert without.facts["warnings"] == list(without.warnings)
    env_fonts = without.environment["fonts"]
    assert env_fonts["families"] and not any("CJK" in f for f in env_fonts["families"])
    assert env_fonts["fontconfig_environment"]["FONTCONFIG_FILE"].endswith("fonts.conf")
    # The same heading, drawn with and without the fonts, is not the same picture.
    assert _heading_band(with_fonts) != _heading_band(without)


def test_the_coverage_check_names_uncovered_characters_by_script() -> None:
    from evidence.capture.fonts import InstalledFonts, uncovered_text, uncovered_warning

    latin = InstalledFonts(True, "test", ("Latin",), 1, ((0x20, 0x17F),), ())
    report = uncovered_text("Preis: 10 € – 名牌 かな カナ 한국 café", latin)
    scripts = report["uncovered_by_script"]
    assert scripts["Chinese characters (Han)"] == {"count": 2, "sample": "名牌"}
    assert scripts["Japanese Hiragana"]["count"] == 2 and scripts["Japanese Katakana"]["count"] == 2
    assert scripts["Korean Hangul"]["count"] == 2
    assert report["uncovered_count"] == 10  # and "€", "–" (outside 20-17f): symbols, punctuation
    warning = uncovered_warning(report)
    assert warning is not None and "名牌" in warning
    covered = InstalledFonts(True, "test", ("All",), 1, ((0x20, 0x10FFFF),), ())
    assert uncovered_warning(uncovered_text("名牌 かな", covered)) is None


def test_a_hanging_fc_list_is_given_up_in_bounded_time(tmp_path: Path) -> None:
    import shutil
    import time

    fake = tmp_path / "fc-list"
    fake.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    fake.chmod(0o755)
    t0 = time.monotonic()
    fonts = installed_fonts({"PATH": str(tmp_path)})
    assert time.monotonic() - t0 < 15
    assert fonts.available is False and fonts.error is not None and "longer than" in fonts.error
