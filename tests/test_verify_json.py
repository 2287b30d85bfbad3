"""Strict JSON everywhere on the verify path (evidence._internal.jsonstrict): duplicate keys, NaN and
Infinity, numbers too large to be finite, byte-order marks, other encodings and unpaired
surrogates are refused in every JSON file the verifier reads, at the step that reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from vcheck_helpers import capture_dir, failed_at, new_log, policy_text, reseal_manifest, sealed, with_package
from verify_helpers import members, reseal

from evidence._internal import jsonstrict
from evidence.bundle import DATAPACKAGE, DATAPACKAGE_DIGEST, MANIFEST_PATH, PAGES_PATH, BundleView, seal
from evidence.bundle.wacz import datapackage_digest
from evidence.errors import BundleFormatError
from evidence.log import Log
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

Made = tuple[Path, Log, TrustPolicy]


@pytest.fixture
def made(tmp_path: Path) -> Made:
    log = new_log(tmp_path)
    return sealed(tmp_path, log), log, TrustPolicy.parse(policy_text(log))


# --------------------------------------------------------------------------- the loader


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"a": 1, "a": 2}', "appears twice"),
        (b'{"a": 1, "\\u0061": 2}', "appears twice"),
        (b'{"x": {"b": [1, {"c": 1, "c": 1}]}}', "appears twice"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b"[-Infinity]", "Infinity"),
        (b'{"a": 1e400}', "too large"),
        (b'\xef\xbb\xbf{"a": 1}', "byte-order mark"),
        ('{"a": "é"}'.encode("latin-1"), "not UTF-8"),
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"\\udc00": 1}', "surrogate"),
    ],
)
def test_the_loader_refuses(data: bytes, why: str) -> None:
    with pytest.raises(jsonstrict.StrictJSONError, match=why):
        jsonstrict.loads(data)


def test_the_loader_reads_ordinary_json_as_json_does() -> None:
    text = '{"a": [1, 2.5, -3e10, true, null, "\\u00e9\\ud83d\\ude00"], "b": {"c": {}}}'
    assert jsonstrict.loads(text.encode()) == json.loads(text)
    with pytest.raises(ValueError):
        jsonstrict.loads(b'{"a": 1,}')
    with pytest.raises(ValueError):
        jsonstrict.loads(b"1" * 5000)  # too many digits for an int


def test_bundleview_json_is_strict(made: Made, tmp_path: Path) -> None:
    pkg = members(made[0])[DATAPACKAGE].replace(b'"profile"', b'"title": "x",\n  "profile"', 1)
    fake = with_package(made[0], tmp_path / "f.wacz", raw=pkg)
    with BundleView.open(fake) as view, pytest.raises(BundleFormatError, match="appears twice"):
        view.json(DATAPACKAGE)


def test_seal_refuses_a_capture_record_with_duplicate_keys(tmp_path: Path) -> None:
    d = capture_dir(tmp_path, capture_json=b'{"requested_url": "https://a.example/", "requested_url": "https://b/"}')
    log = new_log(tmp_path)
    with pytest.raises(BundleFormatError, match="appears twice"):
        seal(d, log, tmp_path / "out", name="x.wacz")
    assert log.size == 1 and not (tmp_path / "out" / "x.wacz").exists()


# --------------------------------------------------------------------------- in the bundle


def _dup(key: str, value: str) -> object:
    """Insert ``"key": value`` before the manifest's own ``key`` (json keeps the last one)."""

    def edit(raw: bytes) -> bytes:
        text = raw.decode()
        return re.sub(
            rf'^(\s*)"{key}": ', lambda m: f'{m.group(1)}"{key}": {value},\n{m.group(0)}', text, count=1, flags=re.M
        ).encode()

    return edit


