"""``evidence timestamp``: RFC 3161 time-stamps over a log's checkpoints.

    evidence timestamp add [LOGDIR] [--size N ... | --missing] [--tsa URL|NAME ...]
    evidence timestamp status [LOGDIR] [--trust FILE]
    evidence timestamp verify TOKEN.tsr --note FILE (--trust FILE | --tsa-cert PEM --root PEM)
    evidence timestamp show TOKEN.tsr

``add`` asks each TSA (from ``config.toml``, or ``--tsa``) for a token over the chosen
checkpoints (default: the latest) and stores every token beside its checkpoint; exit 1 if
any TSA gave no token. ``status`` lists every checkpoint with its tokens and marks those
without an independent time-stamp; with ``--trust`` it verifies each token. LOGDIR
defaults to the embedded home log; ``--policy`` is an old spelling of ``--trust``. ``verify``
checks one token against pinned TSAs; ``show`` prints what a token claims, trusting
nothing. See docs/timestamping.md.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from evidence.config import load_config, select_tsas
from evidence.errors import EXIT_OK, EXIT_VERIFICATION_FAILED, TimestampError, UsageError
from evidence.timestamp import (
    CertPin,
    MissingTimestampWarning,
    PinnedTSA,
    TimestampToken,
    describe_certificate,
    load_certificates,
    stamp_checkpoint,
    verify_token,
    verify_tokens,
)
from evidence.trust import TrustPolicy, parse_time

from .options import add_log_dir, add_trust, open_log


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``evidence timestamp ...`` to the command line."""
    parser = subparsers.add_parser(
        "timestamp",
        help="RFC 3161 time-stamps from independent authorities over checkpoints",
        description="Obtain, list and verify RFC 3161 time-stamps over a log's checkpoints.",
    )
    sub = parser.add_subparsers(dest="timestamp_command", metavar="ACTION")
    sub.required = True

    add = sub.add_parser(
        "add",
        help="request time-stamps for checkpoints and store them in the log",
        description="Ask each TSA for a time-stamp over checkpoints of the log and store "
        "every token beside its checkpoint. Default: the latest checkpoint. Exit status 1 "
        "if any TSA gave no token (each failure is reported).",
    )
    add_log_dir(add)
    which = add.add_mutually_exclusive_group()
    which.add_argument(
        "--size", type=int, action="append", metavar="N", help="checkpoint size (repeatable)"
    )
    which.add_argument(
        "--missing",
        action="store_true",
        help="every checkpoint (except the empty one) that has no time-stamp yet",
    )
    _tsa_options(add)
    add.set_defaults(func=_add)

    status = sub.add_parser(
        "status",
        help="list checkpoints and their time-stamps; mark those without one",
        description="List every checkpoint of the log with the time-stamps stored for it. "
        "With --trust, verify each one against the TSAs the trust policy pins.",
    )
    add_log_dir(status)
    add_trust(status, help="trust policy whose tsa lines verify each time-stamp")
    status.set_defaults(func=_status)

    verify = sub.add_parser(
        "verify",
        help="verify one time-stamp token against pinned TSAs",
        description="Verify that TOKEN is an RFC 3161 time-stamp over the bytes of --note, "
        "issued by a TSA pinned in --trust, or by the TSA certificate --tsa-cert under "
        "the root --root.",
    )
    verify.add_argument("token", type=Path, metavar="TOKEN", help="the .tsr file")
    verify.add_argument(
        "--note",
        type=Path,
        required=True,
        metavar="FILE",
        help="the exact bytes that were stamped (the complete signed checkpoint note)",
    )
    add_trust(verify, help="trust policy with tsa lines")
    verify.add_argument("--tsa-cert", type=Path, metavar="PEM", help="pinned TSA certificate")
    verify.add_argument("--root", type=Path, metavar="PEM", help="pinned root certificate")
    verify.add_argument("--not-before", metavar="TIME", help="earliest accepted genTime (RFC 3339)")
    verify.add_argument("--not-after", metavar="TIME", help="latest accepted genTime (RFC 3339)")
    verify.add_argument(
        "--cert",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="extra, untrusted certificates (intermediates, or pinned-by-fingerprint ones)",
    )
    verify.set_defaults(func=_verify)

    show = sub.add_parser(
        "show",
        help="print what a time-stamp token claims (verifies nothing)",
        description="Print the contents of a time-stamp token and the certificates inside "
        "it. This trusts nothing; use 'verify' to check it.",
    )
    show.add_argument("token", type=Path, metavar="TOKEN", help="the .tsr file")
    show.set_defaults(func=_show)


def _tsa_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tsa",
        action="append",
        default=[],
        metavar="URL|NAME",
        help="TSA to ask (repeatable); replaces the TSAs of config.toml. A NAME refers to a "
        "TSA of config.toml, keeping its pins",
    )
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-TSA timeout")
    parser.add_argument(
        "--home",
        type=Path,
        metavar="DIR",
        help="evidence home with config.toml (default: $EVIDENCE_HOME or the data directory)",
    )


