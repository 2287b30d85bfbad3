"""Checking the address to capture before anything touches the network or the disk."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from evidence.capture.errors import InvalidURLError

__all__ = ["Target", "check_url"]

_HINT = "Give the full web address as shown in the browser's address bar, for example https://www.example.com/item/123."
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True)
class Target:
    """A checked http(s) address, split into the parts a capture needs."""

    url: str
    scheme: str
    host: str  # lower case, IDNA (punycode) for international names, no IPv6 brackets
    port: int
    is_ip_literal: bool

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def check_url(url: str) -> Target:
    """Accept only absolute http:// and https:// addresses with a valid host.

    Surrounding whitespace is removed; anything else unusual is refused with a
    :class:`~evidence.capture.errors.InvalidURLError` that says why.
    """
    if not isinstance(url, str):
        raise InvalidURLError(f"The address to capture must be text, not {type(url).__name__}.")
    text = url.strip()
    if not text:
        raise InvalidURLError("No web address was given.", hint=_HINT)
    if len(text) > 16_384:
        raise InvalidURLError("The web address is too long (over 16,384 characters).", hint=_HINT)
    hidden = next((c for c in text if c != " " and unicodedata.category(c) in _INVISIBLE), None)
    if hidden is not None:
        name = unicodedata.name(hidden, "an unnamed character")
        what = "a byte-order mark, as some spreadsheet programs write" if hidden == "\ufeff" else name.lower()
        raise InvalidURLError(
            f"The web address {_shown(text)} contains an invisible character: U+{ord(hidden):04X} ({what}).",
            hint="Remove it (retype the address, or save the list as plain UTF-8 text). " + _HINT,
        )
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise InvalidURLError(
            f"The web address {text[:200]!r} contains spaces or control characters.",
            hint=_HINT + " Spaces inside an address must be written as %20.",
        )
    scheme, sep, _rest = text.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise InvalidURLError(
            f"{text[:200]!r} is not a complete web address: it does not start with http:// or https://.",
            hint=_did_you_mean(text) + _HINT,
        )
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidURLError(
            f"Only web pages (addresses starting with http:// or https://) can be captured; "
            f"this address starts with '{scheme}:'.",
            hint="Addresses such as file:, javascript:, data: or ftp: do not point to a web "
            "server a court could check. Capture the web page that shows the content instead.",
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise InvalidURLError(
            f"The web address {text[:200]!r} is malformed ({err}).", hint=_HINT
        ) from None
    if not text[len(scheme) + 1 :].startswith("//") or not parts.hostname:
        raise InvalidURLError(f"The web address {text[:200]!r} names no web site.", hint=_did_you_mean(text) + _HINT)
    if parts.username is not None or parts.password is not None:
        raise InvalidURLError(
            "The web address contains a user name or password (user:password@...); these would "
            "be written into the evidence.",
            hint="Remove them from the address. For pages behind a login, sign in with a "
            "browser and pass its exported cookies / storage state instead.",
        )
    host = parts.hostname.rstrip(".") if parts.hostname != "." else ""
    is_ip = _is_ip(host)
    if not is_ip:
        if "[" in parts.netloc:
            raise InvalidURLError(
                f"The web address {text[:200]!r} has a malformed IPv6 address.", hint=_HINT
            )
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            host = ""
        labels = host.split(".")
        if not host or len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
            raise InvalidURLError(
                f"The site name {parts.hostname!r} in the web address is not a valid name.",
                hint=_HINT,
            )
    default = 443 if scheme == "https" else 80
    if port == 0:
        raise InvalidURLError(f"The web address {text[:200]!r} has port 0.", hint=_HINT)
    return Target(url=text, scheme=scheme, host=host, port=port or default, is_ip_literal=is_ip)


#: Unicode categories of characters that show as nothing (or as a plain space) on screen:
#: format characters (byte-order mark, zero-width space, direction marks) and separators.
_INVISIBLE = frozenset({"Cf", "Zs", "Zl", "Zp"})
_SCHEME_TYPO = re.compile(r"^(https?)\s*[:;.,]?\s*/*\\*\s*(?=[^/\\:])", re.IGNORECASE)


def _shown(text: str) -> str:
    return ascii(text[:200])


def _did_you_mean(text: str) -> str:
    """'Did you mean X? ' for an address with a mistyped or missing scheme, where X is a
    valid address (never a suggestion that itself would be refused); else ''."""
    typo = _SCHEME_TYPO.match(text)
    if typo:
        candidate = f"{typo.group(1).lower()}://{text[typo.end():]}"
    elif re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}(?:[:/?#]|$)", text):
        candidate = f"https://{text}"  # a bare site name: www.example.com/item
    else:
        return ""
    if candidate == text:
        return ""
    try:
        check_url(candidate)
    except InvalidURLError:
        return ""
    return f"Did you mean {candidate}? "


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
