"""The bundle and report packages keep their import rule: the verify path's modules load
neither the writer, the PDF renderer nor capture, and report.derived (what the writer puts
inside a bundle) depends on none of the writer, the certificate, the PDF or capture."""

from __future__ import annotations

import subprocess
import sys

import pytest

VERIFY_PATH = (
    "evidence.bundle",
    "evidence.bundle.format",
    "evidence.bundle.reader",
    "evidence.bundle.container",
    "evidence.bundle.wacz",
    "evidence.bundle.surt",
    "evidence.bundle.refresh",
    "evidence.report",
    "evidence.report.derived",
    "evidence.report.certificate",
)
NEVER = (
    "evidence.bundle.writer",
    "evidence.bundle.refresh_writer",
    "evidence.report.pdf",
    "evidence.capture",
    "playwright",
)


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, importlib; importlib.import_module({module!r}); print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", VERIFY_PATH)
def test_a_verify_path_module_loads_no_writer_pdf_or_capture(module: str) -> None:
    loaded = _loaded_after(module)
    assert not {m for m in loaded if m.startswith(NEVER)}


def test_report_derived_uses_only_the_bundle_format_and_reader() -> None:
    import ast
    from pathlib import Path

    import evidence.report.derived as derived

    tree = ast.parse(Path(derived.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    forbidden = ("evidence.bundle.writer", "evidence.report.certificate", "evidence.report.pdf", "evidence.capture")
    assert not {m for m in imported if m.startswith(forbidden)}
    assert "evidence.bundle" not in imported  # the package's lazy names could reach the writer


def test_the_package_init_files_load_no_submodule() -> None:
    for package in ("evidence.bundle", "evidence.report"):
        loaded = _loaded_after(package)
        assert not {m for m in loaded if m.startswith(package + ".")}, package
