"""Shim: moved to :mod:`evidence.log.writer`, removed at integration.

Kept importable only for ``evidence/refresh.py`` and ``evidence/server.py`` (other helpers'
files), which import these names from here.
"""

from __future__ import annotations

from evidence.log.writer import META_FILE, VERIFICATION_KEYS_FILE, Log, LogInfo, history_dir

__all__ = ["META_FILE", "VERIFICATION_KEYS_FILE", "Log", "LogInfo", "history_dir"]
