"""The trust policy: which logs, witnesses and time-stamping authorities a verifier trusts.

A policy file is C2SP ``tlog-policy`` (``log``, ``witness``, ``group``, ``quorum``) plus two
line types of this project for pinned RFC 3161 time-stamping authorities (TSAs)::

    # comment
    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <member>...
    quorum <name>|none
    tsa-root <name> sha256:<hex>|<certificate file>
    tsa <name> sha256:<hex>|<certificate file> <tsa-root name>
        [not-before <RFC 3339 time>] [not-after <RFC 3339 time>]     (one line)

The full grammar and its rules are in docs/trust-policy.md. Parsing is strict: a policy
that breaks a rule is rejected with the line number and the reason, never half-read.

Keys and certificates found inside an evidence bundle are only ever *displayed*
(:meth:`TrustPolicy.explain_key`); they count only when this policy pins them.

Package layout (owns / may import): :mod:`.parse` reads policy text into frozen values
(the grammar); :mod:`.evaluate` holds :class:`TrustPolicy` and judges logs, witness
cosignatures and TSAs against it. Both import only evidence.errors, evidence.note and
evidence.timestamp.token (the verify path). Names are re-exported here lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if TYPE_CHECKING:
    from evidence.trust.evaluate import (
        QuorumResult,
        TrustPolicy,
    )
    from evidence.trust.parse import (
        MAX_ENTRIES,
        PolicyGroup,
        PolicyLog,
        PolicyWitness,
        TSARoot,
        parse_policy,
        parse_time,
    )

#: Public name -> the submodule that defines it.
_HOMES: dict[str, str] = {
    "MAX_ENTRIES": "parse",
    "PolicyGroup": "parse",
    "PolicyLog": "parse",
    "PolicyWitness": "parse",
    "TSARoot": "parse",
    "parse_time": "parse",
    "parse_policy": "parse",
    "QuorumResult": "evaluate",
    "TrustPolicy": "evaluate",
}

__all__ = [
    "MAX_ENTRIES",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "QuorumResult",
    "TSARoot",
    "TrustPolicy",
    "parse_policy",
    "parse_time",
]


__getattr__ = lazy_getattr(__name__, _HOMES)
