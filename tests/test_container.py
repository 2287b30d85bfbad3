"""The bundle container: one reading only, checked against three other ZIP readers.

A real bundle (captured with Chromium, sealed into a log, time-stamped by the local TSA)
is taken apart by the small raw ZIP writer below and put together again with one thing
wrong: a local header that disagrees with the central directory, bytes that belong to no
file, a second end record or directory, a name that only looks allowed, a lying size or
CRC. Each crafted bundle must get its exact verdict, at step 1. Every bundle the verifier
accepts (the written one and the harmless variants) is then extracted by Info-ZIP
``unzip``, Python's ``zipfile`` and py-wacz (through the ZIP reading its validator uses);
each must give exactly the bytes the verifier hashed.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import handmade
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tools import ROOT
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from verify_helpers import members, write_members

from evidence.bundle import BundleView, container
from evidence.bundle.container import Container, ZipWriter
from evidence.bundle.wacz import Member, write_zip
from evidence.errors import BundleFormatError
from evidence.log import Log
from evidence.trust import TrustPolicy
from evidence.verify import Report, Verdict, verify

UNZIP = shutil.which("unzip") or "/usr/bin/unzip"
WACZ_PYTHON = ROOT / ".venv-wacz/bin/python"

# --------------------------------------------------------------------------- a raw ZIP writer


@dataclass
class Raw:
    """One member as the raw writer lays it out; every field can be made to lie."""

    name: bytes
    content: bytes
    payload: bytes  # the bytes in the archive (compressed when method is 8)
    method: int
    local: dict[str, int] = field(default_factory=dict)  # overrides of local header fields
    central: dict[str, int] = field(default_factory=dict)  # overrides of central entry fields
    local_name: bytes | None = None
    local_extra: bytes = b""
    central_extra: bytes = b""
    comment: bytes = b""
    after: bytes = b""  # bytes written between the payload and the next header


def raw_member(name: str | bytes, content: bytes, method: int = 8, level: int = 6) -> Raw:
    if method == 8:
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        payload = c.compress(content) + c.flush()
    else:
        payload = content
    return Raw(name.encode() if isinstance(name, str) else name, content, payload, method)


def explode(path: Path) -> list[Raw]:
    """The members of a bundle, with their stored bytes exactly as in the file."""
    with open(path, "rb") as f:
        c = Container.parse(f, path.stat().st_size)
        out = []
        for e in c.entries:
            f.seek(e.data_offset)
            payload = f.read(e.compressed_size)
            with c.open(e.name) as s:
                out.append(Raw(e.name.encode(), s.read(), payload, e.method))
    return out


def _fields(r: Raw) -> dict[str, int]:
    return {
        "version": 20,
        "flags": 0,
        "method": r.method,
        "time": 0,
        "date": 0x21,
        "crc": zlib.crc32(r.content),
        "csize": len(r.payload),
        "usize": len(r.content),
    }


def serialize(
    raws: list[Raw],
    *,
    prefix: bytes = b"",
    shift: int = 0,
    suffix: bytes = b"",
    comment: bytes = b"",
    eocd: dict[str, int] | None = None,
    cd_tail: bytes = b"",
    zip64: dict[str, int] | None = None,
) -> bytes:
    """A ZIP of ``raws`` in the writer's layout, except where a field is overridden.

    Central offsets are the real positions minus ``shift`` (a prefix the offsets ignore);
    ``zip64`` adds a ZIP64 end record and locator (its dict overrides their fields).
    """
    out = bytearray(prefix)
    offsets = []
    for r in raws:
        offsets.append(len(out))
        f = _fields(r) | r.local
        lname = r.name if r.local_name is None else r.local_name
        out += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            f["version"],
            f["flags"],
            f["method"],
            f["time"],
            f["date"],
            f["crc"],
            f["csize"],
            f["usize"],
            len(lname),
            len(r.local_extra),
        )
        out += lname + r.local_extra + r.payload + r.after
    cd_start = len(out)
    for r, off in zip(raws, offsets, strict=True):
        c = _fields(r) | {"made_by": 0x0314, "disk": 0, "internal": 0, "external": 0o644 << 16, "offset": off - shift}
        c |= r.central
        out += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            c["made_by"],
            c["version"],
            c["flags"],
            c["method"],
            c["time"],
            c["date"],
            c["crc"],
            c["csize"],
            c["usize"],
            len(r.name),
            len(r.central_extra),
            len(r.comment),
            c["disk"],
            c["internal"],
            c["external"],
            c["offset"],
        )
        out += r.name + r.central_extra + r.comment
    out += cd_tail
    cd_size = len(out) - cd_start
    n = len(raws)
    if zip64 is not None:
        rec_at = len(out)
        z = {"n": n, "cd_size": cd_size, "cd_offset": cd_start - shift, "rec_at": rec_at - shift, "made": 45}
        z |= zip64
        out += struct.pack(
            "<4sQHHIIQQQQ", b"PK\x06\x06", 44, z["made"], 45, 0, 0, z["n"], z["n"], z["cd_size"], z["cd_offset"]
        )
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, z["rec_at"], 1)
    e = {"disk": 0, "cd_disk": 0, "n_disk": n, "n_total": n, "cd_size": cd_size, "cd_offset": cd_start - shift}
    e |= {"comment_len": len(comment)} | (eocd or {})
    out += struct.pack(
        "<4sHHHHIIH",
        b"PK\x05\x06",
        e["disk"],
        e["cd_disk"],
        e["n_disk"],
        e["n_total"],
        e["cd_size"],
        e["cd_offset"],
        e["comment_len"],
    )
    return bytes(out + comment + suffix)


# --------------------------------------------------------------------------- the real bundle


@dataclass(frozen=True)
class Real:
    bundle: Path
    policy: TrustPolicy
    raws: list[Raw]
    log: Log
    tsa: RunningTSA

    def raw(self) -> list[Raw]:
        return copy.deepcopy(self.raws)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Real:
    """A hand-made capture (tests/handmade.py) sealed with the real writer: no browser needed."""
    root = tmp_path_factory.mktemp("container")
    bundle, log = handmade.make_bundle(root, local_tsa.url, "container.test/evidence")
    policy = TrustPolicy.parse(
        f"log {log.verifier.vkey()}\nwitness log-clock {log.timestamp_verifier.vkey()}\nquorum none\n"
        + local_tsa.policy_lines()
    )
    return Real(bundle.path, policy, explode(bundle.path), log, local_tsa)


def _at(raws: list[Raw], name: str) -> Raw:
    return next(r for r in raws if r.name == name.encode())


def _write(tmp_path: Path, data: bytes, name: str = "crafted.wacz") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _refused(report: Report, verdict: Verdict, *words: str) -> None:
    text = report.render_text()
    assert report.verdict is verdict, text
    failed = report.failed_step
    assert failed is not None and failed.number == 1 and len(report.steps) == 1, text
    for w in words:
        assert w in failed.detail, (w, failed.detail)


def test_the_raw_writer_reproduces_the_bundle_byte_for_byte(real: Real) -> None:
    """The crafted bundles differ from a real one only where a test makes them lie."""
    assert serialize(real.raw()) == real.bundle.read_bytes()
    report = verify(real.bundle, trust=real.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    methods = {r.name.decode(): r.method for r in real.raws}
    assert methods["archive/data.warc.gz"] == 0  # replay reads WARC records at offsets: stored
    assert {methods[n] for n in ("evidence/dom.html", "evidence/page.mhtml", "evidence/capture.json")} == {8}
    assert {methods[n] for n in ("indexes/index.cdx", "datapackage.json", "evidence/report.html")} == {8}


# --------------------------------------------------------------------------- crafted bundles

Craft = Callable[[list[Raw]], bytes]


def _local(name: str, **fields: int) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        _at(raws, name).local.update(fields)
        return serialize(raws)

    return craft


def _both(name: str, **fields: int) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        r = _at(raws, name)
        r.local.update(fields)
        r.central.update(fields)
        return serialize(raws)

    return craft


def _central(name: str, **fields: int) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        _at(raws, name).central.update(fields)
        return serialize(raws)

    return craft


def _set(name: str, **attrs: Any) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        r = _at(raws, name)
        for k, v in attrs.items():
            setattr(r, k, v)
        return serialize(raws)

    return craft


def _whole(**kwargs: Any) -> Craft:
    return lambda raws: serialize(raws, **kwargs)


def _added(name: bytes, content: bytes = b"forged\n", method: int = 0, **central: int) -> Craft:
    """A member added before datapackage.json (which need not list it: the container is checked first)."""

    def craft(raws: list[Raw]) -> bytes:
        r = raw_member(name, content, method)
        r.local.update({k: v for k, v in central.items() if k in ("flags",)})
        r.central.update(central)
        raws.insert(len(raws) - 2, r)
        return serialize(raws)

    return craft


def _forged_dom_header(raws: list[Raw]) -> bytes:
    """The local header describes a forged dom.html that follows it; the central directory the real one."""
    r = _at(raws, "evidence/dom.html")
    forged = raw_member(r.name, b"<html><body>999 EUR</body></html>", 0)
    real_fields = _fields(r)
    r.payload, r.method, r.content = forged.payload, 0, forged.content
    r.central.update(real_fields)  # central: the real file's CRC, sizes and method
    return serialize(raws)


def _overlap(raws: list[Raw]) -> bytes:
    """The index's central entry points into the WARC's data (two entries over the same bytes)."""
    _at(raws, "indexes/index.cdx").central["offset"] = 30 + len(b"archive/data.warc.gz") + 10
    return serialize(raws)


def _data_descriptor(lie: int) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        r = _at(raws, "evidence/dom.html")
        f = _fields(r)
        r.local.update(flags=8)
        r.central.update(flags=8)
        r.after = struct.pack("<4sIII", b"PK\x07\x08", f["crc"], f["csize"] + lie, f["usize"] + lie)
        return serialize(raws)

    return craft


def _zip_in_front(raws: list[Raw]) -> bytes:
    forged = serialize([raw_member("evidence/dom.html", b"<html>forged</html>")])
    return serialize(raws, prefix=forged)


def _two_end_records(raws: list[Raw]) -> bytes:
    """The first end record's comment is a second end record (which then ends the file)."""
    plain = serialize(raws)
    second = plain[-22:]
    return plain[:-2] + struct.pack("<H", 22) + second


