"""The `evidence log|note|proof` commands: in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from evidence_cli.main import main
from vectors import load, vectors_dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def logdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    d = tmp_path / "log"
    code, out, _ = run(capsys, "log", "init", str(d), "--origin", "example.org/cli-test")
    assert code == 0
    vkey = json.loads((d / ".state/log.json").read_text())["log_vkey"]
    assert vkey in out
    return d, vkey


def test_init_add_status_prove_verify(
    tmp_path: Path, logdir: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    d, vkey = logdir
    files = []
    for i in range(3):
        f = tmp_path / f"e{i}"
        f.write_bytes(b"entry %d" % i)
        files.append(str(f))
    code, out, _ = run(capsys, "log", "add", str(d), *files)
    assert code == 0 and out.splitlines()[2].startswith("2\t")
    code, out, _ = run(capsys, "log", "status", str(d))
    assert code == 0 and "entries:    3" in out and "signed at:" in out
    proof = tmp_path / "p.tlog-proof"
    assert run(capsys, "log", "prove", str(d), "1", "-o", str(proof))[0] == 0
    code, out, _ = run(capsys, "proof", "verify", str(proof), "--entry", files[1], "--key", vkey)
    assert code == 0 and "VERIFIED" in out
    # Wrong entry: verification failed, exit 1, plain words.
    code, out, err = run(capsys, "proof", "verify", str(proof), "--entry", files[0], "--key", vkey)
    assert code == 1 and "does not lead to the checkpoint" in err and "Traceback" not in err
    code, out, err = run(capsys, "note", "verify", str(d / "checkpoint"), "--key", vkey)
    assert code == 0 and "OK: signed by example.org/cli-test" in out
    code, out, _ = run(capsys, "log", "audit", str(d), "--key", vkey, "-q")
    assert code == 0 and "intact" in out


def test_proof_witness_quorum(tmp_path: Path, logdir: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    d, vkey = logdir
    f = tmp_path / "e"
    f.write_bytes(b"x")
    run(capsys, "log", "add", str(d), str(f))
    proof = tmp_path / "p"
    run(capsys, "log", "prove", str(d), "0", "-o", str(proof))
    clock = json.loads((d / ".state/log.json").read_text())["timestamp_vkey"]
    code, out, _ = run(
        capsys, "proof", "verify", str(proof), "--entry", str(f), "--key", vkey, "--witness", clock, "--quorum", "1"
    )
    assert code == 0 and "1 witness cosignature(s) verified" in out
    other = "mirror.example.org+3fb148ef+BAAjjch9GyYz0sJsJx7ALhbdAtz2ov0unbzSl1vMp94O"
    code, _, err = run(capsys, "proof", "verify", str(proof), "--entry", str(f), "--key", vkey, "--witness", other)
    assert code == 1 and "only 0 of the required 1 witnesses" in err


def test_audit_tessera_and_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    src = vectors_dir("tlog-tiles", "tessera-testdata-log")
    key = load("tlog-tiles", "tessera-testdata-log", "expected.json")["vkey"]
    assert run(capsys, "log", "audit", str(src), "--key", key)[0] == 0
    copy = tmp_path / "t"
    shutil.copytree(src, copy)
    tile = copy / "tile/0/000.p/15"
    tile.chmod(0o644)
    raw = bytearray(tile.read_bytes())
    raw[100] ^= 4
    tile.write_bytes(bytes(raw))
    code, _, err = run(capsys, "log", "audit", str(copy), "--key", key)
    assert code == 1 and "tile/0/000.p/15 differs at position 3" in err


@pytest.mark.parametrize(
    ("content", "args_key", "want"),
    [
        (b"not a note", "good", "does not end with a newline"),
        (b"just text\n", "good", "no signatures"),
        (b"a\n\n\xe2\x80\x94 k AAAA\n", "good", "too short"),
        (b"a\r\n\n\xe2\x80\x94 k AAAAAAAA\n", "good", "carriage return"),
        (None, "bad", "not of the form"),
        (None, "flipped", "does not match its key"),
    ],
)
def test_note_verify_bad_input(
    tmp_path: Path,
    logdir: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    args_key: str,
    want: str,
) -> None:
    d, vkey = logdir
    f = tmp_path / "n"
    f.write_bytes(content if content is not None else (d / "checkpoint").read_bytes())
    key = {"good": vkey, "bad": "garbage", "flipped": vkey[:-2] + ("A" if vkey[-2] != "A" else "B") + vkey[-1]}[
        args_key
    ]
    code, _, err = run(capsys, "note", "verify", str(f), "--key", key)
    assert code == 2 and want in err and "Traceback" not in err


def test_bad_inputs_exit_2(tmp_path: Path, logdir: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    d, vkey = logdir
    big = tmp_path / "big"
    big.write_bytes(b"a" * 65536)
    code, _, err = run(capsys, "log", "add", str(d), str(big))
    assert code == 2 and "65,535" in err
    code, _, err = run(capsys, "log", "add", str(d), str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "log", "status", str(tmp_path))
    assert code == 2 and "not a log directory" in err
    bad_proof = tmp_path / "bad"
    bad_proof.write_bytes(b"c2sp.org/tlog-proof@v1\nindex 01\n\n")
    code, _, err = run(capsys, "proof", "verify", str(bad_proof), "--entry", str(big), "--key", vkey)
    assert code == 2 and "leading zero" in err
    code, _, err = run(capsys, "log", "prove", str(d), "5")
    assert code == 2 and "not in the checkpoint" in err
    with pytest.raises(SystemExit) as e:
        main(["log", "frobnicate"])
    assert e.value.code == 2
    code, _, err = run(capsys, "log", "audit", str(tmp_path / "nowhere"), "--key", vkey)
    assert code == 2 and "not a directory or an http(s) URL" in err


def test_truncated_tile_cli(tmp_path: Path, logdir: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    d, vkey = logdir
    files = []
    for i in range(300):
        f = tmp_path / f"f{i}"
        f.write_bytes(b"%d" % i)
        files.append(str(f))
    assert run(capsys, "log", "add", str(d), *files)[0] == 0
    t = d / "tile/0/000"
    t.write_bytes(t.read_bytes()[:1000])
    code, _, err = run(capsys, "log", "audit", str(d), "--key", vkey)
    assert code == 1 and "tile/0/000" in err and "truncated" in err
    code, _, err = run(capsys, "log", "prove", str(d), "3")
    assert code == 2 and "tile/0/000" in err


def test_real_process_exit_codes(tmp_path: Path) -> None:
    env = dict(os.environ, EVIDENCE_HOME=str(tmp_path / "home"))
    exe = [sys.executable, "-m", "evidence_cli.main"]
    r = subprocess.run([*exe, "log", "init"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "home/log/checkpoint").is_file()
    r = subprocess.run([*exe, "log", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "entries:    0" in r.stdout
    r = subprocess.run(
        [*exe, "note", "verify", "/etc/hostname", "--key", "x+1+2"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
