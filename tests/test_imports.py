"""The import rule: the verify path (``evidence verify``, ``evidence.verify()``) imports none
of the capture or server packages, nor ``fcntl`` (absent on Windows).

Each check runs the real command in a fresh interpreter whose ``sitecustomize`` installs a
meta path finder that refuses those modules and records every attempt (a silent
``try: import numpy`` counts too). The bundles are real: hand-made captures sealed through
the seal API into a real log (tests/vcheck_helpers.py), some of them crafted to fail at a
known step; the verdicts under the blocker must be exactly those of the full install.

With a base-only venv beside the project (``.venv-base``, made by ``.ci/run`` with
``pip install .``, or ``$EVIDENCE_BASE_VENV``), the same bundles are verified by that venv's
own ``evidence`` command, which proves the base install alone is enough. See docs/design.md,
"Install extras and the import rule".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from tools import project_command
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from vcheck_helpers import FAVICON, ICON, PAGE, Rec, new_log, now, policy_text, sealed
from verify_helpers import flip, members, reseal, rewrite

from evidence.bundle import INDEX_PATH, MANIFEST_PATH, WARC_PATH
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE = project_command("evidence")
#: What the verify path must never import (docs/design.md): the browser driver, the log
#: server's web stack, the log writer's index, and the POSIX-only file lock.
FORBIDDEN = ("playwright", "starlette", "uvicorn", "numpy", "uvloop", "httptools", "fcntl")
#: Blocked in these runs: also requests, which the base install has (the HTTP readers and the
#: TSA client use it) but which verifying, reading a log directory and help never need.
BLOCKED = (*FORBIDDEN, "requests")

#: POSIX-only attributes of ``os`` (absent on Windows), removed in the verifier's process.
WINDOWS_LACKS = (
    "O_NONBLOCK", "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC", "O_NOCTTY", "getuid", "geteuid", "getgid",
    "fork", "fchmod", "fchown", "statvfs", "sync", "getpgid", "killpg", "mkfifo", "getloadavg",
)  # fmt: skip

SITECUSTOMIZE = textwrap.dedent(
    """
    import atexit, json, os, sys

    FORBIDDEN = set(os.environ["BLOCKER_MODULES"].split(","))
    WINDOWS_LACKS = os.environ.get("BLOCKER_WINDOWS_OS", "").split(",")
    attempts = []

    class _Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                attempts.append(name)
                # What a package that is not installed raises.
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    # What Windows' os module lacks: code on the verify path must not need it.
    if os.environ.get("BLOCKER_WINDOWS_OS"):
        for _attr in WINDOWS_LACKS:
            if hasattr(os, _attr):
                delattr(os, _attr)

    for _name in list(sys.modules):
        if _name.split(".")[0] in FORBIDDEN:
            raise SystemExit(f"{_name} was imported before the blocker was installed")
    sys.meta_path.insert(0, _Refuse())

    @atexit.register
    def _record():
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
        with open(os.environ["BLOCKER_REPORT"], "w") as f:
            json.dump({"attempts": attempts, "loaded": loaded}, f)
    """
)


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def blocked(
    tmp: Path,
    argv: Sequence[str],
    *,
    python_snippet: bool = False,
    clean: bool = True,
    block: Sequence[str] = BLOCKED,
    windows_os: bool = True,
    encoding: str | None = None,
) -> Run:
    """Run ``argv`` (a command, or with ``python_snippet`` a Python snippet run by this
    interpreter) with the modules ``block`` blocked; with ``clean``, assert none was even tried.
    With ``windows_os``, the POSIX-only attributes of ``os`` are gone too; ``encoding`` is the
    output's (PYTHONIOENCODING), e.g. cp1252 as on Windows when writing to a file."""
    site = tmp / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    report = tmp / f"blocker-{os.getpid()}-{len(list(tmp.glob('blocker-*.json')))}.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PYTHONPATH=str(site),
        BLOCKER_REPORT=str(report),
        BLOCKER_MODULES=",".join(block),
        EVIDENCE_HOME=str(tmp / "home"),
    )
    if windows_os:
        env["BLOCKER_WINDOWS_OS"] = ",".join(WINDOWS_LACKS)
    if encoding is not None:
        env["PYTHONIOENCODING"] = encoding
    cmd = [sys.executable, "-c", argv[0]] if python_snippet else list(argv)
    proc = subprocess.run(cmd, capture_output=True, encoding=encoding or "utf-8", env=env, timeout=120, check=False)
    assert report.is_file(), f"the blocker did not run (exit {proc.returncode}): {proc.stderr}"
    seen = json.loads(report.read_text())
    if clean:
        assert seen == {"attempts": [], "loaded": []}, (seen, proc.stderr)
    return Run(proc.returncode, proc.stdout, proc.stderr)


