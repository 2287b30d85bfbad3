"""Reading trust-policy text into frozen values (:func:`parse_policy`); the grammar.


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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from evidence.errors import FormatError, KeyFormatError
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Verifier
from evidence.timestamp.token import CertPin, PinnedTSA

if TYPE_CHECKING:
    from evidence.trust.evaluate import TrustPolicy

#: Most entries of each kind (logs, witnesses, groups, TSAs) a policy may define. C2SP
#: asks implementations to support at least 32; this bound only stops runaway files.
MAX_ENTRIES = 1024
NONE = "none"

_WS = re.compile(r"[ \t]+")
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_DECIMAL = re.compile(r"[1-9][0-9]{0,5}")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True)
class PolicyLog:
    """A trusted log: any checkpoint signed by this key (and meeting the quorum) is valid.
    The key name is the log's origin."""

    verifier: Verifier
    url: str | None = None

    @property
    def origin(self) -> str:
        """The log's origin line (its key name)."""
        return self.verifier.name


@dataclass(frozen=True)
class PolicyWitness:
    """A named witness whose cosignatures count toward the quorum."""

    name: str
    verifier: Verifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    """A group that has witnessed a checkpoint when ``threshold`` of its members have."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class TSARoot:
    """A root certificate that TSA certificates must chain to."""

    name: str
    pin: CertPin


def _fail(where: str, lineno: int, message: str, hint: str | None = None) -> FormatError:
    return FormatError(f"{where}, line {lineno}: {message}", hint=hint)


def parse_time(text: str, what: str = "time") -> datetime:
    """An RFC 3339 date-time with an explicit offset (``2025-01-31T00:00:00Z``), in UTC.
    Raises :class:`FormatError`."""
    hint = "Write it like 2025-01-31T00:00:00Z (UTC) or 2025-01-31T01:00:00+01:00."
    if not _RFC3339.fullmatch(text):
        raise FormatError(f"the {what} {text!r} is not an RFC 3339 date-time", hint=hint)
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except ValueError as e:
        raise FormatError(f"the {what} {text!r} is not a valid date-time", hint=hint) from e


def parse_policy(text: str | bytes, *, base_dir: Path | None = None, source: str = "trust policy") -> TrustPolicy:
    """Parse a policy strictly (what :meth:`TrustPolicy.parse` does). Raises :class:`FormatError`
    naming line and rule."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    bad = _FORBIDDEN.search(data)
    if bad is not None:
        b = data[bad.start()]
        what = "a carriage return (Windows line ending)" if b == 0x0D else f"byte 0x{b:02x}"
        raise _fail(
            source,
            data.count(b"\n", 0, bad.start()) + 1,
            f"contains {what}; only tab, newline and printable characters are allowed",
        )
    # High-bit octets are opaque to the grammar; surrogateescape keeps them byte-exact.
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    return _Parser(source, base_dir).run(lines)