def _zip64_disagrees(raws: list[Raw]) -> bytes:
    return serialize(raws, zip64={"n": len(raws) + 1, "cd_offset": 1 << 32})


def _flood_declared(raws: list[Raw]) -> bytes:
    return serialize(raws, eocd={"n_disk": 0xFFFF, "n_total": 0xFFFF, "cd_size": 0xFFFF * 46})


def _flood_zip64(raws: list[Raw]) -> bytes:
    n = 5_000_000
    eocd = {"n_disk": 0xFFFF, "n_total": 0xFFFF, "cd_size": n * 46}
    return serialize(raws, zip64={"n": n, "cd_size": n * 46}, eocd=eocd)


def _cd_size_huge(raws: list[Raw]) -> bytes:
    return serialize(raws, eocd={"cd_size": 0x7FFFFFF0})


def _gap(raws: list[Raw]) -> bytes:
    _at(raws, "evidence/page.pdf").after = b"\x00" * 64
    return serialize(raws)


def _cd_offset_overflow(raws: list[Raw]) -> bytes:
    return serialize(raws, eocd={"cd_offset": 0xFFFFFFF0})


def _count_minus_one(raws: list[Raw]) -> bytes:
    n = len(raws) - 1
    return serialize(raws, eocd={"n_disk": n, "n_total": n})


