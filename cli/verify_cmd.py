"""``evidence verify``: check a proof bundle offline and say, in plain words, what it proves.

    evidence verify BUNDLE [BUNDLE ...] [--trust POLICY | --log-key VKEY|FILE ...] [--tsa-cert PEM ...]
                    [--json | --json-lines]

Trust comes from ``--trust`` (a trust policy file), else from ``--log-key`` (the log's
keys, as obtained from its operator: a vkey, or a file of vkeys such as the log's
``verification-keys.txt``), else from ``<EVIDENCE_HOME>/trust.policy`` when it exists.
``--tsa-cert`` adds certificates trusted for time-stamps (a root, or a TSA certificate
with its root).

Exit status: 0 VERIFIED, 1 FAILED, 2 unusable input or usage error, 3 VERIFIED BUT NOT
ANCHORED IN TRUST. With several bundles, each gets a verdict line, then a summary; the
exit status is the worst verdict's, in the order FAILED (1), unusable (2), not anchored
(3), VERIFIED (0). See docs/verifying.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from evidence.errors import EXIT_NOT_ANCHORED, EXIT_OK, EXIT_USAGE, EXIT_VERIFICATION_FAILED, EvidenceError
from evidence.verify import Grade, Report, Verdict, verify

from .options import add_trust_arguments, trust_from_args  # shared with `evidence report`; kept importable here

#: How bad each exit status is, for several bundles: the worst one is the command's.
_SEVERITY = {EXIT_OK: 0, EXIT_NOT_ANCHORED: 1, EXIT_USAGE: 2, EXIT_VERIFICATION_FAILED: 3}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``evidence verify`` to the command line."""
    parser = subparsers.add_parser(
        "verify",
        help="verify a proof bundle offline (plain-language verdict)",
        description="Verify a proof bundle offline, in numbered fail-closed steps, and print a graded "
        "verdict: VERIFIED (exit 0), FAILED (1), unusable input (2), or VERIFIED BUT NOT ANCHORED IN "
        "TRUST (3: consistent, but checked only with keys found inside the bundle). With several bundles: a "
        "verdict line each, a summary, and the worst exit status (FAILED > unusable > not anchored > VERIFIED).",
    )
    _arguments(parser)
    parser.set_defaults(func=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundles", nargs="+", type=Path, metavar="BUNDLE", help="the bundle(s) (.wacz) to verify, e.g. bundles/*.wacz"
    )
    add_trust_arguments(parser)
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON: one object for one bundle, a list of objects for several",
    )
    out.add_argument("--json-lines", action="store_true", help="print one JSON report per line, one line per bundle")


def worst_exit_code(codes: Sequence[int]) -> int:
    """The exit status of several verdicts: FAILED (1) > unusable (2) > not anchored (3) > VERIFIED (0)."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 2), default=EXIT_OK)


def run(args: argparse.Namespace) -> int:
    """Handler: verify each bundle, print the report(s), return the (worst) exit code."""
    policy, keys, certs, source = trust_from_args(args)
    bundles: list[Path] = list(args.bundles)
    reports: list[Report] = []
    several = len(bundles) > 1
    if source and not (args.json or args.json_lines):
        print(f"Using {source}.")
    for bundle in bundles:
        report = verify(bundle, trust=policy, log_keys=keys, tsa_pins=certs)
        reports.append(report)
        if args.json_lines:
            sys.stdout.write(json.dumps(report.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
        elif args.json:
            continue
        elif several:
            sys.stdout.write(_verdict_line(report))
        else:
            sys.stdout.write(report.render_text())
        sys.stdout.flush()
    if args.json:
        if several:
            doc = [r.to_dict() for r in reports]
            sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(reports[0].to_json())
    elif several and not args.json_lines:
        sys.stdout.write(_summary(reports))
    return worst_exit_code([r.exit_code for r in reports])


def _verdict_line(report: Report) -> str:
    """One bundle of several: its verdict, its path and, unless VERIFIED, why."""
    line = f"{report.verdict.value:<34} {report.path}\n"
    failed = report.failed_step
    if report.verdict is Verdict.FAILED and failed is not None:
        line += f"    failed at step {failed.number}: {failed.title.lower()}\n"
    elif report.verdict is Verdict.UNUSABLE:
        line += f"    {report.summary}\n"
    elif report.verdict is Verdict.NOT_ANCHORED:
        names = ", ".join(c.name.lower() for c in report.claims if c.grade is Grade.NOT_ANCHORED)
        line += f"    checked only with keys or certificates found in the bundle: {names}\n"
    return line


def _summary(reports: Sequence[Report]) -> str:
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.verdict.value] = counts.get(r.verdict.value, 0) + 1
    order = [Verdict.VERIFIED, Verdict.NOT_ANCHORED, Verdict.FAILED, Verdict.UNUSABLE]
    parts = [f"{counts[v.value]} {v.value}" for v in order if v.value in counts]
    code = worst_exit_code([r.exit_code for r in reports])
    text = f"\n{len(reports)} bundles: {', '.join(parts)} (exit status {code}, the worst verdict's).\n"
    if code != EXIT_OK:
        text += "For the full report on one bundle: evidence verify BUNDLE (with the same keys).\n"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evidence_cli.verify_cmd BUNDLE ...``: the same command on its own."""
    from .options import run_cli

    parser = argparse.ArgumentParser(prog="evidence verify", description=__doc__.split("\n\n")[0] if __doc__ else None)
    _arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE

    def body() -> int:
        try:
            return run(args)
        except EvidenceError as err:
            print(f"error: {err.diagnostics()}", file=sys.stderr)
            return err.exit_code

    return run_cli(body)


__all__ = ["add_trust_arguments", "main", "register", "run", "trust_from_args", "worst_exit_code"]

if __name__ == "__main__":
    sys.exit(main())
