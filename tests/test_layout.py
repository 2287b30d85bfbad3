"""The layout's rules, checked from the source (AST) and by running the CLI.

- docs/design.md's "## Exit codes" table equals :data:`evidence.errors.EXIT_CODES`, and no
  module of the CLI defines an exit code of its own.
- The import rule (docs/design.md, "Install extras and the import rule"): what the verify
  path imports at module level, followed through every evidence module it reaches, contains
  none of the forbidden packages or modules. Unlike import-linter's graph this sees the
  standard library (``fcntl``) and tells module-level from function-level imports.
- ``fcntl`` is imported only inside ``evidence/_internal/filelock.py`` (and there in a function);
  Playwright only in ``evidence/capture/``, ``evidence/report/pdf.py`` (today ``evidence/pdf.py``).
- Each command's ``--help`` imports only its own command module of ``evidence_cli``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parent.parent
#: Import name of a top package -> its directory in the source tree.
PACKAGE_DIRS = {"evidence": ROOT / "evidence", "evidence_cli": ROOT / "cli"}

#: Where the verify path starts: ``evidence.verify()`` and ``evidence verify``.
VERIFY_ROOTS = ("evidence.verify", "evidence_cli.verify_cmd", "evidence_cli.main")
#: What the verify path never imports at module level (a name or any of its submodules).
FORBIDDEN_ON_VERIFY_PATH = (
    "playwright",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "numpy",
    "fcntl",
    "requests",
    "evidence.capture",
    "evidence.batch",
    "evidence.queue",
    "procrastinate",
    "psycopg",
    "evidence.server",
    "evidence.witness.app",
    "evidence.log.writer",
    "evidence.log.sequencer",
    "evidence.log.dedup",
    "evidence.bundle.writer",
    "evidence.report.pdf",
    "evidence.pdf",
)
#: Modules that may import a package anywhere (module or function level): package -> prefixes.
ONLY_IN = {
    "fcntl": ("evidence._internal.filelock",),
    "msvcrt": ("evidence._internal.filelock",),
    "playwright": ("evidence.capture", "evidence.report.pdf", "evidence.pdf"),
}


def _module_file(name: str) -> Path | None:
    top, _, rest = name.partition(".")
    base = PACKAGE_DIRS.get(top)
    if base is None:
        return None
    path = base.joinpath(*rest.split(".")) if rest else base
    if path.is_dir():
        return path / "__init__.py"
    file = path.with_suffix(".py")
    return file if file.is_file() else None


def _all_modules() -> list[str]:
    names = []
    for top, base in PACKAGE_DIRS.items():
        for file in sorted(base.rglob("*.py")):
            parts = list(file.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join([top, *parts]))
    return names


def _imports(module: str, *, module_level_only: bool) -> set[str]:
    """Absolute names ``module`` imports (``from a import b`` gives ``a`` and ``a.b``).

    Module level means not inside a function; imports under ``if TYPE_CHECKING:`` are skipped.
    """
    file = _module_file(module)
    assert file is not None, module
    tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit_all(child.orelse, in_function)
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if not (module_level_only and inner):
                if isinstance(child, ast.Import):
                    found.update(alias.name for alias in child.names)
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = package.split(".")
                        base = base[: len(base) - (child.level - 1)]
                        source = ".".join(base + ([child.module] if child.module else []))
                    else:
                        source = child.module or ""
                    found.add(source)
                    found.update(f"{source}.{alias.name}" for alias in child.names)
            visit(child, inner)

    def visit_all(nodes: list[ast.stmt], in_function: bool) -> None:
        for n in nodes:
            holder = ast.Module(body=[n], type_ignores=[])
            visit(holder, in_function)

    visit(tree, False)
    return found


def _closure(roots: tuple[str, ...]) -> dict[str, str]:
    """Every name reached from ``roots`` by module-level imports -> the module that imports it."""
    seen: dict[str, str] = {root: "(root)" for root in roots}
    todo = list(roots)
    while todo:
        module = todo.pop()
        if _module_file(module) is None:
            continue
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        for name in [*parents, *sorted(_imports(module, module_level_only=True))]:
            if name not in seen:
                seen[name] = module
                todo.append(name)
    return seen


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_verify_path_imports_nothing_forbidden_at_module_level() -> None:
    reached = _closure(VERIFY_ROOTS)
    bad = {
        name: via
        for name, via in reached.items()
        if any(_matches(name, f) for f in FORBIDDEN_ON_VERIFY_PATH) and _module_file(via) is not None
    }
    assert not bad, f"the verify path imports (name: imported by): {bad}"


def test_the_closure_sees_what_it_should() -> None:
    """The checker itself: it follows evidence modules and sees the standard library."""
    reached = _closure(("evidence.verify",))
    assert "evidence.errors" in reached
    assert "zipfile" in reached
    assert "fcntl" not in reached


@pytest.mark.parametrize("package", sorted(ONLY_IN))
def test_a_platform_or_browser_package_is_imported_only_where_allowed(package: str) -> None:
    allowed = ONLY_IN[package]
    bad = [
        module
        for module in _all_modules()
        if not any(_matches(module, a) for a in allowed)
        and any(_matches(name, package) for name in _imports(module, module_level_only=False))
    ]
    assert not bad, f"{package} is imported by {bad}; only {allowed} may"


def test_fcntl_is_imported_only_inside_a_function() -> None:
    for module in ONLY_IN["fcntl"]:
        if _module_file(module) is not None:
            assert "fcntl" not in _imports(module, module_level_only=True)


def test_the_docs_exit_code_table_is_the_code_table() -> None:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+?) \|$", section, re.M)
    assert [(int(c), n, m) for c, n, m in rows] == [(r.code, r.name, r.meaning) for r in EXIT_CODES.values()]


def test_no_cli_module_defines_an_exit_code() -> None:
    for file in sorted((ROOT / "cli").glob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for t in targets:
                assert not (isinstance(t, ast.Name) and t.id.startswith("EXIT_")), f"{file.name} defines {t.id}"


def test_the_exit_code_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        EXIT_CODES[99] = EXIT_CODES[0]  # type: ignore[index]


def _commands() -> dict[str, tuple[str, str]]:
    from evidence_cli.main import COMMANDS

    return COMMANDS


@pytest.mark.parametrize("command", sorted(_commands()))
def test_a_commands_help_imports_only_its_own_module(command: str) -> None:
    own = _commands()[command][0]
    others = sorted({m for m, _ in _commands().values()} - {own})
    code = (
        "import sys, json\n"
        "from evidence_cli.main import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('evidence_cli.'))), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    loaded = json.loads(run.stderr.strip().splitlines()[-1])
    assert f"evidence_cli.{own}" in loaded
    assert not [m for m in others if f"evidence_cli.{m}" in loaded], loaded


def test_no_module_imports_another_modules_private_name() -> None:
    """A name another module needs is public (docs/design.md, "Layout and the import rule"):
    ``from evidence.x import _y`` anywhere in evidence/ or cli/ is refused."""
    offences = []
    for folder in ("evidence", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("evidence", "evidence_cli")):
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            where = f"{path.relative_to(ROOT)}:{node.lineno}"
                            offences.append(f"{where} imports {node.module}.{alias.name}")
    assert offences == [], offences
