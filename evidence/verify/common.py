"""Helpers the verification steps share: the failure signal (:class:`Fail`), the internal-error
step, time and JSON formatting for messages, the step 8 limits and rules, and the bounded WARC
reader (:class:`InflateBudget`).

No I/O beyond reading the stream it is given.
"""

from __future__ import annotations

import contextlib
import json
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from evidence._internal import jsonstrict
from evidence._internal.timefmt import bounded_text, hidden_characters, utc_text
from evidence.bundle import (
    ATTEMPTS_PATH,
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    INDEX_PATH,
    MANIFEST_PATH,
    NOTE_PATH,
    PAGES_PATH,
    PROOF_PATH,
    REPORT_PATH,
    VERIFY_PATH,
    VKEY_PATH,
    WARC_PATH,
)
from evidence.verify.results import STEP_TITLES, Grade, StepResult

POST_SEAL = frozenset(
    {
        MANIFEST_PATH,
        PROOF_PATH,
        NOTE_PATH,
        VKEY_PATH,
        REPORT_PATH,
        VERIFY_PATH,
        ATTEMPTS_PATH,
        DATAPACKAGE,
        DATAPACKAGE_DIGEST,
    }
)
#: Sealed files every bundle must have.
REQUIRED_SEALED = (WARC_PATH, INDEX_PATH, PAGES_PATH, "evidence/capture.json")
CAPTURE_PATH = "evidence/capture.json"
HEX64 = re.compile(r"[0-9a-f]{64}")
#: Errors reading a member from a ZIP (beyond BundleFormatError): CRC or size mismatches,
#: truncated data, damaged deflate or LZMA streams, unsupported compression methods.
READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, NotImplementedError)


# --------------------------------------------------------------------------- the check

_INTERNAL_MEANING = (
    "The verifier met an error it does not know how to judge, so this bundle has NOT been verified. It is not a "
    "finding about the bundle either way: do not rely on the bundle until a corrected verifier has checked it, "
    "and please report this message (and, if you may, the bundle) to the evidence project."
)


def internal_error(number: int, err: BaseException) -> StepResult:
    """The step that ran into an unexpected exception: FAILED, named, and said to be our defect."""
    title = STEP_TITLES.get(number, f"Step {number}")
    return StepResult(
        number,
        title,
        False,
        f"Internal error of the verifier in this step ({type(err).__name__}: {bounded_text(err, 300)}). This is a "
        "defect in the evidence verifier, not a result of the check; please report it.",
        (),
        _INTERNAL_MEANING,
    )


class Fail(Exception):
    """A step failed (or, with ``unusable``, the input cannot be read as a bundle)."""

    def __init__(self, detail: str, *files: str, unusable: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.files = files
        self.unusable = unusable
        #: What the step had established before it failed, for the report (its facts, claims
        #: and warnings), as the step's own result type; None if nothing.
        self.learned: Any = None


def keep_learned(err: BaseException, learned: object) -> None:
    """Attach to ``err`` what its step had established before it failed (a partial result of
    the step's own type), so that the report still shows it: see :attr:`Fail.learned`."""
    with contextlib.suppress(AttributeError):  # an exception type that takes no attributes keeps nothing
        err.learned = learned  # type: ignore[attr-defined]


def iso(ts: int | datetime) -> str:
    return utc_text(ts)  # bounded: a forged cosignature may carry any 64-bit time


# --------------------------------------------------------------------------- step 8 rules

#: Clock skew allowed between any two clocks compared (capture machine, log, witnesses, TSAs),
#: and for a clock stepped back during a capture; see docs/design.md ("Time that cannot be true").
CLOCK_TOLERANCE_S = 300
#: A capture that lasted longer than this is reported (a warning, not a failure).
LONG_CAPTURE_S = 3600
#: A checkpoint signed this long after the capture ended is reported (a warning).
LATE_SIGNATURE_S = 86400
#: Bounds for reading the web archive and its index.
MAX_WARC_INFLATED = 2 << 30
#: The longest line (WARC or HTTP header, blank line) read from the WARC, and how many in all.
MAX_WARC_LINE = 1 << 20
MAX_WARC_LINES = 4_000_000
MAX_INDEX_LINES = 100_000
#: The most lines of pages/pages.jsonl looked at (a bundle's has two: the header and the page).
MAX_PAGES_LINES = 100
MAX_INDEX_BYTES = 32 << 20
INDEX_FILENAME = WARC_PATH.rsplit("/", 1)[-1]
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
#: Every top-level field a bundle's datapackage.json may have.
PACKAGE_FIELDS = frozenset(
    {"profile", "wacz_version", "title", "created", "software", "resources", "mainPageUrl", "mainPageDate"}
)
_CAPTURE_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z")


def plain_uri(uri: str) -> bool:
    """Whether a WARC-Target-URI is one a browser or HTTP client writes: no white space, no
    angle brackets (WARC/1.0's ``<uri>`` form, which some readers strip), no invisible,
    control or direction-changing character (a browser percent-encodes them all)."""
    return not any(c.isspace() or c in "<>" for c in uri) and not hidden_characters(uri, 1)


def parse_utc(text: object) -> float | None:
    """Seconds since 1970 for ``YYYY-MM-DDThh:mm:ss[.fraction]Z``; None if it is not that."""
    if not isinstance(text, str):
        return None
    m = _CAPTURE_TIME.fullmatch(text)
    if m is None:
        return None
    try:
        y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
        t = datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    except ValueError:
        return None
    return t.timestamp() + (float(m.group(7)) if m.group(7) else 0.0)


def capture_time(value: object, key: str) -> float:
    t = parse_utc(value)
    if t is None:
        raise Fail(
            f"The manifest's {key} ({short_json(value)}) is not a UTC time of the form 2026-01-31T12:00:00Z, so the "
            "capture's time cannot be checked against the log's.",
            MANIFEST_PATH,
        )
    return t


def warc_time(value: object) -> float | None:
    return parse_utc(value)


def when_text(ts: float) -> str:
    """A time for a message; never raises (a forged timestamp may be absurd)."""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{ts:.0f} seconds after 1970 (not a representable date)"


def span(seconds: float) -> str:
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} seconds"
    if s < 7200:
        return f"{s / 60:.0f} minutes"
    if s < 172800:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:.0f} days"


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (``true`` is not ``1``)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def short_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


