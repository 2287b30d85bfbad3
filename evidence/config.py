"""The user's configuration: ``config.toml`` in the evidence home directory.

The home directory is ``$EVIDENCE_HOME`` when set, else the platform's data directory
(``$XDG_DATA_HOME/evidence`` or ``~/.local/share/evidence`` on Linux,
``~/Library/Application Support/evidence`` on macOS, ``%LOCALAPPDATA%\\evidence`` on
Windows). It holds the log, its keys, ``config.toml`` and ``trust.policy``.

``config.toml`` lists the RFC 3161 time-stamping authorities (TSAs) to ask for a token
over every new checkpoint::

    [[tsa]]
    name = "example-tsa"                  # short name, shown in messages
    url = "https://tsa.example/tsr"       # where time-stamp queries are POSTed
    certificate = "tsa/example-tsa.pem"   # optional: the TSA certificate (pins it)
    sha256 = "3f1c...e2"                  # optional: SHA-256 fingerprint of that certificate
    root = "tsa/example-root.pem"         # optional: the root the TSA chains to
    timeout = 10                          # optional: seconds to wait for an answer

A shared log server (``preserve --log https://...``) may be described too::

    [[log_server]]
    url = "https://log.example.org/"      # the base URL `evidence log serve` prints
    token_file = "log-token"              # optional: a file holding the bearer token (else $EVIDENCE_LOG_TOKEN)
    key = "log.example.org+1a2b3c4d+AQ..." # optional: the log key (vkey) the server must present

The name of the embedded default log, used once, when that log is created on first use
(an existing log keeps its name)::

    origin = "firm.example/evidence/2026"  # a scheme-less URL under a domain you control

``$EVIDENCE_ORIGIN`` overrides it, and ``preserve --origin`` / ``evidence log init --origin``
override both. Without any, the name is ``evidence-log.localhost/<8 random hex digits>``
(docs/design.md explains the choice).

Relative paths are relative to the home directory. With ``root`` and a certificate or
fingerprint, every token is fully verified the moment it arrives; without them it is
checked for the right imprint and nonce only, and trust is left to the verifier's policy.
Unknown keys are errors, so a typo cannot silently switch a check off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from evidence._internal.toml import parse_table
from evidence.errors import FormatError, UsageError

ENV_HOME = "EVIDENCE_HOME"
ENV_ORIGIN = "EVIDENCE_ORIGIN"
#: The default origin's fixed part: RFC 6761 reserves ``.localhost`` (it can never name
#: anybody's public log), and it reads as what it is: a log kept on this computer.
DEFAULT_ORIGIN_PREFIX = "evidence-log.localhost/"
CONFIG_FILE = "config.toml"
TRUST_POLICY_FILE = "trust.policy"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0

_TSA_KEYS = frozenset({"name", "url", "certificate", "sha256", "root", "timeout"})
_TOP_KEYS = frozenset({"tsa", "log_server", "origin"})
_LOG_SERVER_KEYS = frozenset({"url", "token_file", "key"})


def evidence_home(environ: Mapping[str, str] | None = None) -> Path:
    """The evidence home directory: ``$EVIDENCE_HOME``, else the platform data directory."""
    env = os.environ if environ is None else environ
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser()
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "evidence"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "evidence"
    xdg = env.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else home / ".local" / "share") / "evidence"


def home_keys_dir(home: Path | None = None) -> Path:
    """Where the embedded default log (``<home>/log``) keeps its private keys: ``<home>/keys``.

    A home log made by ``evidence log init`` before it put them there has them in
    ``<home>/log/.state/keys``; that directory is used when it alone holds them.
    """
    h = evidence_home() if home is None else home
    keys = h / "keys"
    older = h / "log" / ".state" / "keys"
    if not (keys / "log.skey").exists() and (older / "log.skey").exists():
        return older
    return keys


def normalize_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hex digits.

    Accepts an optional ``sha256:`` prefix, either case, and the colon-separated form that
    ``openssl x509 -fingerprint -sha256`` prints. Raises :class:`FormatError` otherwise.
    """
    raw = text.strip()
    if raw.lower().startswith("sha256:"):
        raw = raw[len("sha256:") :]
    raw = raw.replace(":", "").lower()
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise FormatError(
            f"{text!r} is not a SHA-256 fingerprint (expected 64 hexadecimal digits, "
            "optionally prefixed with 'sha256:')"
        )
    return raw


