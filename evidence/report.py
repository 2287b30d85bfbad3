"""The bundle's own description (``report.html``, ``VERIFY.txt``) and the graded certificate.

Two different documents live here, and the difference matters:

- ``evidence/report.html`` and ``evidence/VERIFY.txt`` are written into every bundle. They
  are pure functions of the bundle's *sealed* files and of its inclusion proof (entry
  number, tree size, root), so the verifier regenerates them and requires the same bytes.
  Because anyone who can edit a bundle can regenerate them too, they establish nothing by
  themselves: since edition 3 they show no time-stamp, signature, signer or witness (all of
  which can be added to a bundle later) and say how to get a graded result.
- The **certificate of preservation** (:func:`render_certificate`) is made by ``evidence
  report`` from a :class:`~evidence.verify.Report`, that is from a verification under the
  user's trust, and from the bundle data that verification checked. It shows each claim
  with its grade and what it was checked against. It is a pure function of those inputs;
  turning it into a PDF (with JavaScript off and the network refused) is
  :mod:`evidence.pdf`'s job.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evidence._internal.timefmt import bounded_text, utc_text, visible_text
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import BundleFormatError

if TYPE_CHECKING:
    from evidence.bundle import BundleView
    from evidence.verify import Report

__all__ = [
    "EDITIONS",
    "CertificateContext",
    "CertifiedData",
    "old_edition_warning",
    "read_certified",
    "render_certificate",
    "render_report",
    "render_verify_txt",
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

_CSS_V3 = (
    _CSS
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


def _b(value: Any) -> str:
    """``_e`` for edition 3 and the certificate: a value from the bundle, escaped and bounded."""
    text = "" if value is None else bounded_text(value, 1 << 62)
    if len(text) > MAX_SHOWN_VALUE:
        text = f"{text[:MAX_SHOWN_VALUE]}\u2026 ({len(text)} characters in all; the whole value is in the bundle)"
    return html.escape(text, quote=True)


def _row3(label: str, value: Any, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return f"<tr><th>{_b(label)}</th><td{cls}>{_b(value)}</td></tr>\n"


def _get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` where every level is a dict, else None (records may be malformed)."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


#: Most items of one list from a bundle (warnings, redirects) that are shown; the rest are counted.
MAX_SHOWN_ITEMS = 100


def _text_list(value: Any) -> list[str]:
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
    from evidence.bundle import MANIFEST_PATH

    manifest = view.json(MANIFEST_PATH)
    if not isinstance(manifest, dict):
        raise BundleFormatError(f"{MANIFEST_PATH} is not a JSON object")
    capture = view.json("evidence/capture.json") if view.has("evidence/capture.json") else {}
    env = view.json("evidence/environment.json") if view.has("evidence/environment.json") else {}
    return manifest, capture, env


def _capture_rows(manifest: dict[str, Any], capture: Any) -> list[str]:
    return [
        _row3("Requested address", manifest.get("url")),
        _row3("Address shown", manifest.get("final_url")),
        _row3("HTTP status", _get(capture, "status")),
        _row3("Page title", _get(capture, "page_title")),
        _row3("Capture started (UTC, capture machine clock)", manifest.get("capture_started")),
        _row3("Capture finished (UTC, capture machine clock)", manifest.get("capture_finished")),
        _row3("Case", manifest.get("case")),
        _row3("Operator", manifest.get("operator")),
    ]


def _redirect_rows(capture: Any) -> list[str]:
    chain = _get(capture, "redirect_chain")
    if not isinstance(chain, list) or len(chain) < 2:
        return []
    rows = ["<h2>Redirects</h2>\n<table>\n"]
    for i, hop in enumerate(chain[:MAX_SHOWN_ITEMS]):
        rows.append(_row3(f"Step {i + 1} ({_get(hop, 'status')})", _get(hop, "url")))
    if len(chain) > MAX_SHOWN_ITEMS:
        rows.append(_row3("\u2026", f"and {len(chain) - MAX_SHOWN_ITEMS} more steps, in capture.json"))
    rows.append("</table>\n")
    return rows


def _environment_rows(manifest: dict[str, Any], capture: Any, env: Any) -> list[str]:
    tls = _get(capture, "tls")
    dns = _get(capture, "dns", "answers")
    tool = manifest.get("tool")
    return [
        _row3("Server address", f"{_get(capture, 'server', 'ip')} port {_get(capture, 'server', 'port')}"),
        _row3("DNS answers", ", ".join(_text_list(dns))),
        _row3(
            "Connection security",
            f"{_get(tls, 'protocol')} {_get(tls, 'cipher')}" if tls else "none (plain HTTP)",
        ),
        _row3("Server certificate", f"{_get(tls, 'subject')} issued by {_get(tls, 'issuer')}" if tls else "-"),
        _row3("Tool", f"{_get(tool, 'name')} {_get(tool, 'version')}"),
        _row3("Browser", _get(env, "browser", "version")),
        _row3("Operating system", _get(env, "os", "platform")),
    ]


def _file_rows(manifest: dict[str, Any]) -> list[str]:
    files = manifest.get("files")
    return [
        _row3(_get(f, "path"), f"{_get(f, 'sha256')} ({_get(f, 'size')})", mono=True)
        for f in (files if isinstance(files, list) else [])
    ]


def _report_v3(view: BundleView) -> bytes:
    from evidence.bundle import MANIFEST_PATH, log_entry

    manifest, capture, env = _sealed_facts(view)
    manifest_bytes = view.read(MANIFEST_PATH)
    proof = view.proof()
    cp = SignedCheckpoint.parse(proof.checkpoint_note).checkpoint
    entry = log_entry(manifest_bytes)
    warnings = _text_list(_get(capture, "warnings"))
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP_V3}">\n',
        f"<title>Preserved web page (a description, not a verification): {_b(manifest.get('url'))}</title>\n",
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
        parts.extend(f"<li>{_b(w)}</li>\n" for w in warnings)
        parts.append("</ul>\n</div>\n")
    parts += [
        "<h2>1. What the capture recorded</h2>\n",
        "<p>These are the capture tool's own records, sealed into the manifest when the page was captured. "
        "Verifying the bundle shows whether they are unchanged since; it cannot show that they are true. The "
        "times are the capture machine's own clock, not an independent time.</p>\n<table>\n",
        *_capture_rows(manifest, capture),
        "</table>\n",
    ]
    if manifest.get("http_error"):
        parts.append(
            f'<p class="note">The server answered with an error status ({_b(_get(capture, "status"))}). '
            "The error page itself was preserved.</p>\n"
        )
    parts += _redirect_rows(capture)
    if view.has("evidence/screenshot-viewport.png"):
        whole = [f"<code>{n}</code>" for n in ("screenshot-full.png", "page.pdf") if view.has(f"evidence/{n}")]
        whole.append("the web archive")
        where = ", ".join(whole[:-1]) + " and " + whole[-1] if len(whole) > 1 else whole[0]
        parts.append(
            "<h2>What the capture's browser showed (first screen)</h2>\n"
            '<p><img class="shot" src="screenshot-viewport.png" alt="Screenshot of the first screen of the page"></p>\n'
            f"<p>The whole page is in {where}.</p>\n"
        )
    not_made = _get(capture, "artifacts_not_made")
    if isinstance(not_made, dict) and not_made:
        # Captures with a time budget name every file they did not make, and why.
        parts.append('<p class="note">Not made in this capture (the capture record says why):</p>\n<table>\n')
        for name, why in sorted(not_made.items())[:MAX_SHOWN_ITEMS]:
            parts.append(_row3(str(name), why.get("reason") if isinstance(why, dict) else why))
        parts.append("</table>\n")
    parts += [
        "<h2>2. How and from where it was captured (as recorded)</h2>\n<table>\n",
        *_environment_rows(manifest, capture, env),
        "</table>\n<p>The full capture environment is recorded in <code>environment.json</code>; "
        "every request the browser made is in <code>capture.json</code> and the web archive.</p>\n",
        "<h2>3. Seal: every file's fingerprint</h2>\n",
        "<p>The manifest lists the SHA-256 fingerprint of every preserved file. Changing any byte "
        "of any file changes its fingerprint.</p>\n<table>\n"
        "<tr><th>File</th><td><b>SHA-256</b> (size in bytes)</td></tr>\n",
        *_file_rows(manifest),
        "</table>\n<table>\n",
        _row3("Manifest SHA-256", hashlib.sha256(manifest_bytes).hexdigest(), mono=True),
        _row3("Log entry (exact bytes)", entry.decode().replace("\n", " \u21b5 "), mono=True),
        "</table>\n",
        "<h2>4. Found in the bundle, not checked by this page</h2>\n",
        "<p>The inclusion proof in <code>entry.tlog-proof</code> states that the seal is the entry below of an "
        "append-only log. Whether that log signed it, when, and who else saw it, is for a verification against "
        "keys you trust to say.</p>\n<table>\n",
        _row3("Log named in the manifest", _get(manifest, "log", "origin")),
        _row3("Entry number (from 0), as the proof states", proof.index),
        _row3("Entries in the checkpoint, as the proof states", cp.size),
        _row3("Root hash, as the proof states", cp.root_hash.hex(), mono=True),
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
    from evidence.bundle import MANIFEST_PATH, log_entry

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
        "",
        "Formats: docs/bundle-format.md in the evidence project; all are open specifications.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


# --------------------------------------------------------------------------- editions 1 and 2 (frozen)


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


def _report_legacy(view: BundleView, edition: int) -> bytes:
    """Editions 1 and 2 of report.html, kept byte for byte so that bundles written with them verify.

    They list every signature line and every token found in the bundle as if it were a fact;
    see :func:`old_edition_warning`. Frozen: do not change their wording.
    """
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
    _CSS
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
    return "<br>".join(_b(part) for part in _ITEM_START.split(text))


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


def read_certified(view: BundleView, *, manifest_sha256: str | None = None) -> CertifiedData:
    """Read what the certificate shows from a bundle that was just verified.

    Every file read is checked against the SHA-256 the manifest seals (and the manifest
    against ``manifest_sha256``, the one the verification saw, when given), so a bundle
    changed between the verification and this read is refused, never shown.
    """
    from evidence.bundle import MANIFEST_PATH

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
        if isinstance(_get(f, "path"), str) and isinstance(_get(f, "sha256"), str):
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
    )


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
    title_page = _get(shown.manifest, "url") if shown is not None else context.bundle_name
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP_CERTIFICATE}">\n',
        f"<title>{_b(heading)}: {_b(title_page)}</title>\n",
        f"<style>{_CSS_CERTIFICATE}</style></head><body>\n",
        f"<h1>{_b(heading)}</h1>\n",
        f'<div class="verdict v-{vclass}" id="verdict">\n<p class="big">VERDICT: {_b(verdict.value)}</p>\n',
        f"<p>{_b(lead)}</p>\n<p>{_b(report.summary)}</p>\n",
    ]
    failed = report.failed_step
    if failed is not None:
        files = f" (file: {', '.join(failed.files)})" if failed.files else ""
        parts.append(f"<p><b>Failed at step {failed.number}: {_b(failed.title)}</b>{_b(files)}.</p>\n")
        if failed.meaning:
            parts.append(f"<p><b>What this means:</b> {_b(failed.meaning)}</p>\n")
    parts.append("</div>\n<table>\n")
    parts += [
        _row3("Bundle file", context.bundle_name),
        _row3("Bundle file SHA-256", context.bundle_sha256, mono=True),
        _row3("Bundle file size (bytes)", context.bundle_size),
        _row3(
            "Checked against",
            report.trust + (f" (from {context.trust_source})" if context.trust_source else ""),
        ),
        _row3("Checked by", f"{context.tool}, {context.made_at}"),
        "</table>\n",
    ]
    capture_warnings = _text_list(_get(shown.capture, "warnings")) if shown is not None else []
    other = [w for w in report.warnings if not any(w == c or w.endswith(c) for c in capture_warnings)]
    if capture_warnings:
        parts.append(
            '<div class="warnings" id="capture-warnings">\n<h2>Warnings recorded by the capture</h2>\n'
            "<p>The capture tool recorded these warnings about the page and sealed them with it. Read them before "
            "relying on what the page showed.</p>\n<ul>\n"
        )
        parts.extend(f"<li>{_b(w)}</li>\n" for w in capture_warnings)
        parts.append("</ul>\n</div>\n")
    if other:
        parts.append(
            '<div class="warnings" id="warnings">\n<h2>Warnings from the verification</h2>\n'
            "<p>They do not change the verdict, but a reader must know them.</p>\n<ul>\n"
        )
        parts.extend(f"<li>{_b(w)}</li>\n" for w in other)
        parts.append("</ul>\n</div>\n")
    parts.append("<h2>1. The claims, each graded</h2>\n")
    if usable:
        established = [c.name for c in report.claims if c.grade is Grade.VERIFIED]
        parts.append(
            "<p>A claim is established only where it is graded VERIFIED: checked against the keys and certificates "
            "listed under \u201cChecked against\u201d. Anything else found in the bundle (a time-stamp from an "
            "authority you do not pin, a signature by a key you did not give) is shown with its grade and is not "
            "established.</p>\n"
            f'<p id="established"><b>Established:</b> {_b("; ".join(established) or "nothing")}.</p>\n'
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
        grade = _b(c.grade.value) + (f"<br>({_b(word)})" if word else "")
        parts.append(
            f'<tr class="claim g-{c.grade.name}"><th>{_b(c.name)}</th><td class="grade">{grade}</td>'
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
                f'<tr><th>{_b(t.what)}</th><td>{_b(t.identity)}<br><span class="mono">fingerprint '
                f"{_b(t.fingerprint)}</span><br>{_b(t.how)}</td></tr>\n"
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
            *_capture_rows(shown.manifest, shown.capture),
            "</table>\n",
            *_redirect_rows(shown.capture),
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
            parts.append(f'<p class="note">{_b(shown.screenshot_note)}</p>\n')
        parts += [
            "<h2>3. How and from where it was captured (as recorded)</h2>\n<table>\n",
            *_environment_rows(shown.manifest, shown.capture, shown.environment),
            "</table>\n<h2>4. The seal</h2>\n<table>\n",
            *[_row3(k, v, mono=k.endswith("SHA-256")) for k, v in report.facts],
            "</table>\n<table>\n<tr><th>Sealed file</th><td><b>SHA-256</b> (size in bytes)</td></tr>\n",
            *_file_rows(shown.manifest),
            "</table>\n",
        ]
    parts.append("<h2>5. The checks that ran</h2>\n<table>\n")
    for s in report.steps:
        mark = "PASS" if s.ok else "FAIL"
        files = f" File: {', '.join(s.files)}." if (not s.ok and s.files) else ""
        cls = "" if s.ok else ' class="fail"'
        row = f"<th>{s.number}. {_b(s.title)}</th><td><b>{mark}</b>: {_detail(s.detail)}{_b(files)}</td>"
        parts.append(f"<tr{cls}>{row}</tr>\n")
    for n, title in STEP_TITLES.items():
        if n > len(report.steps):
            parts.append(f"<tr><th>{n}. {_b(title)}</th><td><b>not run</b></td></tr>\n")
    parts.append("</table>\n")
    parts.append(
        "<h2>6. What this certificate is</h2>\n"
        "<p>It was generated by <code>evidence report</code> from a verification of the bundle file named above "
        "against the trust named above, not from the bundle's own <code>report.html</code>, which establishes "
        "nothing by itself. It does not prove that what the page showed was true, who controlled the web site, or "
        "that the capture machine's clock was right. Anyone can repeat the verification offline:</p>\n"
        f"<pre>evidence verify {_b(context.bundle_name)} --trust trust.policy\n"
        f"evidence report {_b(context.bundle_name)} -o certificate.pdf --trust trust.policy</pre>\n"
        "</body></html>\n"
    )
    # Invisible and direction-changing characters from the bundle are shown as [U+202E]: a URL
    # or name on the certificate reads as what it is.
    return visible_text("".join(parts)).encode("utf-8")
