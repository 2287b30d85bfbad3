"""The files the bundle writer puts inside every bundle: ``report.html`` and ``VERIFY.txt``.

They are pure functions of the bundle's *sealed* files and of its inclusion proof (entry
number, tree size, root), so the verifier regenerates them and requires the same bytes.
Because anyone who can edit a bundle can regenerate them too, they establish nothing by
themselves: since edition 3 they show no time-stamp, signature, signer or witness (all of
which can be added to a bundle later) and say how to get a graded result. Editions 2 and 1
are frozen: released bundles carry them, and the verifier must reproduce them byte for byte.

On the verify path. Imports the bundle format and (for typing) the reader, the time-stamp
token parser and :mod:`evidence._internal`; never bundle.writer, report.certificate,
report.pdf or capture. The escaping and row helpers here are shared with the certificate.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evidence._internal.timefmt import bounded_text, utc_text
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import BundleFormatError

if TYPE_CHECKING:
    from evidence.bundle.reader import BundleView

__all__ = [
    "BASE_CSS",
    "EDITIONS",
    "MAX_SHOWN_ITEMS",
    "MAX_SHOWN_VALUE",
    "bounded_html",
    "capture_rows",
    "environment_rows",
    "field_at",
    "file_rows",
    "old_edition_warning",
    "redirect_rows",
    "render_report",
    "render_verify_txt",
    "shown_list",
    "shown_row",
]

#: The wordings of report.html and VERIFY.txt, newest first. The verifier regenerates them
#: byte for byte, so every wording a released bundle may carry stays renderable:
#:
#: - 1 (until 2026-11-22): lists every signature line and token found in the bundle as a fact;
#:   no pointer to time-stamps added later by ``evidence refresh`` in a bundle without one.
#: - 2 (until 2026-12-02): the same, with that pointer.
#: - 3: built from sealed data and the inclusion proof only; no time, signer, witness or TSA;
#:   says that it establishes nothing by itself and how to get a graded certificate.
EDITIONS = (3, 2, 1)

BASE_CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
h1{font-size:1.6rem;border-bottom:2px solid #333;padding-bottom:.3rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0;width:14rem}
code,.mono{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:.8rem;word-break:break-all}
.note{background:#fff8dc;border:1px solid #e0c060;padding:.5rem}
img.shot{max-width:100%;border:1px solid #888}
pre{white-space:pre-wrap;font-size:.8rem;background:#f7f7f7;padding:.5rem;border:1px solid #ddd}
"""

_CSS_V3 = (
    BASE_CSS
    + """.nothing{background:#fdecea;border:2px solid #b3261e;padding:.5rem 1rem}
.warnings{background:#fff3cd;border:2px solid #c77700;padding:.5rem 1rem}
"""
)

