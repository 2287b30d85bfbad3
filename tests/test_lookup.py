"""Lookup by hash (issue 14): ``GET /lookup/<manifest-sha256>`` and ``evidence lookup``.

A real log server (``evidence log serve`` in a subprocess) serves a real log into which a
hand-made capture was sealed with the real :func:`evidence.bundle.seal`; the client is the
real command. The answer is believed only where its proofs check out against the bundle's
manifest and the trusted log key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from handmade import make_bundle
from server_helpers import RunningServer, write_config

from evidence.bundle import MANIFEST_PATH, BundleView
from evidence.checkpoint import TlogProof
from evidence.note import Verifier
from evidence.server.lookup import RateLimiter
from evidence.verify.lookup import check_lookup

ORIGIN = "lookup.test/evidence"
PER_MINUTE = 40


@dataclass(frozen=True)
class Served:
    server: RunningServer
    bundle: Path
    manifest: bytes
    index: int
    keys: Path  # the log's verification-keys.txt, as its operator publishes it
    other: Path  # a bundle of another log, not in this one
    other_key: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("lookup")
    bundle, log = make_bundle(root / "one", None, ORIGIN)
    log.close()
    other, other_log = make_bundle(root / "two", None, "other.test/log")
    other_key = other_log.verifier.vkey()
    other_log.close()
    with BundleView.open(bundle.path) as view:
        manifest, index = view.read(MANIFEST_PATH), view.proof().index
    cfg = write_config(root / "server.toml", lookup_per_minute=PER_MINUTE)
    server = RunningServer(root / "one" / "log", cfg).start()
    keys = root / "verification-keys.txt"
    keys.write_bytes(requests.get(server.url + "verification-keys.txt", timeout=10).content)
    try:
        yield Served(server, bundle.path, manifest, index, keys, other.path, other_key)
    finally:
        server.stop()


def _keys(served: Served) -> list[Verifier]:
    from evidence_cli.options import read_vkeys

    return read_vkeys([str(served.keys)])


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from evidence_cli.main import main

    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out + out.err


def test_the_lookup_answer_has_the_documented_shape_and_proves_the_entry(served: Served) -> None:
    r = requests.get(served.server.url + "lookup/" + served.digest, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"manifest_sha256", "origin", "entries"}
    assert body["manifest_sha256"] == served.digest and body["origin"] == ORIGIN
    [item] = body["entries"]
    assert set(item) == {"index", "proof"} and item["index"] == served.index
    proof = TlogProof.parse(item["proof"].encode())
    assert proof.index == served.index
    from evidence.bundle.format import log_entry

    proof.verify(log_entry(served.manifest), _keys(served), origin=ORIGIN)  # raises if it does not prove it
    # Upper-case hex is the same digest; no login is needed for any of it.
    assert requests.get(served.server.url + "lookup/" + served.digest.upper(), timeout=10).json() == body


def test_unknown_and_malformed_digests_are_clear_json_errors(served: Served) -> None:
    r = requests.get(served.server.url + "lookup/" + "0" * 64, timeout=10)
    assert r.status_code == 404 and "holds no entry" in r.json()["error"] and r.json()["manifest_sha256"] == "0" * 64
    for bad in ("abc", "g" * 64, "0" * 65, "0" * 63 + "/"):
        r = requests.get(served.server.url + "lookup/" + bad, timeout=10)
        assert r.status_code in (400, 404), bad
        if r.status_code == 400:
            assert "64 hexadecimal digits" in r.json()["error"]
    assert requests.get(served.server.url + "lookup/xyz", timeout=10).status_code == 400


def test_evidence_lookup_confirms_the_seal_under_the_trusted_key(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _cli(["lookup", str(served.bundle), "--log", served.server.url, "--log-key", str(served.keys)], capsys)
    assert code == 0, out
    assert f"confirms the seal: entry {served.index} of {ORIGIN!r} holds the manifest SHA-256 {served.digest}" in out
    assert "signed by a log key you trust" in out


def test_without_a_trusted_key_it_is_not_anchored_and_with_a_wrong_key_not_confirmed(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))  # no default trust policy
    code, out = _cli(["lookup", str(served.bundle), "--log", served.server.url], capsys)
    assert code == 3 and "NOT ANCHORED IN TRUST" in out, out
    code, out = _cli(["lookup", str(served.bundle), "--log", served.server.url, "--log-key", served.other_key], capsys)
    assert code == 1 and "does NOT confirm the seal" in out, out


def test_a_bundle_the_log_does_not_hold_is_not_confirmed(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(["lookup", str(served.other), "--log", served.server.url, "--log-key", str(served.keys)], capsys)
    assert code == 1 and "does NOT hold this seal" in out, out


def test_an_answer_is_believed_only_as_far_as_it_proves_the_bundles_manifest(served: Served) -> None:
    body = requests.get(served.server.url + "lookup/" + served.digest, timeout=10).content
    keys = _keys(served)
    assert check_lookup("u", body, served.manifest, keys, anchored=True).confirmed
    data = json.loads(body)
    # Another index for the same proof, a proof moved to another entry, another manifest: refused.
    data["entries"][0]["index"] += 1
    moved = check_lookup("u", json.dumps(data).encode(), served.manifest, keys, anchored=True)
    assert not moved.confirmed and "its proof is for entry" in moved.entries[0].detail
    from evidence.errors import FormatError

    with pytest.raises(FormatError, match="is about the manifest SHA-256"):
        check_lookup("u", body, served.manifest + b" ", keys, anchored=True)
    proof = TlogProof.parse(json.loads(body)["entries"][0]["proof"].encode())
    data = json.loads(body)
    wrong = (bytes(32), *proof.hashes[1:])  # one hash of the audit path changed
    data["entries"][0]["proof"] = TlogProof(proof.index, wrong, proof.checkpoint_note, proof.extra).to_bytes().decode()
    assert not check_lookup("u", json.dumps(data).encode(), served.manifest, keys, anchored=True).confirmed


def test_the_rate_limiter_counts_per_address() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(20.0) and limiter.wait("b") == 0.0
    now[0] += 20.0
    assert limiter.wait("a") == 0.0


def test_lookups_are_rate_limited_per_client(served: Served) -> None:
    """Last in this module: it uses up this address's allowance."""
    statuses = []
    with requests.Session() as s:
        for _ in range(PER_MINUTE + 5):
            r = s.get(served.server.url + "lookup/" + served.digest, timeout=10)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1 and "too many lookups" in r.json()["error"]
                break
    assert statuses[-1] == 429 and len(statuses) <= PER_MINUTE + 1, statuses