UNUSABLE_CASES: dict[str, Craft] = {
    # local header against central entry
    "local header describes other bytes (forged dom.html)": _forged_dom_header,
    "local sizes differ": _local("evidence/capture.json", csize=1, usize=1),
    "local CRC differs": _local("evidence/capture.json", crc=0),
    "local method differs": _local("evidence/dom.html", method=0),
    "local flags differ": _local("evidence/dom.html", flags=8),
    "local version needed differs": _local("evidence/dom.html", version=45),
    "local time differs": _local("evidence/dom.html", time=1),
    "local name differs": _set("evidence/dom.html", local_name=b"evidence/dom.htmx"),
    "local name longer": _set("evidence/dom.html", local_name=b"evidence/dom.html.exe"),
    "local extra padding": _set("evidence/dom.html", local_extra=b"\x00" * 8),
    "local ZIP64 extra": _set("evidence/dom.html", local_extra=struct.pack("<HHQQ", 1, 16, 2256, 719)),
    # central entry
    "central extra field (timestamp)": _set("evidence/dom.html", central_extra=b"UT\x05\x00\x01\x00\x00\x00\x00"),
    "central extra oversized": _set("evidence/dom.html", central_extra=struct.pack("<HH", 0xCAFE, 996) + bytes(996)),
    "file comment": _set("evidence/dom.html", comment=b"see the other dom.html"),
    "method LZMA": _both("evidence/dom.html", method=14),
    "method bzip2": _both("evidence/dom.html", method=12),
    "encrypted": _both("evidence/dom.html", flags=1),
    "UTF-8 flag on an ASCII name": _both("evidence/dom.html", flags=0x800),
    "data descriptor": _data_descriptor(0),
    "lying data descriptor": _data_descriptor(100),
    "symlink attributes": _central("evidence/dom.html", external=0o120777 << 16),
    "MS-DOS folder attribute": _central("evidence/dom.html", external=0x10),
    "setuid attributes": _central("evidence/dom.html", external=0o104755 << 16),
    "made on another host": _central("evidence/dom.html", made_by=0x0014),
    "disk number": _central("evidence/dom.html", disk=1),
    "stored with sizes that differ": _both("archive/data.warc.gz", csize=10),
    "offset 0xFFFFFFFF without ZIP64": _central("evidence/dom.html", offset=0xFFFFFFFF),
    "offset beyond the file": _central("datapackage.json", offset=1 << 30),
    "overlapping members": _overlap,
    "declared 2 GiB": _both("evidence/dom.html", usize=2 << 30),
    "zip bomb ratio": _both("evidence/dom.html", usize=900 << 20),
    # bytes that belong to no member
    "prefix, offsets adjusted": _whole(prefix=b"MZ" + bytes(200)),
    "prefix, offsets not adjusted": lambda raws: serialize(raws, prefix=b"#!/bin/sh\n" * 8, shift=80),
    "a ZIP concatenated in front": _zip_in_front,
    "suffix": _whole(suffix=b"appended after the end\n"),
    "archive comment": _whole(comment=b"Looks fine to me."),
    "gap between members": _gap,
    "bytes after the last directory entry": _whole(cd_tail=b"\x00" * 46),
    # end records and directories
    "two end records": _two_end_records,
    "ZIP64 end record nobody needs": _whole(zip64={}),
    "ZIP64 locator pointing elsewhere": _whole(zip64={"rec_at": 12}),
    "ZIP64 and classic end records disagree": _zip64_disagrees,
    "ZIP64 made-by differs": _whole(zip64={"made": 63}),
    "entry count one short": _count_minus_one,
    "spanned archive": _whole(eocd={"disk": 1}),
    "central directory offset overflows": _cd_offset_overflow,
    "central directory flood (declared count)": _flood_declared,
    "central directory flood (ZIP64 count)": _flood_zip64,
    "central directory size huge": _cd_size_huge,
    # names
    "name with a final newline": _added(b"evidence/tsa-1.pem\n"),
    "name with a final NUL": _added(b"evidence/dom.html\x00"),
    "name with a final slash": _added(b"evidence/dom.html/"),
    "name with a final dot": _added(b"evidence/dom.html."),
    "name with a final space": _added(b"evidence/dom.html "),
    "folder entry": _added(b"evidence/", b""),
    "same name twice": _added(b"evidence/dom.html"),
    "same name in other case": _added(b"evidence/DOM.html"),
    "file used as a folder": _added(b"evidence/dom.html/index.html"),
    "dot segment": _added(b"evidence/./dom.html"),
    "parent segment": _added(b"evidence/../../evil.txt"),
    "absolute name": _added(b"/tmp/evil.txt"),
    "backslash": _added(b"evidence\\dom.html"),
    "drive letter": _added(b"C:/evil.txt"),
    "device name": _added(b"evidence/con.txt"),
    "UTF-8 look-alike name": _added("evidence/d\u043em.html".encode(), flags=0x800),
    "Latin-1 name": _added(b"evidence/d\xf6m.html"),
    "empty name": _added(b""),
    "empty file": lambda raws: b"",
    "only an end record": lambda raws: serialize([]),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE_CASES))
