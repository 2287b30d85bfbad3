"""The clean-environment check: an itemised report on the capture machine, made before the
first request to the site and completed before the capture is sealed.

Each item is ``{check, verdict, observed, why}`` with a verdict of ``PASS`` (checked and
clean), ``WARN`` (clean, but weaker than it could be), ``FAIL`` (a fact that would let
someone change what the browser saw) or ``INFO`` (a fact recorded, no judgement). The
report is sealed as ``evidence/clean-environment.json`` (docs/bundle-format.md).

Two moments, one function each, so that every way of capturing (one page, a walk) uses
them the same way:

- :func:`run_clean_check` before the first request: browser profile and extensions,
  proxies (environment and browser flags), the hosts file for the hosts known so far,
  resolver configuration and DNS answers (and a second resolver's, when one is
  configured), local interfaces, the egress address (when an echo
  service is configured). Those items are the *stamped* part: an RFC 3161 token is asked
  for over ``SHA-256(report digest || nonce)`` (the start of the time bracket), and its
  time is compared with this computer's clock (the ``clock`` item).
- :func:`recheck_hosts` before sealing: the hosts file again for every host reached later
  (resources, redirects), the TLS chains the capture recorded (checked against the
  system trust store), and the browser binary's version and SHA-256 (hashed in the
  background while the capture runs, so that it costs the capture no time).

:func:`enforce` raises :class:`UncleanEnvironmentError` naming the first FAIL item unless
the caller allowed it (``CaptureOptions(allow_unclean=("hosts-file",))``); an allowed FAIL is
kept in the report as ``overridden``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import os
import secrets
import socket
import ssl
import struct
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.bundle.format import CLEAN_FORMAT, clean_report_digest, start_message
from evidence.capture.environment import (
    hosts_file_report,
    network_interfaces,
    proxy_report,
    resolver_report,
    utc_now,
)
from evidence.capture.options import CLEAN_CHECKS, CaptureOptions
from evidence.errors import UncleanEnvironmentError

__all__ = [
    "CHECKS",
    "CLEAN_FILE",
    "CLEAN_FORMAT",
    "START_TOKEN_FILE",
    "CleanItem",
    "CleanReport",
    "UncleanEnvironmentError",
    "enforce",
    "recheck_hosts",
    "run_clean_check",
    "start_message",
]

CLEAN_FILE = "clean-environment.json"
START_TOKEN_FILE = "start.tsr"

#: Every check's name (what ``allow_unclean`` takes), in report order.
CHECKS = CLEAN_CHECKS

#: Names a hosts file may map to a loopback address without it counting as an override.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
#: Chromium flags that route, resolve or trust differently from the machine's defaults.
_BROWSER_NETWORK_FLAGS = (
    "--proxy-server",
    "--proxy-pac-url",
    "--proxy-auto-detect",
    "--host-resolver-rules",
    "--host-rules",
    "--ignore-certificate-errors",
    "--ignore-certificate-errors-spki-list",
)
_EXTENSION_FLAGS = ("--load-extension", "--disable-extensions-except")
_TUNNEL_PREFIXES = ("tun", "tap", "wg", "ppp", "utun", "ipsec", "zt", "tailscale", "nordlynx", "proton")
_MAX_EGRESS_BYTES = 4096


@dataclass(frozen=True)
class CleanItem:
    """One line of the report."""

    check: str
    verdict: str  # PASS | WARN | FAIL | INFO
    observed: Any  # JSON: strings, integers, booleans, null, lists, objects (no floats)
    why: str
    overridden: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {"check": self.check, "verdict": self.verdict, "observed": self.observed, "why": self.why}
        if self.overridden:
            out["overridden"] = True
        return out


@dataclass(frozen=True)
class CleanReport:
    """The report: the stamped items (before the first request), the items added later, the
    start token and the overrides. :meth:`files` gives what a capture folder holds of it."""

    checked_at: str
    before: tuple[CleanItem, ...]
    nonce: bytes
    after: tuple[CleanItem, ...] = ()
    start_token: bytes | None = field(default=None, repr=False)
    start_tsa: str | None = None
    start_gen_time: str | None = None
    allowed: tuple[str, ...] = ()

    @property
    def items(self) -> tuple[CleanItem, ...]:
        return self.before + self.after

    def stamped_part(self) -> dict[str, Any]:
        """The part the start token covers (through :meth:`report_sha256`)."""
        return {
            "format": CLEAN_FORMAT,
            "checked_at": self.checked_at,
            "items": [i.to_json() for i in self.before],
        }

    def report_sha256(self) -> str:
        return clean_report_digest(self.stamped_part()).hex()

    def failures(self) -> list[CleanItem]:
        """FAIL items not allowed by the caller."""
        return [i for i in self.items if i.verdict == "FAIL" and not i.overridden]

    def overrides(self) -> list[str]:
        return [i.check for i in self.items if i.overridden]

    def verdict(self) -> str:
        verdicts = {i.verdict for i in self.items if not i.overridden}
        if "FAIL" in verdicts:
            return "FAIL"
        if self.overrides():
            return "FAIL-OVERRIDDEN"
        return "WARN" if "WARN" in verdicts else "PASS"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.stamped_part(),
            "added_before_sealing": [i.to_json() for i in self.after],
            "verdict": self.verdict(),
            "overrides": self.overrides(),
            "start": {
                "report_sha256": self.report_sha256(),
                "nonce": self.nonce.hex(),
                "imprint": hashlib.sha256(start_message(bytes.fromhex(self.report_sha256()), self.nonce)).hexdigest(),
                "token": START_TOKEN_FILE if self.start_token else None,
                "tsa": self.start_tsa,
                "gen_time": self.start_gen_time,
            },
        }

    def summary(self) -> dict[str, Any]:
        """What ``capture.json`` → ``clean_environment`` holds."""
        counts: dict[str, int] = {}
        for i in self.items:
            counts[i.verdict] = counts.get(i.verdict, 0) + 1
        return {
            "file": CLEAN_FILE,
            "verdict": self.verdict(),
            "counts": counts,
            "overrides": self.overrides(),
            "warnings": [f"{i.check}: {i.why}" for i in self.items if i.verdict == "WARN"],
            "start_token": START_TOKEN_FILE if self.start_token else None,
            "start_gen_time": self.start_gen_time,
        }

    def files(self) -> dict[str, bytes]:
        out = {CLEAN_FILE: (json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
        if self.start_token:
            out[START_TOKEN_FILE] = self.start_token
        return out


# ---------------------------------------------------------------------------------------
# The items


def _profile_item(browser: Mapping[str, Any], opts: CaptureOptions) -> CleanItem:
    udd = browser.get("user_data_dir")
    observed = {
        "user_data_dir": udd,
        "user_data_dir_created_at": browser.get("user_data_dir_created_at"),
        "browser_started_at": browser.get("started_at"),
        "browser_context": "a new one for every capture (no cookies, storage or cache from another)",
        "storage_state_loaded": opts.storage_state.name if opts.storage_state else None,
    }
    why = "a used profile can carry cookies, a logged-in account or cached pages that change what a site shows"
    if not udd:
        return CleanItem("browser-profile", "WARN", observed, f"the profile folder could not be seen; {why}")
    if opts.storage_state:
        return CleanItem(
            "browser-profile",
            "INFO",
            observed,
            f"fresh temporary profile, with the cookies of {opts.storage_state.name} loaded on purpose; {why}",
        )
    return CleanItem("browser-profile", "PASS", observed, f"a fresh temporary profile made for this browser; {why}")


def _extensions_item(browser: Mapping[str, Any]) -> CleanItem:
    args = [str(a) for a in browser.get("command_line") or browser.get("launch_args") or []]
    loaded = [a for a in args if a.split("=", 1)[0] in _EXTENSION_FLAGS]
    ext_dir = Path(str(browser.get("user_data_dir") or "")) / "Default" / "Extensions"
    installed = sorted(p.name for p in ext_dir.iterdir()) if browser.get("user_data_dir") and ext_dir.is_dir() else []
    observed = {
        "extension_flags": loaded,
        "extensions_disabled_flag": "--disable-extensions" in args,
        "profile_extensions": installed,
        "command_line_seen": bool(browser.get("command_line")),
    }
    why = "an extension can rewrite pages, inject content or read what is captured"
    if loaded or installed:
        return CleanItem("browser-extensions", "FAIL", observed, f"extensions are loaded; {why}")
    if "--disable-extensions" not in args:
        return CleanItem("browser-extensions", "WARN", observed, f"no flag turning extensions off was seen; {why}")
    return CleanItem("browser-extensions", "PASS", observed, f"no extension; extensions are turned off; {why}")


def _proxy_item(urls: Sequence[str], browser_env: Mapping[str, str] | None) -> CleanItem:
    now = proxy_report(urls)
    seen = dict(now["environment_variables"])
    if browser_env is not None:
        for k, v in proxy_report(urls, environ=browser_env)["environment_variables"].items():
            seen.setdefault(f"{k} (browser's environment)", v)
    routing = {k: v for k, v in seen.items() if k.split(" ")[0].lower() != "no_proxy"}
    observed = {"environment_variables": seen, "system": now["system"]}
    why = "a proxy sees, and can change, every page the browser and the raw fetch load"
    if routing or now["system"]:
        return CleanItem(
            "proxy-environment",
            "FAIL",
            observed,
            f"a proxy is configured ({', '.join(routing or now['system'])}); {why}",
        )
    if seen:
        return CleanItem("proxy-environment", "INFO", observed, f"only proxy exceptions (no_proxy) are set; {why}")
    return CleanItem("proxy-environment", "PASS", observed, f"no proxy variable is set; {why}")


def _browser_proxy_item(browser: Mapping[str, Any]) -> CleanItem:
    args = [str(a) for a in browser.get("command_line") or browser.get("launch_args") or []]
    flagged = [a for a in args if a.split("=", 1)[0] in _BROWSER_NETWORK_FLAGS]
    observed = {"flags": flagged, "command_line_seen": bool(browser.get("command_line"))}
    why = "such flags route the browser through a proxy, resolve names to chosen addresses, or accept any certificate"
    if flagged:
        return CleanItem("proxy-browser", "FAIL", observed, f"the browser was started with {', '.join(flagged)}; {why}")
    return CleanItem("proxy-browser", "PASS", observed, f"no proxy, resolver or certificate flag; {why}")


def hosts_file_path(opts: CaptureOptions) -> Path | None:
    """The hosts file the check reads: the option, else ``$EVIDENCE_HOSTS_FILE``, else the system's."""
    if opts.hosts_file is not None:
        return opts.hosts_file
    env = os.environ.get("EVIDENCE_HOSTS_FILE")
    return Path(env) if env else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _hosts_item(hosts: Iterable[str], opts: CaptureOptions, *, label: str = "") -> CleanItem:
    names = [h for h in dict.fromkeys(h.lower().rstrip(".") for h in hosts if h) if not _is_ip(h)]
    found = hosts_file_report(names, hosts_file_path(opts))
    found["ip_addresses_not_looked_up"] = sorted({h for h in hosts if h and _is_ip(h)})
    why = "a hosts-file entry sends a site's name to an address someone chose, whatever the DNS says"
    if not found.get("readable"):
        return CleanItem("hosts-file", "WARN", found, f"the hosts file could not be read{label}; {why}")
    bad = [
        e
        for e in found["entries_for_captured_hosts"]
        if not ((e["host"] in _LOOPBACK_NAMES or e["host"].endswith(".localhost")) and _is_loopback(str(e["address"])))
    ]
    if bad:
        listed = "; ".join(f"{e['host']} -> {e['address']}" for e in bad)
        return CleanItem(
            "hosts-file", "FAIL", found, f"the hosts file overrides a visited host{label} ({listed}); {why}"
        )
    return CleanItem("hosts-file", "PASS", found, f"no entry overrides a visited host{label}; {why}")


