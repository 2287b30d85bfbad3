"""What a new user on a fresh machine meets: the tests run the project's own commands (never
whatever PATH finds), and the README's set-up commands agree with what CI runs."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from tools import ROOT, project_command

#: The project's console scripts (pyproject.toml [project.scripts]).
COMMANDS = ("preserve", "evidence")
_RUNNERS = {"run", "Popen", "call", "check_call", "check_output"}


def test_project_commands_are_the_ones_next_to_this_python() -> None:
    """On a fresh machine nothing is on PATH but the system's tools: the helper must find the
    commands of the environment running the tests, and they must run with such a PATH."""
    bin_dir = Path(sys.executable).parent
    for name in COMMANDS:
        path = Path(project_command(name))
        assert path.parent == bin_dir, f"{name} resolved outside the test environment's bin: {path}"
        fresh = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
        r = subprocess.run([str(path), "--help"], env=fresh, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert f"usage: {name}" in r.stdout


def bare_command_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) for every argv whose first element is the bare name of one of this
    project's commands: any list literal like ``["preserve", url]`` (passed to subprocess,
    kept in a variable, or in a loop over several argvs), or a tuple given to a subprocess
    function. A one-element list (``["preserve"]``, a label) is not an argv."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        argv: ast.expr | None = None
        if isinstance(node, ast.List):
            argv = node
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Tuple):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _RUNNERS:
                argv = node.args[0]
        if isinstance(argv, ast.List | ast.Tuple) and len(argv.elts) > 1:
            first = argv.elts[0]
            if isinstance(first, ast.Constant) and first.value in COMMANDS:
                found.append((first.lineno, str(first.value)))
    return sorted(found)


def test_the_scanner_finds_bare_command_names() -> None:
    sample = (
        "import subprocess\n"
        "subprocess.run(['preserve', url], env=env)\n"
        "check = ['evidence', 'verify', str(b)]\n"
        "subprocess.Popen(('evidence', 'report', 'x'))\n"
        "subprocess.run([PRESERVE, url])\n"
        "labels = ['preserve']\n"
        "for argv in (['evidence', 'refresh', b], [EVIDENCE, 'x']):\n"
        "    pass\n"
        "names = ('preserve', 'evidence')\n"
    )
    assert bare_command_calls(sample) == [(2, "preserve"), (3, "evidence"), (4, "evidence"), (7, "evidence")]


def test_no_test_or_benchmark_runs_a_project_command_from_path() -> None:
    offenders = []
    for folder in ("tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, name in bare_command_calls(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {name!r} (use tools.project_command({name!r}))")
    assert not offenders, "\n".join(offenders)


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "the README starts with a sh block of set-up commands"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def _apt_packages(command: str) -> set[str]:
    m = re.search(r"apt-get install ((?:-\S+ )*)([^&>\n]+)", command)
    assert m, command
    return {p for p in m.group(2).split() if not p.startswith("-")}


#: What CI installs beyond the README for the tests alone: Info-ZIP (the three-reader
#: comparison, the by-hand checks) and poppler (the certificate's PDF read back as text).
#: What CI adds for the tests alone: the independent tools (unzip, pdftoppm/pdffonts, zbarimg
#: to decode the certificate's QR code), PostgreSQL (the tests start their own server for the
#: queue and the shared log) and Xvfb (a screen for the interactive session's visible browser).
TEST_ONLY_PACKAGES = {"unzip", "poppler-utils", "zbar-tools", "postgresql", "xvfb", "xauth"}


def test_readme_set_up_matches_ci() -> None:
    """The README's two commands are what CI proves: every Debian package the README installs
    (CJK fonts included) is installed by CI, which adds only the independent tools the tests
    check against (listed here), and the same test command, run with no venv on PATH and a
    fresh HOME."""
    install, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_install = next(ln for ln in ci.splitlines() if "apt-get install" in ln)
    assert _apt_packages(ci_install) - _apt_packages(install) <= TEST_ONLY_PACKAGES
    assert _apt_packages(install) <= _apt_packages(ci_install)
    assert "fonts-noto-cjk" in _apt_packages(install)
    assert ".venv/bin/preserve https://" in install and "pip install -e '.[test]'" in install
    assert tests == ".venv/bin/python -m pytest"
    flat = ci.replace("\\\n", " ")
    run = next(ln for ln in flat.splitlines() if ln.rstrip().endswith(tests))
    assert "env -i" in run and "PATH=/usr/sbin:/usr/bin:/sbin:/bin" in run and 'HOME="$fresh_home"' in run
    assert "mktemp -d" in ci
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_every_package_is_installed_by_a_real_install() -> None:
    """`pip install .` (not editable) installs only the packages pyproject.toml lists: a new
    package left out works in the editable venv and breaks every real install."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("evidence", *p.parent.relative_to(ROOT / "evidence").parts))
        for p in (ROOT / "evidence").rglob("__init__.py")
    }
    found |= {"evidence_cli"} if (ROOT / "cli" / "__init__.py").is_file() else set()
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