def test_crafted_container_is_unusable_at_step_1(real: Real, tmp_path: Path, case: str) -> None:
    path = _write(tmp_path, UNUSABLE_CASES[case](real.raw()))
    report = verify(path, trust=real.policy)
    _refused(report, Verdict.UNUSABLE, "not a ZIP container this tool accepts")
    assert report.exit_code == 2


def _deflated_payload(name: str, make: Callable[[Raw], None]) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        r = _at(raws, name)
        assert r.method == 8
        make(r)
        return serialize(raws)

    return craft


def _declare(r: Raw, content: bytes) -> None:
    """Local and central entry both declare ``content`` (its CRC and size); the payload is unchanged."""
    fields = {"crc": zlib.crc32(content), "usize": len(content)}
    r.local.update(fields)
    r.central.update(fields)


FAILED_CASES: dict[str, tuple[str, Craft, str]] = {
    "CRC-32 differs, sizes right": (
        "evidence/capture.json",
        _both("evidence/capture.json", crc=0x12345678),
        "CRC-32",
    ),
    "stored CRC-32 differs": ("archive/data.warc.gz", _both("archive/data.warc.gz", crc=1), "CRC-32"),
    "bytes after the deflate stream": (
        "evidence/dom.html",
        _deflated_payload("evidence/dom.html", lambda r: setattr(r, "payload", r.payload + b"smuggled")),
        "bytes follow the end",
    ),
    "deflate stream longer than declared": (
        "evidence/dom.html",
        _deflated_payload("evidence/dom.html", lambda r: _declare(r, r.content[:-1])),
        "",  # the size check against datapackage.json comes first; the reading is tested below
    ),
    "deflate stream shorter than declared": (
        "evidence/dom.html",
        _deflated_payload("evidence/dom.html", lambda r: _declare(r, r.content + b"!")),
        "",
    ),
    "deflate stream cut short": (
        "evidence/page.mhtml",
        _deflated_payload("evidence/page.mhtml", lambda r: setattr(r, "payload", r.payload[: len(r.payload) // 2])),
        "",
    ),
    "deflate stream corrupt": (
        "evidence/page.mhtml",
        _deflated_payload(
            "evidence/page.mhtml", lambda r: setattr(r, "payload", r.payload[:10] + bytes(50) + r.payload[60:])
        ),
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILED_CASES))
def test_damaged_member_fails_at_step_1(real: Real, tmp_path: Path, case: str) -> None:
    name, craft, words = FAILED_CASES[case]
    report = verify(_write(tmp_path, craft(real.raw())), trust=real.policy)
    _refused(report, Verdict.FAILED, name, words)
    assert report.exit_code == 1


# --------------------------------------------------------------------------- accepted variants, three readers


def _level(level: int) -> Craft:
    def craft(raws: list[Raw]) -> bytes:
        return serialize([raw_member(r.name, r.content, r.method, level) for r in raws])

    return craft


def _reordered(raws: list[Raw]) -> bytes:
    return serialize(raws[-2:] + raws[:-2])


def _dated(raws: list[Raw]) -> bytes:
    for r in raws:
        r.local.update(time=0x6000, date=0x5A21)
        r.central.update(time=0x6000, date=0x5A21)
    return serialize(raws)


def _no_mode(raws: list[Raw]) -> bytes:
    for r in raws:
        r.central.update(external=0)
    return serialize(raws)


ACCEPTED: dict[str, Craft | None] = {
    "as written": None,
    "deflated at level 1": _level(1),
    "deflated at level 9": _level(9),
    "members in another order": _reordered,
    "another date": _dated,
    "no file mode": _no_mode,
    "stored by Python's zipfile (as earlier versions wrote)": None,
    "ZIP64 (threshold lowered)": None,
    "written by the previous write_zip (zipfile, stored)": None,
    "after evidence refresh": None,
}


def _accepted_bundle(case: str, real: Real, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if case == "as written":
        return real.bundle
    if case.startswith("written by the previous"):
        return _previous_write_zip(tmp_path / "previous.wacz", members(real.bundle))
    if case == "after evidence refresh":
        from evidence.bundle.refresh_writer import refresh_bundle

        dest = tmp_path / "refreshed.wacz"
        shutil.copy(real.bundle, dest)
        real.log.append([b"a later entry"])
        outcome = refresh_bundle(
            dest, location=str(real.log.path), log_keys=[real.log.verifier], tsas=[real.tsa.config()]
        )
        assert outcome.changed and outcome.tokens == 1
        return dest
    if case.startswith("stored by"):
        return write_members(tmp_path / "stored.wacz", members(real.bundle))
    if case.startswith("ZIP64"):
        # Offsets above 1000 bytes take the ZIP64 form, as offsets above 2 GiB do: the same code paths, in
        # both the writer and the reader, for a bundle of a test's size.
        monkeypatch.setattr(container, "ZIP64_LIMIT", 1000)
        dest = tmp_path / "zip64.wacz"
        write_zip(dest, [Member(r.name.decode(), r.content) for r in real.raws])
        data = dest.read_bytes()
        assert b"PK\x06\x06" in data[-200:] and data.count(b"\x01\x00\x08\x00") >= len(real.raws) - 2
        return dest
    craft = ACCEPTED[case]
    assert craft is not None
    return _write(tmp_path, craft(real.raw()))


def _previous_write_zip(dest: Path, files: dict[str, bytes]) -> Path:
    """What ``evidence.bundle.wacz.write_zip`` wrote before the container parser (every member stored by zipfile)."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            if name.startswith("archive/"):  # file sources were streamed in
                info.file_size = len(data)
                with zf.open(info, "w") as out:
                    out.write(data)
            else:
                zf.writestr(info, data)
    return dest


def _unzip_p(path: Path, name: str) -> bytes:
    r = subprocess.run([UNZIP, "-p", str(path), name], capture_output=True, timeout=60, check=False)
    assert r.returncode == 0 and not r.stderr, (name, r.returncode, r.stderr)
    return r.stdout


def _unzip_d(path: Path, dest: Path) -> dict[str, bytes]:
    r = subprocess.run([UNZIP, "-qq", str(path), "-d", str(dest)], capture_output=True, timeout=60, check=False)
    assert r.returncode == 0 and not r.stderr, (r.returncode, r.stderr)
    return {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file() or p.is_symlink()}


_PYWACZ = """
import hashlib, json, pathlib, sys
from wacz.validate import Validation
v = Validation(sys.argv[1])  # py-wacz opens a WACZ by extracting it with its own zipfile
root = pathlib.Path(v.dir.name)
files = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
ok = v.check_file_hashes()
print(json.dumps({"files": files, "hashes_ok": ok}))
"""


def _pywacz(path: Path) -> dict[str, Any]:
    r = subprocess.run(
        [str(WACZ_PYTHON), "-c", _PYWACZ, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert r.returncode == 0, r.stderr
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def _need_tools() -> None:
    if not Path(UNZIP).is_file():
        pytest.skip("Info-ZIP unzip is not installed (/usr/bin/unzip; Debian: apt-get install unzip)")
    if not WACZ_PYTHON.is_file():
        pytest.skip(f"py-wacz is not installed ({WACZ_PYTHON}; .ci/run makes it)")


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_three_readers_extract_exactly_what_the_verifier_hashed(
    real: Real, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    _need_tools()
    path = _accepted_bundle(case, real, tmp_path, monkeypatch)
    report = verify(path, trust=real.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    hashed = _readers_agree(path, tmp_path / "unzip")
    assert set(hashed) >= {r.name.decode() for r in real.raws}


def _readers_agree(path: Path, scratch: Path, *, pywacz: bool = True) -> dict[str, str]:
    """Every reader extracts exactly the bytes the verifier hashes; returns those hashes."""
    with BundleView.open(path) as view:
        hashed = {n: view.sha256(n)[0] for n in view.names}
        manifest = view.json("evidence/manifest.json")
    sealed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert sealed and all(hashed[n] == d for n, d in sealed.items())  # what step 2 confirmed

    def sha(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()

    # Info-ZIP, one member at a time and the whole tree.
    assert {n: sha(_unzip_p(path, n)) for n in hashed} == hashed
    assert {n: sha(b) for n, b in _unzip_d(path, scratch).items()} == hashed
    # Python's zipfile (its own reading, including its CRC check).
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == list(hashed)
        assert {i.filename: sha(zf.read(i)) for i in zf.infolist()} == hashed
    # py-wacz, through the ZIP reading of its validator.
    if pywacz:
        pw = _pywacz(path)
        assert pw["files"] == hashed and pw["hashes_ok"] is True
    return hashed


_LOCAL_FIELDS = ("version", "flags", "method", "time", "date", "crc", "csize", "usize")
_CENTRAL_FIELDS = (*_LOCAL_FIELDS, "made_by", "disk", "internal", "external", "offset")
_U32 = ("crc", "csize", "usize", "external", "offset")


def _mutate(raws: list[Raw], data: st.DataObject) -> bytes:
    """One to three random structural changes, of the kinds the crafted cases make one by one."""
    kwargs: dict[str, Any] = {}
    for _ in range(data.draw(st.integers(1, 3))):
        r = raws[data.draw(st.integers(0, len(raws) - 1))]
        where = data.draw(st.sampled_from(["local", "central", "extra", "name", "after", "file", "eocd"]))
        base = _fields(r) | {"made_by": 0x0314, "disk": 0, "internal": 0, "external": 0o644 << 16, "offset": 0}
        value = st.one_of(
            st.sampled_from([0, 1, 8, 20, 45, 0x800, 0x0014, 0xFFFF, 0xFFFFFFFF, 0o100644 << 16, 0o120777 << 16]),
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFFFFFF),
        )
        if where in ("local", "central"):
            name = data.draw(st.sampled_from(_LOCAL_FIELDS if where == "local" else _CENTRAL_FIELDS))
            v = data.draw(st.one_of(value, st.just(base[name] + 1), st.just(max(0, base[name] - 1))))
            getattr(r, where)[name] = v & (0xFFFFFFFF if name in _U32 else 0xFFFF)
        elif where == "extra":
            blob = data.draw(st.binary(min_size=1, max_size=40))
            setattr(r, data.draw(st.sampled_from(["local_extra", "central_extra", "comment"])), blob)
        elif where == "name":
            r.local_name = r.name + data.draw(st.sampled_from([b"\n", b"/", b"\x00", b".", b" "]))
        elif where == "after":
            r.after = data.draw(st.binary(min_size=1, max_size=40))
        elif where == "file":
            key = data.draw(st.sampled_from(["prefix", "suffix", "comment", "cd_tail"]))
            kwargs[key] = data.draw(st.binary(min_size=1, max_size=40))
        else:
            name = data.draw(st.sampled_from(["disk", "cd_disk", "n_disk", "n_total", "cd_size", "cd_offset"]))
            kwargs.setdefault("eocd", {})[name] = data.draw(st.integers(0, 0xFFFF))
    return serialize(raws, **kwargs)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_structural_mutations_are_refused_or_read_alike(
    real: Real, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Random lies in headers, extra bytes anywhere: refused at step 1, or every reader agrees."""
    _need_tools()
    d = tmp_path_factory.mktemp("fuzz")
    raw = _mutate(real.raw(), data)
    path = _write(d, raw)
    report = verify(path, trust=real.policy)
    event(report.verdict.value)
    if report.verdict is Verdict.VERIFIED:
        _readers_agree(path, d / "unzip", pywacz=False)
    else:
        assert report.verdict in (Verdict.UNUSABLE, Verdict.FAILED), report.render_text()
        assert report.failed_step is not None and report.failed_step.number == 1, report.render_text()


def test_zip64_is_refused_where_the_writer_would_not_use_it(
    real: Real, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _accepted_bundle("ZIP64 (threshold lowered)", real, tmp_path, monkeypatch)
    monkeypatch.setattr(container, "ZIP64_LIMIT", (1 << 31) - 1)
    _refused(verify(path, trust=real.policy), Verdict.UNUSABLE, "ZIP64")


# --------------------------------------------------------------------------- the container alone


def _bundle_bytes(items: list[tuple[str, bytes]], deflate: bool = True) -> bytes:
    buf = io.BytesIO()
    w = ZipWriter(buf)
    for name, data in items:
        w.add(name, data, deflate=deflate)
    w.finish()
    return buf.getvalue()


class _Counting(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int | None = -1) -> bytes:
        out = super().read(n)
        self.bytes_read += len(out)
        return out


def test_a_flood_is_refused_from_the_end_record_alone() -> None:
    """100,000 real directory entries (5 MB): refused after reading the last 64 KiB, not the directory."""
    n = 100_000
    entries = bytearray()
    for i in range(n):
        name = f"f{i:07d}".encode()
        entries += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x314, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
        )
        entries += name
    data = bytes(entries)
    z64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(data), 0)
    loc = struct.pack("<4sIQI", b"PK\x06\x07", 0, len(data), 1)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(data), 0, 0)
    f = _Counting(data + z64 + loc + eocd)
    with pytest.raises(BundleFormatError, match="declares 100000 files; at most 10000"):
        Container.parse(f, len(f.getvalue()))
    assert f.bytes_read <= 22 + 0xFFFF + 56


def test_reading_checks_size_and_crc_before_the_last_byte() -> None:
    content = b"the listing, as it was\n" * 5000
    data = bytearray(_bundle_bytes([("a.txt", content)], deflate=False))
    data[100] ^= 1  # one byte of the stored data
    c = Container.parse(io.BytesIO(bytes(data)), len(data))
    got = bytearray()
    with c.open("a.txt") as s, pytest.raises(BundleFormatError, match="CRC-32"):
        while chunk := s.read(1000):
            got += chunk
    assert len(got) < len(content)  # the last bytes were never handed out


def test_deflate_output_is_bounded_by_the_declared_size() -> None:
    """A deflate stream of 64 MiB of zeros declared as 1 MiB stops after 1 MiB + 1 byte of output."""
    big = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = big.compress(bytes(64 << 20)) + big.flush()
    r = Raw(b"a.bin", bytes(1 << 20), payload, 8)
    data = serialize([r])
    c = Container.parse(io.BytesIO(data), len(data))
    with c.open("a.bin") as s, pytest.raises(BundleFormatError, match="more than the 1048576 bytes declared"):
        while s.read(1 << 16):
            pass


def _declared(content: bytes, payload: bytes, declared: bytes) -> Raw:
    r = Raw(b"a.txt", content, payload, 8)
    fields = {"crc": zlib.crc32(declared), "usize": len(declared)}
    r.local.update(fields)
    r.central.update(fields)
    return r


_TEXT = b"<p>999 EUR</p>\n" * 300
_DEFLATED = raw_member("a.txt", _TEXT).payload


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_declared(_TEXT, _DEFLATED, _TEXT[:-1]), "holds more than the 4499 bytes declared"),
        (_declared(_TEXT, _DEFLATED, _TEXT + b"!"), "ends after 4500 of the 4501 bytes declared"),
        (_declared(_TEXT, _DEFLATED + b"smuggled", _TEXT), "bytes follow the end of its compressed data"),
        (_declared(_TEXT, _DEFLATED[:-3], _TEXT), "cut short"),
        (_declared(_TEXT, _DEFLATED, _TEXT.replace(b"999", b"100")), "CRC-32"),
    ],
)
def test_a_deflated_member_must_end_exactly_as_declared(raw: Raw, message: str) -> None:
    data = serialize([raw])
    c = Container.parse(io.BytesIO(data), len(data))
    with c.open("a.txt") as s, pytest.raises(BundleFormatError, match=message):
        s.read()


