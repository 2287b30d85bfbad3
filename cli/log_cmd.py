"""`evidence log ...`, `evidence note verify` and `evidence proof verify`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import EXIT_OK, EXIT_VERIFICATION_FAILED, PolicyError, UsageError
from evidence.log import Log
from evidence.log.reader import audit
from evidence.note import Verifier, open_note

from .options import (
    LOG_DIR_HELP,
    add_log_dir,
    add_log_key,
    add_quiet,
    log_dir_and_keys,
    open_log,
    read_text_input,
    read_vkeys,
)


def _read_input(path: str, what: str, limit: int = 1 << 20) -> bytes:
    """Read a file (or '-' for stdin) the user named, with a size cap and a plain error."""
    return read_text_input(path, what, limit)


def _vkeys(values: list[str] | None, what: str) -> list[Verifier]:
    """Keys given as vkey text or as a file holding vkeys (one per line)."""
    out = read_vkeys(values, "--log-key" if what == "log" else "--key")
    if not out and what:
        flag = "--log-key" if what == "log" else "--key"
        raise UsageError(f"give at least one {what} key with {flag} VKEY|FILE")
    return out


def cmd_init(args: argparse.Namespace) -> int:
    from evidence.config import chosen_origin

    path, keys = log_dir_and_keys(args.dir, args.keys)
    log = Log.create(path, origin=chosen_origin(args.origin), keys_dir=keys)
    print(f"Created the log {log.origin!r} in {path}.")
    print(f"Log key (signs the checkpoints):                {log.verifier.vkey()}")
    print(f"Clock key (the log's own signed time):          {log.timestamp_verifier.vkey()}")
    print(f"Publish both, as the file {log.verification_keys_path}:")
    print(f"  verifiers run  evidence verify BUNDLE.wacz --log-key {log.verification_keys_path.name}")
    print(f"Private keys are in {log.keys_dir} (mode 0600): back them up and keep them secret.")
    return EXIT_OK


def _open(args: argparse.Namespace) -> Log:
    return open_log(args.dir, getattr(args, "keys", None))


def cmd_add(args: argparse.Namespace) -> int:
    if args.dir is not None and Path(args.dir).is_file():
        # `evidence log add a.bin b.bin`: every argument is a file; the log is the home log.
        args.files, args.dir = [args.dir, *args.files], None
    entries = [_read_input(f, "entry", limit=1 << 16) for f in args.files]
    with _open(args) as log:
        indices = log.append(entries)
        cp = log.checkpoint().checkpoint
    for f, i in zip(args.files, indices, strict=True):
        print(f"{i}\t{f}")
    print(f"Logged; the log now holds {_entries(cp.size)} (root {cp.root_hash.hex()}).", file=sys.stderr)
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

            print(f"signed at:  {datetime.fromtimestamp(t, UTC).isoformat()} (the log's clock cosignature)")
        print(f"log key:    {log.verifier.vkey()}")
        print(f"clock key:  {log.timestamp_verifier.vkey()}")
        print(f"keys file:  {log.verification_keys_path} (publish it; verifiers give it to --log-key)")
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


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def cmd_audit(args: argparse.Namespace) -> int:
    keys = _vkeys(args.log_key, "log")

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    report = audit(args.location, keys, origin=args.origin, progress=progress)
    print(report.summary())
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from evidence.log.pgstore import migrate
    from evidence.log.storage import is_database_url

    if not is_database_url(args.target):
        raise UsageError(f"the target must be a postgresql:// URL of an empty database, not {args.target!r}")
    path, _ = log_dir_and_keys(args.dir, None)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr)

    files, size = migrate(path, args.target, progress=progress)
    print(f"The log in {path} ({_entries(size)}, {files:,} files) is in the database, byte for byte.")
    print("Serve it with: evidence log serve --storage URL --keys KEYDIR (on as many machines as you like).")
    return EXIT_OK


def cmd_attempts(args: argparse.Namespace) -> int:
    """List the attempt records kept beside a log (directory or server), oldest first."""
    import json

    from evidence.log.attempts import list_attempts

    where = args.log or args.dir
    if where is not None and str(where).startswith(("http://", "https://")):
        from evidence.log.remote import open_remote_log

        log: Any = open_remote_log(str(where))
    else:
        log = _open_for_reading(where)
    with log:
        found = list_attempts(log, args.case)
        origin = log.origin
    if args.json:
        doc = [{"index": a.index, "sha256": a.record.sha256, "record": a.record.to_dict()} for a in found]
        print(json.dumps({"log_origin": origin, "case": args.case, "attempts": doc}, indent=2, ensure_ascii=False))
        return EXIT_OK
    scope = f" for case {args.case!r}" if args.case is not None else ""
    print(f"{len(found)} attempt(s){scope} in the log {origin!r}:")
    for a in found:
        r = a.record
        who = f" by {r.operator}" if r.operator else ""
        case = f" case {r.case!r}" if args.case is None and r.case else ""
        print(f"  entry {a.index}  {r.started} .. {r.finished}  {r.in_words()}{case}{who}  {r.target}")
        if r.outcome != "sealed" and r.error_message:
            print(f"      {r.error_message[:300]}")
        if r.manifest_sha256:
            print(f"      manifest SHA-256 {r.manifest_sha256}")
    return EXIT_OK


def _open_for_reading(where: str | None) -> Log:
    path, _ = log_dir_and_keys(where, None)
    return Log.open(path)


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
    keys = _vkeys(args.log_key, "log")
    witnesses = _vkeys(args.witness, "") if args.witness else []
    proof = TlogProof.parse(_read_input(args.proof, "proof"))
    entry = _read_input(args.entry, "entry", limit=1 << 16)
    verified = proof.verify(entry, keys)
    cp = verified.checkpoint
    print(f"1. leaf hash recomputed from {args.entry}")
    print(f"2. checkpoint of {cp.origin!r} ({_entries(cp.size)}) is signed by a key you trust")
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
    print(f"4. entry {proof.index} is included in the tree of {_entries(cp.size)} (root {cp.root_hash.hex()})")
    print("VERIFIED")
    return EXIT_OK


def register(sub: Any) -> None:
    log = sub.add_parser("log", help="create, append to, prove from and audit append-only logs")
    log_sub = log.add_subparsers(dest="log_command", metavar="LOGCMD", parser_class=type(log))
    log_sub.required = True
    from .serve_cmd import register_log_serve

    register_log_serve(log_sub)

    p = log_sub.add_parser("init", help="create a new empty log (default: the embedded default log)")
    add_log_dir(p, help="where to create the log (default: the embedded log, $EVIDENCE_HOME/log)")
    p.add_argument(
        "--origin",
        help="the log's name, a scheme-less URL such as firm.example/evidence/2026 (default: $EVIDENCE_ORIGIN, "
        "else origin in config.toml, else evidence-log.localhost/<random>)",
    )
    p.add_argument(
        "--keys",
        metavar="DIR",
        help="directory for the private keys (default: LOGDIR/.state/keys; $EVIDENCE_HOME/keys for the home log)",
    )
    p.set_defaults(func=cmd_init)

    p = log_sub.add_parser("add", help="append files as entries (each at most 65,535 bytes)")
    add_log_dir(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="files whose bytes become entries, in this order")
    p.add_argument("--keys", metavar="DIR", help="directory holding the log's private keys")
    p.set_defaults(func=cmd_add)

    p = log_sub.add_parser("status", help="show the latest checkpoint and the log's keys")
    add_log_dir(p)
    p.set_defaults(func=cmd_status)

    p = log_sub.add_parser("prove", help="print a tlog-proof for one entry")
    add_log_dir(p, help=LOG_DIR_HELP + "; give it when giving INDEX")
    p.add_argument("index", type=int, metavar="INDEX", help="the entry's index (0-based)")
    p.add_argument("--size", type=int, metavar="N", help="prove against the checkpoint of this size (default: latest)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the proof to this file (default: standard output)")
    p.set_defaults(func=cmd_prove)

    p = log_sub.add_parser("audit", help="recompute every tile of any tlog-tiles log and check it")
    p.add_argument("location", metavar="LOCATION", help="log directory or http(s) base URL")
    add_log_key(
        p,
        help="a key that signs or cosigns the log's checkpoints: the log key (Ed25519, 0x01) or a mirror's or "
        "witness's cosignature key (0x04); vkey or file of vkeys such as verification-keys.txt; repeatable, "
        "at least one",
    )
    p.add_argument("--origin", help="require this origin")
    add_quiet(p)
    p.set_defaults(func=cmd_audit)

    p = log_sub.add_parser(
        "migrate",
        help="move a directory log into an empty PostgreSQL database, byte for byte",
        description="Copy every checkpoint, tile and entry of the directory log LOGDIR into the empty "
        "PostgreSQL database URL, then compare every byte. The directory is left as it was (stop its server "
        "first). Run again, it only checks that the database holds exactly this log. See docs/operating.md.",
    )
    p.add_argument("dir", metavar="LOGDIR", help="the directory log to move")
    p.add_argument("target", metavar="URL", help="the empty database: postgresql://USER@HOST:PORT/DATABASE")
    add_quiet(p)
    p.set_defaults(func=cmd_migrate)

    p = log_sub.add_parser("attempts", help="list every capture attempt on the record (sealed, failed, abandoned)")
    add_log_dir(p)
    p.add_argument("--log", metavar="DIR|URL", help="the log directory or log server URL (default: the embedded log)")
    p.add_argument("--case", help="only the attempts of this case")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_attempts)

    note = sub.add_parser("note", help="signed notes")
    note_sub = note.add_subparsers(dest="note_command", metavar="NOTECMD", parser_class=type(note))
    note_sub.required = True
    p = note_sub.add_parser("verify", help="verify a signed note (checkpoint) against keys")
    p.add_argument("file", metavar="FILE", help="the signed note ('-' for standard input)")
    p.add_argument(
        "--key", action="append", required=True, metavar="VKEY|FILE", help="a verifier key (vkey) or a file of vkeys"
    )
    p.set_defaults(func=cmd_note_verify)

    proof = sub.add_parser("proof", help="offline proofs")
    proof_sub = proof.add_subparsers(dest="proof_command", metavar="PROOFCMD", parser_class=type(proof))
    proof_sub.required = True
    p = proof_sub.add_parser("verify", help="verify a tlog-proof for an entry, offline")
    p.add_argument("proof", metavar="PROOF", help="the tlog-proof file ('-' for standard input)")
    p.add_argument("--entry", required=True, metavar="FILE", help="the file whose bytes are the log entry")
    add_log_key(p)
    p.add_argument("--witness", action="append", metavar="VKEY|FILE", help="a witness's cosignature vkey (repeatable)")
    p.add_argument("--quorum", type=int, metavar="N", help="how many witnesses must have cosigned (default: all given)")
    p.set_defaults(func=cmd_proof_verify)


__all__ = ["EXIT_VERIFICATION_FAILED", "register"]
