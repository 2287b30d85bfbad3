"""`evidence log ...`, `evidence note verify` and `evidence proof verify`."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import EXIT_OK, EXIT_VERIFICATION_FAILED, FormatError, PolicyError, UsageError
from evidence.log import Log
from evidence.log.reader import audit
from evidence.note import Verifier, open_note


def _read_input(path: str, what: str, limit: int = 1 << 20) -> bytes:
    """Read a file (or '-' for stdin) the user named, with a size cap and a plain error."""
    if path != "-":
        from evidence._internal.files import read_file

        # A regular file (symlinks followed) of at most ``limit`` bytes: a FIFO or device is refused.
        return read_file(path, limit=limit, what=f"{what} file", error=UsageError)
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as e:
        raise UsageError(f"cannot read the {what} from standard input: {e.strerror}") from e
    if len(data) > limit:
        raise FormatError(f"the {what} file {path} is larger than {limit} bytes; it cannot be a {what}")
    return data


def _vkeys(values: list[str] | None, what: str) -> list[Verifier]:
    """Keys given as vkey text or as a file holding vkeys (one per line)."""
    out: list[Verifier] = []
    for v in values or []:
        if os.path.isfile(v):
            lines = [ln.strip() for ln in _read_input(v, "key").decode("utf-8", "replace").splitlines()]
            out.extend(Verifier.from_vkey(ln) for ln in lines if ln and not ln.startswith("#"))
        else:
            out.append(Verifier.from_vkey(v))
    if not out and what:
        raise UsageError(f"give at least one {what} key with --key")
    return out


def _default_log_dir() -> Path:
    from evidence.config import evidence_home

    return evidence_home() / "log"


def _default_origin() -> str:
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-.") or "localhost"
    return f"evidence.invalid/{host}/{secrets.token_hex(4)}"


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.dir) if args.dir else _default_log_dir()
    log = Log.create(path, origin=args.origin or _default_origin(), keys_dir=args.keys)
    print(f"Created the log {log.origin!r} in {path}.")
    print(f"Log key (publish it; verifiers need it):       {log.verifier.vkey()}")
    print(f"Timestamp key (the log's own signed clock):    {log.timestamp_verifier.vkey()}")
    print(f"Private keys are in {log.keys_dir} (mode 0600): back them up and keep them secret.")
    return EXIT_OK


def _open(args: argparse.Namespace) -> Log:
    return Log.open(args.dir or _default_log_dir(), keys_dir=getattr(args, "keys", None))


def cmd_add(args: argparse.Namespace) -> int:
    entries = [_read_input(f, "entry", limit=1 << 16) for f in args.files]
    with _open(args) as log:
        indices = log.append(entries)
        cp = log.checkpoint().checkpoint
    for f, i in zip(args.files, indices, strict=True):
        print(f"{i}\t{f}")
    print(f"Logged; the log now holds {cp.size} entries (root {cp.root_hash.hex()}).", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as log:
        signed = log.checkpoint()
        cp = signed.checkpoint
        cosig = signed.cosignatures([log.timestamp_verifier])
        print(f"log:        {log.origin}")
        print(f"directory:  {log.path}")
        print(f"entries:    {cp.size}")
        print(f"root:       {cp.root_hash.hex()}")
        for t in cosig.values():
            from datetime import UTC, datetime

            print(f"signed at:  {datetime.fromtimestamp(t, UTC).isoformat()} (log's own timestamp cosignature)")
        print(f"log key:    {log.verifier.vkey()}")
        print(f"clock key:  {log.timestamp_verifier.vkey()}")
        tokens = log.timestamps(cp.size)
        print(f"RFC 3161 timestamps on this checkpoint: {len(tokens)}")
    return EXIT_OK


def cmd_prove(args: argparse.Namespace) -> int:
    with _open(args) as log:
        proof = log.prove(args.index, args.size)
    data = proof.to_bytes()
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    keys = _vkeys(args.key, "log")

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    report = audit(args.location, keys, origin=args.origin, progress=progress)
    print(report.summary())
    return EXIT_OK


def cmd_note_verify(args: argparse.Namespace) -> int:
    keys = _vkeys(args.key, "verifier")
    data = _read_input(args.file, "note")
    verified = open_note(data, keys)
    for v, sig in verified.verified:
        extra = f" at {sig.timestamp} (cosignature time)" if v.key_type == 0x04 else ""
        print(f"OK: signed by {v.name} (key {v.key_id:08x}){extra}")
    for sig in verified.unknown:
        print(f"skipped: signature by {sig.name} (key {sig.key_id:08x}) - not a key you supplied")
    return EXIT_OK


def cmd_proof_verify(args: argparse.Namespace) -> int:
    keys = _vkeys(args.key, "log")
    witnesses = _vkeys(args.witness, "") if args.witness else []
    proof = TlogProof.parse(_read_input(args.proof, "proof"))
    entry = _read_input(args.entry, "entry", limit=1 << 16)
    verified = proof.verify(entry, keys)
    cp = verified.checkpoint
    print(f"1. leaf hash recomputed from {args.entry}")
    print(f"2. checkpoint of {cp.origin!r} (size {cp.size}) is signed by a key you trust")
    if witnesses or args.quorum:
        good = SignedCheckpoint.parse(proof.checkpoint_note).cosignatures(witnesses)
        quorum = args.quorum if args.quorum is not None else len(witnesses)
        names = ", ".join(sorted(v.name for v in good)) or "none"
        if len(good) < quorum:
            raise PolicyError(
                f"only {len(good)} of the required {quorum} witnesses cosigned this checkpoint (cosigned by: {names})"
            )
        print(f"3. {len(good)} witness cosignature(s) verified (quorum {quorum}): {names}")
    else:
        print("3. no witness policy given; witness cosignatures not checked")
    print(f"4. entry {proof.index} is included in the tree of {cp.size} entries (root {cp.root_hash.hex()})")
    print("VERIFIED")
    return EXIT_OK


def register(sub: Any) -> None:
    log = sub.add_parser("log", help="create, append to, prove from and audit append-only logs")
    log_sub = log.add_subparsers(dest="log_command", metavar="LOGCMD", parser_class=type(log))
    log_sub.required = True
    from .serve_cmd import register_log_serve

    register_log_serve(log_sub)

    p = log_sub.add_parser("init", help="create a new empty log (default: the embedded default log)")
    p.add_argument("dir", nargs="?", help="log directory (default: $EVIDENCE_HOME/log)")
    p.add_argument("--origin", help="the log's name, a scheme-less URL (default: a random one)")
    p.add_argument("--keys", help="directory for the private keys (default: DIR/.state/keys)")
    p.set_defaults(func=cmd_init)

    p = log_sub.add_parser("add", help="append files as entries (each at most 65,535 bytes)")
    p.add_argument("dir")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--keys", help="directory holding the log's private keys")
    p.set_defaults(func=cmd_add)

    p = log_sub.add_parser("status", help="show the latest checkpoint")
    p.add_argument("dir", nargs="?")
    p.set_defaults(func=cmd_status)

    p = log_sub.add_parser("prove", help="print a tlog-proof for one entry")
    p.add_argument("dir")
    p.add_argument("index", type=int)
    p.add_argument("--size", type=int, help="prove against the checkpoint of this size (default: latest)")
    p.add_argument("-o", "--output", help="write the proof to this file")
    p.set_defaults(func=cmd_prove)

    p = log_sub.add_parser("audit", help="recompute every tile of any tlog-tiles log and check it")
    p.add_argument("location", help="log directory or http(s) base URL")
    p.add_argument("--key", action="append", required=True, help="the log's verifier key (vkey), or a file of vkeys")
    p.add_argument("--origin", help="require this origin")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_audit)

    note = sub.add_parser("note", help="signed notes")
    note_sub = note.add_subparsers(dest="note_command", metavar="NOTECMD", parser_class=type(note))
    note_sub.required = True
    p = note_sub.add_parser("verify", help="verify a signed note (checkpoint) against keys")
    p.add_argument("file")
    p.add_argument("--key", action="append", required=True, help="a verifier key (vkey) or a file of vkeys")
    p.set_defaults(func=cmd_note_verify)

    proof = sub.add_parser("proof", help="offline proofs")
    proof_sub = proof.add_subparsers(dest="proof_command", metavar="PROOFCMD", parser_class=type(proof))
    proof_sub.required = True
    p = proof_sub.add_parser("verify", help="verify a tlog-proof for an entry, offline")
    p.add_argument("proof")
    p.add_argument("--entry", required=True, help="the file whose bytes are the log entry")
    p.add_argument("--key", action="append", required=True, help="the log's verifier key (vkey)")
    p.add_argument("--witness", action="append", help="a witness's cosignature vkey (repeatable)")
    p.add_argument("--quorum", type=int, help="how many witnesses must have cosigned (default: all given)")
    p.set_defaults(func=cmd_proof_verify)


__all__ = ["EXIT_VERIFICATION_FAILED", "register"]