def index_offset(line: str) -> str | None:
    """The offset a CDXJ line points at, if it can be read from it."""
    parts = line.split(" ", 2)
    if len(parts) != 3:
        return None
    try:
        data = jsonstrict.loads(parts[2])
    except (ValueError, RecursionError):
        return None
    off = data.get("offset") if isinstance(data, dict) else None
    return off if isinstance(off, str) else None


@dataclass(frozen=True)
class Window:
    """The capture's start and end (capture clock) and the log's signed time, in seconds."""

    start: float
    finish: float
    clock: int

    def describe(self) -> str:
        return (
            f"capture {when_text(self.start)} to {when_text(self.finish)}, checkpoint signed {when_text(self.clock)}, "
            f"tolerance {span(CLOCK_TOLERANCE_S)}"
        )


@dataclass(frozen=True)
class PageRecord:
    """An indexed record under the page's SURT key: one that replay could open for the page."""

    number: int
    order: tuple[str, str, int, str]
    kind: str
    uri: str
    raw_fetch: bool
    status: int | None
    sha256: str
    #: For a redirect (3xx): whether it leads to the same key (a self-redirect replayers skip).
    self_redirect: bool = False


@dataclass(frozen=True)
class WarcScan:
    statuses: dict[str, list[int | None]]
    index: tuple[str, ...]
    records: int
    page_records: tuple[PageRecord, ...] = ()


class InflateBudget:
    """The WARC's compressed stream, refusing to go on once warcio has decompressed more than
    MAX_WARC_INFLATED bytes (a gzip bomb inside the sealed archive). :meth:`bound_lines`
    bounds the lines warcio reads (headers and the blank lines between records): at most
    MAX_WARC_LINE bytes each (it would otherwise hold a "line" of gigabytes in memory) and
    MAX_WARC_LINES in all (it reads them one by one)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.iterator: Any = None
        self.pos = 0
        self.lines = 0

    def bound_lines(self, iterator: Any) -> None:
        self.iterator = iterator
        reader = iterator.reader
        readline = reader.readline

        def bounded(length: int | None = None) -> bytes:
            self.lines += 1
            if self.lines > MAX_WARC_LINES:
                raise Fail(
                    f"{WARC_PATH} has more than {MAX_WARC_LINES} header lines, more than this verifier accepts.",
                    WARC_PATH,
                )
            cap = MAX_WARC_LINE + 1 if length is None or length < 0 else min(length, MAX_WARC_LINE + 1)
            line: bytes = readline(cap)
            if len(line) > MAX_WARC_LINE:
                raise Fail(
                    f"{WARC_PATH} has a header line longer than {MAX_WARC_LINE} bytes (around compressed byte "
                    f"{self.pos}): it is malformed, or a compression bomb.",
                    WARC_PATH,
                )
            return line

        reader.readline = bounded

    def read(self, size: int = -1) -> bytes:
        reader = getattr(self.iterator, "reader", None)
        if int(getattr(reader, "num_read", 0) or 0) > MAX_WARC_INFLATED:
            raise Fail(
                f"{WARC_PATH} decompresses to more than {MAX_WARC_INFLATED} bytes, more than this verifier "
                "accepts (a compression bomb?).",
                WARC_PATH,
            )
        data: bytes = self.raw.read(size)
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else cert.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def cosigned_text(found: tuple[int, str] | None, *, short: bool = False) -> str:
    """How a witness's earliest cosignature over a tree holding the entry is described."""
    if found is None:
        return "no cosignature."
    ts, where = found
    if not where:
        return f"at {iso(ts)}" if short else f"cosigned at {iso(ts)}."
    if short:
        return f"at {iso(ts)} (on {where.split(',')[0]})"
    return f"cosigned at {iso(ts)}, on {where}, which contains this entry."


def is_ca(cert: x509.Certificate) -> bool:
    if cert.subject == cert.issuer:
        return True
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass
class TokenOutcome:
    name: str
    grade: Grade
    text: str
    #: genTime of a token that verified against a pinned TSA (None otherwise).
    time: datetime | None = None
