"""Why an HTTP request to a log (or its tiles) got no answer, in words a person can act on.

requests/urllib3 describe a refused connection as ``HTTPConnectionPool(host=..., port=...):
Max retries exceeded with url: ... (Caused by NewConnectionError(...))``; messages name
the server and use :func:`network_reason` instead.
"""

from __future__ import annotations

import socket

import requests

__all__ = ["network_reason"]


def network_reason(err: requests.RequestException, timeout: float) -> str:
    """A plain phrase for why an HTTP request did not get an answer (not urllib3's text)."""
    chain: list[BaseException] = []
    todo: list[BaseException] = [err]
    while todo and len(chain) < 10:  # the exception, its causes and urllib3's wrapped reasons
        e = todo.pop()
        if any(e is seen for seen in chain):
            continue
        chain.append(e)
        linked = (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
        todo += [x for x in linked if isinstance(x, BaseException)]
    words = " ".join(str(e) for e in chain).lower()

    def has(kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
        return any(isinstance(e, kind) for e in chain)

    if isinstance(err, requests.exceptions.SSLError):
        return "the secure (HTTPS) connection failed (its certificate was not accepted, or TLS is not spoken there)"
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return f"no connection within {min(10.0, timeout):g} s"
    if isinstance(err, requests.exceptions.ReadTimeout | requests.exceptions.Timeout):
        return f"it accepted the connection but did not answer within {timeout:g} s"
    dns = ("name or service not known", "nodename nor servname", "name resolution", "getaddrinfo", "no address")
    if has(socket.gaierror) or any(d in words for d in dns):
        return "its name could not be found (DNS)"
    if has(ConnectionRefusedError) or "refused" in words:
        return "the connection was refused (nothing listens at that address and port)"
    if has((ConnectionResetError, ConnectionAbortedError)) or "remote end closed" in words:
        return "the connection was cut before an answer came"
    if "unreachable" in words or "no route" in words:
        return "the network cannot reach it"
    if isinstance(err, requests.exceptions.ConnectionError):
        return "no connection could be made"
    return f"the request failed ({type(err).__name__})"
