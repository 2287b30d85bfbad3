"""A C2SP tlog-witness (``c2sp.org/tlog-witness@v1.0.0``) and the client a log uses to reach one.

Owns, from pure to I/O:

- :mod:`~evidence.witness.protocol`: requests, the decision for every status code, replies,
  errors (pure; imports note, checkpoint, merkle, errors).
- :mod:`~evidence.witness.state`: the witness directory on disk (imports protocol and
  ``evidence._internal`` durable/filelock/files).
- :mod:`~evidence.witness.app`: the Starlette app, the only module here that imports starlette.
- :mod:`~evidence.witness.client`: asking a witness over HTTP, through
  :func:`evidence._internal.http.fetch` only.

Nothing in this package imports :mod:`evidence.server` or :mod:`evidence.capture`. The names
below are loaded on first use, so ``import evidence.witness`` stays light (no starlette).
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if _TYPE_CHECKING:
    from evidence.witness.app import (
        create_app,
    )
    from evidence.witness.client import (
        submit_checkpoint,
        witness_checkpoint,
    )
    from evidence.witness.protocol import (
        MAX_BODY_BYTES,
        MAX_PROOF_LINES,
        MAX_REPLY_BYTES,
        SIZE_CONTENT_TYPE,
        TEXT_CONTENT_TYPE,
        AddCheckpointRequest,
        LogState,
        Reply,
        WitnessBadRequest,
        WitnessBadResponse,
        WitnessConfigError,
        WitnessConflict,
        WitnessError,
        WitnessForbidden,
        WitnessInconsistent,
        WitnessRefused,
        WitnessTooLarge,
        WitnessUnavailable,
        WitnessUnknownLog,
        check_against_latest,
        check_origin,
        normalise_prefix,
        origin_hash,
        parse_add_checkpoint,
        verify_submission,
    )
    from evidence.witness.state import (
        Witness,
        init_witness,
        trust_log,
    )

_LAZY = {
    "AddCheckpointRequest": "evidence.witness.protocol",
    "LogState": "evidence.witness.protocol",
    "MAX_BODY_BYTES": "evidence.witness.protocol",
    "MAX_PROOF_LINES": "evidence.witness.protocol",
    "MAX_REPLY_BYTES": "evidence.witness.protocol",
    "Reply": "evidence.witness.protocol",
    "SIZE_CONTENT_TYPE": "evidence.witness.protocol",
    "TEXT_CONTENT_TYPE": "evidence.witness.protocol",
    "WitnessBadRequest": "evidence.witness.protocol",
    "WitnessBadResponse": "evidence.witness.protocol",
    "WitnessConfigError": "evidence.witness.protocol",
    "WitnessConflict": "evidence.witness.protocol",
    "WitnessError": "evidence.witness.protocol",
    "WitnessForbidden": "evidence.witness.protocol",
    "WitnessInconsistent": "evidence.witness.protocol",
    "WitnessRefused": "evidence.witness.protocol",
    "WitnessTooLarge": "evidence.witness.protocol",
    "WitnessUnavailable": "evidence.witness.protocol",
    "WitnessUnknownLog": "evidence.witness.protocol",
    "check_against_latest": "evidence.witness.protocol",
    "check_origin": "evidence.witness.protocol",
    "normalise_prefix": "evidence.witness.protocol",
    "origin_hash": "evidence.witness.protocol",
    "parse_add_checkpoint": "evidence.witness.protocol",
    "verify_submission": "evidence.witness.protocol",
    "Witness": "evidence.witness.state",
    "init_witness": "evidence.witness.state",
    "trust_log": "evidence.witness.state",
    "create_app": "evidence.witness.app",
    "submit_checkpoint": "evidence.witness.client",
    "witness_checkpoint": "evidence.witness.client",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PROOF_LINES",
    "MAX_REPLY_BYTES",
    "SIZE_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "AddCheckpointRequest",
    "LogState",
    "Reply",
    "Witness",
    "WitnessBadRequest",
    "WitnessBadResponse",
    "WitnessConfigError",
    "WitnessConflict",
    "WitnessError",
    "WitnessForbidden",
    "WitnessInconsistent",
    "WitnessRefused",
    "WitnessTooLarge",
    "WitnessUnavailable",
    "WitnessUnknownLog",
    "check_against_latest",
    "check_origin",
    "create_app",
    "init_witness",
    "normalise_prefix",
    "origin_hash",
    "parse_add_checkpoint",
    "submit_checkpoint",
    "trust_log",
    "verify_submission",
    "witness_checkpoint",
]
