"""The shared log server, ``evidence log serve DIR`` (an ASGI app, Starlette on uvicorn).

Owns:

- :mod:`~evidence.server.config`: ``server.toml`` (through :func:`evidence._internal.toml.parse_table`).
- :mod:`~evidence.server.tokens`: the bearer tokens allowed to add entries.
- :mod:`~evidence.server.batching`: the writer and publisher threads (class
  :class:`~evidence.server.batching.Sequencer`; the log itself is :class:`evidence.log.Log`).
- :mod:`~evidence.server.lookup`: ``GET /lookup/<manifest-sha256>`` and its per-address rate limit.
- :mod:`~evidence.server.app`: the ASGI app and :func:`~evidence.server.app.serve` (the only
  modules here that import starlette and uvicorn, lazily).

May import the log, the witness client, ``evidence.timestamp``, ``evidence.config``,
``evidence.bundle.format`` (the entry of a manifest digest) and ``evidence._internal``;
nothing on the verify path imports this package. The names below are loaded on first use,
so ``import evidence.server`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if _TYPE_CHECKING:
    from evidence.server.app import (
        LogServer,
        create_app,
        serve,
    )
    from evidence.server.batching import (
        Answer,
        PartyStatus,
        Sequencer,
    )
    from evidence.server.config import (
        DEFAULT_LISTEN,
        SERVER_CONFIG_FILE,
        ServerConfig,
        WitnessConfig,
        load_server_config,
        parse_listen,
        parse_server_config,
    )
    from evidence.server.tokens import (
        MAX_AUTH_HEADER,
        MIN_TOKEN_CHARS,
        TokenSet,
    )

_LAZY = {
    "DEFAULT_LISTEN": "evidence.server.config",
    "SERVER_CONFIG_FILE": "evidence.server.config",
    "ServerConfig": "evidence.server.config",
    "WitnessConfig": "evidence.server.config",
    "load_server_config": "evidence.server.config",
    "parse_listen": "evidence.server.config",
    "parse_server_config": "evidence.server.config",
    "MAX_AUTH_HEADER": "evidence.server.tokens",
    "MIN_TOKEN_CHARS": "evidence.server.tokens",
    "TokenSet": "evidence.server.tokens",
    "Answer": "evidence.server.batching",
    "PartyStatus": "evidence.server.batching",
    "Sequencer": "evidence.server.batching",
    "LogServer": "evidence.server.app",
    "create_app": "evidence.server.app",
    "serve": "evidence.server.app",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_LISTEN",
    "MAX_AUTH_HEADER",
    "MIN_TOKEN_CHARS",
    "SERVER_CONFIG_FILE",
    "Answer",
    "LogServer",
    "PartyStatus",
    "Sequencer",
    "ServerConfig",
    "TokenSet",
    "WitnessConfig",
    "create_app",
    "load_server_config",
    "parse_listen",
    "parse_server_config",
    "serve",
]
