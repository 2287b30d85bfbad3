"""`evidence log serve DIR`: the shared log server (read paths + authenticated POST /add).

Registered by cli/log_cmd.py: ``register_log_serve(log_subparsers)``. Can also run as
``python -m evidence_cli.serve_cmd DIR --listen HOST:PORT`` (the tests do).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evidence.errors import EXIT_OK, UsageError


def cmd_serve(args: argparse.Namespace) -> int:
    from evidence.server.app import serve
    from evidence.server.config import SERVER_CONFIG_FILE, ServerConfig, load_server_config

    from .options import log_dir_and_keys

    location: Path | str
    keys_dir: Path | None
    if args.storage is not None:
        from evidence.log.storage import is_database_url

        if args.dir is not None or not is_database_url(args.storage):
            raise UsageError(
                "--storage takes a postgresql:// URL (and no LOGDIR); a directory log is served with LOGDIR",
                hint="evidence log serve --storage postgresql://USER@HOST/DB --keys DIR (docs/operating.md)",
            )
        if not args.keys:
            raise UsageError("a log in PostgreSQL needs --keys DIR: its private keys are never in the database")
        location, keys_dir = args.storage, Path(args.keys)
    else:
        path, keys_dir = log_dir_and_keys(args.dir, args.keys)
        location = path
    beside = location.resolve().parent / SERVER_CONFIG_FILE if isinstance(location, Path) else None
    if args.config:
        config = load_server_config(args.config)
    elif beside is not None and beside.is_file():  # a database log's server.toml is given with --config
        config = load_server_config(beside)
    else:
        config = ServerConfig()
    if args.prefix is not None:
        config = replace(config, prefix=args.prefix.rstrip("/"))
    if args.tokens:
        config = replace(config, tokens=Path(args.tokens))
    serve(
        location,
        config,
        listen=args.listen,
        keys_dir=keys_dir,
        access_log=args.access_log,
    )
    return EXIT_OK


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", metavar="LOGDIR", help="the log directory (default: $EVIDENCE_HOME/log)")
    p.add_argument("--listen", metavar="HOST:PORT", help="where to listen (default: server.toml, else 127.0.0.1:8080)")
    p.add_argument("--config", metavar="FILE", help="server configuration (default: server.toml beside DIR, if any)")
    p.add_argument("--tokens", metavar="FILE", help="bearer-token file for POST /add (overrides server.toml)")
    p.add_argument("--prefix", metavar="PATH", help="serve under this URL path, e.g. /log (overrides server.toml)")
    p.add_argument(
        "--keys",
        metavar="DIR",
        help="directory holding the log's private keys (default: LOGDIR/.state/keys; $EVIDENCE_HOME/keys for "
        "the home log)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="serve the log in this PostgreSQL database (postgresql://USER@HOST/DB) instead of LOGDIR: any "
        "number of servers share it (needs --keys; see `evidence log migrate`)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    p.set_defaults(func=cmd_serve)


def register_log_serve(log_subparsers: Any) -> None:
    """Add ``serve`` to the ``evidence log`` subcommands."""
    p = log_subparsers.add_parser(
        "serve",
        help="serve a log over HTTP: tlog-tiles read paths and an authenticated POST /add",
        description="Serve the log in LOGDIR: GET /checkpoint, /tile/..., /history/..., /log.json, "
        "/verification-keys.txt, /status; "
        "POST /add with 'Authorization: Bearer <token>'. See docs/operating.md.",
    )
    _add_arguments(p)


def main(argv: Sequence[str] | None = None) -> int:
    """Run as ``python -m evidence_cli.serve_cmd DIR --listen ...``."""
    from .main import _Parser, dispatch

    parser = _Parser(prog="evidence log serve")
    _add_arguments(parser)
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