def _resolver_item() -> CleanItem:
    return CleanItem(
        "resolver-configuration",
        "INFO",
        resolver_report(),
        "the resolver configured here answers every name lookup of the capture",
    )


def _dns_item(hosts: Sequence[str], opts: CaptureOptions) -> CleanItem:
    names = [h for h in dict.fromkeys(hosts) if h and not _is_ip(h)]
    answers: dict[str, Any] = {}
    for name in names:
        try:
            infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
            answers[name] = sorted({str(i[4][0]) for i in infos})
        except (OSError, UnicodeError) as e:
            answers[name] = f"lookup failed: {e}"
    observed: dict[str, Any] = {"system_resolver": answers, "second_resolver": opts.second_resolver}
    why = "a resolver that answers falsely sends the browser to another server under the site's name"
    if not names:
        return CleanItem("dns-answers", "PASS", observed, f"the visited addresses are IP addresses: no lookup; {why}")
    if not opts.second_resolver:
        return CleanItem(
            "dns-answers",
            "WARN",
            observed,
            f"no second resolver is configured to cross-check the answers (CaptureOptions(second_resolver=IP)); {why}",
        )
    second: dict[str, Any] = {}
    disagree = []
    for name in names:
        try:
            got = sorted(query_dns(opts.second_resolver, name, timeout_s=min(5.0, opts.timeout_s)))
        except OSError as e:
            second[name] = f"query failed: {e}"
            continue
        second[name] = got
        mine = answers.get(name)
        if isinstance(mine, list) and got and not set(mine) & set(got):
            disagree.append(name)
    observed["second_resolver_answers"] = second
    if disagree:
        return CleanItem(
            "dns-answers",
            "WARN",
            observed,
            f"the second resolver gave other addresses for {', '.join(disagree)} (sites with many servers may; the "
            f"addresses are recorded); {why}",
        )
    if any(isinstance(v, str) for v in second.values()):
        return CleanItem("dns-answers", "WARN", observed, f"the second resolver did not answer for every host; {why}")
    return CleanItem("dns-answers", "PASS", observed, f"the second resolver gave the same addresses; {why}")


