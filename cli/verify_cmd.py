"""``evidence verify``: check a proof bundle offline and say, in plain words, what it proves.

    evidence verify BUNDLE [--trust POLICY | --log-key VKEY ...] [--tsa-cert PEM ...] [--json]

Trust comes from ``--trust`` (a trust policy file), else from ``--log-key`` (the log's
keys, as obtained from its operator: a vkey, or a file of vkeys such as the operator's
``log.vkey``), else from ``<EVIDENCE_HOME>/trust.policy`` when it exists. ``--tsa-cert``
adds certificates trusted for time-stamps (a root, or a TSA certificate with its root).

Exit status: 0 VERIFIED, 1 FAILED, 2 unusable input or usage error, 3 VERIFIED BUT NOT
ANCHORED IN TRUST. See docs/verifying.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from evidence.config import Config, evidence_home
from evidence.errors import EXIT_USAGE, EvidenceError, UsageError
from evidence.note import Verifier
from evidence.timestamp import load_certificates
from evidence.trust import TrustPolicy
from evidence.verify import verify


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``evidence verify`` to the command line."""
    parser = subparsers.add_parser(
        "verify",
        help="verify a proof bundle offline (plain-language verdict)",
        description="Verify a proof bundle offline, in numbered fail-closed steps, and print a graded "
        "verdict: VERIFIED (exit 0), FAILED (1), unusable input (2), or VERIFIED BUT NOT ANCHORED IN "
        "TRUST (3: consistent, but checked only with keys found inside the bundle).",
    )
    _arguments(parser)
    parser.set_defaults(func=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the bundle (.wacz) to verify")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--trust",
        type=Path,
        metavar="POLICY",
        help="trust policy file (default: <EVIDENCE_HOME>/trust.policy if it exists)",
    )
    trust.add_argument(
        "--log-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a log key or log clock key obtained from the log operator: the vkey text, or a file "
        "holding vkeys one per line (repeatable)",
    )
    parser.add_argument(
        "--tsa-cert",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="certificates you trust for time-stamps: a TSA root, or a TSA certificate and its root "
        "(PEM or DER; repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _keys(values: Sequence[str]) -> list[Verifier]:
    keys: list[Verifier] = []
    for value in values:
        p = Path(value).expanduser()
        if "+" not in value or p.is_file():
            from evidence._internal.files import MAX_KEY_BYTES, read_text_file

            try:
                text = read_text_file(p, limit=MAX_KEY_BYTES, what="key file")
            except UsageError as e:
                raise UsageError(
                    f"--log-key {value!r} is neither a vkey (name+keyid+key) nor a readable file of vkeys ({e.message})"
                ) from e
            lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
            if not lines:
                raise UsageError(f"the key file {p} holds no key")
            keys.extend(Verifier.from_vkey(line) for line in lines)
        else:
            keys.append(Verifier.from_vkey(value))
    return keys


def _certs(paths: Sequence[Path]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for p in paths:
        certs.extend(load_certificates(p))
    return certs


def run(args: argparse.Namespace) -> int:
    """Handler: verify, print the report, return the report's exit code."""
    policy: TrustPolicy | None = None
    source = ""
    if args.trust is not None:
        policy = TrustPolicy.load(args.trust)
        source = f"trust policy {args.trust}"
    elif not args.log_key:
        default = Config(home=evidence_home()).trust_policy_path
        if default.is_file():
            policy = TrustPolicy.load(default)
            source = f"trust policy {default} (the default)"
    keys = _keys(args.log_key)
    certs = _certs(args.tsa_cert)
    report = verify(args.bundle, trust=policy, log_keys=keys, tsa_pins=certs)
    if args.json:
        sys.stdout.write(report.to_json())
    else:
        if source:
            print(f"Using {source}.")
        sys.stdout.write(report.render_text())
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evidence_cli.verify_cmd BUNDLE ...``: the same command on its own."""
    parser = argparse.ArgumentParser(prog="evidence verify", description=__doc__.split("\n\n")[0] if __doc__ else None)
    _arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    try:
        return run(args)
    except EvidenceError as err:
        print(f"error: {err.diagnostics()}", file=sys.stderr)
        return err.exit_code


__all__ = ["main", "register", "run"]

if __name__ == "__main__":
    sys.exit(main())
