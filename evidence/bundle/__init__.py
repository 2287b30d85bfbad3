"""Proof bundles: the format, reading, writing (sealing) and refreshing them.

- :mod:`~evidence.bundle.format`: member names and patterns, constants, member order, the
  records derived from sealed data (pure);
- :mod:`~evidence.bundle.reader`: :class:`BundleView`, a bundle's members checked for safety;
- :mod:`~evidence.bundle.container`: the strict ZIP reader and the one ZIP writer;
- :mod:`~evidence.bundle.wacz`: WACZ 1.1.1 packaging (index, pages, datapackage, ZIP);
- :mod:`~evidence.bundle.surt`: SURT keys for the CDXJ index;
- :mod:`~evidence.bundle.refresh`: the refresh files added to a bundle, and their pure check;
- :mod:`~evidence.bundle.writer`: :func:`seal` (not on the verify path);
- :mod:`~evidence.bundle.refresh_writer`: ``evidence refresh``, adding a newer checkpoint
  (not on the verify path).

Import rule: format, reader, container, wacz, surt and refresh are on the verify path and
import only the standard library, :mod:`evidence._internal`, the pure math modules, errors
and the time-stamp token parser; the writers may also import :mod:`evidence.report.derived`,
the log (reader and writer) and the time-stamp client. Nothing here imports capture,
report.certificate or report.pdf. This package stays light: the names below are
re-exported lazily, so importing it loads no submodule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if TYPE_CHECKING:
    from evidence.bundle.format import (
        ATTEMPTS_PATH,
        CAPTURE_ARTIFACTS,
        DATAPACKAGE,
        DATAPACKAGE_DIGEST,
        ENTRY_HEADER,
        INDEX_PATH,
        MANIFEST_FORMAT,
        MANIFEST_PATH,
        NOTE_PATH,
        PAGES_PATH,
        PROOF_PATH,
        REPORT_PATH,
        TOKEN_RE,
        TOOL_NAME,
        TSA_CERT_RE,
        VERIFY_PATH,
        VKEY_PATH,
        WARC_PATH,
        attempt_entry,
        log_entry,
        member_order,
        package_fields,
        page_entry,
    )
    from evidence.bundle.reader import (
        MAX_MEMBER_BYTES,
        MAX_MEMBERS,
        MAX_RATIO,
        MAX_SMALL_FILE,
        MAX_TOTAL_BYTES,
        BundleView,
    )
    from evidence.bundle.wacz import sha256_file
    from evidence.bundle.writer import Bundle, build_manifest, remove_stale, seal

_EXPORTS = {
    **dict.fromkeys(
        (
            "ATTEMPTS_PATH",
            "CAPTURE_ARTIFACTS",
            "DATAPACKAGE",
            "DATAPACKAGE_DIGEST",
            "ENTRY_HEADER",
            "INDEX_PATH",
            "MANIFEST_FORMAT",
            "MANIFEST_PATH",
            "NOTE_PATH",
            "PAGES_PATH",
            "PROOF_PATH",
            "REPORT_PATH",
            "TOKEN_RE",
            "TOOL_NAME",
            "TSA_CERT_RE",
            "VERIFY_PATH",
            "VKEY_PATH",
            "WARC_PATH",
            "attempt_entry",
            "log_entry",
            "member_order",
            "package_fields",
            "page_entry",
        ),
        "evidence.bundle.format",
    ),
    **dict.fromkeys(
        ("MAX_MEMBER_BYTES", "MAX_MEMBERS", "MAX_RATIO", "MAX_SMALL_FILE", "MAX_TOTAL_BYTES", "BundleView"),
        "evidence.bundle.reader",
    ),
    "sha256_file": "evidence.bundle.wacz",
    **dict.fromkeys(("Bundle", "build_manifest", "remove_stale", "seal"), "evidence.bundle.writer"),
}

__all__ = [
    "ATTEMPTS_PATH",
    "CAPTURE_ARTIFACTS",
    "DATAPACKAGE",
    "DATAPACKAGE_DIGEST",
    "ENTRY_HEADER",
    "INDEX_PATH",
    "MANIFEST_FORMAT",
    "MANIFEST_PATH",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_SMALL_FILE",
    "MAX_TOTAL_BYTES",
    "NOTE_PATH",
    "PAGES_PATH",
    "PROOF_PATH",
    "REPORT_PATH",
    "TOKEN_RE",
    "TOOL_NAME",
    "TSA_CERT_RE",
    "VERIFY_PATH",
    "VKEY_PATH",
    "WARC_PATH",
    "Bundle",
    "BundleView",
    "attempt_entry",
    "build_manifest",
    "log_entry",
    "member_order",
    "package_fields",
    "page_entry",
    "remove_stale",
    "seal",
    "sha256_file",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)