def _add(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    config = load_config(args.home)
    tsas = select_tsas(config.tsas, args.tsa, timeout=args.timeout)
    if not tsas:
        raise UsageError(
            "no time-stamping authority to ask",
            hint=f"Give --tsa URL, or add a [[tsa]] entry to {config.path} "
            "(see docs/timestamping.md).",
        )
    with open_log(args.dir) as log:
        if args.missing:
            sizes = [s for s in log.checkpoint_sizes() if s > 0 and not log.timestamps(s)]
            if not sizes:
                print("Every checkpoint already has at least one time-stamp.")
                return EXIT_OK
        elif args.size:
            sizes = list(dict.fromkeys(args.size))
        else:
            sizes = [log.size]
        failed = 0
        asking = list(tsas)
        for size in sizes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MissingTimestampWarning)
                report = stamp_checkpoint(log, size, asking)
            for outcome in report.outcomes:
                if outcome.token is not None:
                    how = (
                        "verified against its pins" if outcome.verified_on_receipt else "not pinned"
                    )
                    print(
                        f"checkpoint {size}: time-stamp from {outcome.tsa} at "
                        f"{outcome.token.gen_time:%Y-%m-%dT%H:%M:%SZ} stored ({how})"
                    )
                else:
                    failed += 1
                    _warn(f"checkpoint {size}: no time-stamp from {outcome.tsa}: {outcome.error}")
            # A TSA that failed once is not asked again in this run (a slow one would
            # otherwise cost its full timeout for every remaining checkpoint).
            dropped = {o.tsa for o in report.failures}
            asking = [t for t in asking if t.name not in dropped]
            if dropped and size != sizes[-1]:
                _warn(f"not asking {', '.join(sorted(dropped))} again for the other checkpoints")
            if not log.timestamps(size):
                _warn(
                    f"checkpoint {size} has NO independent time-stamp; it is kept, and "
                    "'evidence timestamp add --missing' can add one later."
                )
    return EXIT_VERIFICATION_FAILED if failed else EXIT_OK


def _warn(text: str) -> None:
    print("warning: " + text.replace("\n", "\n  "), file=sys.stderr)


def _indented(text: str) -> str:
    return text.replace("\n", "\n    ")


def _status(args: argparse.Namespace) -> int:
    policy = TrustPolicy.load(args.trust) if args.trust else None
    lacking = 0
    with open_log(args.dir) as log:
        for size in log.checkpoint_sizes():
            tokens = log.timestamps(size)
            if not tokens:
                if size > 0:
                    lacking += 1
                print(f"checkpoint {size}: NO independent time-stamp")
                continue
            print(f"checkpoint {size}: {len(tokens)} time-stamp(s)")
            if policy is None:
                for der in tokens:
                    try:
                        t = TimestampToken.parse(der)
                        who = t.tsa_subject or "an unnamed TSA"
                        when = f"{t.gen_time:%Y-%m-%dT%H:%M:%SZ}"
                        print(f"  claims {when}, signed by {who} (not verified)")
                    except TimestampError as e:
                        print(f"  unreadable token: {e.message}")
                continue
            note = log.checkpoint_note(size)
            for check in verify_tokens(tokens, note, policy.tsas):
                if check.verified is not None:
                    print(f"  verified: {check.verified.summary()}")
                else:
                    print(f"  REJECTED: {_indented(check.error or '')}")
    if lacking:
        print(
            f"{lacking} checkpoint(s) lack an independent time-stamp; "
            "'evidence timestamp add --missing' requests them."
        )
    return EXIT_OK


def _pins_from_args(args: argparse.Namespace) -> tuple[PinnedTSA, ...]:
    if args.trust is not None:
        if args.tsa_cert or args.root:
            raise UsageError("give either --trust or --tsa-cert/--root, not both")
        policy = TrustPolicy.load(args.trust)
        if not policy.tsas:
            raise UsageError(f"the trust policy {args.trust} pins no TSA ('tsa' lines)")
        return policy.tsas
    if args.tsa_cert is None or args.root is None:
        raise UsageError("say whom to trust: --trust FILE, or both --tsa-cert PEM and --root PEM")
    window = {
        key: parse_time(value, f"--{key.replace('_', '-')}")
        for key, value in (("not_before", args.not_before), ("not_after", args.not_after))
        if value is not None
    }
    return (
        PinnedTSA(
            name=args.tsa_cert.stem,
            certificate=CertPin.load(args.tsa_cert),
            root=CertPin.load(args.root),
            **window,
        ),
    )


def _read(path: Path, what: str, limit: int = 1 << 20) -> bytes:
    from evidence._internal.files import read_file

    return read_file(path, limit=limit, what=what, error=UsageError)


def _verify(args: argparse.Namespace) -> int:
    pins = _pins_from_args(args)
    token = _read(args.token, "time-stamp token")
    note = _read(args.note, "note")
    extra = [c for p in args.cert for c in load_certificates(p)]
    verified = verify_token(token, note, pins, certificates=extra)
    print(f"Verified: {verified.summary()}.")
    for line in verified.token.describe():
        print(f"  {line}")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    token = TimestampToken.parse(_read(args.token, "time-stamp token"))
    print("This only shows what the token claims; nothing here is verified or trusted.")
    for line in token.describe():
        print(f"  {line}")
    for cert in token.embedded_certificates():
        print(f"  certificate in the token: {describe_certificate(cert)}")
    return EXIT_OK
