"""Walks end to end: the local marketplace walked like an investigator, on video, into one bundle.

One marketplace server, one browser, one log and one walk for the module; the checks read that
bundle (the video with ffprobe, the price change in the step screenshot and the snapshot DOM,
`evidence verify`, pywb replay), then tamper with copies of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import decode_png, load_site_module
from tools import Pywb, project_command, proxied_browser, pywb_bin
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401
from verify_helpers import flip, members, reseal, rewrite

import evidence
from evidence.api import walk_with
from evidence.bundle import Bundle
from evidence.capture import Capturer, find_chromium
from evidence.capture.errors import BrowserNotFoundError, InvalidWalkError, WalkStepError
from evidence.capture.steps import SECRET_MASK, load_walk_file, parse_steps
from evidence.log import Log
from evidence.timestamp import load_certificates
from evidence.verify import Verdict

pytestmark = pytest.mark.browser

load_site_module()
from evidence_test_site import market  # noqa: E402

STEPS: list[dict[str, Any]] = [
    {"fill": "#q", "text": "handbag"},
    {"press": "Enter"},
    {"click": "a.result"},
    {"click": "#variant-red"},
    {"snapshot": "listing"},
    {"click": "#seller"},
]
VARIANT_STEP = 4
EVIDENCE = project_command("evidence")
PRESERVE = project_command("preserve")


@pytest.fixture(scope="module")
def shop() -> Iterator[market.MarketSite]:
    with market.MarketSite.start() as running:
        yield running


@pytest.fixture(scope="module")
def capturer() -> Iterator[Capturer]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    with Capturer() as shared:
        yield shared


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    opened = Log.create(tmp_path_factory.mktemp("walk-log") / "log", origin="example.org/walk-tests")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def walked(
    shop: market.MarketSite,
    capturer: Capturer,
    log: Log,
    local_tsa: RunningTSA,
    tmp_path_factory: pytest.TempPathFactory,
) -> Bundle:
    out = tmp_path_factory.mktemp("walked")
    return walk_with(capturer, log, shop.url("/"), STEPS, out_dir=out, tsas=[local_tsa.config()], name="walk.wacz")


def _files(bundle: Bundle) -> dict[str, bytes]:
    return members(bundle.path)


def _steps(bundle: Bundle) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_files(bundle)["evidence/steps.json"])
    return doc


def _verify(path: Path, log: Log, tsa: RunningTSA) -> Any:
    keys = [log.verifier.vkey(), log.timestamp_verifier.vkey()]
    return evidence.verify(path, log_keys=keys, tsa_pins=load_certificates(tsa.root_path))


def test_one_bundle_records_every_step_in_order(walked: Bundle, shop: market.MarketSite) -> None:
    doc = _steps(walked)
    steps = doc["steps"]
    assert [s["action"] for s in steps] == ["start", "fill", "press", "click", "click", "snapshot", "click"]
    assert [s["number"] for s in steps] == list(range(len(STEPS) + 1))
    assert steps[2]["url_before"] == shop.url("/") and steps[2]["url_after"] == shop.url("/search?q=handbag")
    assert steps[6]["url_after"] == shop.url(f"/shop/{market.SELLER}") == walked.final_url
    assert steps[1]["text"] == "handbag" and steps[1]["target"] == "#q"
    offsets = [(s["offset_ms"], s["end_offset_ms"]) for s in steps]
    assert all(a <= b for a, b in offsets) and all(offsets[i][1] <= offsets[i + 1][0] for i in range(len(offsets) - 1))
    sealed = {f["path"] for f in walked.manifest["files"]}
    assert {f"evidence/step-{n:03d}.png" for n in range(len(steps))} <= sealed
    parts = ("screenshot-full.png", "screenshot-viewport.png", "dom.html", "page.mhtml", "page.pdf")
    assert {f"evidence/snapshot-listing-{p}" for p in parts} <= sealed
    assert {"evidence/steps.json", "evidence/session.webm", "archive/data.warc.gz"} <= sealed
    if shutil.which("ffmpeg"):
        assert "evidence/session.mp4" in sealed and doc["video"]["mp4"] == "session.mp4"
    # One WARC of the whole session: every page the walk went through is in it.
    warc = _files(walked)["archive/data.warc.gz"]
    import gzip

    text = gzip.decompress(warc).decode("utf-8", "replace")
    for path in ("/search?q=handbag", "/item/1", f"/shop/{market.SELLER}", "/img/product-1.png"):
        assert f"WARC-Target-URI: {shop.url(path)}" in text


def test_the_video_plays_for_as_long_as_the_session(walked: Bundle, tmp_path: Path) -> None:
    ffprobe = shutil.which("ffprobe", path="/usr/bin:/bin")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed (Debian: apt-get install ffmpeg)")
    video = tmp_path / "session.webm"
    video.write_bytes(_files(walked)["evidence/session.webm"])
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", str(video)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(probe.stdout)
    assert got["streams"][0]["codec_name"] in ("vp8", "vp9")
    duration = float(got["format"]["duration"])
    session = _steps(walked)["video"]["session_ms"] / 1000
    assert abs(duration - session) <= 0.15 * session, (duration, session)
    assert _steps(walked)["video"]["duration_ms"] == pytest.approx(duration * 1000, abs=1)


def _magenta(png: bytes) -> int:
    _width, _height, bpp, pixels = decode_png(png)
    assert bpp in (3, 4)
    return bytes(pixels).count(bytes(market.CHANGED_RGB) + (b"\xff" if bpp == 4 else b""))


def test_the_screenshot_after_the_variant_click_shows_the_new_price(walked: Bundle) -> None:
    files = _files(walked)
    before = _magenta(files[f"evidence/step-{VARIANT_STEP - 1:03d}.png"])
    after = _magenta(files[f"evidence/step-{VARIANT_STEP:03d}.png"])
    assert before == 0 and after > 1000  # the price box, drawn in the changed colour
    dom = files["evidence/snapshot-listing-dom.html"].decode()
    assert f"EUR {market.RED_PRICE}" in dom and f"EUR {market.BASE_PRICE}" not in dom


def test_evidence_verify_accepts_the_walk(walked: Bundle, log: Log, local_tsa: RunningTSA, tmp_path: Path) -> None:
    report = _verify(walked.path, log, local_tsa)
    assert report.verdict is Verdict.VERIFIED, report.summary
    assert "records a walk of 6 step(s)" in report.steps[7].detail
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{log.verifier.vkey()}\n{log.timestamp_verifier.vkey()}\n")
    r = subprocess.run(
        [EVIDENCE, "verify", str(walked.path), "--log-key", str(keys), "--tsa-cert", str(local_tsa.root_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "VERIFIED" in r.stdout, r.stdout + r.stderr
    with zipfile.ZipFile(walked.path) as zf:
        report_html = zf.read("evidence/report.html").decode()
    assert 'src="step-004.png"' in report_html and "#variant-red" in report_html


def _fails_at(report: Any, step: int, words: str) -> None:
    assert report.verdict is Verdict.FAILED
    failed = report.failed_step
    assert failed is not None and failed.number == step, (failed, report.summary)
    assert words in failed.detail, failed.detail


def test_altered_walk_files_fail_verification_at_the_right_step(
    walked: Bundle, log: Log, local_tsa: RunningTSA, tmp_path: Path
) -> None:
    files = _files(walked)
    doc = _steps(walked)
    # Changed after sealing: the seal no longer matches (step 2), whichever walk file it is.
    for name in ("evidence/steps.json", f"evidence/step-{VARIANT_STEP:03d}.png", "evidence/session.webm"):
        changed = rewrite(walked.path, tmp_path / f"changed-{Path(name).name}.wacz", change={name: flip(files[name])})
        _fails_at(_verify(changed, log, local_tsa), 2, name)

    # A forger who re-seals: the walk's own checks (step 8) still catch each change.
    swapped = json.loads(json.dumps(doc))
    swapped["steps"][3], swapped["steps"][4] = swapped["steps"][4], swapped["steps"][3]
    steps_json = (json.dumps(swapped, indent=2) + "\n").encode()
    forged = reseal(walked.path, tmp_path / "swapped.wacz", log, sealed={"evidence/steps.json": steps_json})
    _fails_at(_verify(forged, log, local_tsa), 8, "out of order")

    shot = f"evidence/step-{VARIANT_STEP:03d}.png"
    forged = reseal(walked.path, tmp_path / "no-shot.wacz", log, sealed={shot: None})
    _fails_at(_verify(forged, log, local_tsa), 8, shot)

    webm = bytearray(files["evidence/session.webm"])
    at = webm.index(b"\x44\x89\x88")  # Duration, an 8-byte float: the recording now says it is 3x shorter
    import struct

    seconds = struct.unpack(">d", webm[at + 3 : at + 11])[0]
    webm[at + 3 : at + 11] = struct.pack(">d", seconds / 3)
    forged = reseal(walked.path, tmp_path / "short-video.wacz", log, sealed={"evidence/session.webm": bytes(webm)})
    _fails_at(_verify(forged, log, local_tsa), 8, "session.webm")


@pytest.mark.slow
@pytest.mark.skipif(pywb_bin() is None, reason="pywb is not installed (.venv-pywb or EVIDENCE_PYWB)")
def test_the_walk_replays_in_pywb(walked: Bundle, capturer: Capturer, shop: market.MarketSite, tmp_path: Path) -> None:
    bin_dir = pywb_bin()
    assert bin_dir is not None
    copy = tmp_path / "walk.wacz"
    shutil.copy(walked.path, copy)
    with Pywb(bin_dir, tmp_path, [copy], proxy=True) as base, proxied_browser(capturer, base) as browser:
        page = browser.new_page()
        for path, text in ((f"/shop/{market.SELLER}", "Shop of"), ("/item/1", market.BASE_PRICE)):
            response = page.goto(shop.url(path))
            assert response is not None and response.status == 200
            assert "x-archive-orig-date" in response.headers  # from the archive, not the live site
            assert text in page.content()


def test_a_failing_step_ends_the_walk_naming_it_and_is_on_the_record_as_failed(
    shop: market.MarketSite, capturer: Capturer, log: Log, tmp_path: Path
) -> None:
    from evidence.capture import CaptureOptions

    size = log.size
    out = tmp_path / "out"
    steps = [{"click": "a.result"}, {"click": "#no-such-button"}]
    with pytest.raises(WalkStepError) as caught:
        walk_with(capturer, log, shop.url("/search?q=x"), steps, out_dir=out, options=CaptureOptions(timeout_s=4))
    err = caught.value
    assert err.step == 2 and err.action == "click"
    assert err.message.startswith("Step 2 of the walk failed: (click '#no-such-button')")
    assert "'#no-such-button' was not found" in err.message
    assert not out.exists()  # no half bundle
    # One entry only: the failed attempt's record (a walk, like every capture, is on the record).
    from evidence.log.attempts import list_attempts

    assert log.size == size + 1
    [failed] = [a for a in list_attempts(log) if a.index == size]
    assert failed.record.outcome == "failed" and failed.record.walk_sha256
    assert "Step 2 of the walk failed" in (failed.record.error_message or "")


def test_bad_steps_are_refused_naming_the_step(tmp_path: Path) -> None:
    cases: list[tuple[list[Any], str]] = [
        ([{"click": "#a"}, {"clik": "#b"}], "Step 2 of the walk cannot be used: a step has exactly one action"),
        ([{"fill": "#q"}], "Step 1 of the walk cannot be used: fill needs text"),
        ([{"click": "#a", "text": "x"}], "click does not take text"),
        ([{"scroll": "middle"}], 'scroll takes "top", "bottom" or a number of pixels'),
        ([{"wait": True}], "wait must be a whole number"),
        ([{"goto": "ftp://x/"}], "Step 1 of the walk cannot be used"),
        ([{"snapshot": "a"}, {"snapshot": "a"}], "Step 2 of the walk cannot be used: the snapshot name 'a' is used"),
        ([{"fill": "#pw", "text": "x", "secret": "yes"}], "secret must be true or false"),
    ]
    for steps, words in cases:
        with pytest.raises(InvalidWalkError) as caught:
            parse_steps(steps)
        assert words in caught.value.message, caught.value.message
    [secret] = parse_steps([{"fill": "#pw", "text": "hunter2", "secret": True}])
    assert secret.to_json()["text"] == SECRET_MASK and "hunter2" not in secret.describe()
    walk_file = tmp_path / "walk.toml"
    walk_file.write_text('start = "https://shop.example/"\n[[steps]]\nclick = "#a"\n[[steps]]\npress = 3\n')
    with pytest.raises(InvalidWalkError, match=r"walk\.toml: Step 2 of the walk cannot be used: press must be"):
        load_walk_file(walk_file)
    walk_file.write_text('start = "https://shop.example/"\nsteps = []\nspeed = 2\n')
    with pytest.raises(InvalidWalkError, match="unknown setting"):
        load_walk_file(walk_file)


def test_preserve_walk_cli(shop: market.MarketSite, tmp_path: Path, capturer: Capturer) -> None:
    walk_file = tmp_path / "walk.toml"
    env = dict(os.environ, EVIDENCE_HOME=str(tmp_path / "home"))
    run = [PRESERVE, "--walk", str(walk_file), "-o", str(tmp_path / "out"), "--timeout", "4", "--json"]
    walk_file.write_text(f'start = "{shop.url("/search?q=x")}"\n[[steps]]\nclick = "#nope"\n')
    failed = subprocess.run(run, env=env, capture_output=True, text=True, timeout=180)
    assert failed.returncode == 5, failed.stderr
    [result] = json.loads(failed.stdout)["results"]
    assert not result["ok"] and result["kind"] == "WalkStepError" and "Step 1 of the walk failed" in result["error"]
    walk_file.write_text(
        f'start = "{shop.url("/")}"\n[[steps]]\nfill = "#q"\ntext = "scarf"\n[[steps]]\nclick = "#go"\n'
        '[[steps]]\nclick = "a.result"\n'
    )
    done = subprocess.run([*run, "--no-video", "--case", "C-1"], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["ok"] and result["final_url"] == shop.url("/item/1")
    with zipfile.ZipFile(result["bundle"]) as zf:
        doc = json.loads(zf.read("evidence/steps.json"))
        assert [s["action"] for s in doc["steps"]] == ["start", "fill", "click", "click"]
        assert doc["video"]["file"] is None and "evidence/session.webm" not in zf.namelist()
        assert json.loads(zf.read("evidence/manifest.json"))["case"] == "C-1"