def test_the_writer_stores_what_deflate_cannot_shrink_or_would_shrink_too_well() -> None:
    noise = os.urandom(4096)
    zeros = bytes(3 << 20)  # deflates ~1000:1, beyond the reader's 200:1
    text = b"<p>listing</p>\n" * 1000
    data = _bundle_bytes([("archive/x.bin", noise), ("evidence/zeros.bin", zeros), ("evidence/dom.html", text)])
    c = Container.parse(io.BytesIO(data), len(data))
    assert [e.method for e in c.entries] == [0, 0, 8]
    for name, want in (("archive/x.bin", noise), ("evidence/zeros.bin", zeros), ("evidence/dom.html", text)):
        with c.open(name) as s:
            assert s.read() == want


@pytest.mark.parametrize("name", ["evidence/tsa-1.pem\n", "a/", "../x", "a//b", "a/./b", "A:b", "nul.txt", "x" * 256])
def test_the_writer_refuses_names_the_reader_would_refuse(name: str) -> None:
    with pytest.raises(BundleFormatError):
        _bundle_bytes([(name, b"x")])


def test_the_writer_refuses_clashing_names() -> None:
    with pytest.raises(BundleFormatError, match="upper and lower case"):
        _bundle_bytes([("a/b.txt", b"1"), ("a/B.txt", b"2")])
    with pytest.raises(BundleFormatError, match="as a folder"):
        _bundle_bytes([("a", b"1"), ("a/b", b"2")])


