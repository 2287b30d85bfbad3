"""The certificate of preservation: rendered from a verification, not found in a bundle.

:func:`render_certificate` is made by ``evidence report`` from a
:class:`~evidence.verify.Report`, that is from a verification under the user's trust, and
from the bundle data that verification checked (:func:`read_certified`). It shows each claim
with its grade and what it was checked against. It is a pure function of those inputs;
turning it into a PDF (with JavaScript off and the network refused) is
:mod:`evidence.report.pdf`'s job.

On the verify path's side of the line: imports :mod:`evidence.report.derived` (shared
escaping and rows), the bundle format and (lazily) :mod:`evidence.verify`'s result types;
never report.pdf, bundle.writer or capture.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evidence._internal.timefmt import visible_text
from evidence.errors import BundleFormatError
from evidence.report.derived import (
    BASE_CSS,
    bounded_html,
    capture_rows,
    environment_rows,
    field_at,
    file_rows,
    redirect_rows,
    shown_list,
    shown_row,
)

if TYPE_CHECKING:
    from evidence.bundle.reader import BundleView
    from evidence.verify import Report

__all__ = [
    "MAX_EMBEDDED_IMAGE",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "CertificateContext",
    "CertifiedData",
    "read_certified",
    "render_certificate",
]

# --------------------------------------------------------------------------- the graded certificate

#: A screenshot larger than this is not embedded in the certificate (the page says so).
MAX_EMBEDDED_IMAGE = 16 << 20
#: ... and one that declares more pixels than these (a small file can declare a huge image).
MAX_IMAGE_SIDE = 32_768
MAX_IMAGE_PIXELS = 64_000_000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SCREENSHOT = "evidence/screenshot-viewport.png"
_CAPTURE = "evidence/capture.json"
_ENVIRONMENT = "evidence/environment.json"

#: Only inline styles and data: images; no script, frame, font, form or request of any kind.
_CSP_CERTIFICATE = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"

_CSS_CERTIFICATE = (
    BASE_CSS
    + """.verdict{border:3px solid;padding:.6rem 1rem;margin:1rem 0}
