"""`evidence witness init|add-log|serve`: run a C2SP tlog-witness (see docs/witness.md)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

from evidence.errors import EXIT_OK, UsageError
from evidence.witness.app import create_app
from evidence.witness.protocol import MAX_BODY_BYTES, normalise_prefix
from evidence.witness.state import Witness, init_witness, trust_log


def cmd_init(args: argparse.Namespace) -> int:
    verifier = init_witness(args.dir, args.name)
    print(f"Created the witness {verifier.name!r} in {args.dir}.")
    print("Witness key (publish it; logs and verifiers need it):")
    print(verifier.vkey())
    print(f"The private key is in {os.path.join(args.dir, 'witness.skey')} (mode 0600): keep it secret.")
    print("Back up the whole directory: a witness that loses its state/ must be retired.")
    return EXIT_OK


def _vkey_arg(value: str) -> str:
    """A vkey given as text, or as a file holding it (first non-comment line)."""
    if os.path.isfile(value):
        from evidence._internal.files import MAX_KEY_BYTES, read_text_file

        lines = [ln.strip() for ln in read_text_file(value, limit=MAX_KEY_BYTES, what="key file").splitlines()]
        keys = [ln for ln in lines if ln and not ln.startswith("#")]
        if len(keys) != 1:
            raise UsageError(f"the key file {value} must hold exactly one verifier key, not {len(keys)}")
        return keys[0]
    return value


def cmd_add_log(args: argparse.Namespace) -> int:
    origin, key = trust_log(args.dir, _vkey_arg(args.vkey), args.origin)
    print(f"The witness in {args.dir} now witnesses the log {origin!r}")
    print(f"  log key {key.vkey()}")
    print(f"  fingerprint {key.fingerprint()}")
    print("A running witness picks this up with its next request.")
    return EXIT_OK


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6); port 0 picks a free port."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {value!r} is not HOST:PORT (for example 127.0.0.1:7380)")
    return host.strip("[]"), int(port)


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UsageError(f"cannot resolve the listen address {host!r}: {e}") from e
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    sock.listen(512)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    witness = Witness.open(args.dir)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prefix = normalise_prefix(args.prefix)
    app = create_app(witness, prefix=prefix, max_body=args.max_body)
    host, port = parse_listen(args.listen)
    sock = _bind(host, port)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    logs = witness.trusted_logs()
    print(f"Witness {witness.name} ({witness.verifier.vkey()})", flush=True)
    print(f"  witnessing {len(logs)} log(s): {', '.join(sorted(logs)) or 'none yet (evidence witness add-log)'}")
    print(f"  listening on http://{shown}:{bound[1]}{prefix}/add-checkpoint", flush=True)
    from evidence._internal.serving import ServerLimits, uvicorn_options

    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=True,
        timeout_graceful_shutdown=5,
        **uvicorn_options(ServerLimits(max_concurrency=256)),
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add `evidence witness ...` to the `evidence` command."""
    p = subparsers.add_parser(
        "witness",
        help="run a C2SP tlog-witness that cosigns other logs' checkpoints",
        description="Run a C2SP tlog-witness (c2sp.org/tlog-witness@v1.0.0): it cosigns a log's checkpoints "
        "only when they extend, append-only, the last one it cosigned.",
    )
    sub = p.add_subparsers(dest="witness_command", metavar="SUBCOMMAND", parser_class=type(p))
    sub.required = True

    q = sub.add_parser("init", help="create a witness directory and its cosigner key")
    q.add_argument("dir", metavar="DIR", help="the witness directory (created if absent)")
    q.add_argument("--name", required=True, help="the witness's key name, e.g. witness.example.org/w1")
    q.set_defaults(func=cmd_init)

    q = sub.add_parser("add-log", help="trust a log's key for its origin")
    q.add_argument("dir", metavar="DIR", help="the witness directory")
    q.add_argument("vkey", metavar="VKEY", help="the log's verifier key (text or a file holding it)")
    q.add_argument("--origin", help="the log's origin line, if it differs from the key's name")
    q.set_defaults(func=cmd_add_log)

    q = sub.add_parser("serve", help="serve add-checkpoint and the monitoring read over HTTP")
    q.add_argument("dir", metavar="DIR", help="the witness directory")
    q.add_argument("--listen", default="127.0.0.1:7380", help="HOST:PORT to listen on (default 127.0.0.1:7380)")
    q.add_argument("--prefix", default="", help="URL path prefix, e.g. /witness (default: none)")
    q.add_argument(
        "--max-body", type=int, default=MAX_BODY_BYTES, help=f"largest request body in bytes (default {MAX_BODY_BYTES})"
    )
    q.set_defaults(func=cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m evidence_cli.witness_cmd ...`: the witness commands alone (as `evidence witness ...`)."""
    from .main import _Parser, dispatch

    parser = _Parser(prog="evidence")
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    register(sub)
    return dispatch(parser.parse_args(["witness", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