def test_name_patterns_match_whole_names_only() -> None:
    from evidence.bundle import TOKEN_RE, TSA_CERT_RE
    from evidence.bundle.refresh import REFRESH_FILE_RE, is_refresh_file

    for pattern, good in (
        (TOKEN_RE, "evidence/checkpoint.1.tsr"),
        (TSA_CERT_RE, "evidence/tsa-1.pem"),
        (REFRESH_FILE_RE, "evidence/refresh-1.2.tsr"),
    ):
        assert pattern.fullmatch(good) and pattern.match(good)
        for bad in (good + "\n", good + "x", "x" + good, good + "\n\n"):
            assert not pattern.match(bad) and not pattern.fullmatch(bad), bad
    assert not is_refresh_file("evidence/refresh-1.note\n")


def test_every_container_error_is_a_plain_bundle_format_error(tmp_path: Path) -> None:
    """Random damage to a small valid container: parse and read end in data or BundleFormatError, nothing else."""
    import random

    rng = random.Random(7)
    good = _bundle_bytes([("datapackage.json", b'{"resources": []}\n' * 40), ("archive/d.warc.gz", os.urandom(300))])
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        try:
            c = Container.parse(io.BytesIO(bytes(data)), len(data))
            for n in c.names:
                with c.open(n) as s:
                    s.read()
        except BundleFormatError:
            pass


def test_bundle_view_open_refuses_non_files(tmp_path: Path) -> None:
    with pytest.raises(BundleFormatError, match="is not a file"):
        BundleView.open(tmp_path)
    with pytest.raises(BundleFormatError, match="does not exist"):
        BundleView.open(tmp_path / "missing.wacz")
    fifo = tmp_path / "fifo.wacz"
    os.mkfifo(fifo)
    with pytest.raises(BundleFormatError, match="is not a file"):
        BundleView.open(fifo)