def query_dns(server: str, name: str, *, timeout_s: float = 5.0) -> set[str]:
    """A and AAAA answers for ``name`` straight from the DNS server ``server`` (UDP port 53,
    or ``host:port``), bypassing the hosts file and the system resolver. OSError on failure."""
    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "53")
    addr = (host.strip("[]"), int(port or 53))
    out: set[str] = set()
    deadline = time.monotonic() + timeout_s
    for qtype in (1, 28):
        qid = secrets.randbelow(65536)
        labels = b"".join(bytes([len(p)]) + p for p in name.rstrip(".").encode("idna").split(b".")) + b"\0"
        query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", qtype, 1)
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.sendto(query, addr)
            data = s.recv(4096)
        out |= _dns_answers(data, qid, qtype)
    return out


def _dns_answers(data: bytes, qid: int, qtype: int) -> set[str]:
    if len(data) < 12:
        raise OSError("the DNS answer is too short")
    rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != qid:
        raise OSError("the DNS answer is for another query")
    if flags & 0x000F not in (0, 3):
        raise OSError(f"the DNS server answered with error code {flags & 0xF}")

    def skip_name(i: int) -> int:
        while i < len(data):
            n = data[i]
            if n & 0xC0 == 0xC0:
                return i + 2
            if n == 0:
                return i + 1
            i += n + 1
        raise OSError("a malformed DNS answer")

    i = 12
    for _ in range(qd):
        i = skip_name(i) + 4
    found: set[str] = set()
    for _ in range(an):
        i = skip_name(i)
        if i + 10 > len(data):
            raise OSError("a malformed DNS answer")
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[i : i + 10])
        rdata = data[i + 10 : i + 10 + rdlen]
        i += 10 + rdlen
        if rtype == qtype == 1 and rdlen == 4:
            found.add(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == qtype == 28 and rdlen == 16:
            found.add(socket.inet_ntop(socket.AF_INET6, rdata))
    return found


def _binary_item(browser: Mapping[str, Any]) -> CleanItem:
    observed = {
        k: browser.get(k)
        for k in ("product", "version", "executable", "executable_sha256", "executable_bytes", "package")
    }
    why = "the program that rendered the page, identified so that it can be obtained again and compared"
    if not browser.get("executable_sha256"):
        return CleanItem("browser-binary", "WARN", observed, f"the program's SHA-256 could not be taken; {why}")
    return CleanItem("browser-binary", "INFO", observed, why)


def _interfaces_item() -> CleanItem:
    found = network_interfaces()
    names = [str(i.get("name") or "") for i in found.get("interfaces") or []]
    tunnels = [n for n in names if n.lower().startswith(_TUNNEL_PREFIXES)]
    why = "a VPN or tunnel changes where the site sees the visitor come from (sites show content by region)"
    if tunnels:
        return CleanItem(
            "network-interfaces", "WARN", found, f"tunnel/VPN interface(s) {', '.join(tunnels)} are up; {why}"
        )
    return CleanItem("network-interfaces", "INFO", found, why)


def _egress_item(opts: CaptureOptions) -> CleanItem:
    why = "the address the site sees the capture come from (sites show content by region)"
    if not opts.egress_echo_url:
        return CleanItem(
            "egress-address",
            "INFO",
            {"service": None},
            f"no address-echo service is configured (CaptureOptions(egress_echo_url=URL)); {why}",
        )
    from evidence._internal.http import fetch

    try:
        got = fetch("GET", opts.egress_echo_url, deadline=min(10.0, opts.timeout_s), limit=_MAX_EGRESS_BYTES)
    except Exception as e:  # requests' errors, and the deadline's
        return CleanItem(
            "egress-address",
            "WARN",
            {"service": opts.egress_echo_url, "error": str(e)[:300]},
            f"the service failed; {why}",
        )
    text = got.body.decode("utf-8", "replace").strip()[:200]
    return CleanItem(
        "egress-address", "INFO", {"service": opts.egress_echo_url, "status": got.status, "answer": text}, why
    )


# ---------------------------------------------------------------------------------------
# The start token and the clock


def _stamp(report: CleanReport, tsas: Sequence[Any], opts: CaptureOptions) -> CleanReport:
    """Ask the TSAs in turn for the start token; add the ``clock`` item."""
    why = "the capture's times come from this computer's clock; an independent time shows whether it was right"
    if not tsas:
        item = CleanItem("clock", "WARN", {"tsa": None}, f"no time-stamping authority is configured; {why}")
        return replace(report, after=(*report.after, item))
    from evidence.errors import EvidenceError
    from evidence.timestamp.client import request_timestamp

    message = start_message(bytes.fromhex(report.report_sha256()), report.nonce)
    failures = []
    for tsa in tsas:
        before = time.time()
        try:
            token = request_timestamp(message, tsa)
        except EvidenceError as e:
            failures.append(f"{tsa.name}: {e.message}")
            continue
        after = time.time()
        local = (before + after) / 2
        gen = token.gen_time.timestamp()
        skew = gen - local
        observed = {
            "tsa": tsa.name,
            "tsa_url": tsa.url,
            "tsa_time": _iso(gen),
            "local_time": _iso(local),
            "difference_ms": round(skew * 1000),
            "round_trip_ms": round((after - before) * 1000),
            "tolerance_s": int(opts.clock_tolerance_s),
        }
        if abs(skew) > opts.clock_tolerance_s:
            verdict, text = (
                "FAIL",
                f"this computer's clock is {_span(abs(skew))} {'behind' if skew > 0 else 'ahead of'} the "
                f"time-stamping authority's (tolerance {_span(opts.clock_tolerance_s)}); {why}",
            )
        else:
            verdict, text = "PASS", f"within {_span(opts.clock_tolerance_s)} of the time-stamping authority's; {why}"
        item = CleanItem("clock", verdict, observed, text)
        return replace(
            report,
            after=(*report.after, item),
            start_token=token.der,
            start_tsa=tsa.url,
            start_gen_time=_iso(gen),
        )
    item = CleanItem(
        "clock",
        "WARN",
        {"tsa": [t.name for t in tsas], "failures": failures},
        f"no time-stamping authority answered, so there is no start token; {why}",
    )
    return replace(report, after=(*report.after, item))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _span(s: float) -> str:
    if s >= 120:
        return f"{s / 60:.0f} minutes"
    return f"{s:.1f} seconds"


# ---------------------------------------------------------------------------------------
# TLS


@functools.lru_cache(maxsize=4)
def _store(path: str) -> tuple[Any, ...]:
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError:
        return ()
    try:
        with warnings.catch_warnings():  # old roots with odd serial numbers are still roots
            warnings.simplefilter("ignore")
            return tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        return ()


def _system_store_path() -> str:
    paths = ssl.get_default_verify_paths()
    return os.environ.get("SSL_CERT_FILE") or paths.cafile or paths.openssl_cafile


def _public_roots() -> tuple[Any, ...] | None:
    try:
        import certifi
    except ImportError:
        return None
    return _store(certifi.where()) or None


def _anchor(chain: Sequence[Any], pool: Sequence[Any]) -> tuple[Any | None, str]:
    """The certificate in ``pool`` that ``chain`` leads to (signatures checked), or None and why."""
    by_fp = {_fp(c) for c in pool}
    current = chain[0]
    rest = list(chain[1:])
    for _ in range(10):
        if _fp(current) in by_fp:
            return current, "the chain ends in a root of the store"
        issuers = [c for c in [*rest, *pool] if c.subject == current.issuer]
        nxt = None
        for cand in issuers:
            try:
                current.verify_directly_issued_by(cand)
            except Exception:  # wrong key, unsupported algorithm: not this issuer
                continue
            nxt = cand
            break
        if nxt is None:
            return None, f"no certificate of the store issued {current.subject.rfc4514_string()}"
        if nxt == current:
            return None, "the chain ends in a self-signed root that is not in the store"
        current = nxt
    return None, "the chain is too long"


def _fp(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import hashes

    return bytes(cert.fingerprint(hashes.SHA256()))


def _tls_item(chains: Mapping[str, Sequence[bytes]], opts: CaptureOptions) -> CleanItem:
    from cryptography import x509

    why = (
        "an interception proxy shows the browser certificates from its own root, which must then be trusted on "
        "this computer; a chain that does not end in a public root can be one"
    )
    if not chains:
        return CleanItem("tls-chains", "INFO", {"chains": {}}, f"no HTTPS certificate chain was recorded; {why}")
    system = _store(_system_store_path())
    public = _public_roots()
    extra = _store(str(opts.trusted_ca)) if opts.trusted_ca else ()
    observed: dict[str, Any] = {
        "system_store": _system_store_path(),
        "system_roots": len(system),
        "public_root_list": "certifi (Mozilla's root program)" if public else None,
        "trusted_ca_option": str(opts.trusted_ca) if opts.trusted_ca else None,
        "insecure_option": opts.insecure,
        "chains": {},
    }
    verdicts = []
    for origin, ders in chains.items():
        try:
            certs = [x509.load_der_x509_certificate(d) for d in ders]
        except ValueError as e:
            observed["chains"][origin] = {"error": f"unreadable certificate: {e}"}
            verdicts.append(("FAIL", f"{origin}: the recorded chain cannot be read"))
            continue
        entry: dict[str, Any] = {
            "subjects": [c.subject.rfc4514_string() for c in certs],
            "sha256": [_fp(c).hex() for c in certs],
        }
        root, reason = _anchor(certs, system) if certs else (None, "empty chain")
        if root is not None:
            entry["root"] = root.subject.rfc4514_string()
            entry["root_sha256"] = _fp(root).hex()
            if public is not None and _fp(root) not in {_fp(c) for c in public}:
                entry["result"] = "ends in a root of the system store that is not in the public root list"
                verdicts.append(("FAIL", f"{origin}: the chain ends in a locally added root, {entry['root']}"))
            else:
                entry["result"] = "ends in a public root of the system store"
                verdicts.append(("PASS", ""))
        else:
            own, _ = _anchor(certs, extra) if extra else (None, "")
            entry["system_store_result"] = reason
            if own is not None:
                entry["root"] = own.subject.rfc4514_string()
                entry["root_sha256"] = _fp(own).hex()
                entry["result"] = "ends in a root of the trusted_ca option, not of the system store"
                verdicts.append(("WARN", f"{origin}: ends in {entry['root']}, trusted only by the trusted_ca option"))
            else:
                last = certs[-1].subject.rfc4514_string() if certs else "?"
                entry["result"] = "does not end in a root of the system store"
                verdicts.append(
                    (
                        "FAIL",
                        f"{origin}: the chain does not end in a root of the system trust store ({reason}; last "
                        f"certificate {last})",
                    )
                )
        observed["chains"][origin] = entry
    worst = next((v for v in ("FAIL", "WARN") if any(x == v for x, _ in verdicts)), "PASS")
    said = "; ".join(t for v, t in verdicts if v == worst and t)
    if worst == "PASS":
        return CleanItem(
            "tls-chains", "PASS", observed, f"every chain ends in a public root of the system store; {why}"
        )
    return CleanItem("tls-chains", worst, observed, f"{said}; {why}")


# ---------------------------------------------------------------------------------------
# The two moments


def run_clean_check(
    hosts: Sequence[str],
    options: CaptureOptions,
    *,
    browser: Mapping[str, Any],
    urls: Sequence[str] = (),
    browser_env: Mapping[str, str] | None = None,
    tsas: Sequence[Any] = (),
) -> CleanReport:
    """The check before the first request to the site (see the module docstring).

    ``hosts``: the host names known before the first request (the start URL's);
    ``browser``: the running browser's facts (``Capturer.browser_info``); ``browser_env``:
    the environment the browser was started with; ``tsas``: the TSAs to ask for the start
    token (in order; the first that answers). Raises :class:`UncleanEnvironmentError` on a
    FAIL that ``options.allow_unclean`` does not allow (before asking any TSA); a FAIL of
    the ``clock`` item is raised by :func:`enforce`, which the caller runs afterwards.
    """
    before = (
        _profile_item(browser, options),
        _extensions_item(browser),
        _proxy_item(list(urls) or [f"http://{h}/" for h in hosts], browser_env),
        _browser_proxy_item(browser),
        _hosts_item(hosts, options),
        _resolver_item(),
        _dns_item(hosts, options),
        _interfaces_item(),
        _egress_item(options),
    )
    report = _allow(CleanReport(utc_now(), before, secrets.token_bytes(32), allowed=options.allow_unclean))
    enforce(report)
    return enforce(_allow(_stamp(report, tsas, options)))


def recheck_hosts(
    report: CleanReport,
    hosts: Iterable[str],
    options: CaptureOptions,
    *,
    chains: Mapping[str, Sequence[bytes]] | None = None,
    browser: Mapping[str, Any] | None = None,
) -> CleanReport:
    """Before sealing: the hosts file for hosts reached after the check (resources,
    redirects, later steps), and the TLS chains recorded (``origin -> DER certificates``).
    ``browser``: the browser's facts with its binary's SHA-256 (the ``browser-binary`` item).
    Returns the completed report; raises :class:`UncleanEnvironmentError` on a FAIL not allowed."""
    checked = set()
    for item in report.before:
        if item.check == "hosts-file" and isinstance(item.observed, dict):
            checked |= set(item.observed.get("captured_hosts_checked") or [])
    later = [h for h in dict.fromkeys(h.lower().rstrip(".") for h in hosts if h) if h not in checked and not _is_ip(h)]
    added = list(report.after)
    if later:
        added.append(_hosts_item(later, options, label=" (among the hosts reached later)"))
    if chains is not None:
        added.append(_tls_item(chains, options))
    if browser is not None and not any(i.check == "browser-binary" for i in report.items):
        added.append(_binary_item(browser))
    return enforce(_allow(replace(report, after=tuple(added))))


def _allow(report: CleanReport) -> CleanReport:
    def mark(items: tuple[CleanItem, ...]) -> tuple[CleanItem, ...]:
        return tuple(
            replace(i, overridden=True) if i.verdict == "FAIL" and i.check in report.allowed else i for i in items
        )

    return replace(report, before=mark(report.before), after=mark(report.after))


def enforce(report: CleanReport) -> CleanReport:
    """``report`` itself, or :class:`UncleanEnvironmentError` naming its first FAIL not allowed."""
    failed = report.failures()
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more: {', '.join(i.check for i in failed[1:])})" if len(failed) > 1 else ""
        raise UncleanEnvironmentError(
            f"The clean-environment check failed on '{first.check}': {first.why}{more}. "
            "Nothing was captured or sealed.",
            hint=f"Fix it and capture again; or, if you know why and accept it, capture with "
            f"--allow-unclean {first.check} (recorded in the bundle and shown on the certificate).",
            item=first.check,
        )
    return report
