"""The human-readable certificate of preservation (``report.html``) and ``VERIFY.txt``.

Both are pure functions of the bundle's other files, so the verifier regenerates them and
requires the same bytes: the report a judge reads can never say something the verified
data does not. ``evidence report BUNDLE -o FILE.pdf`` renders the report with Chromium.
"""

from __future__ import annotations

import hashlib
import html
from typing import TYPE_CHECKING, Any

from evidence.checkpoint import SignedCheckpoint

if TYPE_CHECKING:
    from evidence.bundle import BundleView

_CSS = """
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


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _row(label: str, value: Any, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return f"<tr><th>{_e(label)}</th><td{cls}>{_e(value)}</td></tr>\n"


def _facts(view: BundleView) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from evidence.bundle import MANIFEST_PATH

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


#: The wording of report.html and VERIFY.txt: the verifier regenerates them byte for byte, so
#: every wording a released bundle may carry stays renderable. Edition 1 (until 2026-11-22)
#: did not point to time-stamps added later by ``evidence refresh`` in a bundle without one.
EDITIONS = (2, 1)


def render_report(view: BundleView, *, edition: int = EDITIONS[0]) -> bytes:
    """``evidence/report.html`` for a bundle (deterministic), in the wording of ``edition``."""
    from evidence.bundle import MANIFEST_PATH, NOTE_PATH, VKEY_PATH, log_entry

    manifest, capture, env = _facts(view)
    manifest_bytes = view.read(MANIFEST_PATH)
    proof = view.proof()
    signed = SignedCheckpoint.parse(proof.checkpoint_note)
    cp = signed.checkpoint
    entry = log_entry(manifest_bytes)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>Certificate of preservation: {_e(manifest.get('url'))}</title>",
        f"<style>{_CSS}</style></head><body>\n",
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
    not_made = capture.get("artifacts_not_made")
    if isinstance(not_made, dict) and not_made:
        # Written by captures with a time budget (2026-12); older bundles have no such key.
        parts.append('<p class="note">Not made in this capture (the capture record says why):</p>\n<table>\n')
        for name, why in sorted(not_made.items()):
            parts.append(_row(name, why.get("reason") if isinstance(why, dict) else why))
        parts.append("</table>\n")
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
        if ts is not None:
            from datetime import UTC, datetime

            when = f", time {datetime.fromtimestamp(ts, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} (if a cosignature)"
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


def render_verify_txt(view: BundleView, *, edition: int = EDITIONS[0]) -> bytes:
    """``evidence/VERIFY.txt``: how to check this bundle by hand (deterministic), in the wording of ``edition``."""
    from evidence.bundle import MANIFEST_PATH, NOTE_PATH, log_entry

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


def render_pdf(report_html: bytes, images: dict[str, bytes], dest: str, executable: str | None = None) -> None:
    """Render report HTML to PDF with Chromium (headless), images served from memory."""
    import tempfile
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from evidence.capture.discovery import find_chromium

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "report.html").write_bytes(report_html)
        for name, data in images.items():
            (d / name).write_bytes(data)
        exe = executable or str(find_chromium().path)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page()
                page.goto((d / "report.html").as_uri())
                page.pdf(path=dest, format="A4", print_background=True)
            finally:
                browser.close()
