"""The append-only Merkle log: C2SP tlog-tiles in a directory, readable over HTTP.

- :mod:`evidence.log.tiles`: pure tile math and paths.
- :mod:`evidence.log.storage`: where the files live (directory; HTTP read-only).
- :mod:`evidence.log.sequencer`: :class:`Log`, which appends, signs and recovers.
- :mod:`evidence.log.reader`: proofs and full audits of any tlog-tiles log.
"""

from __future__ import annotations

from evidence.log.sequencer import Log

__all__ = ["Log"]
