"""Rebuild the shipped page from its sources: ``python -m evidence.verifier_page``."""

from pathlib import Path

from evidence.verifier_page import build

Path(__file__).with_name("verify.html").write_bytes(build())
