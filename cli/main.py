"""The `evidence` command: thin argument parsing over the library.

Each group of subcommands lives in its own module with a ``register(subparsers)``
function; its handlers take the parsed arguments and return an exit code. :data:`COMMANDS`
names, for each command, its module and its one line of help: a run imports only the
module of the command it runs (``evidence verify`` never loads the browser, the log
server or the log writer's index), and ``evidence --help`` lists every command from the
table without importing any of them. Errors from the library
(:class:`evidence.EvidenceError`) are printed for a human and mapped to exit codes here,
in one place.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from evidence.errors import EXIT_INTERRUPTED, EXIT_USAGE, EvidenceError, exit_codes_epilog

#: Every command of ``evidence``, in the order ``evidence --help`` lists them: its name ->
#: (the module in this package that registers it, its one line of help). A module may
#: register several commands (``log_cmd``: log, note, proof); the help must be the one the
#: module gives (tests/test_imports.py checks both agree).
COMMANDS: dict[str, tuple[str, str]] = {
    "log": ("log_cmd", "create, append to, prove from and audit append-only logs"),
    "note": ("log_cmd", "signed notes"),
    "proof": ("log_cmd", "offline proofs"),
    "timestamp": ("timestamp_cmd", "RFC 3161 time-stamps from independent authorities over checkpoints"),
    "report": (
        "bundle_cmd",
        "verify a bundle under your trust and write a graded certificate of preservation (PDF or HTML)",
    ),
    "verify": ("verify_cmd", "verify a proof bundle offline (plain-language verdict)"),
    "lookup": (
        "lookup_cmd",
        "ask the operator's log whether it holds a bundle's seal (GET /lookup/<sha256>) and check its proofs",
    ),
    "witness": ("witness_cmd", "run a C2SP tlog-witness that cosigns other logs' checkpoints"),
    "refresh": ("refresh_cmd", "add the log's newer (better-witnessed) checkpoint and a consistency proof to a bundle"),
    "queue": ("queue_cmd", "add captures to a PostgreSQL job queue for capture workers, and show their status"),
    "worker": ("worker_cmd", "run a capture worker: take capture jobs from a PostgreSQL queue, seal them into the log"),
    "verifier-page": (
        "verifier_page_cmd",
        "write the single-file offline verifier page (verify.html) and print its SHA-256",
    ),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _chosen(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (``evidence`` itself
    has no option that takes a value)."""
    for word in argv:
        if word == "--" or (word.startswith("-") and word != "-"):
            continue
        return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``evidence`` parser. With ``argv``, only the module of the command it names is
    imported and registered; every other command is listed with its help line from
    :data:`COMMANDS` and nothing else. Without ``argv``: every command, fully registered."""
    chosen = None if argv is None else _chosen(argv)
    wanted = None if argv is None else COMMANDS.get(chosen or "", ("", ""))[0]
    parser = _Parser(
        prog="evidence",
        description="Preserve web pages as court-grade evidence.",
        epilog=exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    registered: set[str] = set()
    for name, (module, help) in COMMANDS.items():
        if module in registered:
            continue
        if wanted is None or module == wanted:
            importlib.import_module(f"{__package__}.{module}").register(sub)
            registered.add(module)
        else:
            sub.add_parser(name, help=help)
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
            return EXIT_INTERRUPTED
        return code

    return run_cli(body)


def main(argv: Sequence[str] | None = None) -> int:
    from .options import run_cli

    words = sys.argv[1:] if argv is None else list(argv)
    return run_cli(lambda: dispatch(build_parser(words).parse_args(words)))


if __name__ == "__main__":
    sys.exit(main())