@dataclass(frozen=True)
class TSAConfig:
    """One RFC 3161 time-stamping authority to request tokens from.

    ``certificate`` / ``sha256`` pin the TSA's own certificate and ``root`` the root it must
    chain to; when ``root`` and one of the other two are set, tokens are verified on receipt.
    """

    name: str
    url: str
    certificate: Path | None = None
    sha256: str | None = None
    root: Path | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise FormatError(f"a TSA name must be non-empty without spaces, not {self.name!r}")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FormatError(
                f"the URL of TSA {self.name!r} must start with http:// or https://, "
                f"not {self.url!r}"
            )
        if self.sha256 is not None:
            object.__setattr__(self, "sha256", normalize_fingerprint(self.sha256))
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise FormatError(
                f"the timeout of TSA {self.name!r} must be between 0 and {MAX_TIMEOUT:g} "
                f"seconds, not {self.timeout!r}"
            )

    @property
    def pinned(self) -> bool:
        """Whether enough is configured to verify this TSA's tokens fully on receipt."""
        return self.root is not None and (self.certificate is not None or self.sha256 is not None)


@dataclass(frozen=True)
class LogServerConfig:
    """A shared log server this user submits to: its URL, the file holding the bearer
    token, and the log key (vkey) it must present."""

    url: str
    token_file: Path | None = None
    key: str | None = None


@dataclass(frozen=True)
class Config:
    """The parsed ``config.toml`` of one evidence home directory."""

    home: Path
    tsas: tuple[TSAConfig, ...] = ()
    log_servers: tuple[LogServerConfig, ...] = ()
    #: The name for the embedded default log when it is created (``origin = "..."``).
    origin: str | None = None

    @property
    def path(self) -> Path:
        """Where this configuration lives (``<home>/config.toml``)."""
        return self.home / CONFIG_FILE

    @property
    def trust_policy_path(self) -> Path:
        """The default trust policy file (``<home>/trust.policy``)."""
        return self.home / TRUST_POLICY_FILE


def tsa_from_table(table: Mapping[str, Any], index: int, home: Path, where: str) -> TSAConfig:
    """Read entry ``index`` of a ``[[tsa]]`` array (``where`` names the file in messages;
    relative paths resolve against ``home``). Shared with the server's ``server.toml``."""
    label = f"{where}: [[tsa]] entry {index + 1}"
    unknown = sorted(set(table) - _TSA_KEYS)
    if unknown:
        raise FormatError(
            f"{label} has unknown key(s) {', '.join(unknown)}",
            hint=f"Allowed keys: {', '.join(sorted(_TSA_KEYS))}.",
        )
    for key in ("name", "url"):
        if not isinstance(table.get(key), str):
            raise FormatError(f"{label} needs a {key} (a string)")
    label = f"{where}: TSA {table['name']!r}"

    def path_of(key: str) -> Path | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise FormatError(f"{label}: {key} must be a file path (a string)")
        p = Path(value).expanduser()
        return p if p.is_absolute() else home / p

    sha256 = table.get("sha256")
    if sha256 is not None and not isinstance(sha256, str):
        raise FormatError(f"{label}: sha256 must be a string of 64 hexadecimal digits")
    timeout = table.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise FormatError(f"{label}: timeout must be a number of seconds")
    try:
        return TSAConfig(
            name=table["name"],
            url=table["url"],
            certificate=path_of("certificate"),
            sha256=sha256,
            root=path_of("root"),
            timeout=float(timeout),
        )
    except FormatError as e:
        raise FormatError(f"{where}: {e.message}") from e


def _log_server_from_table(table: Mapping[str, Any], index: int, home: Path, where: str) -> LogServerConfig:
    label = f"{where}: [[log_server]] entry {index + 1}"
    unknown = sorted(set(table) - _LOG_SERVER_KEYS)
    if unknown:
        raise FormatError(
            f"{label} has unknown key(s) {', '.join(unknown)}",
            hint=f"Allowed keys: {', '.join(sorted(_LOG_SERVER_KEYS))}.",
        )
    url = table.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise FormatError(f"{label} needs a url starting with http:// or https://")
    for key in ("token_file", "key"):
        if key in table and (not isinstance(table[key], str) or not table[key]):
            raise FormatError(f"{label}: {key} must be a non-empty string")
    token_file = None
    if "token_file" in table:
        p = Path(table["token_file"]).expanduser()
        token_file = p if p.is_absolute() else home / p
    return LogServerConfig(url=url, token_file=token_file, key=table.get("key"))


