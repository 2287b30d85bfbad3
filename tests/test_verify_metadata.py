"""Step 8, what viewers show: ``datapackage.json`` (not sealed) may hold only the fields the
writer puts there, each exactly as the sealed manifest determines it, and ``pages.jsonl``
(sealed) exactly the header and the sealed page's line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from vcheck_helpers import PAGE, failed_at, new_log, policy_text, sealed, with_package
from verify_helpers import members, reseal

from evidence.bundle import DATAPACKAGE, DATAPACKAGE_DIGEST, PAGES_PATH, package_fields
from evidence.bundle.wacz import datapackage_digest
from evidence.log import Log
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

Made = tuple[Path, Log, TrustPolicy]


@pytest.fixture
def made(tmp_path: Path) -> Made:
    log = new_log(tmp_path)
    return sealed(tmp_path, log), log, TrustPolicy.parse(policy_text(log))


def test_the_written_metadata_is_what_the_manifest_determines(made: Made) -> None:
    files = members(made[0])
    pkg = json.loads(files[DATAPACKAGE])
    manifest = json.loads(files["evidence/manifest.json"])
    fields = package_fields(manifest)
    assert pkg["mainPageUrl"] == PAGE == fields["main_url"]
    assert pkg["mainPageDate"] == manifest["capture_started"]
    assert pkg["title"] == f"Evidence: {PAGE}" and pkg["created"] == manifest["created"]
    assert pkg["software"] == f"preserve-evidence {manifest['tool']['version']}"
    report = verify(made[0], trust=made[2])
    assert report.verdict is Verdict.VERIFIED, report.render_text()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mainPageUrl", "https://evil.example/"),
        ("mainPageDate", "2020-01-01T00:00:00Z"),
        ("title", "Evidence: https://evil.example/"),
        ("created", "2020-01-01T00:00:00Z"),
        ("software", "preserve-evidence 99.0"),
        ("profile", "wacz-package"),
        ("wacz_version", "1.0.0"),
        ("title", None),
        ("mainPageDate", 1),
    ],
)
def test_a_rewritten_field_fails(made: Made, tmp_path: Path, field: str, value: Any) -> None:
    def edit(pkg: dict[str, Any]) -> None:
        pkg[field] = value

    fake = with_package(made[0], tmp_path / "f.wacz", edit)
    failed_at(verify(fake, trust=made[2]), 8, DATAPACKAGE, repr(field))


@pytest.mark.parametrize("field", ["mainPageUrl", "mainPageDate", "title", "created", "software"])
def test_a_removed_field_fails(made: Made, tmp_path: Path, field: str) -> None:
    fake = with_package(made[0], tmp_path / "f.wacz", lambda pkg: pkg.pop(field))
    failed_at(verify(fake, trust=made[2]), 8, DATAPACKAGE, repr(field))


@pytest.mark.parametrize("field", ["description", "mainPageURL", "textIndex", "signedData"])
def test_an_unknown_top_level_field_fails_and_is_named(made: Made, tmp_path: Path, field: str) -> None:
    fake = with_package(made[0], tmp_path / "f.wacz", lambda pkg: pkg.update({field: "shown by a viewer"}))
    failed_at(verify(fake, trust=made[2]), 8, DATAPACKAGE, repr(field))


def test_a_resource_with_an_extra_field_or_another_name_fails(made: Made, tmp_path: Path) -> None:
    def extra(pkg: dict[str, Any]) -> None:
        pkg["resources"][0]["description"] = "the real page"

    def rename(pkg: dict[str, Any]) -> None:
        pkg["resources"][0]["name"] = "page"

    failed_at(verify(with_package(made[0], tmp_path / "a.wacz", extra), trust=made[2]), 8, DATAPACKAGE, "description")
    failed_at(verify(with_package(made[0], tmp_path / "b.wacz", rename), trust=made[2]), 8, DATAPACKAGE, "name")


def test_the_digest_file_holds_only_its_two_fields(made: Made, tmp_path: Path) -> None:
    pkg = members(made[0])[DATAPACKAGE]
    digest = json.loads(datapackage_digest(pkg))
    digest["signedData"] = {"note": "trust me"}
    raw = json.dumps(digest).encode()
    fake = with_package(made[0], tmp_path / "f.wacz", raw=pkg, digest_raw=raw)
    failed_at(verify(fake, trust=made[2]), 8, DATAPACKAGE_DIGEST, "exactly")


# --------------------------------------------------------------------------- pages.jsonl (sealed)

HEADER = '{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}'


def _page(bundle: Path) -> dict[str, Any]:
    return dict(json.loads(members(bundle)[PAGES_PATH].decode().splitlines()[1]))


def _with_pages(made: Made, tmp: Path, text: str) -> Path:
    return reseal(made[0], tmp / "f.wacz", made[1], sealed={PAGES_PATH: text.encode()})


def test_the_written_page_line_is_the_sealed_page(made: Made) -> None:
    page = _page(made[0])
    manifest = json.loads(members(made[0])["evidence/manifest.json"])
    assert page == {
        "id": page["id"],
        "url": PAGE,
        "ts": manifest["capture_started"],
        "title": "Item 42",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "https://evil.example/"),
        ("ts", "2020-01-01T00:00:00Z"),
        ("title", "Item 43"),
        ("id", "0" * 32),
        ("note", "extra"),
    ],
)
def test_a_page_line_that_differs_from_the_seal_fails(made: Made, tmp_path: Path, field: str, value: str) -> None:
    page = _page(made[0])
    page[field] = value
    fake = _with_pages(made, tmp_path, HEADER + "\n" + json.dumps(page) + "\n")
    failed_at(verify(fake, trust=made[2]), 8, PAGES_PATH)


def test_a_page_line_missing_a_field_fails(made: Made, tmp_path: Path) -> None:
    page = _page(made[0])
    del page["ts"]
    fake = _with_pages(made, tmp_path, HEADER + "\n" + json.dumps(page) + "\n")
    failed_at(verify(fake, trust=made[2]), 8, PAGES_PATH, "'ts'")


def test_a_second_page_fails(made: Made, tmp_path: Path) -> None:
    page = _page(made[0])
    other = dict(page, url="https://evil.example/", id="1" * 32)
    fake = _with_pages(made, tmp_path, "\n".join([HEADER, json.dumps(page), json.dumps(other)]) + "\n")
    failed_at(verify(fake, trust=made[2]), 8, PAGES_PATH, "lists 2 pages")


@pytest.mark.parametrize(
    "header",
    ['{"format": "json-pages-1.0", "id": "pages", "title": "The real page"}', '{"format": "json-pages-1.0"}'],
)
def test_another_header_fails(made: Made, tmp_path: Path, header: str) -> None:
    fake = _with_pages(made, tmp_path, header + "\n" + json.dumps(_page(made[0])) + "\n")
    failed_at(verify(fake, trust=made[2]), 8, PAGES_PATH, "header")


@pytest.mark.parametrize("sep", ["\n\n", "\r\n"])
def test_blank_lines_and_other_line_ends_fail(made: Made, tmp_path: Path, sep: str) -> None:
    fake = _with_pages(made, tmp_path, HEADER + sep + json.dumps(_page(made[0])) + "\n")
    failed_at(verify(fake, trust=made[2]), 8, PAGES_PATH)
