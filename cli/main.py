"""The `evidence` command: thin argument parsing over the library.

Each group of subcommands lives in its own module with a ``register(subparsers)``
function; its handlers take the parsed arguments and return an exit code. Errors from the
library (:class:`evidence.EvidenceError`) are printed for a human and mapped to exit codes
here, in one place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from evidence.errors import EXIT_USAGE, EvidenceError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import bundle_cmd, log_cmd, refresh_cmd, timestamp_cmd, verify_cmd, witness_cmd

    parser = _Parser(prog="evidence", description="Preserve web pages as court-grade evidence.")
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    log_cmd.register(sub)
    timestamp_cmd.register(sub)
    bundle_cmd.register(sub)
    verify_cmd.register(sub)
    witness_cmd.register(sub)
    refresh_cmd.register(sub)
    return parser


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed command's handler; map library errors to a message and an exit code.

    The one place where :class:`EvidenceError` becomes words on stderr and an exit status;
    every entry point (``evidence``, and the ``python -m evidence_cli.*`` modules) uses it.
    A reader that closes the output early (``evidence log status | head``) ends the command
    quietly with exit status 141, as SIGPIPE would.
    """
    from .options import run_cli

    def body() -> int:
        try:
            code: int = args.func(args)
        except EvidenceError as err:
            print(f"error: {err.diagnostics()}", file=sys.stderr)
            return err.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return code

    return run_cli(body)


def main(argv: Sequence[str] | None = None) -> int:
    from .options import run_cli

    return run_cli(lambda: dispatch(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
