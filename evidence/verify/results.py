"""The results of a verification: :class:`Report` (verdict, steps, graded claims, facts) and its text
and JSON renderings, the step titles and what a failure at each step means.

Pure values, no I/O.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from evidence._internal.timefmt import visible_text
from evidence.errors import (
    EXIT_NOT_ANCHORED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VERIFICATION_FAILED,
)

#: The ``format`` of :meth:`Report.to_dict`: version 2 has machine keys in ``facts``.
REPORT_FORMAT = "evidence-verify-report/2"
STEP_TITLES: dict[int, str] = {
    1: "The bundle is a complete, undamaged WACZ container",
    2: "Every sealed file matches the manifest",
    3: "The log entry is recomputed from the manifest",
    4: "The entry is included in the log's signed checkpoint",
    5: "The checkpoint is signed by the log's key",
    6: "Cosignatures: the log's signed time and the witnesses",
    7: "Independent time-stamps (RFC 3161)",
    8: "The capture records agree with each other",
}

#: What a failure at each step means, for a lawyer.
MEANING: dict[int, str] = {
    1: "The bundle file was damaged or altered after it was written. Do not rely on it; "
    "obtain the original bundle again from whoever made it.",
    2: "A preserved file is not the file that was sealed at capture time: it was changed, "
    "removed or added afterwards. The bundle does not prove what that file shows.",
    3: "The seal of this bundle cannot be recomputed, so nothing ties its files to the log.",
    4: "Nothing shows that this capture was recorded in the log: the proof does not match "
    "this bundle's seal. The bundle does not prove when, or that, it was preserved.",
    5: "The log's signature on its checkpoint does not check out with the key used. The proof "
    "may be forged, or the key you were given is not this log's key. Do not rely on the bundle "
    "until this is explained.",
    6: "The time signed by the log, or the witness cosignatures your trust policy requires, are "
    "missing or invalid. The log's statement about the time, or that everyone saw the same "
    "log, cannot be relied on.",
    7: "A time-stamp in the bundle does not check out: it was altered, covers other data, or "
    "was not issued as it claims. The independent proof of time cannot be relied on.",
    8: "The bundle's own records contradict each other, or the certificate of preservation "
    "(report.html / VERIFY.txt) was edited. The bundle cannot be relied on as presented.",
}

UNUSABLE_MEANING = (
    "This file cannot serve as evidence in this form: it is not a readable proof bundle, or it is damaged or "
    "unsafe to open (nothing was extracted from it). Check that it is the file you were given, and obtain the "
    "original bundle again from whoever made it."
)


# --------------------------------------------------------------------------- results


class Verdict(enum.StrEnum):
    """The overall outcome."""

    VERIFIED = "VERIFIED"
    NOT_ANCHORED = "VERIFIED BUT NOT ANCHORED IN TRUST"
    FAILED = "FAILED"
    UNUSABLE = "UNUSABLE INPUT"


class Grade(enum.StrEnum):
    """How far one claim is established."""

    VERIFIED = "VERIFIED"
    NOT_ANCHORED = "NOT ANCHORED IN TRUST"
    NONE = "NONE"
    FAILED = "FAILED"
    NOT_CHECKED = "NOT CHECKED"


_VERDICT_KEYS = {
    Verdict.VERIFIED: "verified",
    Verdict.NOT_ANCHORED: "not_anchored",
    Verdict.FAILED: "failed",
    Verdict.UNUSABLE: "unusable",
}
GRADE_KEYS = {
    Grade.VERIFIED: "verified",
    Grade.NOT_ANCHORED: "not_anchored",
    Grade.NONE: "none",
    Grade.FAILED: "failed",
    Grade.NOT_CHECKED: "not_checked",
}
_CLAIM_KEYS = {
    "Integrity of the preserved files": "integrity",
    "Recorded in the log": "log_inclusion",
    "Signed time (the log's clock)": "signed_time",
    "Independent time (RFC 3161)": "independent_time",
    "Witnesses": "witnesses",
}


@dataclass(frozen=True)
class StepResult:
    """One numbered step that ran: whether it passed, in plain words, and the files involved.

    ``meaning`` says, for a failed step, what the failure means for the evidence.
    ``empty`` marks a step that passed because there was nothing to check (step 7 on a
    bundle with no time-stamp at all): shown as ``[NONE]``, not ``[PASS]``.
    """

    number: int
    title: str
    ok: bool
    detail: str
    files: tuple[str, ...] = ()
    meaning: str | None = None
    empty: bool = False

    @property
    def status(self) -> str:
        """``"pass"``, ``"fail"``, or ``"none"`` (passed with nothing to check)."""
        if not self.ok:
            return "fail"
        return "none" if self.empty else "pass"

    @property
    def file(self) -> str | None:
        """The first file involved, if any."""
        return self.files[0] if self.files else None


@dataclass(frozen=True)
class Claim:
    """One thing the bundle shows, graded on its own."""

    name: str
    grade: Grade
    detail: str

    @property
    def key(self) -> str:
        """The claim's stable machine name (JSON): ``integrity``, ``log_inclusion``, ..."""
        return _CLAIM_KEYS.get(self.name, re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_"))


@dataclass(frozen=True)
class ToConfirm:
    """A key or certificate that was only found inside the bundle: confirm its fingerprint
    with its owner through a separate channel, then verify again trusting it."""

    what: str
    identity: str
    fingerprint: str
    how: str


@dataclass(frozen=True)
class Report:
    """The result of :func:`verify`. Never a bare bool: read :attr:`verdict` (and
    :attr:`exit_code`); :attr:`steps` holds the steps that ran, :attr:`claims` the graded
    claims, :attr:`to_confirm` the fingerprints that would anchor a NOT ANCHORED result."""

    path: str
    verdict: Verdict
    summary: str
    steps: tuple[StepResult, ...]
    claims: tuple[Claim, ...]
    to_confirm: tuple[ToConfirm, ...] = ()
    trust: str = ""
    #: Display facts for the text report: (label, text) pairs.
    facts: tuple[tuple[str, str], ...] = ()
    #: The same facts for machines (JSON ``facts``): snake_case keys, numbers as numbers, times
    #: as ISO 8601 UTC strings with a ``_unix`` twin in seconds; see docs/verifying.md.
    data: tuple[tuple[str, Any], ...] = ()
    #: Things a reader must know that do not change the verdict (a suspicious time gap, a site
    #: that served the browser other content than the raw fetch, ...), in plain words.
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True only for VERIFIED."""
        return self.verdict is Verdict.VERIFIED

    @property
    def exit_code(self) -> int:
        """0 VERIFIED, 1 FAILED, 2 unusable input, 3 verified but not anchored in trust."""
        return {
            Verdict.VERIFIED: EXIT_OK,
            Verdict.FAILED: EXIT_VERIFICATION_FAILED,
            Verdict.UNUSABLE: EXIT_USAGE,
            Verdict.NOT_ANCHORED: EXIT_NOT_ANCHORED,
        }[self.verdict]

    @property
    def failed_step(self) -> StepResult | None:
        """The step that failed, if one did."""
        return next((s for s in self.steps if not s.ok), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON); the fields are described in docs/verifying.md ("JSON output")."""
        return {
            "format": REPORT_FORMAT,
            "path": self.path,
            "verdict": self.verdict.value,
            "result": _VERDICT_KEYS[self.verdict],
            "exit_code": self.exit_code,
            "summary": self.summary,
            "trust": self.trust,
            "facts": dict(self.data),
            "steps": [
                {
                    "number": s.number,
                    "title": s.title,
                    "ok": s.ok,
                    "status": s.status,
                    "detail": s.detail,
                    "files": list(s.files),
                    **({"meaning": s.meaning} if s.meaning else {}),
                }
                for s in self.steps
            ],
            "not_run": [{"number": n, "title": t} for n, t in STEP_TITLES.items() if n > len(self.steps)],
            "claims": [
                {
                    "key": c.key,
                    "name": c.name,
                    "grade": c.grade.value,
                    "status": GRADE_KEYS[c.grade],
                    "detail": c.detail,
                }
                for c in self.claims
            ],
            "to_confirm": [
                {"what": t.what, "identity": t.identity, "fingerprint": t.fingerprint, "how": t.how}
                for t in self.to_confirm
            ],
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        """The report as JSON text (stable key order)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def render_text(self) -> str:
        """The report for a person: steps, claims, verdict, and what to do."""
        out = [f"Verifying {self.path}", ""]
        for key, value in self.facts:
            out.append(f"  {key + ':':<26}{_one_line(value)}")
        if self.facts:
            out.append("")
        out.append(f"Trusted keys: {self.trust}")
        out.append("")
        for s in self.steps:
            mark = s.status.upper()
            out.append(f"{s.number}. [{mark}] {s.title}")
            out.extend(_wrap(s.detail, "     "))
            if not s.ok and s.files:
                out.append(f"     File: {', '.join(s.files)}")
        for n, title in STEP_TITLES.items():
            if n > len(self.steps):
                out.append(f"{n}. [not run] {title}")
        if self.claims:
            out += ["", "What this bundle shows:"]
            for c in self.claims:
                out.append(f"  {c.name:<34}{c.grade.value}")
                out.extend(_wrap(c.detail, "      "))
        if self.warnings:
            out += ["", "WARNINGS (they do not change the verdict, but a reader must know them):"]
            for w in self.warnings:
                out.extend(_wrap(f"! {w}", "  "))
        out += ["", f"VERDICT: {self.verdict.value}"]
        out.extend(_wrap(self.summary, "  "))
        failed = self.failed_step
        if failed is not None and failed.meaning:
            out.append("")
            out.extend(_wrap(f"What this means: {failed.meaning}", "  "))
        if self.to_confirm:
            if self.verdict is Verdict.VERIFIED:
                out += ["", "Also in the bundle but not anchored in trust (not needed for this verdict; confirm them"]
                out.append("with their owners through a separate channel if you want them to count too):")
            else:
                out += ["", "To anchor this result in trust, confirm these fingerprints with their owners through a"]
                out.append("separate channel (not from this bundle), then verify again trusting them:")
            for t in self.to_confirm:
                out.append(f"  - {_one_line(t.what)}: {_one_line(t.identity)}")
                out.append(f"      fingerprint {t.fingerprint}")
                out.extend(_wrap(t.how, "      "))
        # Invisible and direction-changing characters from the bundle are written as [U+202E],
        # so that an address reads as what it is (docs/verifying.md, "What the text shows").
        return visible_text("\n".join(out)) + "\n"


def _one_line(value: object) -> str:
    """A value from the bundle shown on one line: a newline in it (a case reference ending in
    "\n\nVERDICT: VERIFIED") would otherwise start a line that reads as the verifier's own."""
    return str(value).replace("\r", "[U+000D]").replace("\n", "[U+000A]")


def _wrap(text: str, indent: str, width: int = 96) -> list[str]:
    import textwrap

    lines: list[str] = []
    for para in text.split("\n"):
        lines.extend(
            textwrap.wrap(para, width=width, initial_indent=indent, subsequent_indent=indent, break_long_words=False)
            or [indent.rstrip()]
        )
    return lines
