"""Options shared by several commands: one name, one help text and one parser for one thing.

- ``LOGDIR`` (positional, optional): a log directory; default the embedded home log.
- ``--log-key VKEY|FILE`` (repeatable): the log's keys from its operator, as vkey text or a
  file of vkeys such as ``verification-keys.txt``. ``--key`` is kept as a hidden alias.
- ``--trust FILE``: a trust policy. ``--policy`` is kept as a hidden alias.
- ``--tsa URL|NAME`` (repeatable): a time-stamping authority.
- ``--tsa-cert PEM`` (repeatable): certificates trusted for time-stamps (``verify``, ``report``).
- ``--browser PATH``: the Chromium executable (``preserve``, ``report``).
- ``-q/--quiet``: no progress lines (``preserve``, ``log audit``).

Old spellings stay accepted (hidden from ``--help``) so that scripts keep working.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.errors import EXIT_BROKEN_PIPE, EXIT_USAGE, EvidenceError, FormatError, UsageError

if TYPE_CHECKING:
    from cryptography import x509

    from evidence.log import Log
    from evidence.note import Verifier
    from evidence.trust import TrustPolicy

#: The most a key file may hold (a verification-keys.txt is a few hundred bytes).
MAX_KEY_FILE = 1 << 20

LOG_DIR_HELP = "the log directory (default: the embedded log, $EVIDENCE_HOME/log)"
LOG_KEY_HELP = (
    "the log's keys, obtained from its operator (not from a bundle): a vkey, or a file of vkeys one per "
    "line such as the log's verification-keys.txt (log key and clock key); repeatable"
)
TRUST_HELP = "trust policy file (default: $EVIDENCE_HOME/trust.policy if it exists)"
TSA_CERT_HELP = (
    "certificates you trust for time-stamps: a TSA root, or a TSA certificate and its root (PEM or DER; repeatable)"
)
BROWSER_HELP = "Chromium/Chrome executable (default: found automatically)"
#: The optional packages a command may need -> the install extra of preserve-evidence that
#: brings each (pyproject.toml). The base install is the verifier and the log reader.
EXTRA_OF = {
    "playwright": "capture",
    "numpy": "server",  # the log writer's de-duplication index (in [capture] too)
    "starlette": "server",
    "uvicorn": "server",
    "httptools": "server",
    "uvloop": "server",
}


def add_log_dir(parser: argparse.ArgumentParser, *, help: str = LOG_DIR_HELP) -> None:
    """The optional positional ``LOGDIR`` (``args.dir``)."""
    parser.add_argument("dir", nargs="?", metavar="LOGDIR", help=help)


def add_log_key(target: Any, *, help: str = LOG_KEY_HELP) -> None:
    """``--log-key VKEY|FILE`` (``args.log_key``, a list), with the old ``--key`` as a hidden alias.

    ``target`` is a parser or an argument group (a mutually exclusive one too).
    """
    target.add_argument("--log-key", action="append", default=[], metavar="VKEY|FILE", help=help)
    target.add_argument("--key", action="append", dest="log_key", help=argparse.SUPPRESS)


def add_trust(target: Any, *, help: str = TRUST_HELP) -> None:
    """``--trust FILE`` (``args.trust``, a Path or None), with the old ``--policy`` as a hidden alias."""
    target.add_argument("--trust", type=Path, metavar="FILE", help=help)
    target.add_argument("--policy", type=Path, dest="trust", help=argparse.SUPPRESS)


def add_quiet(target: Any) -> None:
    """``-q/--quiet`` (``args.quiet``): no progress lines on stderr."""
    target.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def add_browser(target: Any) -> None:
    """``--browser PATH`` (``args.browser``): the Chromium a capture or a PDF uses."""
    target.add_argument("--browser", metavar="PATH", help=BROWSER_HELP)


QUEUE_HELP = "the queue's PostgreSQL database, postgresql://USER@HOST[:PORT]/DBNAME (default: $EVIDENCE_QUEUE)"


def add_queue(p: argparse.ArgumentParser) -> None:
    """``--queue URL`` (``args.queue``), defaulting to ``$EVIDENCE_QUEUE``."""
    p.add_argument("--queue", metavar="URL", default=os.environ.get("EVIDENCE_QUEUE"), help=QUEUE_HELP)


def queue_url(args: argparse.Namespace) -> str:
    """``--queue`` (or ``$EVIDENCE_QUEUE``), which must be given; its form is checked where it is used
    (:func:`evidence.queue.store.check_queue_url`)."""
    if not args.queue:
        raise UsageError("give the queue's database with --queue postgresql://... (or set EVIDENCE_QUEUE)")
    return str(args.queue)


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """``--trust`` / ``--log-key`` / ``--tsa-cert``, shared by ``evidence verify`` and ``evidence report``
    (``--trust`` and ``--log-key`` exclude each other)."""
    trust = parser.add_mutually_exclusive_group()
    add_trust(trust)
    add_log_key(trust)
    parser.add_argument("--tsa-cert", action="append", default=[], type=Path, metavar="PEM", help=TSA_CERT_HELP)


def trust_from_args(
    args: argparse.Namespace,
) -> tuple[TrustPolicy | None, list[Verifier], list[x509.Certificate], str]:
    """The trust the options of :func:`add_trust_arguments` give: (policy, log keys, TSA
    certificates, where the policy came from in words, or "")."""
    from evidence.config import Config, evidence_home
    from evidence.timestamp import load_certificates
    from evidence.trust import TrustPolicy

    policy: TrustPolicy | None = None
    source = ""
    if args.trust is not None:
        policy = TrustPolicy.load(args.trust)
        source = f"trust policy {args.trust}"
    elif not args.log_key:
        default = Config(home=evidence_home()).trust_policy_path
        if default.is_file():
            policy = TrustPolicy.load(default)
            source = f"trust policy {default} (the default)"
    certs: list[x509.Certificate] = []
    for path in args.tsa_cert:
        certs.extend(load_certificates(path))
    return policy, read_vkeys(args.log_key), certs, source


def home_log_dir() -> Path:
    """The embedded default log: ``$EVIDENCE_HOME/log``."""
    from evidence.config import evidence_home

    return evidence_home() / "log"


def home_keys_dir() -> Path:
    """Where the embedded default log keeps its private keys: ``$EVIDENCE_HOME/keys``."""
    from evidence.config import home_keys_dir as keys_of_home

    return keys_of_home()


def log_dir_and_keys(dir: str | os.PathLike[str] | None, keys: str | None = None) -> tuple[Path, Path | None]:
    """The log directory a command works on and its keys directory (None: the log's default)."""
    if dir is None:
        return home_log_dir(), Path(keys) if keys else home_keys_dir()
    return Path(dir), Path(keys) if keys else None


def open_log(dir: str | os.PathLike[str] | None, keys: str | None = None, **kwargs: Any) -> Log:
    """Open the log ``dir`` (default: the home log, with its keys in ``$EVIDENCE_HOME/keys``)."""
    from evidence.log import Log

    path, keys_dir = log_dir_and_keys(dir, keys)
    return Log.open(path, keys_dir=keys_dir, **kwargs)


def read_text_input(path: str, what: str, limit: int = MAX_KEY_FILE) -> bytes:
    """A file the user named (or '-' for stdin), with a size cap and plain errors."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            from evidence._internal.files import read_file

            # A regular file (symlinks followed) of at most ``limit`` bytes: a FIFO or device is refused.
            return read_file(path, limit=limit, what=f"{what} file", error=UsageError)
    except FileNotFoundError:
        raise UsageError(f"the {what} file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a {what} file") from None
    except OSError as e:
        raise UsageError(f"cannot read the {what} file {path}: {e.strerror}") from e
    if len(data) > limit:
        raise FormatError(f"the {what} file {path} is larger than {limit} bytes; it cannot be a {what} file")
    return data


def read_vkeys(values: Sequence[str] | None, option: str = "--log-key") -> list[Verifier]:
    """Keys given as vkey text or as files of vkeys (one per line, ``#`` comments, blank lines)."""
    from evidence.note import Verifier

    keys: list[Verifier] = []
    for value in values or []:
        p = Path(value).expanduser()
        if not p.is_file():
            try:
                keys.append(Verifier.from_vkey(value.strip()))
            except EvidenceError as e:
                raise UsageError(
                    f"{option} {value!r} is neither a key file that exists nor a vkey: {e.message}",
                    hint="Give the log's verification-keys.txt (from its operator), or a vkey name+keyid+base64key.",
                ) from None
            continue
        raw = read_text_input(str(p), "key")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UsageError(f"the key file {p} is not UTF-8 text") from None
        lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), start=1)]
        lines = [(n, ln) for n, ln in lines if ln and not ln.startswith("#")]
        if not lines:
            raise UsageError(f"the key file {p} given with {option} holds no key")
        for n, line in lines:
            try:
                keys.append(Verifier.from_vkey(line))
            except EvidenceError as e:
                raise UsageError(f"line {n} of the key file {p} is not a vkey: {e.message}") from None
    return keys


