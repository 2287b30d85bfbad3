"""Helpers for the verifier tests: rewrite bundles (tampering), re-seal them, craft hostile ZIPs.

Importable by name (tests/ is on sys.path). Everything here writes new files and never
touches its input.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evidence.bundle import (
    ATTEMPTS_PATH,
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    MANIFEST_PATH,
    NOTE_PATH,
    PROOF_PATH,
    REPORT_PATH,
    TOKEN_RE,
    TSA_CERT_RE,
    VERIFY_PATH,
    VKEY_PATH,
    BundleView,
    log_entry,
)
from evidence.bundle.wacz import Member, datapackage_digest, write_zip
from evidence.checkpoint import TlogProof
from evidence.config import TSAConfig
from evidence.log import Log
from evidence.note import Note, Signer, add_signatures

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def members(path: Path) -> dict[str, bytes]:
    """Every member of a ZIP, in order."""
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_members(dest: Path, items: Mapping[str, bytes] | Sequence[tuple[str, bytes]]) -> Path:
    """A stored ZIP with exactly these members (duplicates allowed when given as pairs)."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in pairs:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zf.writestr(info, data)
    return dest


def _repackage(files: dict[str, bytes], old_pkg: bytes) -> dict[str, bytes]:
    """``files`` with datapackage.json and its digest recomputed (what a careful forger does)."""
    pkg = json.loads(old_pkg)
    by_path = {r["path"]: r for r in pkg["resources"]}
    resources = []
    for name, data in files.items():
        if name in (DATAPACKAGE, DATAPACKAGE_DIGEST):
            continue
        r = dict(by_path.get(name, {"name": name.replace("/", "-").lower(), "path": name}))
        r["hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
        r["bytes"] = len(data)
        resources.append(r)
    pkg["resources"] = resources
    pkg_bytes = (json.dumps(pkg, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    out = {k: v for k, v in files.items() if k not in (DATAPACKAGE, DATAPACKAGE_DIGEST)}
    out[DATAPACKAGE] = pkg_bytes
    out[DATAPACKAGE_DIGEST] = datapackage_digest(pkg_bytes)
    return out


def rewrite(
    src: Path,
    dest: Path,
    *,
    change: Mapping[str, bytes | None] | None = None,
    rehash: bool = True,
) -> Path:
    """Copy a bundle, replacing (bytes), removing (None) or adding members.

    With ``rehash`` the datapackage files are recomputed so that only the deeper checks can
    notice; without it they are left as they were.
    """
    files = members(src)
    old_pkg = files[DATAPACKAGE]
    for name, data in (change or {}).items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    if rehash:
        files = _repackage(files, old_pkg)
    return write_members(dest, files)


def flip(data: bytes, pos: int | None = None) -> bytes:
    """``data`` with one byte changed (the middle one by default)."""
    if not data:
        return b"\x00"
    i = len(data) // 2 if pos is None else pos
    return data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :]


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


#: Where a forger's change to each file is caught when datapackage.json is recomputed.
def expected_step(name: str) -> int:
    if name in (PROOF_PATH, NOTE_PATH):
        return 4
    if name == VKEY_PATH:
        return 5
    if TOKEN_RE.match(name) or TSA_CERT_RE.match(name):
        return 7
    if name in (REPORT_PATH, VERIFY_PATH, ATTEMPTS_PATH):
        return 8
    return 2  # sealed files and the manifest itself


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def reseal(
    src: Path,
    dest: Path,
    log: Log,
    *,
    sealed: Mapping[str, bytes | None] | None = None,
    edit_manifest: Callable[[dict[str, Any]], None] | None = None,
    witnesses: Sequence[Signer] = (),
    tsas: Sequence[TSAConfig] = (),
    render: bool = True,
) -> Path:
    """Seal a modified copy of a bundle into ``log`` again, as a forger who runs a log could.

    ``sealed`` replaces or removes sealed files; ``edit_manifest`` edits the manifest before
    it is logged; ``witnesses`` add cosignatures to the checkpoint note; ``tsas`` stamp the
    resulting note. The report and VERIFY.txt are regenerated (``render=False`` keeps the
    old ones), so the result is internally consistent unless a test wants otherwise.
    """
    from evidence.report import render_report, render_verify_txt
    from evidence.timestamp import request_timestamp

    files = members(src)
    keep_post = {n: files[n] for n in (REPORT_PATH, VERIFY_PATH)}
    manifest = json.loads(files[MANIFEST_PATH])
    for name, data in (sealed or {}).items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    new_capture = (sealed or {}).get("evidence/capture.json")
    if new_capture is not None and "pages/pages.jsonl" not in (sealed or {}):
        # pages.jsonl is derived from capture.json (the verifier requires it): a forger redoes it too.
        from evidence.bundle import PAGES_PATH, page_entry
        from evidence.bundle.wacz import pages_jsonl

        files[PAGES_PATH] = pages_jsonl([page_entry(json.loads(new_capture))])
    sealed_paths = [f["path"] for f in manifest["files"]]
    sealed_paths = [p for p in sealed_paths if p in files] + [p for p in (sealed or {}) if p not in sealed_paths]
    manifest["files"] = [
        {"path": p, "sha256": hashlib.sha256(files[p]).hexdigest(), "size": len(files[p])}
        for p in sorted(set(sealed_paths))
        if p in files
    ]
    manifest["salt"] = hashlib.sha256(str(time.time_ns()).encode()).hexdigest()
    manifest["log"] = {"origin": log.origin}
    # The resealed copy is a new seal with no attempt record of its own: no attempts.json.
    manifest.pop("attempts", None)
    files.pop(ATTEMPTS_PATH, None)
    if edit_manifest is not None:
        edit_manifest(manifest)
    manifest_bytes = json_bytes(manifest)
    [index] = log.append([log_entry(manifest_bytes)])
    size = log.checkpoint().checkpoint.size
    proof = log.prove(index, size)
    note_bytes = proof.checkpoint_note
    if witnesses:
        note = Note.parse(note_bytes)
        ts = int(time.time())
        note = add_signatures(note, [w.signature_line(note.text_bytes, ts) for w in witnesses])
        note_bytes = note.to_bytes()
        proof = TlogProof(proof.index, proof.hashes, note_bytes, proof.extra)
    out = {n: d for n, d in files.items() if not (TOKEN_RE.match(n) or TSA_CERT_RE.match(n))}
    out[MANIFEST_PATH] = manifest_bytes
    out[PROOF_PATH] = proof.to_bytes()
    out[NOTE_PATH] = note_bytes
    out[VKEY_PATH] = (log.verifier.vkey() + "\n" + log.timestamp_verifier.vkey() + "\n").encode()
    for k, tsa in enumerate(tsas, start=1):
        token = request_timestamp(note_bytes, tsa)
        out[f"evidence/checkpoint.{k}.tsr"] = token.der
        from cryptography.hazmat.primitives.serialization import Encoding

        pem = b"".join(c.public_bytes(Encoding.PEM) for c in token.embedded_certificates())
        if pem:
            out[f"evidence/tsa-{k}.pem"] = pem
    if render:
        view = BundleView.from_members([Member(n, d) for n, d in out.items()])
        out[REPORT_PATH] = render_report(view)
        out[VERIFY_PATH] = render_verify_txt(view)
    else:
        out.update(keep_post)
    out = _repackage(out, files[DATAPACKAGE])
    write_zip(dest, [Member(n, d) for n, d in out.items()])
    return dest


def _site_ca(root: Path, site: Any) -> Path:
    """The test site's private root as a PEM file, for the clean-environment check's
    ``trusted_ca`` option (it is in no system store: without it the check FAILs on TLS)."""
    path = root / "site-ca.pem"
    path.write_bytes(site.certs.root_pem)
    return path


def make_bundle(root: Path, tsa_url: str, chromium: str, origin: str) -> tuple[Any, Log]:
    """Capture the local site's listing over HTTPS (through a redirect) into a new log.

    Two other entries come first, so that other entries' proofs exist to swap in. Returns
    the :class:`evidence.bundle.Bundle` and the log.
    """
    import os

    from capture.capture_helpers import load_site_module

    from evidence import api

    site = load_site_module().TestSite.start()
    old = os.environ.get("EVIDENCE_HOME")
    os.environ["EVIDENCE_HOME"] = str(root / "home")
    try:
        log = Log.create(root / "log", origin=origin)
        log.append([b"other entry 0", b"other entry 1"])
        bundle = api.capture(
            site.url("/redirect/1", https=True),
            insecure=True,
            trusted_ca=_site_ca(root, site),
            out_dir=root / "out",
            log=log,
            tsa=[tsa_url],
            executable=chromium,
            name="listing.wacz",
        )
    finally:
        site.close()
        if old is None:
            os.environ.pop("EVIDENCE_HOME", None)
        else:
            os.environ["EVIDENCE_HOME"] = old
    return bundle, log


def declare_size(path: Path, name: str, size: int) -> None:
    """Patch the central directory so that member ``name`` declares ``size`` bytes."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    pos = 0
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == encoded:
            struct.pack_into("<I", data, pos + 24, size)  # uncompressed size
            break
        pos += 4
    path.write_bytes(bytes(data))


def tree_snapshot(*dirs: Path) -> dict[str, list[str]]:
    """Every path below each directory (to show that nothing was extracted)."""
    return {str(d): sorted(str(p.relative_to(d)) for p in d.rglob("*")) for d in dirs}
