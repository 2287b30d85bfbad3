"""A walk's timeline as an HTML fragment: each step with its time, its offset into the screen
recording, what was done, where it led, and the screenshot taken after it.

Pure: made from the bundle's sealed ``evidence/steps.json`` only (the report and certificate
call it; the verifier regenerates the report, so the same bundle always gives the same bytes).
A bundle that is not a walk gives the empty string. On the verify path: imports only the
bundle format, the row helpers of :mod:`evidence.report.derived` and the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evidence.bundle.format import STEPS_PATH
from evidence.report.derived import MAX_SHOWN_ITEMS, bounded_html, field_at

if TYPE_CHECKING:
    from evidence.bundle.reader import BundleView

__all__ = ["timeline_html"]

_SHOT = re.compile(r"step-[0-9]{3}\.png")
_VERBS = {
    "start": "opened the start page",
    "goto": "went to",
    "navigate": "went to",
    "click": "clicked",
    "fill": "typed into",
    "press": "pressed",
    "select": "chose an option of",
    "scroll": "scrolled",
    "wait": "waited for",
    "snapshot": "recorded a snapshot",
}


def _offset(ms: Any) -> str:
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms != ms or abs(ms) > 1e12:
        return ""
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    return f"{sign}{int(ms // 60000):d}:{ms % 60000 / 1000:06.3f}"


def timeline_html(view: BundleView, image_src: Callable[[str], str] | None = None) -> str:
    """The walk's steps as an HTML section (``""`` when the bundle has no ``steps.json``).

    ``image_src(name)`` gives the ``src`` of a step screenshot (default: the file's name,
    beside ``report.html`` in ``evidence/``)."""
    if not view.has(STEPS_PATH):
        return ""
    doc = view.json(STEPS_PATH)
    steps = field_at(doc, "steps")
    if not isinstance(steps, list):
        return ""
    src = image_src or (lambda name: name)
    video = field_at(doc, "video")
    parts = [
        "<h2>The walk: how the page was reached</h2>\n",
        f"<p>From the start address {bounded_html(field_at(doc, 'start'))}, step by step, as the capture recorded "
        "it in <code>steps.json</code>. Each step's time is the capture machine's clock; its offset points into the "
        "screen recording",
    ]
    if isinstance(video, dict) and video.get("file"):
        length = _offset(video.get("duration_ms"))
        parts.append(f" <code>{bounded_html(video.get('file'))}</code> ({bounded_html(length)} long)")
        if video.get("mp4"):
            parts.append(f", also as <code>{bounded_html(video.get('mp4'))}</code>")
    else:
        parts.append(" (none was made: " + bounded_html(field_at(video, "why_not") or "not recorded") + ")")
    parts.append(
        ". Typed text marked secret is not recorded.</p>\n<table>\n<tr><th>Step</th><td><b>Time (UTC) and offset "
        "into the video</b></td><td><b>What was done</b></td><td><b>Address after it</b></td>"
        "<td><b>Screenshot after it</b></td></tr>\n"
    )
    for step in steps[:MAX_SHOWN_ITEMS]:
        if not isinstance(step, dict):
            continue
        action = step.get("action")
        what = _VERBS.get(str(action), str(action))
        target = step.get("target")
        text = step.get("text")
        done = f"{bounded_html(what)} <code>{bounded_html(target)}</code>"
        if action == "start":
            done = bounded_html(what)
        if text is not None:
            done += f": <code>{bounded_html(text)}</code>" + (" (secret, not recorded)" if step.get("secret") else "")
        snap = step.get("snapshot")
        if isinstance(snap, dict):
            done += f" (snapshot <code>{bounded_html(snap.get('name'))}</code>: screenshots, DOM, MHTML, PDF)"
        shot = step.get("screenshot")
        image = ""
        if isinstance(shot, str) and _SHOT.fullmatch(shot) and view.has(f"evidence/{shot}"):
            image = (
                f'<img class="shot" style="max-width:16rem" src="{bounded_html(src(shot))}" '
                f'alt="Screenshot after step {bounded_html(step.get("number"))}">'
            )
        parts.append(
            f"<tr><th>{bounded_html(step.get('number'))}</th><td>{bounded_html(step.get('started_at'))}<br>"
            f"{bounded_html(_offset(step.get('offset_ms')))}</td><td>{done}</td>"
            f'<td class="mono">{bounded_html(step.get("url_after"))}</td><td>{image}</td></tr>\n'
        )
    if len(steps) > MAX_SHOWN_ITEMS:
        more = len(steps) - MAX_SHOWN_ITEMS
        parts.append(f'<tr><td colspan="5">\u2026 and {more} more steps, in the bundle</td></tr>\n')
    parts.append("</table>\n")
    return "".join(parts)