class _Parser:
    def __init__(self, source: str, base_dir: Path | None) -> None:
        self.source = source
        self.base_dir = base_dir
        self.kinds: dict[str, str] = {NONE: "none"}
        self.logs: list[PolicyLog] = []
        self.witnesses: list[PolicyWitness] = []
        self.groups: list[PolicyGroup] = []
        self.roots: dict[str, TSARoot] = {}
        self.tsas: list[PinnedTSA] = []
        self.members_used: set[str] = set()
        self.quorum: str | None = None
        self.lineno = 0

    def fail(self, message: str, hint: str | None = None) -> FormatError:
        return _fail(self.source, self.lineno, message, hint)

    def run(self, lines: list[str]) -> TrustPolicy:
        handlers = {
            "log": self.log,
            "witness": self.witness,
            "group": self.group,
            "quorum": self.set_quorum,
            "tsa-root": self.tsa_root,
            "tsa": self.tsa,
        }
        for self.lineno, raw in enumerate(lines, start=1):
            line = raw.strip(" \t")
            if not line or line.startswith("#"):
                continue
            keyword, *args = _WS.split(line)
            handler = handlers.get(keyword)
            if handler is None:
                raise self.fail(
                    f"unknown keyword {keyword!r}",
                    hint="Each line starts with one of: " + ", ".join(handlers) + ", or '#'.",
                )
            handler(args)
        if self.quorum is None:
            raise FormatError(
                f"{self.source}: there is no 'quorum' line",
                hint="Every trust policy needs exactly one; write 'quorum none' to require no witnesses.",
            )
        from evidence.trust.evaluate import TrustPolicy

        return TrustPolicy(
            logs=tuple(self.logs),
            witnesses=tuple(self.witnesses),
            groups=tuple(self.groups),
            quorum=self.quorum,
            tsa_roots=tuple(self.roots.values()),
            tsas=tuple(self.tsas),
        )

    def arity(self, args: list[str], low: int, high: int, usage: str) -> None:
        if not low <= len(args) <= high:
            raise self.fail(f"wrong number of items; the form is '{usage}'")

    def limit(self, count: int, what: str) -> None:
        if count >= MAX_ENTRIES:
            raise self.fail(f"more than {MAX_ENTRIES} {what}; this tool stops there")

    def define(self, name: str, kind: str) -> None:
        if name in self.kinds:
            if name == NONE:
                raise self.fail("the name 'none' is reserved (it means 'no witnesses')")
            raise self.fail(f"the name {name!r} is already defined (as a {self.kinds[name]})")
        self.kinds[name] = kind

    def vkey(self, text: str, key_type: int, role: str) -> Verifier:
        try:
            verifier = Verifier.from_vkey(text)
        except KeyFormatError as e:
            raise self.fail(f"the {role} key is malformed: {e.message}") from e
        if verifier.key_type != key_type:
            wanted = (
                "an Ed25519 checkpoint-signing key (type 0x01)"
                if key_type == ALG_ED25519
                else "an Ed25519 cosignature key (type 0x04)"
            )
            raise self.fail(
                f"the {role} key {verifier.name!r} has signature type "
                f"0x{verifier.key_type:02x}; a {role} needs {wanted}"
            )
        return verifier

    def log(self, args: list[str]) -> None:
        self.arity(args, 1, 2, "log <vkey> [<url>]")
        self.limit(len(self.logs), "logs")
        verifier = self.vkey(args[0], ALG_ED25519, "log")
        if any(log.verifier.public_key == verifier.public_key for log in self.logs):
            raise self.fail(f"the log key {verifier.name!r} is listed twice (same public key)")
        self.logs.append(PolicyLog(verifier, args[1] if len(args) > 1 else None))

    def witness(self, args: list[str]) -> None:
        self.arity(args, 2, 3, "witness <name> <vkey> [<url>]")
        self.limit(len(self.witnesses), "witnesses")
        name = args[0]
        verifier = self.vkey(args[1], ALG_COSIGNATURE_V1, "witness")
        dup = next((w for w in self.witnesses if w.verifier.public_key == verifier.public_key), None)
        if dup is not None:
            raise self.fail(f"witness {name!r} has the same public key as witness {dup.name!r}")
        self.define(name, "witness")
        self.witnesses.append(PolicyWitness(name, verifier, args[2] if len(args) > 2 else None))

    def group(self, args: list[str]) -> None:
        if len(args) < 3:
            raise self.fail(
                "a group needs a name, a threshold and at least one member: 'group <name> all|any|<k> <member>...'"
            )
        self.limit(len(self.groups), "groups")
        name, k_text, members = args[0], args[1], args[2:]
        n = len(members)
        if k_text == "all":
            k = n
        elif k_text == "any":
            k = 1
        elif _DECIMAL.fullmatch(k_text):
            k = int(k_text)
            if k > n:
                raise self.fail(f"group {name!r} needs {k} of only {n} member(s)")
        else:
            raise self.fail(
                f"the threshold of group {name!r} is {k_text!r}; it must be 'all', 'any' or a "
                "number from 1 to the number of members, written without leading zeros"
            )
        for m in members:
            kind = self.kinds.get(m)
            if kind is None:
                raise self.fail(f"group {name!r} names {m!r}, which is not defined on an earlier line")
            if kind not in ("witness", "group"):
                raise self.fail(f"group {name!r} names {m!r}, which is not a witness or group")
            if m in self.members_used:
                raise self.fail(
                    f"{m!r} is already a member of a group; each name may be a group member "
                    "only once, so that every witness counts in one way only"
                )
            self.members_used.add(m)
        self.define(name, "group")
        self.groups.append(PolicyGroup(name, k, tuple(members)))

    def set_quorum(self, args: list[str]) -> None:
        self.arity(args, 1, 1, "quorum <name>|none")
        if self.quorum is not None:
            raise self.fail("a second 'quorum' line; a policy has exactly one")
        kind = self.kinds.get(args[0])
        if kind is None:
            raise self.fail(f"the quorum {args[0]!r} is not defined on an earlier line")
        if kind not in ("witness", "group", "none"):
            raise self.fail(f"the quorum {args[0]!r} is a {kind}, not a witness or group")
        self.quorum = args[0]

    def pin(self, spec: str, what: str) -> CertPin:
        try:
            return CertPin.parse(spec, self.base_dir)
        except FormatError as e:
            raise self.fail(f"{what}: {e.message}", hint=e.hint) from e

    def tsa_root(self, args: list[str]) -> None:
        self.arity(args, 2, 2, "tsa-root <name> sha256:<hex>|<certificate file>")
        self.limit(len(self.roots), "TSA roots")
        name = args[0]
        pin = self.pin(args[1], f"the certificate of TSA root {name!r}")
        self.define(name, "TSA root")
        self.roots[name] = TSARoot(name, pin)

    def tsa(self, args: list[str]) -> None:
        usage = "tsa <name> sha256:<hex>|<certificate file> <tsa-root name> [not-before <time>] [not-after <time>]"
        if len(args) < 3 or len(args) % 2 == 0 or len(args) > 7:
            raise self.fail(f"wrong number of items; the form is '{usage}'")
        self.limit(len(self.tsas), "TSAs")
        name, spec, root_name = args[:3]
        root = self.roots.get(root_name)
        if root is None:
            kind = self.kinds.get(root_name)
            raise self.fail(
                f"TSA {name!r} names the root {root_name!r}, which "
                + (f"is a {kind}, not a tsa-root" if kind else "is not defined on an earlier line")
            )
        window: dict[str, datetime] = {}
        for key, value in zip(args[3::2], args[4::2], strict=True):
            if key not in ("not-before", "not-after"):
                raise self.fail(f"unknown TSA option {key!r}; use not-before or not-after")
            if key in window:
                raise self.fail(f"{key} is given twice for TSA {name!r}")
            try:
                window[key] = parse_time(value, f"{key} time")
            except FormatError as e:
                raise self.fail(e.message, e.hint) from e
        pin = self.pin(spec, f"the certificate of TSA {name!r}")
        if any(t.certificate.sha256 == pin.sha256 for t in self.tsas):
            raise self.fail(f"the certificate of TSA {name!r} is pinned twice")
        self.define(name, "TSA")
        try:
            pinned = PinnedTSA(
                name=name,
                certificate=pin,
                root=root.pin,
                not_before=window.get("not-before"),
                not_after=window.get("not-after"),
            )
        except FormatError as e:
            raise self.fail(e.message) from e
        self.tsas.append(pinned)
