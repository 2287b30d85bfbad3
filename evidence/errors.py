"""One error root for the whole library.

Every error a user can cause is an :class:`EvidenceError`. Each carries a message meant
for a person (a lawyer, an investigator, an expert): what failed, what it means, and what
to do. The command line prints :meth:`EvidenceError.diagnostics` and exits with
:attr:`EvidenceError.exit_code`:

- 0: success / verified
- 1: verification failed (the evidence does not check out)
- 2: usage or input error (the input could not be used at all: a bad option, an unreadable
  file, a log that cannot be used, such as a log server that refuses the token)
- 3: ``evidence verify``: verified, but not anchored in trust (the log key was not pinned)
- 4: ``preserve``: some URLs of a batch failed; the others were preserved
- 5: ``preserve``: no URL could be preserved (every capture failed)
- 6: ``preserve``: every URL was preserved, but a time-stamping authority was asked and none
  gave a time-stamp, so at least one bundle has no independent time (``evidence refresh
  BUNDLE --tsa URL`` adds it later)
- 7: ``preserve``: the clean-environment check found a FAIL item (a proxy, a hosts-file
  override, an interception certificate, a wrong clock, ...) and nothing was captured
- 8: ``preserve``: preserved, but capture QA flagged at least one page as probably not the
  listing (a captcha or login wall, an error page, a blank page): look at it before relying on it
- 130: interrupted (Ctrl-C); nothing half-written is left behind
- 141: the reader of the output went away (``evidence log status | head``), as SIGPIPE

The table is :data:`EXIT_CODES`, the one place the codes are defined.

When several apply, ``preserve`` exits with the first of 7, 5, 4, 6, 8 that does.

Subclasses group errors by the layer that raises them. Mismatch errors carry both the
expected and the computed value, so a report can show them side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_ANCHORED = 3
EXIT_PARTIAL = 4
EXIT_NOTHING_PRESERVED = 5
EXIT_NO_TIMESTAMP = 6
EXIT_UNCLEAN = 7
EXIT_QA_FLAGGED = 8
EXIT_INTERRUPTED = 130
#: Exit status after the reader of our output went away (``evidence log status | head``):
#: what a shell reports for a process ended by SIGPIPE.
EXIT_BROKEN_PIPE = 128 + 13


@dataclass(frozen=True)
class ExitCode:
    """One row of the exit-code table: the number, its constant's name and what it means."""

    code: int
    name: str
    meaning: str


#: THE table of exit codes (code -> row), read-only: the CLI's help epilog and docs/design.md
#: ("## Exit codes", checked by tests/test_layout.py) are made from or checked against it.
EXIT_CODES: Mapping[int, ExitCode] = MappingProxyType(
    {
        row.code: row
        for row in (
            ExitCode(EXIT_OK, "EXIT_OK", "success / verified"),
            ExitCode(
                EXIT_VERIFICATION_FAILED,
                "EXIT_VERIFICATION_FAILED",
                "verification failed (the evidence does not check out)",
            ),
            ExitCode(EXIT_USAGE, "EXIT_USAGE", "usage or input error (the input could not be used at all)"),
            ExitCode(
                EXIT_NOT_ANCHORED,
                "EXIT_NOT_ANCHORED",
                "verify: verified, but not anchored in trust (the log key was not pinned)",
            ),
            ExitCode(EXIT_PARTIAL, "EXIT_PARTIAL", "preserve: some URLs of a batch failed; the others were preserved"),
            ExitCode(EXIT_NOTHING_PRESERVED, "EXIT_NOTHING_PRESERVED", "preserve: no URL could be preserved"),
            ExitCode(
                EXIT_NO_TIMESTAMP,
                "EXIT_NO_TIMESTAMP",
                "preserve: preserved, but no time-stamping authority asked gave a time-stamp",
            ),
            ExitCode(
                EXIT_UNCLEAN,
                "EXIT_UNCLEAN",
                "preserve: the clean-environment check found a FAIL item; nothing was captured",
            ),
            ExitCode(
                EXIT_QA_FLAGGED,
                "EXIT_QA_FLAGGED",
                "preserve: preserved, but capture QA flagged a page as probably not the listing",
            ),
            ExitCode(EXIT_INTERRUPTED, "EXIT_INTERRUPTED", "interrupted (Ctrl-C); nothing half-written is left behind"),
            ExitCode(EXIT_BROKEN_PIPE, "EXIT_BROKEN_PIPE", "the reader of the output went away (as SIGPIPE)"),
        )
    }
)


def exit_codes_epilog() -> str:
    """The exit-code table as text for a command's ``--help`` epilog."""
    return "exit codes:\n" + "\n".join(f"  {row.code:>3}  {row.meaning}" for row in EXIT_CODES.values())


class EvidenceError(Exception):
    """Root of every error this library raises on purpose."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The message for a human, with what to do next when we know it."""
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class UsageError(EvidenceError):
    """The command or call was used wrongly (missing argument, bad option value)."""


class FormatError(EvidenceError):
    """An input is not in the format it claims (note, checkpoint, proof, key, policy)."""


class KeyFormatError(FormatError):
    """A verifier key (vkey) or signer key is malformed."""


class LogError(EvidenceError):
    """The log could not be created, opened, appended to or read."""


class LogCorruptError(LogError):
    """The log's files disagree with each other or with a signed checkpoint."""


class EntryTooLargeError(LogError):
    """An entry exceeds the 65,535-byte limit of the tlog-tiles entry bundle format."""


class CaptureError(EvidenceError):
    """A page could not be captured; nothing was written."""


class QueueError(EvidenceError):
    """The capture queue (its PostgreSQL database) could not be reached or used."""


class UncleanEnvironmentError(CaptureError):
    """The clean-environment check found a FAIL item the user did not allow; nothing was captured.

    :attr:`item` names the check (what ``--allow-unclean`` takes)."""

    exit_code = EXIT_UNCLEAN

    def __init__(self, message: str, *, hint: str | None = None, item: str = "") -> None:
        super().__init__(message, hint=hint)
        self.item = item


class BundleFormatError(EvidenceError):
    """A proof bundle is unreadable or structurally wrong."""


class ReportError(EvidenceError):
    """A certificate of preservation could not be made or written (nothing was written)."""


class VerificationError(EvidenceError):
    """A check failed: the evidence does not prove what it claims."""

    exit_code = EXIT_VERIFICATION_FAILED


class FixityError(VerificationError):
    """A file's bytes do not match the digest recorded for it."""


class InclusionError(VerificationError):
    """An inclusion proof does not lead from the entry to the checkpoint's root."""


class ConsistencyError(VerificationError):
    """Two tree states are not append-only consistent: history was rewritten."""


class SignatureError(VerificationError):
    """A signature is missing, made by an unexpected key, or invalid."""


class TimestampError(VerificationError):
    """A timestamp token is invalid, untrusted, or does not cover what it should."""


class PolicyError(VerificationError):
    """The trust policy is not satisfied (for example, too few witnesses)."""


class AuditError(VerificationError):
    """A log's files disagree with its signed checkpoint (found by an audit)."""
