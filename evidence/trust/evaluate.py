"""Evaluating logs, witness cosignatures and TSAs against a parsed trust policy (:class:`TrustPolicy`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evidence.errors import FormatError, PolicyError
from evidence.note import Verifier
from evidence.timestamp.token import PinnedTSA
from evidence.trust.parse import NONE, PolicyGroup, PolicyLog, PolicyWitness, TSARoot


@dataclass(frozen=True)
class QuorumResult:
    """Whether the witnesses that cosigned a checkpoint satisfy the policy's quorum.

    ``cosigned`` are the policy's witness names that were counted; ``explanation`` says in
    words why the quorum is met or which part of it is missing.
    """

    ok: bool
    quorum: str
    cosigned: frozenset[str]
    explanation: str


@dataclass(frozen=True)
class TrustPolicy:
    """A parsed trust policy. Build it with :meth:`parse` or :meth:`load`."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str
    tsa_roots: tuple[TSARoot, ...] = ()
    tsas: tuple[PinnedTSA, ...] = ()

    # ---------------------------------------------------------------- parsing

    @classmethod
    def load(cls, path: Path | str) -> TrustPolicy:
        """Read and parse a policy file; certificate paths in it are relative to its folder."""
        from evidence._internal.files import MAX_CONFIG_BYTES, read_file

        p = Path(path)
        try:
            data = read_file(p, limit=MAX_CONFIG_BYTES, what="trust policy", error=FormatError)
        except FormatError as e:
            raise FormatError(
                f"could not read the trust policy: {e.message}",
                hint="Create it as described in docs/trust-policy.md, or give its path.",
            ) from e
        return cls.parse(data, base_dir=p.parent, source=str(p))

    @classmethod
    def parse(
        cls,
        text: str | bytes,
        *,
        base_dir: Path | None = None,
        source: str = "trust policy",
    ) -> TrustPolicy:
        """Parse a policy strictly. Raises :class:`FormatError` naming line and rule."""
        from evidence.trust.parse import parse_policy

        return parse_policy(text, base_dir=base_dir, source=source)

    # ---------------------------------------------------------------- logs

    def logs_for_origin(self, origin: str) -> tuple[PolicyLog, ...]:
        """The trusted logs whose key name is ``origin`` (empty if the log is unknown)."""
        return tuple(log for log in self.logs if log.origin == origin)

    def log_verifiers(self, origin: str) -> tuple[Verifier, ...]:
        """The keys that may sign checkpoints of ``origin``."""
        return tuple(log.verifier for log in self.logs_for_origin(origin))

    def require_log(self, origin: str) -> tuple[Verifier, ...]:
        """Like :meth:`log_verifiers`, but raises :class:`PolicyError` for an unknown log."""
        found = self.log_verifiers(origin)
        if not found:
            known = ", ".join(sorted({log.origin for log in self.logs})) or "none"
            raise PolicyError(
                f"The log {origin!r} is not in the trust policy (trusted logs: {known}); "
                "its checkpoints cannot be trusted.",
                hint="If you trust this log, add its key as a 'log' line to the trust policy "
                "after confirming it with the log operator through a separate channel.",
            )
        return found

    # ---------------------------------------------------------------- witnesses

    def witness(self, name: str) -> PolicyWitness | None:
        """The witness called ``name`` in this policy."""
        return next((w for w in self.witnesses if w.name == name), None)

    def witness_verifiers(self) -> tuple[Verifier, ...]:
        """All witness keys, to verify a checkpoint's cosignatures with."""
        return tuple(w.verifier for w in self.witnesses)

    def witnesses_for(self, verifiers: Iterable[Verifier]) -> frozenset[str]:
        """The policy names of the witnesses whose keys are among ``verifiers`` (for example
        the keys whose cosignatures verified)."""
        keys = set(verifiers)
        return frozenset(w.name for w in self.witnesses if w.verifier in keys)

    def evaluate_quorum(self, cosigned: Iterable[str]) -> QuorumResult:
        """Whether the witnesses named in ``cosigned`` (policy names whose cosignatures
        verified) satisfy the quorum. Names that are not witnesses of this policy count
        for nothing."""
        witness_names = {w.name for w in self.witnesses}
        counted = frozenset(n for n in cosigned if n in witness_names)
        groups = {g.name: g for g in self.groups}
        memo: dict[str, bool] = {}

        def met(name: str) -> bool:
            if name not in memo:
                group = groups.get(name)
                if group is None:
                    memo[name] = name in counted
                else:
                    memo[name] = sum(met(m) for m in group.members) >= group.threshold
            return memo[name]

        def explain(name: str) -> str:
            group = groups.get(name)
            if group is None:
                return f"witness {name} has not cosigned"
            have = [m for m in group.members if met(m)]
            need = _threshold_words(group)
            missing = "; ".join(explain(m) for m in group.members if not met(m))
            return (
                f"group {name} needs {need} and has {len(have)}"
                + (f" ({', '.join(have)})" if have else "")
                + (f" [{missing}]" if missing else "")
            )

        who = ", ".join(sorted(counted)) or "no trusted witness"
        if self.quorum == NONE:
            return QuorumResult(True, NONE, counted, "The trust policy requires no witnesses.")
        if met(self.quorum):
            return QuorumResult(True, self.quorum, counted, f"The quorum {self.quorum} is met (cosigned: {who}).")
        return QuorumResult(
            False,
            self.quorum,
            counted,
            f"The quorum {self.quorum} is not met (cosigned: {who}): {explain(self.quorum)}.",
        )

    def require_quorum(self, cosigned: Iterable[str]) -> QuorumResult:
        """Like :meth:`evaluate_quorum`, but raises :class:`PolicyError` when it is not met."""
        result = self.evaluate_quorum(cosigned)
        if not result.ok:
            raise PolicyError(
                result.explanation,
                hint="Without enough independent witnesses, nothing shows that the log showed "
                "everyone the same history. Collect more cosignatures, or check that the trust "
                "policy is the one the parties agreed on.",
            )
        return result

    # ---------------------------------------------------------------- TSAs

    def tsa(self, name: str) -> PinnedTSA | None:
        """The pinned TSA called ``name``."""
        return next((t for t in self.tsas if t.name == name), None)

    # ---------------------------------------------------------------- export

    def to_tlog_policy(self) -> str:
        """The C2SP tlog-policy part alone (no TSA lines), for tools that know only that
        format. Parsing it again gives the same logs, witnesses, groups and quorum."""
        out = [" ".join(filter(None, ("log", log.verifier.vkey(), log.url))) for log in self.logs]
        out += [" ".join(filter(None, ("witness", w.name, w.verifier.vkey(), w.url))) for w in self.witnesses]
        out += [f"group {g.name} {g.threshold} {' '.join(g.members)}" for g in self.groups]
        out.append(f"quorum {self.quorum}")
        return "\n".join(out) + "\n"

    # ---------------------------------------------------------------- display

    def explain_key(self, verifier: Verifier) -> str:
        """What this policy says about a key found, for example, inside a bundle. A key
        is trusted only through the policy; otherwise it is shown for information."""
        roles = [f"the trusted log {log.origin}" for log in self.logs if log.verifier == verifier]
        roles += [f"the trusted witness {w.name}" for w in self.witnesses if w.verifier == verifier]
        if roles:
            return f"{verifier.vkey()} is {' and '.join(roles)} in the trust policy."
        return (
            f"{verifier.vkey()} (key fingerprint sha256:{verifier.fingerprint()}) is NOT in the "
            "trust policy: it is shown for information only and proves nothing by itself."
        )


def _threshold_words(group: PolicyGroup) -> str:
    n = len(group.members)
    members = ", ".join(group.members)
    if group.threshold == n:
        return f"all of {members}" if n > 1 else members
    if group.threshold == 1:
        return f"any one of {members}"
    return f"{group.threshold} of {members}"
