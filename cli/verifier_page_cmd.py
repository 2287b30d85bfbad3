"""``evidence verifier-page -o verify.html``: write the offline verifier page and print its SHA-256.

The page ships with the package (never inside bundles: whoever forges a bundle controls
what is inside it). docs/verifying.md says how a lawyer obtains it and checks this hash.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from evidence._internal.durable import write_atomic
from evidence.errors import EXIT_OK

HELP = "write the single-file offline verifier page (verify.html) and print its SHA-256"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``evidence verifier-page`` to the command line."""
    parser = subparsers.add_parser("verifier-page", help=HELP, description=HELP + ".")
    parser.add_argument("-o", "--output", type=Path, default=Path("verify.html"), help="where to write it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the page; print its SHA-256 and where it is."""
    from evidence.verifier_page import page_bytes

    data = page_bytes()
    write_atomic(args.output, data)
    print(f"{hashlib.sha256(data).hexdigest()}  {args.output}")
    print(f"{len(data)} bytes; compare the SHA-256 with the one published for this version", file=sys.stderr)
    return EXIT_OK
