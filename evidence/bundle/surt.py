"""SURT keys for CDXJ index lines, exactly as the web-archiving tools compute them.

A WACZ's ``indexes/index.cdx`` is sorted by the SURT (Sort-friendly URI Reordering
Transform) of each record's URL, and replay tools look a URL up by computing its SURT the
same way. The reference is the Internet Archive's canonicalization, as implemented by the
``surt`` package that pywb and py-wacz use (``surt.surt(url)`` with its defaults: the
"Google" canonicalizer, then the "IA" canonicalizer, then host reversal):

1. Trim; remove tabs and line breaks; add ``http://`` if there is no scheme; collapse a
   repeated ``http://`` / ``https://`` prefix. Split as RFC 2396 Appendix B does.
2. Drop the fragment and any user:password.
3. Host: percent-decode repeatedly; IDNA-encode a non-ASCII name; collapse ``..``; strip
   dots at the ends; write a numeric IPv4 host (decimal, octal, hex, short forms) as a
   dotted quad; otherwise lowercase it and percent-encode once; drop a leading ``www.``
   (or ``www2.`` etc.).
4. Path: percent-decode repeatedly; resolve ``.`` and ``..`` segments and drop empty ones;
   percent-encode once; lowercase; strip ASP.NET session IDs; drop one trailing slash
   (not from ``/``).
5. Query: percent-decode repeatedly and encode once; strip session IDs (jsessionid,
   phpsessid, sid, ASPSESSIONID, cfid/cftoken); lowercase; sort its ``&`` parts (keeping
   ``a`` and ``a=`` distinct); an empty query disappears.
6. Port: dropped when it is the scheme's default (80, 443).
7. Key: the host's labels reversed and joined by ``,`` (IPv4 addresses too), ``:port``,
   ``)``, the path (``/`` if empty), ``?query``.

``https://www.Example.com:443/Path/?b=2&a=1`` -> ``com,example)/path?a=1&b=2``.

Pure: no I/O (numeric hosts are parsed with ``inet_aton``, never looked up).
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
from urllib.parse import SplitResultBytes, quote_from_bytes, unquote_to_bytes

__all__ = ["surt"]

_SPACES = re.compile(rb"[\n\r\t]")
_HAS_SCHEME = re.compile(rb"^([a-zA-Z][a-zA-Z0-9+\-.]*):")
_MULTIPLE_PROTOCOLS = re.compile(rb"^(https?://)+")
_RFC2396 = re.compile(rb"^(([a-zA-Z][a-zA-Z0-9+.-]*):)?((//([^/?#]*))?([^?#]*)(\?([^#]*))?)?(#(.*))?$")
_WWW = re.compile(rb"www\d*\.")
_DECIMAL_IP = re.compile(rb"^([1-9][0-9]*)(\.[0-9]+)?(\.[0-9]+)?(\.[0-9]+)?$")
_OCTAL_IP = re.compile(rb"^(0[0-7]*)(\.[0-7]+)?(\.[0-7]+)?(\.[0-7]+)?$")
#: Characters left as they are when percent-encoding (besides letters, digits and ``_.-~``).
_SAFE = b"!\"$&'()*+,-./:;<=>?@[\\]^_`{|}~"
_PATH_SESSION_IDS = (
    re.compile(rb"^(.*/)(\((?:[a-z]\([0-9a-z]{24}\))+\)/)([^\?]+\.aspx.*)$", re.I),
    re.compile(rb"^(.*/)(\([0-9a-z]{24}\)/)([^\?]+\.aspx.*)$", re.I),
)
_QUERY_SESSION_IDS = (
    re.compile(rb"^(.*)(?:jsessionid=[0-9a-zA-Z]{32})(?:&(.*))?$", re.I),
    re.compile(rb"^(.*)(?:phpsessid=[0-9a-zA-Z]{32})(?:&(.*))?$", re.I),
    re.compile(rb"^(.*)(?:sid=[0-9a-zA-Z]{32})(?:&(.*))?$", re.I),
    re.compile(rb"^(.*)(?:ASPSESSIONID[a-zA-Z]{8}=[a-zA-Z]{24})(?:&(.*))?$", re.I),
    re.compile(rb"^(.*)(?:cfid=[^&]+&cftoken=[^&]+)(?:&(.*))?$", re.I),
)
_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def surt(url: str) -> str:
    """The SURT key of ``url`` (see the module docstring); ``-`` for an empty URL."""
    raw = url.encode("utf-8").strip()
    raw = _SPACES.sub(b"", raw)
    if not raw:
        return "-"
    if raw.startswith(b"filedesc"):
        return url
    if not _HAS_SCHEME.match(raw):
        raw = b"http://" + raw
    raw = _MULTIPLE_PROTOCOLS.sub(lambda m: m.group(1), raw)
    m = _RFC2396.match(raw)
    if m is None:  # the pattern matches every string; kept for the type checker
        return url
    parts = SplitResultBytes(m.group(2) or b"", m.group(5) or b"", m.group(6) or b"", m.group(8) or b"", b"")
    if parts.netloc.endswith(b":"):
        parts = parts._replace(netloc=parts.netloc.rstrip(b":"))
    scheme = parts.scheme
    try:
        port: int | None = parts.port or None
    except ValueError:  # not a number, or out of range: the URL is not valid; ignore the port
        port = None
    host: bytes | None = parts.hostname or None
    path: bytes | None = parts.path or None
    query: bytes | None = parts.query or None
    if scheme.startswith(b"http") and host is None and path is not None:
        head, _, rest = path.lstrip(b"/").partition(b"/")
        host, path = head, b"/" + rest

    # The "Google" canonicalizer.
    if query:
        query = _escape_once(_unescape(query))
    if host:
        host = _unescape(host)
        if not host.isascii():
            with contextlib.suppress(UnicodeError):  # not a valid IDN: it is percent-encoded below
                host = host.decode("utf-8", "ignore").encode("idna")
        host = host.replace(b"..", b".").strip(b".")
        host = _ip_address(host) or _escape_once(host.lower())
    if path is not None:
        path = _unescape(path)
    if host:
        path = _normalize_path(path)
    if path:
        path = _escape_once(path)

    # The "IA" canonicalizer.
    if host:
        host = host.lower()
        w = _WWW.match(host)
        if w:
            host = host[len(w.group(0)) :]
    if port == _DEFAULT_PORTS.get(scheme.lower(), 0):
        port = None
    if path:
        path = path.lower()
        for pattern in _PATH_SESSION_IDS:
            pm = pattern.match(path)
            if pm:
                path = pm.group(1) + pm.group(3)
        if path.endswith(b"/") and len(path) > 1:
            path = path[:-1]
    if query:
        for pattern in _QUERY_SESSION_IDS:
            qm = pattern.match(query)
            if qm:
                query = qm.group(1) + qm.group(2) if qm.group(2) else qm.group(1)
        query = _sort_query(query.lower()) or None

    # The key.
    out = b",".join(reversed(host.split(b"."))) if host else scheme + b":"
    if host:
        if port is not None:
            out += b":%d" % port
        out += b")"
    if path:
        out += path
    elif query is not None:
        out += b"/"
    if query is not None:
        out += b"?" + query
    return out.decode("utf-8")


def _unescape(data: bytes) -> bytes:
    """Percent-decode until nothing changes."""
    while True:
        once = unquote_to_bytes(data)
        if once == data:
            return data
        data = once


def _escape_once(data: bytes) -> bytes:
    """Percent-encode what is outside printable ASCII, and ``#``, ``%`` and space."""
    return quote_from_bytes(data, safe=_SAFE).encode("ascii") if data else data


def _normalize_path(path: bytes | None) -> bytes:
    if not path:
        return b"/"
    kept: list[bytes] = []
    for segment in path.split(b"/")[1:]:
        if segment == b".":
            continue
        if segment == b".." and kept:
            kept.pop()
        else:
            kept.append(segment)
    out = b"/"
    if kept:
        out += b"".join(p + b"/" for p in kept[:-1] if p) + kept[-1]
    return out


def _ip_address(host: bytes) -> bytes | None:
    """A numeric IPv4 host (``2130706433``, ``0177.1``, ``127.1``) as a dotted quad."""
    if host.isdigit():
        return socket.inet_ntoa(struct.pack(">L", int(host) & 0xFFFFFFFF)).encode("ascii")
    if _DECIMAL_IP.match(host) or _OCTAL_IP.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host.decode("ascii"))).encode("ascii")
        except OSError:
            return None
    return None


def _sort_query(query: bytes) -> bytes:
    """The ``&`` parts in byte order, ``a`` (no ``=``) before ``a=...``."""
    if len(query) <= 1:
        return query
    pairs = sorted(tuple(arg.split(b"=", 1)) for arg in query.split(b"&"))
    return b"&".join(b"=".join(p) for p in pairs)