def parse_config(text: str, home: Path, *, where: str = CONFIG_FILE) -> Config:
    """Parse the text of a ``config.toml``; relative paths resolve against ``home``."""
    data = parse_table(text, where, _TOP_KEYS)
    tables = data.get("tsa", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise FormatError(f"{where}: 'tsa' must be an array of tables, written [[tsa]]")
    tsas = tuple(tsa_from_table(t, i, home, where) for i, t in enumerate(tables))
    seen: set[str] = set()
    for tsa in tsas:
        if tsa.name in seen:
            raise FormatError(f"{where}: two TSAs are named {tsa.name!r}; names must be unique")
        seen.add(tsa.name)
    servers = data.get("log_server", [])
    if not isinstance(servers, list) or not all(isinstance(t, dict) for t in servers):
        raise FormatError(f"{where}: 'log_server' must be an array of tables, written [[log_server]]")
    log_servers = tuple(_log_server_from_table(t, i, home, where) for i, t in enumerate(servers))
    origin = data.get("origin")
    if origin is not None:
        if not isinstance(origin, str):
            raise FormatError(f"{where}: origin must be a string such as \"firm.example/evidence/2026\"")
        origin = check_origin(origin, f"{where}: origin")
    return Config(home=home, tsas=tsas, log_servers=log_servers, origin=origin)


def check_origin(origin: str, what: str = "the origin") -> str:
    """``origin`` if it can name a log (a signed-note key name), else a plain :class:`UsageError`."""
    from evidence.errors import EvidenceError
    from evidence.note import check_key_name

    text = origin.strip()
    if text.lower().startswith(("http://", "https://")):
        raise UsageError(
            f"{what} {origin!r} must be written without http:// or https://",
            hint="A log's name is a scheme-less URL, e.g. firm.example/evidence/2026.",
        )
    try:
        check_key_name(text)
    except EvidenceError as e:
        raise UsageError(
            f"{what} {origin!r} cannot name a log: {e.message}",
            hint="A log's name is a scheme-less URL, e.g. firm.example/evidence/2026.",
        ) from e
    return text


def default_origin() -> str:
    """A fresh, unique name for a new log nobody chose a name for:
    ``evidence-log.localhost/<8 random hex digits>``."""
    import secrets

    return DEFAULT_ORIGIN_PREFIX + secrets.token_hex(4)


def chosen_origin(
    given: str | None = None, *, config: Config | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The origin for a log being created: ``given`` (an option), else ``$EVIDENCE_ORIGIN``,
    else ``origin`` in config.toml, else :func:`default_origin`."""
    env = os.environ if environ is None else environ
    if given:
        return check_origin(given, "--origin")
    if env.get(ENV_ORIGIN):
        return check_origin(env[ENV_ORIGIN], f"${ENV_ORIGIN}")
    cfg = config if config is not None else load_config()
    return cfg.origin or default_origin()


def load_config(home: Path | str | None = None) -> Config:
    """Read ``config.toml`` from ``home`` (default :func:`evidence_home`).

    A missing file is an empty configuration (no TSAs); an unreadable or invalid one raises
    :class:`FormatError`.
    """
    home_path = evidence_home() if home is None else Path(home)
    path = home_path / CONFIG_FILE
    from evidence._internal.files import MAX_CONFIG_BYTES, read_file_or_none

    raw = read_file_or_none(path, limit=MAX_CONFIG_BYTES, what="configuration", error=FormatError)
    if raw is None:
        return Config(home=home_path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"could not read the configuration {path}: {e}") from e
    return parse_config(text, home_path, where=str(path))


def _name_for_url(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc + parts.path).rstrip("/") or parts.netloc


def select_tsas(
    configured: Sequence[TSAConfig],
    requested: Sequence[str],
    *,
    timeout: float | None = None,
) -> tuple[TSAConfig, ...]:
    """The TSAs to use, given the configured ones and ``--tsa`` values from a command line.

    With no ``requested`` values, all configured TSAs are used. Otherwise exactly the
    requested ones: each value is the name of a configured TSA, or a URL (a configured TSA
    with that URL keeps its pins; any other URL is used without pins, under a name derived
    from the URL). ``timeout``, when given, overrides every TSA's timeout.
    """
    if not requested:
        chosen = tuple(configured)
    else:
        by_name = {t.name: t for t in configured}
        by_url = {t.url: t for t in configured}
        picked: list[TSAConfig] = []
        for value in requested:
            if value in by_name:
                picked.append(by_name[value])
            elif value in by_url:
                picked.append(by_url[value])
            elif urlsplit(value).scheme in ("http", "https"):
                picked.append(TSAConfig(name=_name_for_url(value), url=value))
            else:
                known = ", ".join(sorted(by_name)) or "none configured"
                raise UsageError(
                    f"--tsa {value!r} is neither a URL (http:// or https://) nor the name of a "
                    f"configured TSA (configured: {known})"
                )
        names = [t.name for t in picked]
        if len(set(names)) != len(names):
            raise UsageError("the same TSA was given more than once with --tsa")
        chosen = tuple(picked)
    if timeout is not None:
        chosen = tuple(replace(t, timeout=timeout) for t in chosen)
    return chosen
