"""``evidence lookup BUNDLE --log URL``: does the operator's log confirm this bundle's seal?

    evidence lookup BUNDLE --log URL [--trust POLICY | --log-key VKEY ...]

Asks the log server for every entry that holds the bundle's manifest SHA-256
(``GET <URL>/lookup/<sha256>``, no login) and checks each proof it returns against the
bundle's own manifest and the log key you trust. Exit status: 0 the log confirms the seal
(under a key you trust), 3 it does, but checked only with the key found in the bundle (NOT
ANCHORED), 1 the log does not confirm it (no such entry, or no proof checks out), 2 unusable
input or the log could not be asked.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evidence.errors import EXIT_NOT_ANCHORED, EXIT_OK, EXIT_VERIFICATION_FAILED, FormatError, LogError


def cmd_lookup(args: argparse.Namespace) -> int:
    import hashlib

    from evidence.bundle import BundleView
    from evidence.bundle.format import MANIFEST_PATH, VKEY_PATH
    from evidence.checkpoint import SignedCheckpoint
    from evidence.note import Verifier
    from evidence.verify.lookup import check_lookup, fetch_lookup

    from .options import trust_from_args

    policy, keys, _, _ = trust_from_args(args)
    with BundleView.open(Path(args.bundle)) as view:
        manifest = view.read(MANIFEST_PATH)
        proof = view.proof()
        bundle_key = view.read(VKEY_PATH).decode("utf-8", "replace").strip() if view.has(VKEY_PATH) else ""
    origin = SignedCheckpoint.parse(proof.checkpoint_note).checkpoint.origin
    trusted = list(policy.log_verifiers(origin)) if policy is not None else list(keys)
    anchored = bool(trusted)
    if not anchored:
        if not bundle_key:
            raise FormatError(
                f"the bundle has no {VKEY_PATH} and no log key was given", hint="Give --log-key or --trust."
            )
        trusted = [Verifier.from_vkey(line.strip()) for line in bundle_key.splitlines() if line.strip()]
    digest = hashlib.sha256(manifest).hexdigest()
    status, body = fetch_lookup(args.log, digest, deadline=args.timeout)
    if status == 404:
        print(
            f"The log at {args.log} does NOT hold this seal: it has no entry for the manifest SHA-256 {digest}.\n"
            f"(The bundle says it is entry {proof.index} of {origin!r}.)"
        )
        return EXIT_VERIFICATION_FAILED
    if status == 429:
        raise LogError(
            f"the log at {args.log} refused the lookup: too many lookups from this address",
            hint="Wait a minute and try again.",
        )
    if status != 200:
        raise LogError(f"the log at {args.log} answered the lookup with HTTP status {status}: {body[:200]!r}")
    result = check_lookup(args.log, body, manifest, trusted, anchored=anchored)
    good = [e for e in result.entries if e.ok]
    for e in result.entries:
        print(f"  entry {e.index}: {'proof checks out' if e.ok else 'proof does NOT check out'}: {e.detail}")
    if not good:
        print(
            f"The log at {args.log} does NOT confirm the seal: none of the proofs it returned proves the bundle's "
            f"manifest (SHA-256 {digest}) under the log key {'you trust' if anchored else 'found in the bundle'}."
        )
        return EXIT_VERIFICATION_FAILED
    where = ", ".join(f"entry {e.index}" for e in good)
    same = any(e.index == proof.index for e in good)
    print(
        f"The log at {args.log} confirms the seal: {where} of {result.origin!r} holds the manifest SHA-256 {digest}, "
        f"proven against its checkpoint of {good[0].tree_size} entries"
        + (" signed by a log key you trust." if anchored else ".")
    )
    if not same:
        print(f"Note: the bundle names entry {proof.index}; the log holds the same seal as {where}.")
    if not anchored:
        print(
            "NOT ANCHORED IN TRUST: the proofs were checked only with the log key found in the bundle, which anyone "
            "could have made. Give the log's key from its operator (--log-key verification-keys.txt, or --trust)."
        )
        return EXIT_NOT_ANCHORED
    return EXIT_OK


def register(sub: Any) -> None:
    from .options import add_log_key, add_trust

    p = sub.add_parser(
        "lookup",
        help="ask the operator's log whether it holds a bundle's seal (GET /lookup/<sha256>) and check its proofs",
        description="Ask a log server for every entry holding the bundle's manifest SHA-256 and check each proof it "
        "returns against the bundle's manifest and the log key you trust. Exit 0: confirmed; 3: confirmed only with "
        "the key in the bundle; 1: not confirmed; 2: unusable input or the log could not be asked.",
    )
    p.add_argument("bundle", help="the .wacz bundle")
    p.add_argument("--log", required=True, metavar="URL", help="the log server's base URL (as given to preserve --log)")
    trust = p.add_mutually_exclusive_group()
    add_trust(trust)
    add_log_key(trust)
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="total seconds for the lookup (default 30)")
    p.set_defaults(func=cmd_lookup, tsa_cert=[])
