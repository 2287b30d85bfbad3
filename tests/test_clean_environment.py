"""The clean-environment check and the time bracket, against the local site, a real Chromium
and the local RFC 3161 TSA (one of each for the module).

Each FAIL is caused for real: a hosts file of the test's own (the check's ``hosts_file``
option), a proxy variable in the environment, the test site's private root (in no system
store, while the test accepts it for the connection with ``insecure``), and a TSA whose clock
runs an hour ahead (a real ``openssl ts -reply`` answer whose TSTInfo's genTime is moved and
then signed again with the TSA's key by ``openssl cms``: the machine's own clock cannot be
moved in a test, so the independent clock is; the check sees the same difference).
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capture.capture_helpers import load_site_module
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401
from tsa.server import LocalTSA, TestPKI, TSAServer, resign_token
from verify_helpers import members, reseal

import evidence
from evidence.api import capture_with
from evidence.capture import CaptureOptions, Capturer, find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.config import TSAConfig
from evidence.errors import EXIT_UNCLEAN, UncleanEnvironmentError
from evidence.log import Log
from evidence.verify import Verdict


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    running = load_site_module().TestSite.start()
    yield running
    running.close()


@pytest.fixture(scope="module")
def capturer() -> Iterator[Capturer]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    with Capturer() as shared:
        yield shared


@pytest.fixture(scope="module")
def sealed(
    capturer: Capturer, site: Any, local_tsa: RunningTSA, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Log]:
    """A normal local capture, sealed with the start token and a checkpoint token."""
    root = tmp_path_factory.mktemp("sealed")
    log = Log.create(root / "log", origin="clean.test/log")
    tsa = local_tsa.config()
    bundle = capture_with(capturer, log, site.url("/listing"), out_dir=root / "out", tsas=[tsa])
    return bundle.path, log


def _clean(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as z:
        report: dict[str, Any] = json.loads(z.read("evidence/clean-environment.json"))
    return report


def _verify(path: Path, log: Log, local_tsa: RunningTSA) -> Any:
    return evidence.verify(
        path,
        log_keys=[log.verifier.vkey(), log.timestamp_verifier.vkey()],
        tsa_pins=[local_tsa.pinned()],
    )


def _fails_on(capturer: Capturer, url: str, out: Path, check: str, **options: Any) -> UncleanEnvironmentError:
    with pytest.raises(UncleanEnvironmentError) as got:
        capturer.capture(url, out, CaptureOptions(**options))
    assert got.value.item == check, got.value.message
    assert got.value.exit_code == EXIT_UNCLEAN
    assert check in got.value.message and "--allow-unclean" in (got.value.hint or "")
    assert not out.exists()  # nothing written
    return got.value


def test_a_normal_capture_is_clean_bracketed_and_verifies(sealed: tuple[Path, Log], local_tsa: RunningTSA) -> None:
    path, log = sealed
    report = _clean(path)
    items = report["items"] + report["added_before_sealing"]
    checks = [i["check"] for i in items]
    for needed in ("browser-profile", "browser-extensions", "proxy-environment", "proxy-browser", "hosts-file"):
        assert needed in checks
    assert {"resolver-configuration", "dns-answers", "browser-binary", "network-interfaces", "clock"} <= set(checks)
    assert {i["verdict"] for i in items} <= {"PASS", "INFO", "WARN"}, [i for i in items if i["verdict"] == "FAIL"]
    assert all(set(i) >= {"check", "verdict", "observed", "why"} for i in items)
    clock = next(i for i in items if i["check"] == "clock")
    assert clock["verdict"] == "PASS" and abs(clock["observed"]["difference_ms"]) < 300_000
    assert report["start"]["token"] == "start.tsr" and len(report["start"]["nonce"]) == 64
    with zipfile.ZipFile(path) as z:
        cap = json.loads(z.read("evidence/capture.json"))
    assert cap["clean_environment"]["verdict"] in ("PASS", "WARN") and cap["clean_environment"]["overrides"] == []
    result = _verify(path, log, local_tsa)
    assert result.verdict is Verdict.VERIFIED, result.summary
    window = dict(result.data)["capture_window"]
    assert window["start_grade"] == "VERIFIED" and window["end_grade"] == "VERIFIED"
    assert window["start_unix"] <= window["end_unix"]
    assert "Capture window (independent times)" in dict(result.facts)
    # VERIFY.txt's by-hand command for the start token works as written, with openssl.
    import re
    import subprocess

    with zipfile.ZipFile(path) as z:
        how = z.read("evidence/VERIFY.txt").decode()
        token = z.read("evidence/start.tsr")
    digest = re.search(r"-in evidence/start.tsr -digest ([0-9a-f]{64})", how)
    assert digest is not None and digest.group(1) == report["start"]["imprint"]
    (tmp := path.parent / "start.tsr").write_bytes(token)
    run = subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(tmp), "-digest", digest.group(1), "-CAfile", str(local_tsa.root_path)],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in run.stdout, run.stdout + run.stderr
    step7 = next(s for s in result.steps if s.number == 7)
    assert "Start token: VERIFIED" in step7.detail and "evidence/start.tsr" in step7.files


def test_the_verifier_fails_an_altered_start_token(
    sealed: tuple[Path, Log], local_tsa: RunningTSA, tmp_path: Path
) -> None:
    path, log = sealed
    report = _clean(path)
    # Re-sealed consistently, as a forger running the log could: only the start token no longer fits.
    report["start"]["nonce"] = "00" * 32
    forged = reseal(
        path,
        tmp_path / "forged.wacz",
        log,
        sealed={"evidence/clean-environment.json": (json.dumps(report, indent=2) + "\n").encode()},
        tsas=[local_tsa.config()],
    )
    result = _verify(forged, log, local_tsa)
    assert result.verdict is Verdict.FAILED
    failed = next(s for s in result.steps if not s.ok)
    assert failed.number == 7 and "start.tsr" in failed.detail, failed.detail
    # And the plain alteration (bytes of the token changed) fails too.
    files = members(path)
    token = bytearray(files["evidence/start.tsr"])
    token[-5] ^= 0x55
    assert (
        _verify(
            reseal(path, tmp_path / "flipped.wacz", log, sealed={"evidence/start.tsr": bytes(token)}), log, local_tsa
        ).verdict
        is Verdict.FAILED
    )


def test_a_hosts_file_override_fails_and_can_be_allowed_on_the_record(
    capturer: Capturer, site: Any, tmp_path: Path, local_tsa: RunningTSA
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.9.8.7 localhost www.shop.example\n")
    url = site.url("/listing").replace("127.0.0.1", "localhost")
    err = _fails_on(capturer, url, tmp_path / "a", "hosts-file", hosts_file=hosts)
    assert "localhost -> 10.9.8.7" in err.message
    # The loopback entry alone is no override: tests on 127.0.0.1/localhost pass by default.
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    capturer.capture(url, tmp_path / "b", CaptureOptions(hosts_file=hosts))
    # Allowed on the record: sealed, with the override in the report, on the certificate, in verify's report.
    hosts.write_text("10.9.8.7 localhost\n")
    log = Log.create(tmp_path / "log", origin="clean.test/override")
    bundle = capture_with(
        capturer,
        log,
        url,
        out_dir=tmp_path / "out",
        tsas=[local_tsa.config()],
        options=CaptureOptions(hosts_file=hosts, allow_unclean=("hosts-file",)),
    )
    report = _clean(bundle.path)
    assert report["overrides"] == ["hosts-file"] and report["verdict"] == "FAIL-OVERRIDDEN"
    assert any(i.get("overridden") for i in report["items"] if i["check"] == "hosts-file")
    assert any("allow-unclean hosts-file" in w for w in bundle.warnings)
    with zipfile.ZipFile(bundle.path) as z:
        assert "allow-unclean hosts-file" in z.read("evidence/report.html").decode()
    result = _verify(bundle.path, log, local_tsa)
    assert result.verdict is Verdict.VERIFIED, result.summary
    assert any("FAILED on 'hosts-file'" in w for w in result.warnings)


def test_a_hosts_file_override_of_a_host_reached_later_fails(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("10.9.8.7 localhost\n")
    # /framed on 127.0.0.1 loads a frame from localhost: known only after the first request.
    err = _fails_on(capturer, site.url("/framed"), tmp_path / "out", "hosts-file", hosts_file=hosts)
    assert "reached later" in err.message


def test_a_proxy_in_the_environment_fails(
    capturer: Capturer, site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", "http://user:secret@127.0.0.1:9")
    err = _fails_on(capturer, site.url("/listing"), tmp_path / "out", "proxy-environment")
    assert "https_proxy" in err.message and "secret" not in err.message


def test_a_tls_interception_root_fails(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    url = site.url("/listing", https=True)
    # The connection is accepted (insecure), but the chain ends in a root no system store holds.
    err = _fails_on(capturer, url, tmp_path / "out", "tls-chains", insecure=True)
    assert "Evidence Test Root CA" in err.message
    # Named as trusted by the caller, the same root is a WARN.
    ca = tmp_path / "ca.pem"
    ca.write_bytes(site.certs.root_pem)
    result = capturer.capture(url, tmp_path / "ok", CaptureOptions(insecure=True, trusted_ca=ca))
    report = json.loads((tmp_path / "ok" / "clean-environment.json").read_text())
    tls = next(i for i in report["added_before_sealing"] if i["check"] == "tls-chains")
    assert tls["verdict"] == "WARN" and result.status == 200


class _FastTSA(LocalTSA):
    """``openssl ts -reply``, with genTime moved ``offset`` ahead and the TSTInfo signed again."""

    offset = dt.timedelta(hours=1)

    def reply(self, query: bytes) -> bytes:
        def later(tstinfo: bytes) -> bytes:
            at = tstinfo.index(b"\x18\x0f")  # GeneralizedTime, 15 bytes: YYYYMMDDHHMMSSZ
            old = dt.datetime.strptime(tstinfo[at + 2 : at + 17].decode(), "%Y%m%d%H%M%SZ")
            moved = (old + self.offset).strftime("%Y%m%d%H%M%SZ").encode()
            return tstinfo[: at + 2] + moved + tstinfo[at + 17 :]

        return resign_token(super().reply(query), self.signer, self.directory / "resign", later)


def test_a_clock_far_from_the_tsas_fails(capturer: Capturer, site: Any, tmp_path: Path, tsa_pki: TestPKI) -> None:
    issued = tsa_pki.issue_tsa("Evidence Test TSA one hour ahead")
    with TSAServer(_FastTSA(tmp_path / "tsa", issued)) as server:
        tsa = TSAConfig(name="fast-tsa", url=server.url, timeout=10)
        with pytest.raises(UncleanEnvironmentError) as got:
            capturer.capture(site.url("/listing"), tmp_path / "out", tsas=[tsa])
    assert got.value.item == "clock" and "behind" in got.value.message and "60 minutes" in got.value.message
    assert not (tmp_path / "out").exists()


def test_unknown_check_names_are_refused() -> None:
    from evidence.capture.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="not a check"):
        CaptureOptions(allow_unclean=("hosts",))


def test_preserve_exits_7_naming_the_item_and_allow_unclean_lets_it_go_on(site: Any, tmp_path: Path) -> None:
    import os
    import subprocess

    from tools import project_command

    from evidence.capture import find_chromium

    env = {**os.environ, "EVIDENCE_HOME": str(tmp_path / "home"), "ALL_PROXY": "socks5://127.0.0.1:9"}
    argv = [project_command("preserve"), site.url("/listing"), "-o", str(tmp_path / "out")]
    argv += ["--browser", str(find_chromium().path), "--json"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == EXIT_UNCLEAN, run.stderr
    failed = json.loads(run.stdout)["results"][0]
    assert failed["kind"] == "UncleanEnvironmentError" and "'proxy-environment'" in failed["error"]
    assert not list((tmp_path / "out").glob("*.wacz"))
    # The raw fetch would go through that proxy too; no_proxy keeps the local site direct.
    env["NO_PROXY"] = "127.0.0.1"
    run = subprocess.run(
        [*argv, "--allow-unclean", "proxy-environment"], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stderr
    [bundle] = (tmp_path / "out").glob("*.wacz")
    assert _clean(bundle)["overrides"] == ["proxy-environment"]
