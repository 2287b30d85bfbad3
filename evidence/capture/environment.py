"""The capture environment report (``environment.json``): record it, don't assert it.

Courts ask how clean the capture environment was. This module writes down what can be
observed without special privileges: the software and versions, the operating system,
the clock and whether it says it is synchronised, the local network addresses, the proxy
settings in force, whether the hosts file overrides the captured host, the resolver
configuration, the state of the browser profile, and the operator's own notes. Where a
fact cannot be observed on a platform, the report says so (``null`` plus the method).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import getpass
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import struct
import subprocess
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ENVIRONMENT_FORMAT",
    "clock_report",
    "environment_report",
    "hosts_file_report",
    "network_interfaces",
    "proxy_report",
    "resolver_report",
    "software_report",
    "system_snapshot",
    "utc_now",
]

ENVIRONMENT_FORMAT = "evidence-environment/1"

_PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


def utc_now() -> str:
    """The system clock now, ISO 8601 UTC with microseconds (``...Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def package_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_command(argv: list[str], timeout: float = 2.0) -> str | None:
    """Output of a small system command, or None if it is missing or fails."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _system_file(path: Path) -> bytes:
    """A system file (``/etc/hosts``, ``/etc/resolv.conf``, ...): a regular file of at most
    1 MiB, else unreadable (OSError), like a missing one."""
    from evidence._internal.files import MAX_CONFIG_BYTES, read_file
    from evidence.errors import EvidenceError

    try:
        return read_file(path, limit=MAX_CONFIG_BYTES, what="system file")
    except EvidenceError as e:
        raise OSError(e.message) from e


def software_report() -> dict[str, Any]:
    """Tool, Python, library and operating-system versions (the same for a whole batch)."""
    os_release: dict[str, str] = {}
    try:
        for line in _system_file(Path("/etc/os-release")).decode("utf-8", "replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                os_release[key] = value.strip().strip('"')
    except OSError:
        pass
    try:
        user: str | None = getpass.getuser()
    except Exception:  # no user name available (containers)
        user = None
    return {
        "tool": {
            "name": "evidence",
            "distribution": "preserve-evidence",
            "version": package_version("preserve-evidence"),
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "libraries": {
            name: package_version(name)
            for name in ("playwright", "warcio", "requests", "urllib3", "cryptography")
        },
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "version": platform.version(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "distribution": os_release.get("PRETTY_NAME"),
            "hostname": socket.gethostname(),
            "user": user,
        },
    }


# -- clock ---------------------------------------------------------------------------------

_TIME_STATES = {
    0: "TIME_OK (synchronised)",
    1: "TIME_INS (synchronised, leap second pending)",
    2: "TIME_DEL (synchronised, leap second pending)",
    3: "TIME_OOP (leap second in progress)",
    4: "TIME_WAIT (leap second just happened)",
    5: "TIME_ERROR (clock not synchronised)",
}


def _kernel_clock() -> dict[str, Any] | None:
    """Linux adjtimex(2) read-only query: the kernel's own synchronisation state."""
    if not sys.platform.startswith("linux") or struct.calcsize("l") != 8:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, modes=0: read only
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    maxerror, esterror = struct.unpack_from("@qq", buf.raw, 24)
    return {
        "method": "adjtimex(2)",
        "state": _TIME_STATES.get(state, str(state)),
        "synchronized": state in (0, 1, 2, 3, 4),
        "max_error_us": maxerror,
        "estimated_error_us": esterror,
    }


def ntp_status() -> dict[str, Any]:
    """Whether the system says its clock is synchronised (``timedatectl`` on systemd
    Linux) and the kernel's own view (``adjtimex``)."""
    ntp: bool | None = None
    method = "not available"
    if sys.platform.startswith("linux"):
        out = run_command(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
        if out is not None:
            ntp = out.strip() == "yes"
            method = "timedatectl"
    return {"ntp_synchronized": ntp, "ntp_check": method, "kernel": _kernel_clock()}


def clock_report(
    started_at: str, finished_at: str, status: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Capture start/end from the system clock, the time zone and any sync evidence."""
    local = dt.datetime.now().astimezone()
    return {
        "source": "the system clock of this computer (not independently verified; the "
        "signed timestamps of the log are the independent proof of time)",
        "capture_started_at": started_at,
        "capture_finished_at": finished_at,
        "local_timezone": local.tzname(),
        "local_utc_offset": local.strftime("%z"),
        **(status if status is not None else ntp_status()),
    }


# -- network -------------------------------------------------------------------------------


def network_interfaces() -> dict[str, Any]:
    """Local network interfaces and their addresses (``ip -json addr`` on Linux; else the
    addresses the host name resolves to)."""
    out = run_command(["ip", "-json", "addr"]) if sys.platform.startswith("linux") else None
    if out:
        try:
            data = json.loads(out)
            interfaces = [
                {
                    "name": iface.get("ifname"),
                    "state": iface.get("operstate"),
                    "mac": iface.get("address"),
                    "addresses": [
                        f"{a.get('local')}/{a.get('prefixlen')}"
                        for a in iface.get("addr_info", [])
                        if a.get("local")
                    ],
                }
                for iface in data
            ]
            return {"method": "ip -json addr", "interfaces": interfaces}
        except (ValueError, AttributeError):
            pass
    addresses: list[str] = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
    except OSError:
        pass
    return {
        "method": "addresses of the host name (getaddrinfo)",
        "interfaces": None,
        "hostname_addresses": addresses,
    }


def _redact_proxy(value: str) -> str:
    """Remove a password from a proxy URL (user names are kept)."""
    try:
        parts = urlsplit(value if "://" in value else f"http://{value}")
    except ValueError:
        return value
    if parts.password is None:
        return value
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def proxy_report(
    urls: Iterable[str], browser_proxy: str | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Proxy settings in force: environment variables, the system's (as Python reads
    them), what the raw fetch used per URL, and what the browser was told."""
    env = os.environ if environ is None else environ
    variables = {k: _redact_proxy(v) for k in _PROXY_VARS if (v := env.get(k))}
    system = {k: _redact_proxy(v) for k, v in urllib.request.getproxies().items()}
    per_url = {}
    for url in urls:
        scheme = urlsplit(url).scheme
        host = urlsplit(url).hostname or ""
        bypass = bool(urllib.request.proxy_bypass(host)) if system else True
        per_url[url] = None if bypass or scheme not in system else system[scheme]
    return {
        "environment_variables": variables,
        "system": system,
        "raw_fetch_proxy_by_url": per_url,
        "browser": browser_proxy
        or "none set by evidence; Chromium follows the system proxy configuration (on "
        "Linux without a desktop session: the *_proxy environment variables above)",
        "any_proxy_configured": bool(variables or system),
    }


def _hosts_path() -> Path:
    if sys.platform.startswith("win"):
        root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        return Path(root) / "System32" / "drivers" / "etc" / "hosts"
    return Path("/etc/hosts")


def hosts_file_report(hosts: Iterable[str], path: Path | None = None) -> dict[str, Any]:
    """Whether the hosts file maps any captured host name to a fixed address."""
    path = path or _hosts_path()
    names = sorted({h.lower().rstrip(".") for h in hosts if h})
    try:
        data = _system_file(path)
    except OSError as err:
        return {
            "path": str(path),
            "readable": False,
            "error": str(err.strerror or err),
            "overrides_captured_host": None,
            "entries_for_captured_hosts": [],
        }
    entries = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        content = line.split("#", 1)[0].split()
        if len(content) < 2:
            continue
        address, aliases = content[0], [a.lower().rstrip(".") for a in content[1:]]
        for name in names:
            if name in aliases:
                entries.append({"host": name, "address": address, "line": line.strip()})
    return {
        "path": str(path),
        "readable": True,
        "sha256": hashlib.sha256(data).hexdigest(),
        "captured_hosts_checked": names,
        "overrides_captured_host": bool(entries),
        "entries_for_captured_hosts": entries,
    }


def resolver_report() -> dict[str, Any]:
    """The DNS resolver configuration (``/etc/resolv.conf`` and the ``hosts:`` line of
    ``/etc/nsswitch.conf`` on Unix; not readable this way on Windows)."""
    report: dict[str, Any] = {}
    resolv = Path("/etc/resolv.conf")
    try:
        data = _system_file(resolv)
        nameservers, search, options = [], [], []
        for line in data.decode("utf-8", errors="replace").splitlines():
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "nameserver" and len(fields) > 1:
                nameservers.append(fields[1])
            elif fields[0] in ("search", "domain"):
                search.extend(fields[1:])
            elif fields[0] == "options":
                options.extend(fields[1:])
        report["resolv_conf"] = {
            "path": str(resolv),
            "sha256": hashlib.sha256(data).hexdigest(),
            "nameservers": nameservers,
            "search": search,
            "options": options,
        }
    except OSError:
        report["resolv_conf"] = None
    try:
        text = _system_file(Path("/etc/nsswitch.conf")).decode("utf-8", errors="replace")
        match = re.search(r"^\s*hosts:\s*(.+)$", text, re.MULTILINE)
        report["nsswitch_hosts"] = match.group(1).strip() if match else None
    except OSError:
        report["nsswitch_hosts"] = None
    if sys.platform.startswith("win"):
        report["note"] = "Windows keeps resolver settings per network adapter; not read."
    return report


def system_snapshot() -> dict[str, Any]:
    """The slower, per-capture system facts (clock sync, interfaces, resolver). Cheap to
    run in a background thread while the browser works."""
    return {
        "clock_status": ntp_status(),
        "network": network_interfaces(),
        "resolver": resolver_report(),
    }


def environment_report(
    *,
    software: Mapping[str, Any],
    browser: Mapping[str, Any],
    profile: Mapping[str, Any],
    started_at: str,
    finished_at: str,
    hosts: Iterable[str],
    urls: Iterable[str],
    local_address: Mapping[str, Any] | None,
    operator: str | None,
    case: str | None,
    notes: str | None,
    snapshot: Mapping[str, Any] | None = None,
    fonts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble ``environment.json`` for one capture (``snapshot`` from
    :func:`system_snapshot`, taken during the capture; taken now if not given; ``fonts``
    from :func:`evidence.capture.fonts.installed_fonts`)."""
    snap = snapshot if snapshot is not None else system_snapshot()
    return {
        "format": ENVIRONMENT_FORMAT,
        **software,
        "browser": dict(browser),
        "browser_profile": dict(profile),
        "clock": clock_report(started_at, finished_at, snap["clock_status"]),
        "network": {
            **snap["network"],
            "local_address_used_by_raw_fetch": dict(local_address) if local_address else None,
        },
        "proxy": proxy_report(urls),
        "hosts_file": hosts_file_report(list(hosts)),
        "resolver": snap["resolver"],
        "fonts": dict(fonts) if fonts is not None else None,
        "operator": {"name": operator, "case": case, "notes": notes},
    }