.verdict .big{font-size:1.5rem;font-weight:bold;margin:.2rem 0}
.v-VERIFIED{border-color:#1b6e20;background:#e8f5e9}
.v-NOT_ANCHORED{border-color:#c77700;background:#fff3cd}
.v-FAILED,.v-UNUSABLE{border-color:#b3261e;background:#fdecea}
.warnings{background:#fff3cd;border:2px solid #c77700;padding:.5rem 1rem;margin:1rem 0}
table.claims{table-layout:fixed}
table.claims th{width:9rem}
table.claims td.grade{width:11rem}
td{overflow-wrap:anywhere}
.grade{font-weight:bold}
.g-VERIFIED .grade{color:#1b6e20}
.g-NOT_ANCHORED .grade,.g-NONE .grade,.g-NOT_CHECKED .grade{color:#8a5300}
.g-FAILED .grade{color:#b3261e}
.fail td{background:#fdecea}
h2{break-after:avoid-page}
img.shot{break-inside:avoid}
"""
)

_GRADE_WORDS = {
    "VERIFIED": "established",
    "NOT ANCHORED IN TRUST": "NOT established: checked only with keys found in the bundle",
    "NONE": "nothing to establish",
    "FAILED": "NOT established: the check failed",
    "NOT CHECKED": "NOT established: not checked",
}


#: Where a claim's or step's detail turns to another item (a token, the lines nobody checked):
#: each starts a new line, so that what is NOT ANCHORED never reads as part of what is.
_ITEM_START = re.compile(
    r"(?<=\S) (?=(?:checkpoint\.\d+\.tsr|refresh-\d+\.\d+\.tsr): |Also present, not checked: |Not checked )"
)


def _detail(text: str) -> str:
    return "<br>".join(bounded_html(part) for part in _ITEM_START.split(text))


@dataclass(frozen=True)
class CertificateContext:
    """Facts about the verification run that the certificate states (given by the caller)."""

    bundle_name: str
    bundle_sha256: str
    bundle_size: int
    #: Where the trust came from, in words ("trust policy ~/trust.policy"); "" if only options.
    trust_source: str
    #: When the certificate was made, by the clock of the computer that made it.
    made_at: str
    #: The program that verified ("evidence 0.1.0").
    tool: str


@dataclass(frozen=True)
class CertifiedData:
    """Sealed files of a verified bundle, each checked against its sealed SHA-256 when read."""

    manifest: dict[str, Any]
    manifest_sha256: str
    capture: Any
    environment: Any
    screenshot_png: bytes | None
    #: Why the screenshot is not embedded, when it is not.
    screenshot_note: str = ""
    #: A walk's steps with their screenshots (:mod:`evidence.report.timeline`); "" for one page.
    timeline: str = ""


def read_certified(view: BundleView, *, manifest_sha256: str | None = None) -> CertifiedData:
    """Read what the certificate shows from a bundle that was just verified.

    Every file read is checked against the SHA-256 the manifest seals (and the manifest
    against ``manifest_sha256``, the one the verification saw, when given), so a bundle
    changed between the verification and this read is refused, never shown.
    """
    from evidence.bundle.format import MANIFEST_PATH

    raw = view.read(MANIFEST_PATH)
    digest = hashlib.sha256(raw).hexdigest()
    if manifest_sha256 is not None and digest != manifest_sha256:
        raise BundleFormatError(
            f"{MANIFEST_PATH} changed after it was verified (SHA-256 {digest}, verified {manifest_sha256})",
            hint="Make sure nothing writes to the bundle while the certificate is made, and run the command again.",
        )
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BundleFormatError(f"{MANIFEST_PATH} is not valid JSON ({e})") from e
    sealed: dict[str, tuple[str, int]] = {}
    for f in manifest.get("files", []) if isinstance(manifest, dict) else []:
        if isinstance(field_at(f, "path"), str) and isinstance(field_at(f, "sha256"), str):
            sealed[f["path"]] = (f["sha256"], f.get("size"))

    def sealed_bytes(name: str, limit: int | None = None) -> bytes | None:
        if name not in sealed or not view.has(name):
            return None
        if limit is not None and isinstance(sealed[name][1], int) and sealed[name][1] > limit:
            return None
        data = view.read(name) if limit is None else view.read(name, limit=limit)
        if hashlib.sha256(data).hexdigest() != sealed[name][0]:
            raise BundleFormatError(
                f"{name} does not match its seal any more (it changed after the bundle was verified)",
                hint="Make sure nothing writes to the bundle while the certificate is made, and run the command again.",
            )
        return data

    def sealed_json(name: str) -> Any:
        data = sealed_bytes(name)
        if data is None:
            return {}
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return {}

    shot = sealed_bytes(_SCREENSHOT, MAX_EMBEDDED_IMAGE)
    note = ""
    if shot is None:
        note = (
            f"The bundle's {_SCREENSHOT.split('/')[-1]} is larger than {MAX_EMBEDDED_IMAGE} bytes and is not embedded."
            if _SCREENSHOT in sealed and view.has(_SCREENSHOT)
            else "The bundle holds no sealed screenshot of the first screen."
        )
    elif not shot.startswith(_PNG_MAGIC) or len(shot) < 24 or shot[12:16] != b"IHDR":
        shot, note = None, f"The bundle's {_SCREENSHOT.split('/')[-1]} is not a PNG image and is not embedded."
    else:
        width, height = int.from_bytes(shot[16:20], "big"), int.from_bytes(shot[20:24], "big")
        if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE and width * height <= MAX_IMAGE_PIXELS):
            shot, note = (
                None,
                (
                    f"The bundle's {_SCREENSHOT.split('/')[-1]} declares {width} x {height} pixels, more than a "
                    "certificate embeds; it is not embedded."
                ),
            )
    return CertifiedData(
        manifest=manifest,
        manifest_sha256=digest,
        capture=sealed_json(_CAPTURE),
        environment=sealed_json(_ENVIRONMENT),
        screenshot_png=shot,
        screenshot_note=note,
        timeline=_timeline(view, sealed_bytes),
    )


def _timeline(view: BundleView, sealed_bytes: Callable[[str, int | None], bytes | None]) -> str:
    """The walk's timeline with each step screenshot embedded (only sealed ones, checked)."""
    from evidence.bundle.format import STEPS_PATH
    from evidence.report.timeline import timeline_html

    if sealed_bytes(STEPS_PATH, None) is None:
        return ""

    def embedded(name: str) -> str:
        data = sealed_bytes(f"evidence/{name}", MAX_EMBEDDED_IMAGE)
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii") if data else ""

    return timeline_html(view, image_src=embedded)


def render_certificate(report: Report, data: CertifiedData | None, context: CertificateContext) -> bytes:
    """The certificate of preservation: a pure function of a verification and the data it checked.

    One self-contained HTML file (images as ``data:`` URIs, no script, a Content-Security-
    Policy that forbids every request). ``data`` is shown only for a bundle whose integrity
    was VERIFIED (verdict VERIFIED or NOT ANCHORED); for FAILED or UNUSABLE the certificate
    says so and shows nothing the bundle claims about itself.
    """
    from evidence.verify import STEP_TITLES, Grade, Verdict

    verdict = report.verdict
    integrity = next((c for c in report.claims if c.name.startswith("Integrity")), None)
    usable = verdict in (Verdict.VERIFIED, Verdict.NOT_ANCHORED) and (
        integrity is None or integrity.grade is Grade.VERIFIED
    )
    shown = data if usable else None
    logged = any(c.name == "Recorded in the log" and c.grade is Grade.VERIFIED for c in report.claims)
    vclass = verdict.name
    if verdict is Verdict.VERIFIED:
        heading = "Certificate of preservation"
        lead = "Every check passed against the keys and certificates you trust (see \u201cChecked against\u201d)."
    elif verdict is Verdict.NOT_ANCHORED:
        heading = "Certificate of preservation: NOT ANCHORED IN TRUST"
        lead = (
            "The bundle is consistent, but some of its signatures were checked only with keys found inside the bundle, "
            "which anyone could have made. A claim graded NOT ANCHORED IN TRUST is not established by this certificate."
        )
    elif verdict is Verdict.FAILED:
        heading = "Verification FAILED: this is not a certificate of preservation"
        lead = "The bundle did not pass verification. Do not rely on it until the failure below is explained."
    else:
        heading = "UNUSABLE INPUT: this is not a certificate of preservation"
        lead = "The file could not be checked as an evidence bundle at all."
    title_page = field_at(shown.manifest, "url") if shown is not None else context.bundle_name
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP_CERTIFICATE}">\n',
        f"<title>{bounded_html(heading)}: {bounded_html(title_page)}</title>\n",
        f"<style>{_CSS_CERTIFICATE}</style></head><body>\n",
        f"<h1>{bounded_html(heading)}</h1>\n",
        f'<div class="verdict v-{vclass}" id="verdict">\n<p class="big">VERDICT: {bounded_html(verdict.value)}</p>\n',
        f"<p>{bounded_html(lead)}</p>\n<p>{bounded_html(report.summary)}</p>\n",
    ]
    failed = report.failed_step
    if failed is not None:
        files = f" (file: {', '.join(failed.files)})" if failed.files else ""
        parts.append(
            f"<p><b>Failed at step {failed.number}: {bounded_html(failed.title)}</b>{bounded_html(files)}.</p>\n"
        )
        if failed.meaning:
            parts.append(f"<p><b>What this means:</b> {bounded_html(failed.meaning)}</p>\n")
    parts.append("</div>\n<table>\n")
    parts += [
        shown_row("Bundle file", context.bundle_name),
        shown_row("Bundle file SHA-256", context.bundle_sha256, mono=True),
        shown_row("Bundle file size (bytes)", context.bundle_size),
        shown_row(
            "Checked against",
            report.trust + (f" (from {context.trust_source})" if context.trust_source else ""),
        ),
        shown_row("Checked by", f"{context.tool}, {context.made_at}"),
        "</table>\n",
    ]
    capture_warnings = shown_list(field_at(shown.capture, "warnings")) if shown is not None else []
    other = [w for w in report.warnings if not any(w == c or w.endswith(c) for c in capture_warnings)]
    if capture_warnings:
        parts.append(
            '<div class="warnings" id="capture-warnings">\n<h2>Warnings recorded by the capture</h2>\n'
            "<p>The capture tool recorded these warnings about the page and sealed them with it. Read them before "
            "relying on what the page showed.</p>\n<ul>\n"
        )
        parts.extend(f"<li>{bounded_html(w)}</li>\n" for w in capture_warnings)
        parts.append("</ul>\n</div>\n")
    if other:
        parts.append(
            '<div class="warnings" id="warnings">\n<h2>Warnings from the verification</h2>\n'
            "<p>They do not change the verdict, but a reader must know them.</p>\n<ul>\n"
        )
        parts.extend(f"<li>{bounded_html(w)}</li>\n" for w in other)
        parts.append("</ul>\n</div>\n")
    parts.append("<h2>1. The claims, each graded</h2>\n")
    if usable:
        established = [c.name for c in report.claims if c.grade is Grade.VERIFIED]
        parts.append(
            "<p>A claim is established only where it is graded VERIFIED: checked against the keys and certificates "
            "listed under \u201cChecked against\u201d. Anything else found in the bundle (a time-stamp from an "
            "authority you do not pin, a signature by a key you did not give) is shown with its grade and is not "
            "established.</p>\n"
            f'<p id="established"><b>Established:</b> {bounded_html("; ".join(established) or "nothing")}.</p>\n'
        )
    else:
        parts.append(
            "<p><b>The bundle failed verification: no claim below may be relied on, even where a check passed before "
            "the failure.</b></p>\n"
        )
    parts.append(
        '<table class="claims">\n<tr><th>Claim</th><td class="grade">Grade</td>'
        "<td><b>What was checked, against what</b></td></tr>\n"
    )
    for c in report.claims:
        word = _GRADE_WORDS.get(c.grade.value, "") if usable else ""
        grade = bounded_html(c.grade.value) + (f"<br>({bounded_html(word)})" if word else "")
        parts.append(
            f'<tr class="claim g-{c.grade.name}"><th>{bounded_html(c.name)}</th><td class="grade">{grade}</td>'
            f"<td>{_detail(c.detail)}</td></tr>\n"
        )
    if not report.claims:
        parts.append('<tr><th>-</th><td class="grade">-</td><td>No claim could be graded.</td></tr>\n')
    parts.append("</table>\n")
    if report.to_confirm:
        parts.append('<h2>Found in the bundle, not anchored in trust</h2>\n<p id="to-confirm">')
        if verdict is Verdict.VERIFIED:
            parts.append(
                "Also in the bundle, not needed for this verdict and not established by it. To make them count, "
                "confirm these fingerprints with their owners through a separate channel and verify again trusting "
                "them.</p>\n<table>\n"
            )
        else:
            parts.append(
                "To anchor this result in trust, confirm these fingerprints with their owners through a separate "
                "channel (not from this bundle), then verify again trusting them.</p>\n<table>\n"
            )
        for t in report.to_confirm:
            parts.append(
                f'<tr><th>{bounded_html(t.what)}</th><td>{bounded_html(t.identity)}<br><span class="mono">fingerprint '
                f"{bounded_html(t.fingerprint)}</span><br>{bounded_html(t.how)}</td></tr>\n"
            )
        parts.append("</table>\n")
    if shown is not None:
        parts += [
            "<h2>2. What the capture recorded</h2>\n",
            "<p>The capture tool's own records, sealed when the page was captured; the integrity check above shows "
            "that they are unchanged since, not that they are true. Times marked \u201ccapture machine clock\u201d "
            "are that machine's own clock, not an independent time (for that, see the graded claims).</p>\n",
            ""
            if logged
            else '<p class="note"><b>The seal is not anchored in trust</b> (\u201cRecorded in the log\u201d above '
            "is not VERIFIED): whoever made this bundle could have made these records and their seal too.</p>\n",
            "<table>\n",
            *capture_rows(shown.manifest, shown.capture),
            "</table>\n",
            *redirect_rows(shown.capture),
        ]
        if shown.screenshot_png is not None:
            uri = "data:image/png;base64," + base64.b64encode(shown.screenshot_png).decode("ascii")
            parts.append(
                "<h2>What the capture's browser showed (first screen)</h2>\n"
                f'<p><img class="shot" id="screenshot" src="{uri}" alt="Screenshot of the first screen"></p>\n'
                f"<p>SHA-256 {hashlib.sha256(shown.screenshot_png).hexdigest()}, sealed in the bundle as "
                "<code>evidence/screenshot-viewport.png</code>. The whole page is in the bundle's "
                "<code>screenshot-full.png</code>, <code>page.pdf</code> and web archive.</p>\n"
            )
        elif shown.screenshot_note:
            parts.append(f'<p class="note">{bounded_html(shown.screenshot_note)}</p>\n')
        parts.append(shown.timeline)
        parts += [
            "<h2>3. How and from where it was captured (as recorded)</h2>\n<table>\n",
            *environment_rows(shown.manifest, shown.capture, shown.environment),
            "</table>\n<h2>4. The seal</h2>\n<table>\n",
            *[shown_row(k, v, mono=k.endswith("SHA-256")) for k, v in report.facts],
            "</table>\n<table>\n<tr><th>Sealed file</th><td><b>SHA-256</b> (size in bytes)</td></tr>\n",
            *file_rows(shown.manifest),
            "</table>\n",
        ]
    parts.append("<h2>5. The checks that ran</h2>\n<table>\n")
    for s in report.steps:
        mark = "PASS" if s.ok else "FAIL"
        files = f" File: {', '.join(s.files)}." if (not s.ok and s.files) else ""
        cls = "" if s.ok else ' class="fail"'
        step_title = bounded_html(s.title)
        row = f"<th>{s.number}. {step_title}</th><td><b>{mark}</b>: {_detail(s.detail)}{bounded_html(files)}</td>"
        parts.append(f"<tr{cls}>{row}</tr>\n")
    for n, title in STEP_TITLES.items():
        if n > len(report.steps):
            parts.append(f"<tr><th>{n}. {bounded_html(title)}</th><td><b>not run</b></td></tr>\n")
    parts.append("</table>\n")
    parts.append(
        "<h2>6. What this certificate is</h2>\n"
        "<p>It was generated by <code>evidence report</code> from a verification of the bundle file named above "
        "against the trust named above, not from the bundle's own <code>report.html</code>, which establishes "
        "nothing by itself. It does not prove that what the page showed was true, who controlled the web site, or "
        "that the capture machine's clock was right. Anyone can repeat the verification offline:</p>\n"
        f"<pre>evidence verify {bounded_html(context.bundle_name)} --trust trust.policy\n"
        f"evidence report {bounded_html(context.bundle_name)} -o certificate.pdf --trust trust.policy</pre>\n"
        "</body></html>\n"
    )
    # Invisible and direction-changing characters from the bundle are shown as [U+202E]: a URL
    # or name on the certificate reads as what it is.
    return visible_text("".join(parts)).encode("utf-8")