# ------------------------------------------------------------------------------ bundles


@dataclass(frozen=True)
class Made:
    """A sealed bundle, the trust policy file of its log, and what the full install says of it."""

    name: str
    path: Path
    policy: Path
    keys: Path
    verdict: Verdict
    failed_step: int | None


def _made(name: str, bundle: Path, policy_file: Path, keys: Path) -> Made:
    report = verify(bundle, trust=TrustPolicy.load(policy_file))
    step = report.failed_step.number if report.failed_step is not None else None
    return Made(name, bundle, policy_file, keys, report.verdict, step)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> dict[str, Made]:
    """Hand-made bundles sealed for real: valid ones (one time-stamped by the test TSA) and
    ones crafted to fail at a known step (a changed WARC byte, times out of order, an index
    line missing)."""
    root = tmp_path_factory.mktemp("import-rule")
    log = new_log(root)
    policy = root / "trust.policy"
    policy.write_text(policy_text(log, tsa_lines=local_tsa.policy_lines()))
    keys = log.path / "verification-keys.txt"
    made: dict[str, Made] = {}

    def add(name: str, bundle: Path) -> None:
        made[name] = _made(name, bundle, policy, keys)

    valid = sealed(root / "valid", log)
    add("valid", valid)
    add(
        "non-ascii", sealed(root / "non-ascii", log, facts={"options": {"case": "Akte Müller 東京", "operator": "Zoë"}})
    )
    add("stamped", sealed(root / "stamped", log, tsas=[local_tsa.config()]))
    add("warc-byte", rewrite(valid, root / "warc-byte.wacz", change={WARC_PATH: flip(members(valid)[WARC_PATH])}))
    add("after-the-log-signed", sealed(root / "late", log, started=now() + timedelta(days=30)))
    start = now() - timedelta(hours=1)
    records = [Rec(PAGE, start + timedelta(seconds=1)), Rec(FAVICON, start - timedelta(days=1), ICON, "image/x-icon")]
    add("record-outside", sealed(root / "outside", log, started=start, records=records))
    index = [x for x in members(valid)[INDEX_PATH].decode().splitlines() if f'"url":"{PAGE}"' not in x]
    add(
        "index-line-missing",
        reseal(valid, root / "index.wacz", log, sealed={INDEX_PATH: ("\n".join(index) + "\n").encode()}),
    )
    return made


#: The exact verdict of each bundle (and the step that fails), as the verifier's own tests expect.
EXPECTED = {
    "valid": (Verdict.VERIFIED, None),
    "non-ascii": (Verdict.VERIFIED, None),
    "stamped": (Verdict.VERIFIED, None),
    "warc-byte": (Verdict.FAILED, 2),
    "after-the-log-signed": (Verdict.FAILED, 8),
    "record-outside": (Verdict.FAILED, 8),
    "index-line-missing": (Verdict.FAILED, 8),
}


def test_the_bundles_have_the_expected_verdicts_in_the_full_install(bundles: dict[str, Made]) -> None:
    assert {k: (m.verdict, m.failed_step) for k, m in bundles.items()} == EXPECTED
    assert MANIFEST_PATH  # the failing member names are checked by the verifier's own tests