#: Allows the page's own styles and images (the screenshot beside it) and nothing else: no
#: script, no frame, no font, no request to anywhere.
_CSP_V3 = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _row(label: str, value: Any, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return f"<tr><th>{_e(label)}</th><td{cls}>{_e(value)}</td></tr>\n"


#: Longest value from a bundle that edition 3 and the certificate show (the rest is elided).
MAX_SHOWN_VALUE = 10_000


def bounded_html(value: Any) -> str:
    """``_e`` for edition 3 and the certificate: a value from the bundle, escaped and bounded."""
    text = "" if value is None else bounded_text(value, 1 << 62)
    if len(text) > MAX_SHOWN_VALUE:
        text = f"{text[:MAX_SHOWN_VALUE]}\u2026 ({len(text)} characters in all; the whole value is in the bundle)"
    return html.escape(text, quote=True)


def shown_row(label: str, value: Any, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return f"<tr><th>{bounded_html(label)}</th><td{cls}>{bounded_html(value)}</td></tr>\n"


def field_at(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` where every level is a dict, else None (records may be malformed)."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


#: Most items of one list from a bundle (warnings, redirects) that are shown; the rest are counted.
MAX_SHOWN_ITEMS = 100


def shown_list(value: Any) -> list[str]:
    """A list of plain strings from a record field that should be one (anything else: shown as text),
    at most :data:`MAX_SHOWN_ITEMS` of them, then a line saying how many more there are."""
    if value is None or value == []:
        return []
    if not isinstance(value, list):
        return [bounded_text(value, 1 << 62)]
    items = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in value]
    if len(items) > MAX_SHOWN_ITEMS:
        items = [*items[:MAX_SHOWN_ITEMS], f"\u2026 and {len(items) - MAX_SHOWN_ITEMS} more, in the bundle"]
    return items


def render_report(view: BundleView, *, edition: int = EDITIONS[0]) -> bytes:
    """``evidence/report.html`` for a bundle (deterministic), in the wording of ``edition``."""
    if edition not in EDITIONS:
        raise ValueError(f"report.html has no edition {edition} (known: {EDITIONS})")
    if edition >= 3:
        return _report_v3(view)
    return _report_legacy(view, edition)


def render_verify_txt(view: BundleView, *, edition: int = EDITIONS[0]) -> bytes:
    """``evidence/VERIFY.txt``: how to check this bundle by hand (deterministic), in the wording of ``edition``."""
    if edition not in EDITIONS:
        raise ValueError(f"VERIFY.txt has no edition {edition} (known: {EDITIONS})")
    if edition >= 3:
        return _verify_v3(view)
    return _verify_legacy(view, edition)


def old_edition_warning(older: Sequence[tuple[str, int]]) -> str:
    """The verifier's warning for a bundle whose derived files are in an edition before 3."""
    files = " and ".join(f"{path} (edition {edition})" for path, edition in older)
    return (
        f"{files} in this bundle use the wording of an earlier version of the tool. That wording lists every "
        "time-stamp and signature line found in the bundle, with the time and the name it states, as if they were "
        "facts, although anyone could have added them: some may be NOT ANCHORED or not checked at all (see the "
        "claims above). Rely on this verification, or on a certificate made with 'evidence report', not on that page."
    )


# --------------------------------------------------------------------------- edition 3


def _sealed_facts(view: BundleView) -> tuple[dict[str, Any], Any, Any]:
    from evidence.bundle.format import MANIFEST_PATH

    manifest = view.json(MANIFEST_PATH)
    if not isinstance(manifest, dict):
        raise BundleFormatError(f"{MANIFEST_PATH} is not a JSON object")
    capture = view.json("evidence/capture.json") if view.has("evidence/capture.json") else {}
    env = view.json("evidence/environment.json") if view.has("evidence/environment.json") else {}
    return manifest, capture, env


def capture_rows(manifest: dict[str, Any], capture: Any) -> list[str]:
    return [
        shown_row("Requested address", manifest.get("url")),
        shown_row("Address shown", manifest.get("final_url")),
        shown_row("HTTP status", field_at(capture, "status")),
        shown_row("Page title", field_at(capture, "page_title")),
        shown_row("Capture started (UTC, capture machine clock)", manifest.get("capture_started")),
        shown_row("Capture finished (UTC, capture machine clock)", manifest.get("capture_finished")),
        shown_row("Case", manifest.get("case")),
        shown_row("Operator", manifest.get("operator")),
    ]


def redirect_rows(capture: Any) -> list[str]:
    chain = field_at(capture, "redirect_chain")
    if not isinstance(chain, list) or len(chain) < 2:
        return []
    rows = ["<h2>Redirects</h2>\n<table>\n"]
    for i, hop in enumerate(chain[:MAX_SHOWN_ITEMS]):
        rows.append(shown_row(f"Step {i + 1} ({field_at(hop, 'status')})", field_at(hop, "url")))
    if len(chain) > MAX_SHOWN_ITEMS:
        rows.append(shown_row("\u2026", f"and {len(chain) - MAX_SHOWN_ITEMS} more steps, in capture.json"))
    rows.append("</table>\n")
    return rows


def environment_rows(manifest: dict[str, Any], capture: Any, env: Any) -> list[str]:
    tls = field_at(capture, "tls")
    dns = field_at(capture, "dns", "answers")
    tool = manifest.get("tool")
    return [
        shown_row("Server address", f"{field_at(capture, 'server', 'ip')} port {field_at(capture, 'server', 'port')}"),
        shown_row("DNS answers", ", ".join(shown_list(dns))),
        shown_row(
            "Connection security",
            f"{field_at(tls, 'protocol')} {field_at(tls, 'cipher')}" if tls else "none (plain HTTP)",
        ),
        shown_row(
            "Server certificate", f"{field_at(tls, 'subject')} issued by {field_at(tls, 'issuer')}" if tls else "-"
        ),
        shown_row("Tool", f"{field_at(tool, 'name')} {field_at(tool, 'version')}"),
        shown_row("Browser", field_at(env, "browser", "version")),
        shown_row("Operating system", field_at(env, "os", "platform")),
    ]


def clean_rows(view: BundleView) -> list[str]:
    """The clean-environment check, item by item (bundles made since it exists; none before)."""
    from evidence.bundle.format import CLEAN_PATH

    if not view.has(CLEAN_PATH):
        return []
    report = view.json(CLEAN_PATH)
    items = []
    for key in ("items", "added_before_sealing"):
        found = field_at(report, key)
        items += found if isinstance(found, list) else []
    rows = [
        "<h2>Clean-environment check (as recorded)</h2>\n",
        f"<p>Checked item by item before the first request to the site; overall: "
        f"{bounded_html(field_at(report, 'verdict'))}. What was observed for each item is in "
        "<code>clean-environment.json</code>.</p>\n<table>\n",
    ]
    for item in items[:MAX_SHOWN_ITEMS]:
        verdict = field_at(item, "verdict")
        if field_at(item, "overridden"):
            verdict = f"{verdict} (allowed by the user: --allow-unclean {field_at(item, 'check')})"
        rows.append(shown_row(f"{field_at(item, 'check')}: {verdict}", field_at(item, "why")))
    rows.append("</table>\n")
    return rows


def file_rows(manifest: dict[str, Any]) -> list[str]:
    files = manifest.get("files")
    return [
        shown_row(field_at(f, "path"), f"{field_at(f, 'sha256')} ({field_at(f, 'size')})", mono=True)
        for f in (files if isinstance(files, list) else [])
    ]


def _report_v3(view: BundleView) -> bytes:
    from evidence.bundle.format import MANIFEST_PATH, log_entry

    manifest, capture, env = _sealed_facts(view)
    manifest_bytes = view.read(MANIFEST_PATH)
    proof = view.proof()
    cp = SignedCheckpoint.parse(proof.checkpoint_note).checkpoint
    entry = log_entry(manifest_bytes)
    warnings = shown_list(field_at(capture, "warnings"))
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP_V3}">\n',
        f"<title>Preserved web page (a description, not a verification): {bounded_html(manifest.get('url'))}</title>\n",
        f"<style>{_CSS_V3}</style></head><body>\n",
        "<h1>Preserved web page: what this bundle holds</h1>\n",
        '<div class="nothing">\n<p><b>This page establishes nothing by itself.</b> It was generated from the '
        "bundle's own files when the bundle was written, and anyone who can edit a bundle can write a page like "
        "it. It repeats what the capture recorded and sealed. It shows no time-stamp, signature, signer or "
        "witness: those can be added to a bundle by anyone, and which of them count depends on keys you trust, "
        "which this page cannot know.</p>\n"
        "<p>To establish what the bundle proves, verify it with the keys of the log and of the time-stamping "
        "authorities as you obtained them from their owners (not from the bundle):</p>\n"
        "<pre>evidence verify THIS-BUNDLE.wacz --trust trust.policy</pre>\n"
        "<p>For a certificate of preservation that shows each claim with its grade and what it was checked "
        "against:</p>\n<pre>evidence report THIS-BUNDLE.wacz -o certificate.pdf --trust trust.policy</pre>\n"
        "<p><code>VERIFY.txt</code> explains the same checks by hand.</p>\n</div>\n",
    ]
    if warnings:
        parts.append(
            '<div class="warnings">\n<h2>Warnings recorded by the capture</h2>\n'
            "<p>The capture tool recorded these warnings about the page and sealed them with it:</p>\n<ul>\n"
        )
        parts.extend(f"<li>{bounded_html(w)}</li>\n" for w in warnings)
        parts.append("</ul>\n</div>\n")
    parts += [
        "<h2>1. What the capture recorded</h2>\n",
        "<p>These are the capture tool's own records, sealed into the manifest when the page was captured. "
        "Verifying the bundle shows whether they are unchanged since; it cannot show that they are true. The "
        "times are the capture machine's own clock, not an independent time.</p>\n<table>\n",
        *capture_rows(manifest, capture),
        "</table>\n",
    ]
    if manifest.get("http_error"):
        parts.append(
            f'<p class="note">The server answered with an error status ({bounded_html(field_at(capture, "status"))}). '
            "The error page itself was preserved.</p>\n"
        )
    parts += redirect_rows(capture)
    if view.has("evidence/screenshot-viewport.png"):
        whole = [f"<code>{n}</code>" for n in ("screenshot-full.png", "page.pdf") if view.has(f"evidence/{n}")]
        whole.append("the web archive")
        where = ", ".join(whole[:-1]) + " and " + whole[-1] if len(whole) > 1 else whole[0]
        parts.append(
            "<h2>What the capture's browser showed (first screen)</h2>\n"
            '<p><img class="shot" src="screenshot-viewport.png" alt="Screenshot of the first screen of the page"></p>\n'
            f"<p>The whole page is in {where}.</p>\n"
        )
    from evidence.report.timeline import timeline_html

    parts.append(timeline_html(view))  # a walk's steps; nothing for a single page
    not_made = field_at(capture, "artifacts_not_made")
    if isinstance(not_made, dict) and not_made:
        # Captures with a time budget name every file they did not make, and why.
        parts.append('<p class="note">Not made in this capture (the capture record says why):</p>\n<table>\n')
        for name, why in sorted(not_made.items())[:MAX_SHOWN_ITEMS]:
            parts.append(shown_row(str(name), why.get("reason") if isinstance(why, dict) else why))
        parts.append("</table>\n")
    parts += [
        "<h2>2. How and from where it was captured (as recorded)</h2>\n<table>\n",
        *environment_rows(manifest, capture, env),
        "</table>\n<p>The full capture environment is recorded in <code>environment.json</code>; "
        "every request the browser made is in <code>capture.json</code> and the web archive.</p>\n",
        *clean_rows(view),
        "<h2>3. Seal: every file's fingerprint</h2>\n",
        "<p>The manifest lists the SHA-256 fingerprint of every preserved file. Changing any byte "
        "of any file changes its fingerprint.</p>\n<table>\n"
        "<tr><th>File</th><td><b>SHA-256</b> (size in bytes)</td></tr>\n",
        *file_rows(manifest),
        "</table>\n<table>\n",
        shown_row("Manifest SHA-256", hashlib.sha256(manifest_bytes).hexdigest(), mono=True),
        shown_row("Log entry (exact bytes)", entry.decode().replace("\n", " \u21b5 "), mono=True),
        "</table>\n",
        "<h2>4. Found in the bundle, not checked by this page</h2>\n",
        "<p>The inclusion proof in <code>entry.tlog-proof</code> states that the seal is the entry below of an "
        "append-only log. Whether that log signed it, when, and who else saw it, is for a verification against "
        "keys you trust to say.</p>\n<table>\n",
        shown_row("Log named in the manifest", field_at(manifest, "log", "origin")),
        shown_row("Entry number (from 0), as the proof states", proof.index),
        shown_row("Entries in the checkpoint, as the proof states", cp.size),
        shown_row("Root hash, as the proof states", cp.root_hash.hex(), mono=True),
        "</table>\n",
        '<p class="note">Time-stamps (<code>checkpoint.&lt;k&gt;.tsr</code>, and <code>refresh-*.tsr</code> '
        "added later by <code>evidence refresh</code>), "
        "signatures and cosignatures on the log's checkpoint, refreshed checkpoints and the keys in "
        "<code>log.vkey</code> are not listed here on purpose: they are not sealed, anyone can add such files, and "
        "only <code>evidence verify</code> or <code>evidence report</code>, under keys you trust, tells which of "
        "them count.</p>\n",
        "<h2>5. How to verify</h2>\n<pre>evidence verify THIS-BUNDLE.wacz --trust trust.policy\n"
        "evidence verify THIS-BUNDLE.wacz --log-key verification-keys.txt --tsa-cert TSA-ROOT.pem\n"
        "evidence report THIS-BUNDLE.wacz -o certificate.pdf --trust trust.policy</pre>\n"
        "<p>or by hand with <code>unzip</code>, <code>sha256sum</code> and <code>openssl ts -verify</code>, "
        "as <code>VERIFY.txt</code> explains step by step. <code>verification-keys.txt</code> is the log's "
        "published keys file (its log key and clock key), obtained from the log's operator, and "
        "<code>TSA-ROOT.pem</code> the root certificate of the time-stamping authority, obtained from that "
        "authority; never the keys or certificates shown in this bundle.</p>\n</body></html>\n",
    ]
    return "".join(parts).encode("utf-8")


def _verify_v3(view: BundleView) -> bytes:
    from evidence.bundle.format import MANIFEST_PATH, log_entry

    manifest_bytes = view.read(MANIFEST_PATH)
    proof = view.proof()
    cp = SignedCheckpoint.parse(proof.checkpoint_note).checkpoint
    entry = log_entry(manifest_bytes)
    leaf = hashlib.sha256(b"\x00" + entry).hexdigest()
    lines = [
        "HOW TO VERIFY THIS EVIDENCE BUNDLE",
        "==================================",
        "",
        "This file, like evidence/report.html, was generated from the bundle's own files and",
        "establishes nothing by itself; it only says how to check the bundle. It does not list the",
        "bundle's time-stamps or signatures: anyone can add those, and they count only when they",
        "check out against keys and certificates you obtained from their owners yourself.",
        "",
        "With the tool (offline):",
        "    evidence verify THIS-FILE.wacz --trust <your trust policy>",
        "    evidence verify THIS-FILE.wacz --log-key verification-keys.txt --tsa-cert <TSA root certificate>",
        "    (verification-keys.txt: the log's published keys file, log key and clock key, from the log's",
        "    operator; the TSA root certificate from the authority itself; never those in this bundle)",
        "A certificate of preservation that shows each claim with its grade:",
        "    evidence report THIS-FILE.wacz -o certificate.pdf --trust <your trust policy>",
        "",
        "By hand, with standard tools:",
        "",
        "1. Unpack:            unzip THIS-FILE.wacz -d bundle && cd bundle",
        '2. Check every file:  each line of evidence/manifest.json "files" gives a path and its',
        "                      SHA-256; compare with:  sha256sum archive/data.warc.gz evidence/*.png ...",
        "3. The log entry is the exact bytes below (two lines, each ending in a newline):",
    ]
    lines += ["        " + x for x in entry.decode().splitlines()]
    lines += [
        f"   where {hashlib.sha256(manifest_bytes).hexdigest()}",
        "   is the SHA-256 of evidence/manifest.json:  sha256sum evidence/manifest.json",
        "   Its Merkle leaf hash is SHA-256(0x00 || entry):",
        f"        {leaf}",
        "4. evidence/entry.tlog-proof (c2sp.org/tlog-proof@v1) states that this leaf is entry",
        f"   {proof.index} of the log {cp.origin!r}, in the tree of {cp.size} entries whose root is",
        f"        {cp.root_hash.hex()}",
        "   (RFC 9162 inclusion proof; the hashes are listed leaf-sibling first). Recompute it.",
        "5. The checkpoint (the last part of entry.tlog-proof, also in evidence/checkpoint.note) must be",
        "   signed by the log key (Ed25519, c2sp.org/signed-note). Check it with a key you obtained",
        "   from the log operator (its verification-keys.txt), never with the one in evidence/log.vkey:",
        "   a key found in a bundle proves nothing by itself. Other signature lines on it",
        "   (the log's clock, witnesses) count only for keys you obtained from their owners.",
        "6. Independent time: each RFC 3161 time-stamp in the bundle is a file",
        "   evidence/checkpoint.<k>.tsr over evidence/checkpoint.note, or evidence/refresh-<k>.<j>.tsr",
        "   over evidence/refresh-<k>.note (added later by 'evidence refresh'). One counts only if it",
        "   verifies against a TSA root certificate you obtained from the authority itself:",
        "        sha256sum evidence/checkpoint.note",
        "        for t in evidence/checkpoint.*.tsr; do",
        '            openssl ts -verify -in "$t" -data evidence/checkpoint.note -CAfile <TSA root certificate>',
        "        done",
        "   (the same for each refresh-<k>.<j>.tsr with -data evidence/refresh-<k>.note), and",
        "   openssl ts -reply -in <token> -text shows the time it states.",
    ]
    lines += _start_token_lines(view)
    lines += [
        "",
        "Formats: docs/bundle-format.md in the evidence project; all are open specifications.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _start_token_lines(view: BundleView) -> list[str]:
    """VERIFY.txt's step 7 for bundles with a start token (none for others, so theirs is unchanged)."""
    from evidence.bundle.format import CLEAN_PATH, START_TOKEN_PATH

    if not (view.has(START_TOKEN_PATH) and view.has(CLEAN_PATH)):
        return []
    imprint = field_at(view.json(CLEAN_PATH), "start", "imprint")
    if not (isinstance(imprint, str) and len(imprint) == 64 and all(c in "0123456789abcdef" for c in imprint)):
        imprint = "<start.imprint of clean-environment.json>"
    return [
        "7. The start of the capture: evidence/start.tsr is an RFC 3161 time-stamp asked for before the",
        "   first request to the site, over SHA-256(D || nonce), where D is the SHA-256 of the checks in",
        "   evidence/clean-environment.json made before that request and the nonce is its start.nonce",
        "   (docs/bundle-format.md, section 12). The capture took place after its time and before the",
        "   time-stamps of step 6:",
        f"        openssl ts -verify -in evidence/start.tsr -digest {imprint} \\",
        "            -CAfile <TSA root certificate>",
    ]


# --------------------------------------------------------------------------- editions 1 and 2 (frozen)


def _facts(view: BundleView) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from evidence.bundle.format import MANIFEST_PATH

    manifest = view.json(MANIFEST_PATH)
    capture = view.json("evidence/capture.json") if view.has("evidence/capture.json") else {}
    env = view.json("evidence/environment.json") if view.has("evidence/environment.json") else {}
    return manifest, capture, env


def _token_rows(view: BundleView) -> list[str]:
    from evidence.timestamp import TimestampToken

    rows = []
    for name, der in view.tokens():
        try:
            tok = TimestampToken.parse(der)
            desc = "; ".join(tok.describe())
        except Exception as e:  # shown as is; the verifier judges the token
            desc = f"unreadable token: {e}"
        rows.append(_row(name.split("/")[-1], desc))
    return rows


def _report_legacy(view: BundleView, edition: int) -> bytes:
    """Editions 1 and 2 of report.html, kept byte for byte so that bundles written with them verify.

    They list every signature line and every token found in the bundle as if it were a fact;
    see :func:`old_edition_warning`. Frozen: do not change their wording.
    """
    from evidence.bundle.format import MANIFEST_PATH, NOTE_PATH, VKEY_PATH, log_entry

    manifest, capture, env = _facts(view)
    manifest_bytes = view.read(MANIFEST_PATH)
    proof = view.proof()
    signed = SignedCheckpoint.parse(proof.checkpoint_note)
    cp = signed.checkpoint
    entry = log_entry(manifest_bytes)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>Certificate of preservation: {_e(manifest.get('url'))}</title>",
        f"<style>{BASE_CSS}</style></head><body>\n",
        "<h1>Certificate of preservation</h1>\n",
        "<p>This file describes a web page preserved as evidence. Every statement below can be "
        "checked independently, offline, from the files in this bundle: see <code>VERIFY.txt</code> "
        "and run <code>evidence verify</code> on the bundle. This report is regenerated and compared "
        "byte for byte during verification, so it cannot differ from the sealed data.</p>\n",
        "<h2>1. What was preserved</h2>\n<table>\n",
        _row("Requested address", manifest.get("url")),
        _row("Address shown", manifest.get("final_url")),
        _row("HTTP status", capture.get("status")),
        _row("Page title", capture.get("page_title")),
        _row("Capture started (UTC, capture machine clock)", manifest.get("capture_started")),
        _row("Capture finished (UTC, capture machine clock)", manifest.get("capture_finished")),
        _row("Case", manifest.get("case")),
        _row("Operator", manifest.get("operator")),
        "</table>\n",
    ]
    if manifest.get("http_error"):
        parts.append(
            f'<p class="note">The server answered with an error status ({_e(capture.get("status"))}). '
            "The error page itself was preserved.</p>\n"
        )
    chain = capture.get("redirect_chain") or []
    if len(chain) > 1:
        parts.append("<h2>Redirects</h2>\n<table>\n")
        for i, hop in enumerate(chain):
            parts.append(_row(f"Step {i + 1} ({hop.get('status')})", hop.get("url")))
        parts.append("</table>\n")
    if view.has("evidence/screenshot-viewport.png"):
        whole = [f"<code>{n}</code>" for n in ("screenshot-full.png", "page.pdf") if view.has(f"evidence/{n}")]
        whole.append("the web archive")
        where = ", ".join(whole[:-1]) + " and " + whole[-1] if len(whole) > 1 else whole[0]
        parts.append(
            "<h2>What a visitor saw (first screen)</h2>\n"
            '<p><img class="shot" src="screenshot-viewport.png" alt="Screenshot of the first screen of the page"></p>\n'
            f"<p>The whole page is in {where}.</p>\n"
        )
    server = capture.get("server") or {}
    dns = capture.get("dns") or {}
    tls = capture.get("tls") or {}
    parts += [
        "<h2>2. How and from where it was captured</h2>\n<table>\n",
        _row("Server address", f"{server.get('ip')} port {server.get('port')}"),
        _row("DNS answers", ", ".join(dns.get("answers") or [])),
        _row("Connection security", f"{tls.get('protocol')} {tls.get('cipher')}" if tls else "none (plain HTTP)"),
        _row("Server certificate", f"{tls.get('subject')} issued by {tls.get('issuer')}" if tls else "-"),
        _row("Tool", f"{manifest.get('tool', {}).get('name')} {manifest.get('tool', {}).get('version')}"),
        _row("Browser", (env.get("browser") or {}).get("version") if isinstance(env.get("browser"), dict) else None),
        _row("Operating system", (env.get("os") or {}).get("platform") if isinstance(env.get("os"), dict) else None),
        "</table>\n<p>The full capture environment is recorded in <code>environment.json</code>; "
        "every request the browser made is in <code>capture.json</code> and the web archive.</p>\n",
        "<h2>3. Seal: every file's fingerprint</h2>\n",
        "<p>The manifest lists the SHA-256 fingerprint of every preserved file. Changing any byte "
        "of any file changes its fingerprint.</p>\n<table>\n"
        "<tr><th>File</th><td><b>SHA-256</b> (size in bytes)</td></tr>\n",
    ]
    for f in manifest.get("files", []):
        parts.append(_row(f.get("path"), f"{f.get('sha256')} ({f.get('size')})", mono=True))
    parts += [
        "</table>\n<table>\n",
        _row("Manifest SHA-256", hashlib.sha256(manifest_bytes).hexdigest(), mono=True),
        _row("Log entry (exact bytes)", entry.decode().replace("\n", " \u21b5 "), mono=True),
        "</table>\n",
        "<h2>4. Append-only log</h2>\n",
        "<p>The manifest's fingerprint was appended to an append-only Merkle log. The log signs "
        "checkpoints that commit to every entry so far; no entry can later be changed, removed or "
        "back-dated without breaking those signatures.</p>\n<table>\n",
        _row("Log", cp.origin),
        _row("Entry number (from 0)", proof.index),
        _row("Checkpoint: entries in the log", cp.size),
        _row("Checkpoint: root hash", cp.root_hash.hex(), mono=True),
        _row("Checkpoint note SHA-256", hashlib.sha256(proof.checkpoint_note).hexdigest(), mono=True),
    ]
    for sig in signed.note.signatures:
        ts = sig.timestamp
        when = ""
        if ts is not None:  # any 64-bit value: bounded, never an OverflowError (issue 10, item 8)
            when = f", time {utc_text(ts)} (if a cosignature)"
        parts.append(_row(f"Signed by {sig.name}", f"key ID {sig.key_id:08x}{when}", mono=True))
    if view.has(VKEY_PATH):
        for line in view.read(VKEY_PATH).decode("utf-8", "replace").splitlines():
            parts.append(_row("Key shown in the bundle", line, mono=True))
    parts.append(
        '</table>\n<p class="note">Keys shown inside a bundle prove nothing by themselves. '
        "Obtain the log's key from its operator through a separate channel and verify with it.</p>\n"
    )
    parts.append("<h2>5. Independent time-stamps (RFC 3161)</h2>\n")
    tokens = _token_rows(view)
    if tokens:
        parts.append(
            f"<p>Time-stamping authorities signed that the checkpoint (<code>{_e(NOTE_PATH.split('/')[-1])}"
            "</code>) existed at the time they state.</p>\n<table>\n"
        )
        parts.extend(tokens)
        parts.append("</table>\n")
    elif edition == 1:
        parts.append(
            '<p class="note">This bundle carries no independent time-stamp. Its time rests on the '
            "log's own signed clock and on witnesses, if any.</p>\n"
        )
    else:
        parts.append(
            '<p class="note">This bundle was sealed without an independent time-stamp (no time-stamping '
            "authority answered, or none was configured). Its time rests on the log's own signed clock and on "
            "witnesses, if any, unless time-stamps were added later with <code>evidence refresh</code> (files "
            "<code>evidence/refresh-*.tsr</code>), which <code>evidence verify</code> checks and reports.</p>\n"
        )
    parts.append(
        "<h2>6. How to verify</h2>\n<pre>evidence verify BUNDLE.wacz --log-key LOG-VKEY</pre>\n"
        "<p>or by hand with <code>unzip</code>, <code>sha256sum</code> and <code>openssl ts -verify</code>, "
        "as <code>VERIFY.txt</code> explains step by step.</p>\n</body></html>\n"
    )
    return "".join(parts).encode("utf-8")


def _verify_legacy(view: BundleView, edition: int) -> bytes:
    """Editions 1 and 2 of VERIFY.txt (frozen, like :func:`_report_legacy`)."""
    from evidence.bundle.format import MANIFEST_PATH, NOTE_PATH, log_entry

    manifest_bytes = view.read(MANIFEST_PATH)
    proof = view.proof()
    cp = SignedCheckpoint.parse(proof.checkpoint_note).checkpoint
    entry = log_entry(manifest_bytes)
    leaf = hashlib.sha256(b"\x00" + entry).hexdigest()
    tokens = [n.split("/")[-1] for n, _ in view.tokens()]
    lines = [
        "HOW TO VERIFY THIS EVIDENCE BUNDLE",
        "==================================",
        "",
        "With the tool (offline):",
        "    evidence verify THIS-FILE.wacz --log-key '<the log's key, obtained from its operator>'",
        "",
        "By hand, with standard tools:",
        "",
        "1. Unpack:            unzip THIS-FILE.wacz -d bundle && cd bundle",
        '2. Check every file:  each line of evidence/manifest.json "files" gives a path and its',
        "                      SHA-256; compare with:  sha256sum archive/data.warc.gz evidence/*.png ...",
        "3. The log entry is the exact bytes below (two lines, each ending in a newline):",
    ]
    lines += ["        " + x for x in entry.decode().splitlines()]
    lines += [
        f"   where {hashlib.sha256(manifest_bytes).hexdigest()}",
        "   is the SHA-256 of evidence/manifest.json:  sha256sum evidence/manifest.json",
        "   Its Merkle leaf hash is SHA-256(0x00 || entry):",
        f"        {leaf}",
        "4. evidence/entry.tlog-proof (c2sp.org/tlog-proof@v1) proves that this leaf is entry",
        f"   {proof.index} of the log {cp.origin!r}, in the tree of {cp.size} entries whose root is",
        f"        {cp.root_hash.hex()}",
        "   (RFC 9162 inclusion proof; the hashes are listed leaf-sibling first).",
        "5. The checkpoint (the last part of entry.tlog-proof, also in evidence/checkpoint.note) is",
        "   signed by the log key (Ed25519, c2sp.org/signed-note). Check it with a key you obtained",
        "   from the log operator, not only the one in evidence/log.vkey.",
    ]
    if tokens:
        lines += [
            "6. Independent time: each RFC 3161 time-stamp covers the SHA-256 of the checkpoint note:",
            "        sha256sum evidence/checkpoint.note",
        ]
        for t in tokens:
            lines.append(
                f"        openssl ts -verify -in evidence/{t} -data evidence/{NOTE_PATH.split('/')[-1]} "
                "-CAfile <TSA root certificate you trust>"
            )
        lines.append("   and openssl ts -reply -in evidence/<token> -text shows the time it states.")
    elif edition == 1:
        lines.append("6. This bundle has no independent RFC 3161 time-stamp.")
    else:
        lines += [
            "6. This bundle was sealed without an independent RFC 3161 time-stamp. Time-stamps added",
            "   later by 'evidence refresh' are evidence/refresh-<k>.<j>.tsr, each over evidence/refresh-<k>.note:",
            "        openssl ts -verify -in evidence/refresh-1.1.tsr -data evidence/refresh-1.note \\",
            "            -CAfile <TSA root certificate you trust>",
        ]
    lines += [
        "",
        "Formats: docs/bundle-format.md in the evidence project; all are open specifications.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
