"""Capture options: one frozen value, validated when it is made.

Everything a capture can be told is here, and everything here is recorded in
``capture.json`` under ``options`` (the storage-state file only as its name, digest and
counts: never a cookie value).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.capture.budget import DEFAULT_BUDGET_S
from evidence.capture.errors import InvalidOptionError, StorageStateError

__all__ = ["CaptureOptions", "StorageState", "load_storage_state"]

MiB = 1024 * 1024

#: The clean-environment check's items (:mod:`evidence.capture.clean`), in report order:
#: what ``allow_unclean`` may name.
CLEAN_CHECKS: tuple[str, ...] = (
    "browser-profile",
    "browser-extensions",
    "proxy-environment",
    "proxy-browser",
    "hosts-file",
    "resolver-configuration",
    "dns-answers",
    "browser-binary",
    "network-interfaces",
    "egress-address",
    "clock",
    "tls-chains",
)


@dataclass(frozen=True)
class CaptureOptions:
    """How to capture a page. All fields have defaults; invalid values raise
    :class:`~evidence.capture.errors.InvalidOptionError` at construction.

    Attributes:
        viewport_width, viewport_height: the browser window in CSS pixels (default
            1280 x 800). The viewport screenshot has this size; the full-page screenshot
            has this width.
        user_agent: the User-Agent header and ``navigator.userAgent``. ``None`` uses the
            browser's own, with "HeadlessChrome" replaced by "Chrome" so that sites serve
            what a person's Chrome would get. The raw fetch sends the same value.
        timeout_s: the longest wait, in seconds, for each of: the DNS lookup, the raw
            fetch, the browser loading the page (its ``load`` event) and ``wait_selector``.
            Each wait is also bounded by ``budget_s``.
        budget_s: the longest a whole capture may take, in seconds (default 120), every
            artifact included: loading gets at most 40 % of it, each artifact a share
            (see :mod:`evidence.capture.budget`). An artifact that would exceed its share
            is skipped (or cut), and ``capture.json`` → ``budget`` and ``warnings`` say so.
        pdf, mhtml: make ``page.pdf`` / ``page.mhtml`` (default True). When False, the file
            is not written and ``capture.json`` records it as ``"off"``.
        wait_selector: a CSS selector that must be present before the page is recorded
            (the capture fails if it does not appear within ``timeout_s``).
        wait_ms: extra milliseconds to wait after the page settled, before recording.
        storage_state: a Playwright storage-state JSON file or a Netscape ``cookies.txt``
            file, for pages behind a login. Recorded as used, with its SHA-256, never
            its values; cookie request headers are redacted in the WARC.
        insecure: accept HTTPS certificates that fail verification (self-signed,
            expired, wrong name). Recorded, together with the verification error.
        max_body_bytes: the largest response body accepted (decoded), for the page and
            for each resource. A larger one fails the capture.
        full_page_max_height: the full-page screenshot is cut at this many CSS pixels;
            the real height, the cap and whether it was cut are recorded.
        scroll: scroll through the page (up to the cap) so lazy-loaded content loads.
        settle_ms: how long the network must be quiet (no request in flight) before the
            page counts as settled. Recording starts 200 ms earlier (at most half of
            ``settle_ms`` earlier) and is done again if the network wakes up before
            ``settle_ms`` of quiet has passed.
        settle_max_s: the longest to wait for that quiet (busy pages never go quiet; the
            capture then goes on and records that it did not).
        dom_quiet_ms: how long the page's DOM must not have changed (no element, text
            or attribute added, removed or changed) before the page counts as settled.
        timer_wait_ms: a timer the page set (``setTimeout``) that is due within this many
            milliseconds is waited for (content revealed by a timer, without a request).
        dom_settle_max_s: the longest to wait for the DOM to go quiet and the page's
            timers to fire, and to record again when it changed while being recorded; a
            page that never stops changing (a ticker, a countdown) is recorded within
            this bound and flagged, with the artifacts that may show another moment.
        max_redirects: the most HTTP redirects followed before the capture fails as a loop.
        operator, case, notes: free text about who captured and why, recorded in
            ``environment.json`` and ``capture.json``.
        allow_unclean: names of clean-environment checks (:data:`CLEAN_CHECKS`) whose FAIL
            the user accepts knowingly: the capture goes on, and the override is recorded in
            ``clean-environment.json``, on the certificate and in ``evidence verify``'s report.
        hosts_file: the hosts file the clean-environment check reads (default
            ``$EVIDENCE_HOSTS_FILE``, else the system's, ``/etc/hosts``).
        second_resolver: a DNS server (``IP`` or ``IP:PORT``) asked directly to cross-check
            the system resolver's answers; without one the ``dns-answers`` item is a WARN.
        egress_echo_url: a service that answers with the address it sees the request come
            from (the ``egress-address`` item); without one that item only says so.
        trusted_ca: a PEM file of root certificates trusted besides the system store (a
            private or intranet CA): a chain ending in one is a WARN, not a FAIL.
        clock_tolerance_s: the largest difference between this computer's clock and the
            start token's time that passes the ``clock`` item (default 300 s).
    """

    viewport_width: int = 1280
    viewport_height: int = 800
    user_agent: str | None = None
    timeout_s: float = 30.0
    wait_selector: str | None = None
    wait_ms: int = 0
    storage_state: Path | None = None
    insecure: bool = False
    max_body_bytes: int = 50 * MiB
    full_page_max_height: int = 20_000
    scroll: bool = True
    settle_ms: int = 500
    settle_max_s: float = 10.0
    dom_quiet_ms: int = 500
    timer_wait_ms: int = 3000
    dom_settle_max_s: float = 5.0
    max_redirects: int = 20
    operator: str | None = None
    case: str | None = None
    notes: str | None = None
    budget_s: float = DEFAULT_BUDGET_S
    pdf: bool = True
    mhtml: bool = True
    allow_unclean: tuple[str, ...] = ()
    hosts_file: Path | None = None
    second_resolver: str | None = None
    egress_echo_url: str | None = None
    trusted_ca: Path | None = None
    clock_tolerance_s: float = 300.0

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> InvalidOptionError:
            value = getattr(self, field)
            return InvalidOptionError(
                f"The capture option {field}={value!r} cannot be used: {why}."
            )

        for name, low, high in (
            ("viewport_width", 100, 10_000),
            ("viewport_height", 100, 10_000),
            ("full_page_max_height", 100, 1_000_000),
            ("max_redirects", 0, 100),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise bad(name, f"it must be a whole number from {low} to {high}")
        for name in ("wait_ms", "settle_ms", "dom_quiet_ms", "timer_wait_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 600_000:
                raise bad(name, "it must be a whole number of milliseconds from 0 to 600000")
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise bad("max_body_bytes", "it must be a positive whole number of bytes")
        for name in ("timeout_s", "settle_max_s", "dom_settle_max_s"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or not 0 < value <= 3600
            ):
                raise bad(name, "it must be a number of seconds above 0 and at most 3600")
        if (
            not isinstance(self.budget_s, int | float)
            or isinstance(self.budget_s, bool)
            or not math.isfinite(self.budget_s)
            or not 5 <= self.budget_s <= 7200
        ):
            raise bad("budget_s", "it must be a number of seconds from 5 to 7200")
        for name in ("user_agent", "wait_selector", "operator", "case", "notes"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise bad(name, "it must be text")
        if self.user_agent is not None and (
            not self.user_agent.strip() or any(c in self.user_agent for c in "\r\n\0")
        ):
            raise bad("user_agent", "it must be one non-empty line of text")
        if self.wait_selector is not None and not self.wait_selector.strip():
            raise bad("wait_selector", "it must not be empty")
        for name in ("storage_state", "hosts_file", "trusted_ca"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                if not isinstance(value, str | os.PathLike):
                    raise bad(name, "it must be a file name")
                object.__setattr__(self, name, Path(value))
        allowed = (self.allow_unclean,) if isinstance(self.allow_unclean, str) else self.allow_unclean
        if not isinstance(allowed, tuple | list) or not all(isinstance(a, str) for a in allowed):
            raise bad("allow_unclean", "it must be a list of check names")
        unknown = [a for a in allowed if a not in CLEAN_CHECKS]
        if unknown:
            raise bad("allow_unclean", f"{', '.join(unknown)} is not a check; the checks are {', '.join(CLEAN_CHECKS)}")
        object.__setattr__(self, "allow_unclean", tuple(dict.fromkeys(allowed)))
        for name in ("second_resolver", "egress_echo_url"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise bad(name, "it must be non-empty text")
        if self.egress_echo_url is not None and not self.egress_echo_url.startswith(("http://", "https://")):
            raise bad("egress_echo_url", "it must be an http:// or https:// address")
        tol = self.clock_tolerance_s
        if not isinstance(tol, int | float) or isinstance(tol, bool) or not math.isfinite(tol) or not 1 <= tol <= 86400:
            raise bad("clock_tolerance_s", "it must be a number of seconds from 1 to 86400")
        if not all(isinstance(getattr(self, n), bool) for n in ("insecure", "scroll", "pdf", "mhtml")):
            raise InvalidOptionError(
                "The capture options insecure, scroll, pdf and mhtml must be True or False."
            )

    def replace(self, **changes: Any) -> CaptureOptions:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The options as recorded in ``capture.json`` (storage state as its file name only)."""
        out = dataclasses.asdict(self)
        out["storage_state"] = self.storage_state.name if self.storage_state else None
        for name in ("hosts_file", "trusted_ca"):
            value = getattr(self, name)
            out[name] = str(value) if value is not None else None
        out["allow_unclean"] = list(self.allow_unclean)
        return out


@dataclass(frozen=True)
class StorageState:
    """A loaded cookies / storage-state file. ``state`` holds the secret values and is
    handed to the browser only; :meth:`summary` is what gets recorded."""

    path: Path
    sha256: str
    file_format: str  # "playwright-storage-state" or "netscape-cookies"
    state: dict[str, Any] = dataclasses.field(repr=False)

    @property
    def cookies(self) -> list[dict[str, Any]]:
        cookies: list[dict[str, Any]] = self.state.get("cookies", [])
        return cookies

    def summary(self) -> dict[str, Any]:
        """Recorded facts: used, file name, SHA-256, format, counts and cookie domains."""
        domains = sorted({str(c.get("domain", "")).lstrip(".") for c in self.cookies})
        return {
            "used": True,
            "file_name": self.path.name,
            "sha256": self.sha256,
            "format": self.file_format,
            "cookies": len(self.cookies),
            "cookie_domains": domains,
            "origins_with_local_storage": len(self.state.get("origins", [])),
        }


MAX_STORAGE_STATE_BYTES = 64 << 20


def load_storage_state(path: Path) -> StorageState:
    """Read a Playwright storage-state JSON file or a Netscape ``cookies.txt`` file."""
    from evidence._internal.files import read_file

    try:
        data = read_file(path, limit=MAX_STORAGE_STATE_BYTES, what="file", error=StorageStateError)
    except StorageStateError as err:
        raise StorageStateError(
            f"The cookies / storage-state file could not be read: {err.message}",
            hint="Check the file name and that you may read it.",
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            state = json.loads(text)
        except ValueError as err:
            raise StorageStateError(
                f"The storage-state file {path} is not valid JSON ({err}).",
                hint="Export it again with Playwright's context.storage_state(path=...).",
            ) from None
        if (
            not isinstance(state, dict)
            or not isinstance(state.get("cookies", []), list)
            or not isinstance(state.get("origins", []), list)
        ):
            raise StorageStateError(
                f"The storage-state file {path} does not have the expected 'cookies' and 'origins' lists.",
                hint="Export it again with Playwright's context.storage_state(path=...).",
            )
        state.setdefault("cookies", [])
        state.setdefault("origins", [])
        return StorageState(path, digest, "playwright-storage-state", state)
    return StorageState(path, digest, "netscape-cookies", _netscape_cookies(path, text))


def _netscape_cookies(path: Path, text: str) -> dict[str, Any]:
    """Parse the tab-separated Netscape cookies.txt format (as curl and browser add-ons
    export it): domain, include-subdomains, path, secure, expiry, name, value."""
    cookies: list[dict[str, Any]] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip("\r\n")
        http_only = line.startswith("#HttpOnly_")
        if http_only:
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise StorageStateError(
                f"The file {path} is neither a Playwright storage-state JSON file nor a "
                f"Netscape cookies.txt file (line {number} does not have 7 tab-separated "
                "fields).",
                hint="Export the cookies again as cookies.txt, or use Playwright's storage_state.",
            )
        domain, _subdomains, cookie_path, secure, expires, name, value = fields
        try:
            expiry = float(expires)
        except ValueError:
            expiry = 0.0
        cookies.append(
            {
                "name": name,
                "value": value,
                "domain": domain,
                "path": cookie_path or "/",
                "expires": expiry if expiry > 0 else -1,
                "httpOnly": http_only,
                "secure": secure.upper() == "TRUE",
                "sameSite": "Lax",
            }
        )
    if not cookies:
        raise StorageStateError(
            f"The cookies file {path} holds no cookies.",
            hint="Export the cookies again while signed in to the site.",
        )
    return {"cookies": cookies, "origins": []}