@pytest.mark.parametrize(
    ("key", "value"),
    [("url", '"https://evil.example/"'), ("status", "404"), ("case", '"K-8"'), ("files", "[]")],
)
def test_a_manifest_with_a_duplicate_key_fails_step_2(made: Made, tmp_path: Path, key: str, value: str) -> None:
    fake = reseal_manifest(made[0], tmp_path / "f.wacz", made[1], _dup(key, value))  # type: ignore[arg-type]
    assert members(fake)[MANIFEST_PATH].count(f'"{key}":'.encode()) == 2
    failed_at(verify(fake, trust=made[2]), 2, MANIFEST_PATH, "appears twice", repr(key))


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (b'"status": 200', b'"status": NaN', "NaN"),
        (b'"status": 200', b'"status": 1e400', "too large"),
        (b'"operator": "tester"', '"operator": "t\u00e9ster"'.encode("latin-1"), "not UTF-8"),
        (b'"operator": "tester"', b'"operator": "\\udfff"', "surrogate"),
    ],
)
def test_a_manifest_that_is_not_strict_json_fails_step_2(
    made: Made, tmp_path: Path, old: bytes, new: bytes, why: str
) -> None:
    fake = reseal_manifest(made[0], tmp_path / "f.wacz", made[1], lambda raw: raw.replace(old, new, 1))
    failed_at(verify(fake, trust=made[2]), 2, MANIFEST_PATH, why)


def test_a_manifest_with_a_byte_order_mark_fails_step_2(made: Made, tmp_path: Path) -> None:
    fake = reseal_manifest(made[0], tmp_path / "f.wacz", made[1], lambda raw: b"\xef\xbb\xbf" + raw)
    failed_at(verify(fake, trust=made[2]), 2, MANIFEST_PATH, "byte-order mark")


@pytest.mark.parametrize("name", ["evidence/capture.json", "evidence/environment.json"])
def test_a_sealed_record_with_a_duplicate_key_fails_step_8(made: Made, tmp_path: Path, name: str) -> None:
    raw = members(made[0])[name]
    bad = raw.replace(b"{", b'{\n  "status": 500,', 1)
    assert bad.count(b'"status"') >= 1 and bad != raw
    if name.endswith("capture.json"):
        assert bad.count(b'"status"') == 2
    else:
        bad = raw.replace(b"{", b'{"os": {}, ', 1)
    fake = reseal(made[0], tmp_path / "f.wacz", made[1], sealed={name: bad}, render=False)
    failed_at(verify(fake, trust=made[2]), 8, name, "appears twice")


def test_a_page_line_with_a_duplicate_key_fails_step_8(made: Made, tmp_path: Path) -> None:
    lines = members(made[0])[PAGES_PATH].decode().splitlines()
    lines[1] = lines[1].replace("{", '{"url": "https://evil.example/", ', 1)
    fake = reseal(made[0], tmp_path / "f.wacz", made[1], sealed={PAGES_PATH: ("\n".join(lines) + "\n").encode()})
    failed_at(verify(fake, trust=made[2]), 8, PAGES_PATH, "appears twice")


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda raw: raw.replace(b'"profile"', b'"mainPageUrl": "https://evil.example/",\n  "profile"', 1), "twice"),
        (lambda raw: raw.replace(b'"profile": "data-package"', b'"profile": NaN', 1), "NaN"),
        (lambda raw: b"\xef\xbb\xbf" + raw, "byte-order mark"),
    ],
)
def test_a_datapackage_that_is_not_strict_json_fails_step_1(made: Made, tmp_path: Path, edit: object, why: str) -> None:
    raw = edit(members(made[0])[DATAPACKAGE])  # type: ignore[operator]
    fake = with_package(made[0], tmp_path / "f.wacz", raw=raw)
    report = verify(fake, trust=made[2])
    failed_at(report, 1, DATAPACKAGE, why)
    assert report.verdict is Verdict.FAILED


def test_a_datapackage_digest_with_a_duplicate_key_fails_step_1(made: Made, tmp_path: Path) -> None:
    pkg = members(made[0])[DATAPACKAGE]
    good = datapackage_digest(pkg)
    bad = good.replace(b"{", b'{\n  "hash": "sha256:' + b"0" * 64 + b'",', 1)
    fake = with_package(made[0], tmp_path / "f.wacz", raw=pkg, digest_raw=bad)
    failed_at(verify(fake, trust=made[2]), 1, DATAPACKAGE_DIGEST, "appears twice")
