"""Shared test setup. Module-specific fixtures live beside their tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

# Let tests import the helper modules in tests/ (vectors, tsa, site) by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Hypothesis keeps what the fuzzers find here, in the repository (not in the ignored
#: .hypothesis/): a falsifying example found on a developer's machine is saved, committed
#: with the fix, and replayed first by every later run. CI (``CI`` set, as .ci/run does) and
#: any run with EVIDENCE_HYPOTHESIS_DB=read-only replays the committed findings but never
#: writes, so the checkout stays clean and a run cannot fail because the directory changed.
HYPOTHESIS_DB = Path(__file__).resolve().parent / "hypothesis-db"

_db = DirectoryBasedExampleDatabase(HYPOTHESIS_DB)
_read_only = bool(os.environ.get("CI")) or os.environ.get("EVIDENCE_HYPOTHESIS_DB") == "read-only"
settings.register_profile("evidence", database=ReadOnlyDatabase(_db) if _read_only else _db)
settings.load_profile("evidence")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "verifier: the verifier's own tests; they also run on the base install (tests/verifier_base.py, .ci/run)",
    )


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real PostgreSQL server for the whole run (tests/pg_helpers.py); each test that needs
    a clean database makes its own with ``postgres.create_database(name)``."""
    from pg_helpers import PostgresServer, server_bin

    if server_bin() is None:
        pytest.skip("PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)")
    server = PostgresServer.start(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()
