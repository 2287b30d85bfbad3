"""Checks that need no browser: addresses, options, storage-state files, discovery."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from evidence.capture import CaptureOptions
from evidence.capture.discovery import ENV_VAR, find_chromium
from evidence.capture.errors import (
    BrowserNotFoundError,
    CaptureError,
    InvalidOptionError,
    InvalidURLError,
    OutputDirError,
    StorageStateError,
)
from evidence.capture.options import load_storage_state
from evidence.capture.output import Staging, check_output_dir
from evidence.capture.urls import check_url
from evidence.errors import EXIT_USAGE


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://127.0.0.1:8080/listing?q=1#top", "127.0.0.1", 8080),
        ("https://Shop.Example.COM/item", "shop.example.com", 443),
        ("  https://example.org  ", "example.org", 443),
        ("http://[::1]:9000/", "::1", 9000),
        ("https://bücher.example/", "xn--bcher-kva.example", 443),
        ("HTTP://example.net", "example.net", 80),
    ],
)
def test_valid_addresses(url: str, host: str, port: int) -> None:
    target = check_url(url)
    assert (target.host, target.port) == (host, port)
    assert target.url == url.strip()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "starts with 'file:'"),
        ("javascript:alert(1)", "starts with 'javascript:'"),
        ("data:text/html,<h1>x</h1>", "starts with 'data:'"),
        ("ftp://example.com/file", "starts with 'ftp:'"),
        ("example.com/item", "does not start with http:// or https://"),
        ("", "No web address"),
        ("https://", "names no web site"),
        ("http:/example.com", "names no web site"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com:99999/", "malformed"),
        ("https://user:secret@example.com/", "user name or password"),
        ("https://bad_host!.com/", "not a valid name"),
        ("https://[::1/", "malformed"),
    ],
)
def test_bad_addresses_are_explained(url: str, words: str) -> None:
    with pytest.raises(InvalidURLError) as info:
        check_url(url)
    assert words in info.value.diagnostics()
    assert isinstance(info.value, CaptureError)
    assert info.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    "changes",
    [
        {"viewport_width": 0},
        {"viewport_height": 10**6},
        {"timeout_s": 0},
        {"timeout_s": float("nan")},
        {"wait_ms": -1},
        {"max_body_bytes": 0},
        {"full_page_max_height": 50},
        {"user_agent": "two\nlines"},
        {"wait_selector": "  "},
        {"max_redirects": -1},
        {"insecure": "yes"},
    ],
)
def test_bad_options_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionError) as info:
        CaptureOptions(**changes)  # type: ignore[arg-type]
    assert "cannot be used" in str(info.value) or "True or False" in str(info.value)


def test_options_are_frozen_and_recorded_without_secrets(tmp_path: Path) -> None:
    opts = CaptureOptions(storage_state=tmp_path / "state.json", operator="J. Smith")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        opts.insecure = True  # type: ignore[misc]
    recorded = opts.to_json()
    assert recorded["storage_state"] == "state.json"
    assert recorded["operator"] == "J. Smith"
    assert opts.replace(insecure=True).insecure is True


def test_storage_state_json_and_cookies_txt(tmp_path: Path) -> None:
    state = {
        "cookies": [
            {"name": "session", "value": "VERY-SECRET", "domain": ".shop.example", "path": "/"}
        ],
        "origins": [],
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    loaded = load_storage_state(path)
    summary = loaded.summary()
    assert summary["cookies"] == 1 and summary["cookie_domains"] == ["shop.example"]
    assert "VERY-SECRET" not in json.dumps(summary)
    assert len(summary["sha256"]) == 64

    txt = tmp_path / "cookies.txt"
    txt.write_text(
        "# Netscape HTTP Cookie File\n#HttpOnly_.shop.example\tTRUE\t/\tTRUE\t0\tsession\tVERY-SECRET\n"
    )
    jar = load_storage_state(txt)
    assert jar.file_format == "netscape-cookies"
    assert jar.cookies[0]["httpOnly"] is True and jar.cookies[0]["secure"] is True


@pytest.mark.parametrize(
    "content", ["{not json", '{"cookies": "nope"}', "just some text\n", "# only a comment\n"]
)
def test_bad_storage_state_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state"
    path.write_text(content)
    with pytest.raises(StorageStateError):
        load_storage_state(path)
    with pytest.raises(StorageStateError, match="could not be read"):
        load_storage_state(tmp_path / "missing.json")


def test_output_folder_rules(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new")  # fine: does not exist
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")  # fine: empty
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(OutputDirError, match="never overwritten"):
        check_output_dir(full)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="not a folder"):
        check_output_dir(tmp_path / "file")


def test_staging_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "capture"
    with pytest.raises(RuntimeError), Staging(out) as staging:
        staging.write("one.txt", b"1")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with Staging(out) as staging:
        path = staging.write("one.txt", b"1")
        staging.commit()
    assert path.read_bytes() == b"1" and sorted(p.name for p in out.parent.iterdir()) == ["capture"]


def _fake_browser(folder: Path, name: str = "chrome") -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_discovery_order(tmp_path: Path) -> None:
    env_browser = _fake_browser(tmp_path, "env-chrome")
    path_browser = _fake_browser(tmp_path, "path-chrome")
    known = _fake_browser(tmp_path, "known-chrome")
    found = find_chromium(environ={ENV_VAR: str(env_browser)}, which=lambda _: str(path_browser))
    assert found.path == env_browser and found.source == ENV_VAR
    found = find_chromium(
        environ={}, which=lambda n: str(path_browser) if n == "chromium" else None
    )
    assert found.path == path_browser and found.source == "PATH (chromium)"
    found = find_chromium(environ={}, which=lambda _: None, candidates=[tmp_path / "no", known])
    assert found.path == known and found.source == "well-known location"
    found = find_chromium(
        environ={}, which=lambda _: None, candidates=[], playwright_executable=str(known)
    )
    assert found.source == "Playwright's own browser"


def test_no_browser_says_how_to_install_one(tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFoundError) as info:
        find_chromium(environ={}, which=lambda _: None, candidates=[])
    text = info.value.diagnostics()
    assert "No Chromium or Google Chrome" in text
    assert "apt-get install chromium" in text and "playwright install chromium" in text
    assert ENV_VAR in text
    with pytest.raises(BrowserNotFoundError, match="no browser program there"):
        find_chromium(environ={ENV_VAR: str(tmp_path / "nothing")})


@pytest.mark.skipif(
    not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/lib/chromium/chromium")),
    reason="Debian chromium not installed",
)
def test_debian_wrapper_is_bypassed() -> None:
    found = find_chromium(
        environ={}, which=lambda n: "/usr/bin/chromium" if n == "chromium" else None
    )
    assert found.path == Path("/usr/lib/chromium/chromium")
    assert "wrapper" in found.source


def test_capture_page_refuses_bad_input_before_starting_a_browser(tmp_path: Path) -> None:
    from evidence.capture import capture_page

    with pytest.raises(InvalidURLError):
        capture_page("javascript:alert(1)", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(OutputDirError):
        capture_page("http://127.0.0.1:9/", tmp_path / "full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("http//shop.example/item/1", "http://shop.example/item/1"),
        ("https//shop.example/", "https://shop.example/"),
        ("http:/shop.example/a", "http://shop.example/a"),
        ("https:shop.example", "https://shop.example"),
        ("HTTPS;//shop.example/x", "https://shop.example/x"),
        ("www.shop.example/item?id=3", "https://www.shop.example/item?id=3"),
        ("shop.example", "https://shop.example"),
        ("http//", None),
        ("ftp//shop.example/", None),
        ("just words", None),
        ("item-1", None),
    ],
)
def test_a_suggested_address_is_itself_valid(url: str, suggestion: str | None) -> None:
    """Never "Did you mean https://http//...": a suggestion is made only when it is an address
    check_url accepts, and it repairs the scheme instead of prefixing another one."""
    with pytest.raises(InvalidURLError) as info:
        check_url(url)
    text = info.value.diagnostics()
    if suggestion is None:
        assert "Did you mean" not in text
    else:
        assert f"Did you mean {suggestion}?" in text
        assert check_url(suggestion).url == suggestion
    assert "https://http" not in text and "://https" not in text


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("\ufeffhttps://shop.example/item/1", "U+FEFF"),  # Excel's "CSV UTF-8" byte-order mark
        ("https://shop.example/\u200bitem", "U+200B"),  # zero-width space
        ("https://shop\u00a0example/", "U+00A0"),  # no-break space
        ("\u200ehttps://shop.example/", "U+200E"),  # left-to-right mark
    ],
)
def test_invisible_characters_are_named(url: str, code: str) -> None:
    """An invisible character makes an address that looks valid fail: the message names it
    (and shows it escaped), instead of repeating what looks like the valid address."""
    with pytest.raises(InvalidURLError) as info:
        check_url(url)
    text = info.value.diagnostics()
    assert f"invisible character: {code}" in text
    assert "\\u" in text or "\\x" in text  # shown escaped, visible in the message
    if code == "U+FEFF":
        assert "byte-order mark" in text
