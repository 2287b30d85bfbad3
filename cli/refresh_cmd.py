"""`evidence refresh BUNDLE [BUNDLE ...] [--log URL|DIR]`: add the log's newer checkpoint to bundles.

Exit codes: 0 refreshed (or nothing newer); 1 the log is not consistent with a bundle
(it forked or rolled back) or a signature does not verify; 2 usage or input error. With
several bundles, a failing one is reported and the others are still refreshed; the exit
code is the worst one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evidence.errors import EXIT_OK, EXIT_VERIFICATION_FAILED, EvidenceError

from .options import LOG_KEY_HELP, add_log_key, add_trust, read_vkeys


def cmd_refresh(args: argparse.Namespace) -> int:
    from evidence.bundle.refresh_writer import refresh_bundle
    from evidence.config import evidence_home, load_config, select_tsas
    from evidence.note import Verifier
    from evidence.trust import TrustPolicy

    keys: list[Verifier] = read_vkeys(args.log_key)
    policy_path = Path(args.trust) if args.trust else evidence_home() / "trust.policy"
    policy = TrustPolicy.load(policy_path) if (args.trust or policy_path.is_file()) else None
    tsas = select_tsas(load_config().tsas, args.tsa) if args.tsa else ()
    worst = EXIT_OK
    stamps: dict[bytes, tuple[list[bytes], list[str]]] = {}  # one request per TSA and note, not per bundle
    for bundle in args.bundle:
        try:
            outcome = refresh_bundle(
                Path(bundle), location=args.log, log_keys=keys, policy=policy, tsas=tsas, stamps=stamps
            )
        except EvidenceError as err:
            if len(args.bundle) == 1:
                raise
            # One bad bundle does not stop the others; each one is rewritten atomically or not at all.
            print(f"error: {bundle}: {err.diagnostics()}", file=sys.stderr)
            if worst != EXIT_VERIFICATION_FAILED:  # a fork or a bad signature outranks a usage error
                worst = err.exit_code
            continue
        for failure in outcome.failures:
            print(f"warning: {failure}", file=sys.stderr)
        print(outcome.message)
        if not outcome.anchored:
            print(
                "note: the log key was taken from the bundle itself (no --log-key or trust policy for this log); "
                "whoever verifies the bundle must still confirm that key."
            )
    return worst


def register(sub: Any) -> None:
    p = sub.add_parser(
        "refresh",
        help="add the log's newer (better-witnessed) checkpoint and a consistency proof to a bundle",
        description="Fetch the log's current checkpoint and a consistency proof from the bundle's checkpoint to it, "
        "verify both, and add them to the bundle as evidence/refresh-<k>.* (the original files stay as they were), "
        "with the RFC 3161 time-stamps the log holds for that checkpoint and any from --tsa. Also when the log has "
        "not grown: a bundle sealed while its TSA was down gets its independent time-stamp this way.",
    )
    p.add_argument(
        "bundle", nargs="+", metavar="BUNDLE", help="the .wacz bundle(s) to refresh (each rewritten in place)"
    )
    p.add_argument(
        "--log",
        metavar="URL|DIR",
        help="the log's base URL or directory (default: the trust policy's URL, else the embedded default log "
        "if the bundle is from it)",
    )
    add_log_key(p, help=LOG_KEY_HELP + " (default: the trust policy's)")
    add_trust(p)
    p.add_argument(
        "--tsa",
        action="append",
        metavar="URL|NAME",
        help="also time-stamp the log's current checkpoint here (repeatable)",
    )
    p.set_defaults(func=cmd_refresh)