def require_log_key(values: Sequence[str] | None, what: str = "the log's") -> None:
    """A command that cannot work without the log's key says so (argparse cannot require one
    of two spellings)."""
    if not values:
        raise UsageError(f"give {what} key with --log-key VKEY|FILE (for example the log's verification-keys.txt)")


def run_cli(fn: Callable[[], int]) -> int:
    """Run a command's body; a closed output pipe (``| head``) ends it quietly, not with a traceback.

    A command that needs an optional package this installation lacks (the base install is
    the verifier and the log reader) says which extra to install and ends with exit status 2.
    Output a legacy encoding cannot hold (Windows writes cp1252 to a file or pipe) is escaped
    (``\\u6771``), never a traceback.
    """
    _escape_what_stdout_cannot_encode()
    try:
        try:
            code = fn()
        except SystemExit:  # argparse after --help or a usage error: flush here, where it can be caught
            sys.stdout.flush()
            raise
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except ModuleNotFoundError as e:
        package = (e.name or "").split(".")[0]
        extra = EXTRA_OF.get(package)
        if extra is None:
            raise
        print(
            f"error: this command needs the optional package {package!r}, which this installation of "
            f"preserve-evidence does not have.\nInstall it with: pip install 'preserve-evidence[{extra}]' "
            "(or [all] for every command); `evidence verify` needs none of them.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return code


def _escape_what_stdout_cannot_encode() -> None:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None and not encoding.startswith("utf"):
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_USAGE",
    "EXTRA_OF",
    "add_browser",
    "add_log_dir",
    "add_log_key",
    "add_quiet",
    "add_trust",
    "add_trust_arguments",
    "home_keys_dir",
    "home_log_dir",
    "log_dir_and_keys",
    "open_log",
    "read_text_input",
    "read_vkeys",
    "require_log_key",
    "run_cli",
    "trust_from_args",
]
