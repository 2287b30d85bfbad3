"""The log server's configuration: ``server.toml`` (parsed by :func:`evidence._internal.toml.parse_table`), strictly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence._internal.files import read_file_or_none
from evidence._internal.toml import parse_table
from evidence.config import TSAConfig, tsa_from_table
from evidence.errors import EvidenceError, FormatError, UsageError
from evidence.log import tiles
from evidence.note import ALG_COSIGNATURE_V1, Verifier

__all__ = [
    "DEFAULT_LISTEN",
    "SERVER_CONFIG_FILE",
    "ServerConfig",
    "WitnessConfig",
    "load_server_config",
    "parse_listen",
    "parse_server_config",
]

DEFAULT_LISTEN = "127.0.0.1:8080"
SERVER_CONFIG_FILE = "server.toml"

_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")

_SERVER_KEYS = frozenset(
    {
        "listen",
        "prefix",
        "tokens",
        "linger",
        "max_batch",
        "max_pending",
        "max_request_bytes",
        "lookup_per_minute",
        "witness_timeout",
        "tsa_wait",
        "head_timeout",
        "body_timeout",
        "submit_timeout",
        "witness",
        "tsa",
    }
)
_WITNESS_KEYS = frozenset({"name", "url", "vkey"})


@dataclass(frozen=True)
class WitnessConfig:
    """A C2SP tlog-witness the server submits every published checkpoint to.

    ``url`` is the witness's submission URL prefix as its operator publishes it (the
    server POSTs ``add-checkpoint`` requests there through :mod:`evidence.witness`);
    ``vkey`` is the witness's cosignature key (type 0x04), which every cosignature it
    returns must verify against.
    """

    name: str
    url: str
    vkey: str

    @property
    def verifier(self) -> Verifier:
        return Verifier.from_vkey(self.vkey)


@dataclass(frozen=True)
class ServerConfig:
    """The server's settings (``server.toml``); every field has a usable default.

    - ``tokens``: the file of bearer tokens allowed to POST /add (none: nobody can add);
    - ``linger``: seconds the writer waits for more entries before each append (0..1), so an
      entry is integrated at most ``linger`` seconds plus two appends after it arrives;
    - ``max_batch``: most entries per append (a full batch is integrated at once);
    - ``max_pending``: entries queued at most before new ones get 503 (back-pressure);
    - ``max_request_bytes``: larger requests get 413 (entries over 65,535 bytes get 400);
    - ``witness_timeout``: how long a publication waits for the witnesses, in seconds (and
      each witness request's total deadline);
    - ``tsa_wait``: how long a publication waits for the TSAs before the clients are
      answered without the tokens still missing (each TSA request has its own total
      deadline, ``timeout`` of its ``[[tsa]]`` table; a late token is still stored);
    - ``head_timeout``, ``body_timeout``: a connection must send a complete request head
      within ``head_timeout`` seconds (of opening, or of the previous answer), and its body
      within ``body_timeout`` seconds of the head, else 408 (see
      :mod:`evidence._internal.serving` for the size limits);
    - ``submit_timeout``: how long a client's request waits for its proof; an entry
      appended by then is answered with its proof against the newest signed checkpoint,
      one not appended yet with 503 (resubmitting it returns its index);
    - ``lookup_per_minute``: ``GET /lookup/<sha256>`` answers each client address at most this
      many times a minute (a burst of as many), then 429 with ``Retry-After``;
    - ``witnesses``, ``tsas``: whom to ask for cosignatures and RFC 3161 tokens.
    """

    listen: str | None = None
    prefix: str = ""
    tokens: Path | None = None
    linger: float = 0.005
    max_batch: int = 4096
    max_pending: int = 100_000
    max_request_bytes: int = 1 << 20
    witness_timeout: float = 5.0
    tsa_wait: float = 5.0
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    submit_timeout: float = 120.0
    lookup_per_minute: int = 60
    witnesses: tuple[WitnessConfig, ...] = ()
    tsas: tuple[TSAConfig, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.linger <= 1:
            raise FormatError(
                f"linger must be between 0 and 1 second (the log integrates at least once a second), not {self.linger}"
            )
        if not 1 <= self.max_batch <= 1_000_000:
            raise FormatError(f"max_batch must be between 1 and 1,000,000, not {self.max_batch}")
        if not 1 <= self.max_pending <= 10_000_000:
            raise FormatError(f"max_pending must be between 1 and 10,000,000, not {self.max_pending}")
        if not tiles.MAX_ENTRY_SIZE <= self.max_request_bytes <= 1 << 26:
            raise FormatError(f"max_request_bytes must be between 65,535 and 64 MiB, not {self.max_request_bytes}")
        if not 0 < self.witness_timeout <= 300:
            raise FormatError(f"witness_timeout must be between 0 and 300 seconds, not {self.witness_timeout}")
        if not 0 < self.tsa_wait <= 300:
            raise FormatError(f"tsa_wait must be between 0 and 300 seconds, not {self.tsa_wait}")
        for key in ("head_timeout", "body_timeout"):
            if not 0 < getattr(self, key) <= 600:
                raise FormatError(f"{key} must be between 0 and 600 seconds, not {getattr(self, key)}")
        if not 0 < self.submit_timeout <= 3600:
            raise FormatError(f"submit_timeout must be between 0 and 3600 seconds, not {self.submit_timeout}")
        if not 1 <= self.lookup_per_minute <= 100_000:
            raise FormatError(f"lookup_per_minute must be between 1 and 100,000, not {self.lookup_per_minute}")
        if not _PREFIX_RE.match(self.prefix) or any(seg in (".", "..") for seg in self.prefix.split("/")):
            raise FormatError(
                f"the URL prefix {self.prefix!r} must be empty or look like /log or /firm/log "
                "(letters, digits, '.', '_', '~', '-'; no trailing slash)"
            )
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise FormatError("two witnesses have the same name; names must be unique")


def _number(table: Mapping[str, Any], key: str, default: float, where: str, *, integer: bool = False) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        kind = "a whole number" if integer else "a number"
        raise FormatError(f"{where}: {key} must be {kind}, not {value!r}")
    return value


def _witness_from_table(table: Mapping[str, Any], index: int, where: str) -> WitnessConfig:
    label = f"{where}: [[witness]] entry {index + 1}"
    unknown = sorted(set(table) - _WITNESS_KEYS)
    if unknown:
        raise FormatError(
            f"{label} has unknown key(s) {', '.join(unknown)}",
            hint=f"Allowed keys: {', '.join(sorted(_WITNESS_KEYS))}.",
        )
    for key in ("url", "vkey"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise FormatError(f"{label} needs a {key} (a string)")
    url = table["url"]
    if not url.startswith(("http://", "https://")):
        raise FormatError(f"{label}: the url must start with http:// or https://, not {url!r}")
    try:
        verifier = Verifier.from_vkey(table["vkey"])
    except EvidenceError as e:
        raise FormatError(f"{label}: the vkey is not a verifier key: {e.message}") from e
    if verifier.key_type != ALG_COSIGNATURE_V1:
        raise FormatError(
            f"{label}: the vkey of witness {verifier.name!r} is not a cosignature key (type 0x04); "
            "witnesses cosign with cosignature/v1 keys"
        )
    name = table.get("name", verifier.name)
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise FormatError(f"{label}: name must be a non-empty string without spaces")
    return WitnessConfig(name=name, url=url, vkey=verifier.vkey())


def parse_server_config(text: str, base_dir: Path, *, where: str = SERVER_CONFIG_FILE) -> ServerConfig:
    """Parse ``server.toml`` text; relative paths resolve against ``base_dir``."""
    data = parse_table(text, where, _SERVER_KEYS)
    listen = data.get("listen")
    if listen is not None and not isinstance(listen, str):
        raise FormatError(f'{where}: listen must be a string like "127.0.0.1:8080"')
    if listen is not None:
        parse_listen(listen)
    prefix = data.get("prefix", "")
    if not isinstance(prefix, str):
        raise FormatError(f'{where}: prefix must be a string like "/log"')
    tokens: Path | None = None
    if "tokens" in data:
        if not isinstance(data["tokens"], str) or not data["tokens"]:
            raise FormatError(f"{where}: tokens must be the path of the bearer-token file")
        p = Path(data["tokens"]).expanduser()
        tokens = p if p.is_absolute() else base_dir / p
    wtables = data.get("witness", [])
    ttables = data.get("tsa", [])
    for key, tables in (("witness", wtables), ("tsa", ttables)):
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise FormatError(f"{where}: '{key}' must be an array of tables, written [[{key}]]")
    witnesses = tuple(_witness_from_table(t, i, where) for i, t in enumerate(wtables))
    tsas = tuple(tsa_from_table(t, i, base_dir, where) for i, t in enumerate(ttables))
    if len({t.name for t in tsas}) != len(tsas):
        raise FormatError(f"{where}: two TSAs have the same name; names must be unique")
    try:
        return ServerConfig(
            listen=listen,
            prefix=prefix.rstrip("/") if prefix != "/" else "",
            tokens=tokens,
            linger=float(_number(data, "linger", ServerConfig.linger, where)),
            max_batch=_number(data, "max_batch", ServerConfig.max_batch, where, integer=True),
            max_pending=_number(data, "max_pending", ServerConfig.max_pending, where, integer=True),
            max_request_bytes=_number(data, "max_request_bytes", ServerConfig.max_request_bytes, where, integer=True),
            witness_timeout=float(_number(data, "witness_timeout", ServerConfig.witness_timeout, where)),
            tsa_wait=float(_number(data, "tsa_wait", ServerConfig.tsa_wait, where)),
            head_timeout=float(_number(data, "head_timeout", ServerConfig.head_timeout, where)),
            body_timeout=float(_number(data, "body_timeout", ServerConfig.body_timeout, where)),
            submit_timeout=float(_number(data, "submit_timeout", ServerConfig.submit_timeout, where)),
            lookup_per_minute=_number(data, "lookup_per_minute", ServerConfig.lookup_per_minute, where, integer=True),
            witnesses=witnesses,
            tsas=tsas,
        )
    except FormatError as e:
        raise FormatError(f"{where}: {e.message}", hint=e.hint) from e


def load_server_config(path: Path | str) -> ServerConfig:
    """Read ``server.toml`` (FormatError if unreadable or invalid)."""
    from evidence._internal.files import MAX_CONFIG_BYTES

    p = Path(path)
    raw = read_file_or_none(p, limit=MAX_CONFIG_BYTES, what="server configuration", error=FormatError)
    if raw is None:
        raise UsageError(f"the server configuration {p} does not exist")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"could not read the server configuration {p}: {e}") from e
    return parse_server_config(text, p.parent, where=str(p))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0 picks a free port)."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise UsageError(f"--listen must look like HOST:PORT (for example 127.0.0.1:8080), not {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_s)