def _check_json_lines(run: Run, expected: Sequence[Made]) -> None:
    reports = [json.loads(line) for line in run.stdout.splitlines()]
    got = [(r["verdict"], next((s["number"] for s in r["steps"] if s["ok"] is False), None)) for r in reports]
    assert got == [(m.verdict.value, m.failed_step) for m in expected], run.stderr
    worst = 1 if any(m.verdict is Verdict.FAILED for m in expected) else 0
    assert run.code == worst, run.stderr


# --------------------------------------------------------------------------- the full venv


def _key_ids(keys: Path) -> str:
    """``name+keyid`` of each vkey in a verification-keys.txt, as the report names them."""
    vkeys = [ln.strip() for ln in keys.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return ", ".join("+".join(v.split("+")[:2]) for v in vkeys)


def test_evidence_verify_imports_nothing_forbidden(bundles: dict[str, Made], tmp_path: Path) -> None:
    valid = bundles["valid"]
    run = blocked(tmp_path, [EVIDENCE, "verify", str(valid.path), "--log-key", str(valid.keys)])
    assert run.code == 0 and "VERDICT: VERIFIED\n" in run.stdout, run.stdout + run.stderr
    assert f"2 key(s) you gave ({_key_ids(valid.keys)})" in run.stdout, run.stdout

    tampered = bundles["warc-byte"]
    run = blocked(tmp_path, [EVIDENCE, "verify", str(tampered.path), "--log-key", str(tampered.keys)])
    assert run.code == 1 and "VERDICT: FAILED" in run.stdout, run.stdout + run.stderr
    assert "\n1. [PASS]" in run.stdout and "\n2. [FAIL]" in run.stdout, run.stdout


def test_every_bundle_gets_the_same_verdict_under_the_blocker(bundles: dict[str, Made], tmp_path: Path) -> None:
    made = list(bundles.values())
    argv = [EVIDENCE, "verify", *(str(m.path) for m in made), "--trust", str(made[0].policy), "--json-lines"]
    _check_json_lines(blocked(tmp_path, argv), made)


def test_the_library_verify_imports_nothing_forbidden(bundles: dict[str, Made], tmp_path: Path) -> None:
    snippet = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import evidence
        report = evidence.verify(Path({str(bundles["stamped"].path)!r}),
                                 trust=evidence.TrustPolicy.load(Path({str(bundles["stamped"].policy)!r})))
        print(report.verdict.value, report.steps[6].ok)
        bad = evidence.verify(Path({str(bundles["warc-byte"].path)!r}),
                              trust=evidence.TrustPolicy.load(Path({str(bundles["warc-byte"].policy)!r})))
        print(bad.verdict.value, bad.failed_step.number)
        """
    )
    run = blocked(tmp_path, [snippet], python_snippet=True)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == ["VERIFIED True", "FAILED 2"], run.stdout


def test_output_a_legacy_encoding_cannot_hold_is_escaped(bundles: dict[str, Made], tmp_path: Path) -> None:
    """Windows writes cp1252 to a file or a pipe: a case name in Japanese must not end the
    verification in a traceback; what cp1252 cannot hold is escaped."""
    made = bundles["non-ascii"]
    for extra in ([], ["--json"]):
        argv = [EVIDENCE, "verify", str(made.path), "--log-key", str(made.keys), *extra]
        run = blocked(tmp_path, argv, encoding="cp1252")
        assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
        assert "\\u6771\\u4eac" in run.stdout and "Zo\u00eb" in run.stdout, run.stdout
        if extra:  # the escape is JSON's own: the document still holds the name
            assert "東京" in json.dumps(json.loads(run.stdout), ensure_ascii=False)
        else:
            assert "VERDICT: VERIFIED\n" in run.stdout


@pytest.mark.parametrize("argv", [["--help"], ["verify", "--help"], ["report", "--help"], ["log", "audit", "--help"]])
def test_help_imports_nothing_forbidden(argv: list[str], tmp_path: Path) -> None:
    run = blocked(tmp_path, [EVIDENCE, *argv])
    assert run.code == 0 and "usage: evidence" in run.stdout, run.stderr


def test_log_audit_reads_a_log_without_the_writer_packages(bundles: dict[str, Made], tmp_path: Path) -> None:
    keys = bundles["valid"].keys
    run = blocked(tmp_path, [EVIDENCE, "log", "audit", str(keys.parent), "--log-key", str(keys)])
    assert run.code == 0 and "is intact" in run.stdout, run.stdout + run.stderr


def test_evidence_help_lists_every_command_from_the_table() -> None:
    """The one-line help in cli/main.py's table is the one each command's module registers."""
    import argparse

    from evidence_cli.main import COMMANDS, build_parser

    full = build_parser()
    [action] = [a for a in full._actions if isinstance(a, argparse._SubParsersAction)]
    registered = {c.dest: c.help for c in action._choices_actions}
    assert registered == {name: help for name, (_, help) in COMMANDS.items()}
    lazy = build_parser(["verify", "--help"])
    [action] = [a for a in lazy._actions if isinstance(a, argparse._SubParsersAction)]
    assert [c.dest for c in action._choices_actions] == list(COMMANDS)
    assert [c.help for c in action._choices_actions] == [help for _, help in COMMANDS.values()]


def test_a_command_missing_its_extra_says_which_to_install(tmp_path: Path) -> None:
    """`evidence log init` + `log add` need the log writer's index (numpy): without it, a
    plain message naming the extra, exit status 2, and the log left as it was."""
    init = subprocess.run(
        [EVIDENCE, "log", "init", str(tmp_path / "log"), "--origin", "extras.test/log"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EVIDENCE_HOME": str(tmp_path / "home")},
        check=False,
    )
    assert init.returncode == 0, init.stderr
    before = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "log").rglob("*") if ".state" not in p.parts)
    entry = tmp_path / "entry.txt"
    entry.write_bytes(b"one entry")
    run = blocked(
        tmp_path,
        [EVIDENCE, "log", "add", str(tmp_path / "log"), str(entry)],
        clean=False,
        block=["numpy"],
        windows_os=False,
    )
    assert run.code == 2, run.stderr
    assert "needs the optional package 'numpy'" in run.stderr
    assert "pip install 'preserve-evidence[server]'" in run.stderr and "Traceback" not in run.stderr
    after = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "log").rglob("*") if ".state" not in p.parts)
    assert after == before


# --------------------------------------------------------------------------- the base venv


def _base_venv() -> Path | None:
    env = os.environ.get("EVIDENCE_BASE_VENV")
    venv = Path(env) if env else ROOT / ".venv-base"
    return venv if (venv / "bin" / "evidence").is_file() else None


@pytest.mark.skipif(_base_venv() is None, reason="no base-only venv (.venv-base, made by .ci/run)")
def test_the_base_install_verifies_bundles_made_by_the_full_install(bundles: dict[str, Made], tmp_path: Path) -> None:
    venv = _base_venv()
    assert venv is not None
    evidence = str(venv / "bin" / "evidence")
    python = str(venv / "bin" / "python")
    # The base install is what it says: none of the extras' packages, and its own copy of
    # the project (not this checkout).
    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u, evidence; print([m for m in "
            f"{FORBIDDEN[:-1]!r} if u.find_spec(m)]); print(evidence.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    missing, where = probe.stdout.splitlines()
    assert missing == "[]", probe.stdout
    assert Path(where).resolve().is_relative_to(venv.resolve()), where

    made = list(bundles.values())
    argv = [evidence, "verify", *(str(m.path) for m in made), "--trust", str(made[0].policy), "--json-lines"]
    _check_json_lines(blocked(tmp_path, argv), made)
    valid = bundles["valid"]
    run = blocked(tmp_path, [evidence, "verify", str(valid.path), "--log-key", str(valid.keys)])
    assert run.code == 0 and "VERDICT: VERIFIED\n" in run.stdout, run.stdout + run.stderr
