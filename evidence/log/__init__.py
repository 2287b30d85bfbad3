"""The append-only Merkle log: C2SP tlog-tiles in a directory, readable over HTTP.

Owns:

- :mod:`evidence.log.tiles`: pure tile math and paths (no I/O).
- :mod:`evidence.log.storage`: where the files live (directory; HTTP read-only).
- :mod:`evidence.log.reader`: proofs and full audits of any tlog-tiles log.
- :mod:`evidence.log.writer`: :class:`Log`, the appender (sequencing, locks, checkpoints).
- :mod:`evidence.log.dedup`: the writer's de-duplication index (numpy).
- :mod:`evidence.log.remote`, :mod:`evidence.log.net`: a log served over HTTP.

May import: :mod:`evidence.merkle`, :mod:`evidence.note`, :mod:`evidence.checkpoint`,
:mod:`evidence.errors` and :mod:`evidence._internal`. The verify path uses ``tiles``,
``storage`` and ``reader`` only, which import none of numpy, ``fcntl`` or requests at module
import; ``writer`` and ``dedup`` are loaded only when :class:`Log` is first used. This
``__init__`` stays light: ``Log`` is re-exported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if TYPE_CHECKING:
    from evidence.log.writer import Log

__all__ = ["Log"]


__getattr__ = lazy_getattr(__name__, {"Log": "evidence.log.writer"})
