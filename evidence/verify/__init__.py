"""Offline verification of a proof bundle: numbered, fail-closed steps and a graded verdict.

    from evidence.verify import verify
    from evidence.trust import TrustPolicy

    report = verify("listing.wacz", trust=TrustPolicy.load("trust.policy"))
    print(report.render_text())          # what a lawyer reads
    raise SystemExit(report.exit_code)   # 0 VERIFIED, 1 FAILED, 2 unusable input, 3 not anchored

Nothing is fetched and nothing is extracted: the bundle is read in place, member by member
(:class:`evidence.bundle.BundleView`). The steps run in this order and the first that
fails stops the check (later steps are reported as not run):

1. **Container.** The file is a ZIP that can be read one way only (:mod:`evidence.bundle.container`);
   ``datapackage.json`` lists every other file with the right SHA-256 and size;
   ``datapackage-digest.json`` matches it.
2. **Seal.** Every file listed in ``evidence/manifest.json`` is present with the sealed
   SHA-256 and size; no file is present that is neither sealed nor one of the proof files
   added after sealing.
3. **Log entry.** The entry ``evidence-entry/v1`` is recomputed from the manifest's bytes,
   and its RFC 9162 leaf hash from the entry.
4. **Inclusion.** ``entry.tlog-proof`` leads from that leaf to the root of its signed
   checkpoint; ``checkpoint.note`` is that same checkpoint; the manifest names that log.
5. **Log signature.** The checkpoint is signed by a log key the user trusts (trust policy
   ``log`` lines, or keys given directly). Without one it is checked with the key shown in
   the bundle (``log.vkey``) and graded *not anchored in trust*. ``log.vkey`` must show the
   key that signed, in every case. Newer checkpoints added by ``evidence refresh`` are
   signed by the same key and proven to extend the bundle's tree.
6. **Cosignatures.** The log's clock cosignature (its signed time) verifies, with a trusted
   clock key or else the one in ``log.vkey``; witness cosignatures, on the checkpoint or on
   a refreshed one, meet the policy's quorum.
7. **Time-stamps.** Every RFC 3161 token covers its checkpoint note (the bundle's, or a
   refreshed one) and is signed by a time-stamping authority the user pins; a token from
   an authority nobody pinned is graded *not anchored*; ``tsa-<k>.pem`` holds exactly the
   certificates in token k; no token appears twice.
8. **Consistency.** The manifest agrees with ``capture.json`` and seals every file it
   lists as written (one the capture did not make is named with its reason and shown as
   a warning); the times are in an order that
   can be true (within five minutes; suspicious gaps are warnings); the web archive holds the
   page's response with that status and nothing dated outside the capture, each record in its
   own gzip member with its declared length and digests; the record replay opens for the page
   is that response and no other could be opened in its place; ``indexes/index.cdx``
   is byte for byte the index of the WARC; ``pages.jsonl`` and ``datapackage.json`` show
   exactly what the seal determines; ``report.html`` and ``VERIFY.txt`` are byte for byte
   what the bundle's data regenerates (in the current wording, or in an earlier
   edition with a warning: :data:`evidence.report.EDITIONS`).

Every JSON file is read strictly (:mod:`evidence._internal.jsonstrict`: no key twice, no NaN, UTF-8).

An exception no step expected (a defect of the verifier) ends as FAILED at that step,
named as an internal error; a verification never ends in a traceback.

The verdict is graded: VERIFIED (everything checks out against keys the user trusts),
VERIFIED BUT NOT ANCHORED IN TRUST (consistent, but some signature was checked only with a
key found in the bundle: the report names the fingerprints to confirm), FAILED (names the
step, the file and what it means) or UNUSABLE INPUT (not a readable bundle at all).
Five claim lines grade separately what the bundle shows: integrity, log inclusion, signed
time (the log's clock), independent time (RFC 3161) and witnesses.

The package owns the verification: :mod:`~evidence.verify.results` (the report and its
renderings), :mod:`~evidence.verify.common` (shared helpers and limits),
:mod:`~evidence.verify.context` (the bundle and the user's trust inputs), one module per
numbered step (``step1_container`` ... ``step8_consistency``: a function ``run`` taking the
typed results of the earlier steps it needs and returning its own frozen result),
:mod:`~evidence.verify.grading` (claims, verdict, facts, the report) and
:mod:`~evidence.verify.run` (:func:`verify`). No state is shared between steps. It may import
only the verify path (see docs/design.md): the bundle's format, reader, container, wacz, surt
and refresh check, the time-stamp token and its verification, trust, note, checkpoint,
merkle, report.derived and ``_internal``; never a browser, web server, numpy, ``fcntl``, the
writers or ``capture``.
This ``__init__`` imports the runner eagerly (importing ``evidence.verify`` is asking to verify;
the path is light, and the layout test follows it from here).
"""

from __future__ import annotations

from evidence.errors import EXIT_NOT_ANCHORED
from evidence.verify.common import CLOCK_TOLERANCE_S
from evidence.verify.results import REPORT_FORMAT, STEP_TITLES, Claim, Grade, Report, StepResult, ToConfirm, Verdict
from evidence.verify.run import verify

__all__ = [
    "CLOCK_TOLERANCE_S",
    "EXIT_NOT_ANCHORED",
    "REPORT_FORMAT",
    "STEP_TITLES",
    "Claim",
    "Grade",
    "Report",
    "StepResult",
    "ToConfirm",
    "Verdict",
    "verify",
]
