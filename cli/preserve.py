"""`preserve URL [URL ...]`: capture, seal into the log and write one proof bundle per URL.

`preserve --walk WALK.toml`: walk a start page and steps on video, sealed as one bundle
(exit codes as for one URL: 0, 2 for a bad walk file, 5 when a step failed, 6).

Exit codes (the table is in evidence/errors.py): 0 every URL preserved; 2 usage or input
error (nothing was captured: also a log that cannot be used, checked before the first
capture); 4 some URLs failed (the others were preserved); 5 no URL could be preserved;
6 every URL preserved, but no time-stamping authority that was asked gave a time-stamp;
130 interrupted (Ctrl-C: what was preserved is listed, and the URLs that remain are
written to a file to rerun).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.errors import (
    EXIT_INTERRUPTED,
    EXIT_NO_TIMESTAMP,
    EXIT_NOTHING_PRESERVED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_QA_FLAGGED,
    EXIT_UNCLEAN,
    EXIT_USAGE,
    CaptureError,
    EvidenceError,
    UncleanEnvironmentError,
    UsageError,
)

from .options import add_browser, add_quiet
from .url_list import ListedURL, read_list

if TYPE_CHECKING:
    from evidence.batch import Outcome, Slot

EPILOG = """exit codes:
  0    every URL preserved
  2    usage or input error; nothing was captured (also: the log cannot be used, checked first)
  4    some URLs failed; the others were preserved
  5    no URL could be preserved
  6    every URL preserved, but no time-stamping authority that was asked gave a time-stamp:
       add it later with the 'evidence refresh' command each bundle's warning shows
  7    the clean-environment check found a FAIL item (named); nothing was captured for that URL
  8    every URL preserved, but capture QA flagged a page as probably not the listing
       (captcha, login wall, error page, blank page): look at it before relying on it
  130  interrupted (Ctrl-C): the URLs not yet preserved are written to a file to rerun
When several apply, the first of 7, 5, 4, 6, 8 is used."""


def _parser() -> argparse.ArgumentParser:
    from .main import _Parser

    p = _Parser(
        prog="preserve",
        description="Preserve web pages as court-grade evidence: capture each URL, seal it into an "
        "append-only log and write a proof bundle (.wacz) that anyone can verify offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="http(s) address to preserve")
    p.add_argument(
        "--walk",
        metavar="WALK.toml",
        help="preserve a walk instead of URLs: a start address and steps (start = \"...\" and [[steps]] "
        "tables; docs/capture.md, 'Walks'), recorded on video and sealed as one bundle",
    )
    p.add_argument("--no-video", action="store_true", help="with --walk: do not record the screen (recorded as off)")
    p.add_argument("-o", "--output", default=".", metavar="DIR", help="where to write the bundles (default: .)")
    p.add_argument(
        "--from-file",
        metavar="FILE",
        help="read URLs from FILE, one per line ('-' for stdin; '#' starts a comment; "
        "a .csv/.tsv file: the first column)",
    )
    p.add_argument(
        "--log", metavar="DIR|URL", help="log directory or log server URL (default: the embedded log in $EVIDENCE_HOME)"
    )
    p.add_argument(
        "--tsa", action="append", metavar="URL|NAME", help="time-stamping authority (repeatable; default: config.toml)"
    )
    p.add_argument(
        "--origin",
        metavar="NAME",
        help="the name of the embedded log when this run creates it, a scheme-less URL such as "
        "firm.example/evidence/2026 (default: $EVIDENCE_ORIGIN, else origin in config.toml, else "
        "evidence-log.localhost/<random>); a log's name never changes once created",
    )
    p.add_argument("--case", help="case reference, recorded in the bundle")
    p.add_argument("--operator", help="who preserved it, recorded in the bundle")
    p.add_argument("--notes", help="free-text notes, recorded in the bundle")
    p.add_argument("--json", action="store_true", help="print one JSON document with the results")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="capture N pages at once, each with its own browser (default 1; 2 per processor core "
        "at most: docs/capture.md, 'Many pages at once')",
    )
    add_quiet(p)
    g = p.add_argument_group("capture options")
    g.add_argument("--viewport", metavar="WxH", help="browser window size (default 1280x800)")
    g.add_argument("--user-agent", metavar="UA", help="browser User-Agent string (default: the browser's own)")
    g.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="longest wait for each step of loading (default 30; within --budget)",
    )
    g.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="longest time for one whole capture, every file included (default 120); "
        "a file that would exceed its share is left out and the bundle says why",
    )
    g.add_argument("--no-pdf", action="store_true", help="do not make page.pdf (recorded as turned off)")
    g.add_argument("--no-mhtml", action="store_true", help="do not make page.mhtml (recorded as turned off)")
    g.add_argument("--wait-selector", metavar="CSS", help="wait until this element appears")
    g.add_argument("--wait-ms", type=int, metavar="MS", help="extra wait after loading")
    g.add_argument("--storage-state", metavar="FILE", help="cookies/storage state for pages behind a login")
    g.add_argument("--insecure", action="store_true", help="accept invalid TLS certificates (recorded as such)")
    g.add_argument("--max-height", type=int, metavar="PX", help="cap for the full-page screenshot height")
    c = p.add_argument_group("clean-environment check")
    c.add_argument(
        "--allow-unclean",
        action="append",
        metavar="CHECK",
        help="go on although this check FAILs (repeatable; recorded in the bundle and shown on the certificate)",
    )
    c.add_argument("--trusted-ca", metavar="PEM", help="roots trusted besides the system store (a private CA): WARN")
    c.add_argument("--second-resolver", metavar="IP[:PORT]", help="DNS server to cross-check the answers with")
    c.add_argument("--egress-echo-url", metavar="URL", help="service that answers with the address it sees")
    c.add_argument("--hosts-file", metavar="FILE", help="hosts file to check (default: the system's)")
    add_browser(g)
    return p


def _urls(args: argparse.Namespace) -> list[ListedURL]:
    if args.walk:
        if args.urls or args.from_file:
            raise UsageError("give either --walk FILE or URLs (--from-file), not both")
        from evidence.capture.steps import load_walk_file

        args.walk_loaded = load_walk_file(args.walk)  # a bad walk file is refused before anything starts
        return [ListedURL(args.walk_loaded.start, 0)]
    urls = [ListedURL(u, 0) for u in args.urls]
    if args.from_file:
        urls += read_list(args.from_file)
    if not urls:
        raise UsageError("give at least one URL (or --from-file FILE)")
    return urls


def _options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.viewport:
        try:
            w, h = args.viewport.lower().split("x")
            opts["viewport_width"], opts["viewport_height"] = int(w), int(h)
        except ValueError:
            raise UsageError(f"--viewport must look like 1280x800, not {args.viewport!r}") from None
    for arg, field in (
        ("user_agent", "user_agent"),
        ("timeout", "timeout_s"),
        ("budget", "budget_s"),
        ("wait_selector", "wait_selector"),
        ("wait_ms", "wait_ms"),
        ("case", "case"),
        ("operator", "operator"),
        ("notes", "notes"),
        ("max_height", "full_page_max_height"),
    ):
        value = getattr(args, arg)
        if value is not None:
            opts[field] = value
    if args.storage_state:
        opts["storage_state"] = Path(args.storage_state)
    if args.insecure:
        opts["insecure"] = True
    if args.no_pdf:
        opts["pdf"] = False
    if args.no_mhtml:
        opts["mhtml"] = False
    if args.allow_unclean:
        opts["allow_unclean"] = tuple(args.allow_unclean)
    for arg, field in (
        ("trusted_ca", "trusted_ca"),
        ("second_resolver", "second_resolver"),
        ("egress_echo_url", "egress_echo_url"),
        ("hosts_file", "hosts_file"),
    ):
        if getattr(args, arg):
            opts[field] = getattr(args, arg)
    return opts


class _Progress:
    """Shows, on stderr, the capture step that is running once it has taken longer than
    ``after`` seconds (one line per such step; quick steps are never shown)."""

    def __init__(self, prefix: str, after: float = 1.5) -> None:
        import threading

        self.prefix = prefix
        self.after = after
        self._lock = threading.Lock()
        self._step: str | None = None
        self._since = 0.0
        self._shown = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="preserve-progress", daemon=True)
        self._thread.start()

    def __call__(self, step: str) -> None:
        with self._lock:
            self._step, self._since, self._shown = step, time.monotonic(), False

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                if self._shown or self._step is None or time.monotonic() - self._since < self.after:
                    continue
                self._shown = True
                step = self._step
            print(f"{self.prefix} {step} ...", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def main(argv: Sequence[str] | None = None) -> int:
    from .options import run_cli

    return run_cli(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    from evidence.timestamp import MissingTimestampWarning

    args = _parser().parse_args(argv)
    from evidence.log.attempts import terminate_on_sigterm

    terminate_on_sigterm()  # a stopped capture is recorded as abandoned, and cleans up as on Ctrl-C
    try:
        with warnings.catch_warnings():
            # Each bundle reports the TSAs that gave no token in its own warning lines.
            warnings.simplefilter("ignore", MissingTimestampWarning)
            return _run(args)
    except EvidenceError as e:
        print(f"preserve: {e.diagnostics()}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": e.diagnostics(), "kind": type(e).__name__, "results": []}))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("preserve: interrupted; no half-written bundle was left behind", file=sys.stderr)
        return EXIT_INTERRUPTED


class _Batch:
    """What a run has done so far: the results, and whether a time-stamp was missed."""

    def __init__(self, urls: list[ListedURL]) -> None:
        self.urls = urls
        self.done: dict[int, dict[str, Any]] = {}  # position in the list -> its result
        self.tsas_asked = False

    @property
    def results(self) -> list[dict[str, Any]]:
        """The results so far, in the order of the list (jobs may finish in any order)."""
        return [self.done[n] for n in sorted(self.done)]

    @property
    def remaining(self) -> list[str]:
        return [u.url for n, u in enumerate(self.urls) if n not in self.done]

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["ok"]]

    def exit_code(self) -> int:
        ok = self.ok
        if any(r.get("kind") == UncleanEnvironmentError.__name__ for r in self.results):
            return EXIT_UNCLEAN
        if not ok:
            return EXIT_NOTHING_PRESERVED
        if len(ok) < len(self.results):
            return EXIT_PARTIAL
        if self.tsas_asked and any(r["timestamps"] == 0 for r in ok):
            return EXIT_NO_TIMESTAMP
        if any(r.get("qa_flags") for r in ok):
            return EXIT_QA_FLAGGED
        return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    import threading

    from evidence.api import check_options, close_log, open_session_log
    from evidence.batch import capture_outcome, check_jobs, job_log_opener, job_slot, run_jobs

    jobs = check_jobs(args.jobs)
    batch = _Batch(_urls(args))
    urls = batch.urls
    out = Path(args.output)
    quiet = args.quiet or args.json
    printing = threading.Lock()  # one message at a time, from any job
    stopping = threading.Event()  # set on Ctrl-C: captures cut short by it are not reported as failures

    def say(msg: str) -> None:
        if not quiet:
            with printing:
                print(msg, file=sys.stderr)

    opts = check_options(_options(args))
    log, tsas = open_session_log(log=args.log, tsa=args.tsa, origin=args.origin)
    shared = job_log_opener(log, None, tsas=tsas, origin=args.origin)
    per_job = job_log_opener(log, args.log, tsas=tsas, origin=args.origin)

    def one(slot: Slot, n: int, listed: ListedURL) -> dict[str, Any]:
        label = f"[{n + 1}/{len(urls)}]"
        progress = None if quiet else _Progress(label)
        try:
            outcome = capture_outcome(
                slot, listed.url, out_dir=out, tsas=tsas, progress=progress,
                walk=getattr(args, "walk_loaded", None), video=not args.no_video,
            )  # fmt: skip
        finally:
            if progress is not None:
                progress.close()
        result = _result(listed, outcome)
        if not stopping.is_set():
            _report(say, label, result, outcome, args.from_file)
        return result

    with contextlib.ExitStack() as stack:
        stack.callback(close_log, log)
        inline = stack.enter_context(job_slot(opts, args.browser, shared)) if jobs == 1 else None
        log_key = log.verifier.vkey()
        batch.tsas_asked = bool(tsas)
        at_once = f", {jobs} at a time" if jobs > 1 else ""
        say(f"Preserving {len(urls)} page(s){at_once} into the log {log.origin!r} ({getattr(log, 'path', '')})")
        if not tsas:
            say(f"warning: no time-stamping authority is configured: no independent time-stamp. {_tsa_setup_hint()}")
        try:
            for n, result in run_jobs(
                urls, one, jobs=jobs, slot=lambda: job_slot(opts, args.browser, per_job), inline=inline, stop=stopping
            ):
                batch.done[n] = result
        except KeyboardInterrupt:
            return _interrupted(args, batch, out, log_key)
        command = verify_command(log, tsas if any(r.get("timestamps") for r in batch.results) else ())
        clock_key = log.timestamp_verifier.vkey()
    if args.json:
        doc = {"log_key": log_key, "clock_key": clock_key, "verify_command": command}
        print(json.dumps({**doc, "results": batch.results}, indent=2))
    else:
        _summary(batch.results, command, no_tsa_answered=batch.exit_code() == EXIT_NO_TIMESTAMP)
    return batch.exit_code()


def _result(listed: ListedURL, outcome: Outcome) -> dict[str, Any]:
    """One URL's entry in the results (and in --json)."""
    url, bundle, e = listed.url, outcome.bundle, outcome.error
    if bundle is None:
        assert e is not None
        failed: dict[str, Any] = {"url": url, "ok": False, "error": e.diagnostics()}
        failed["kind"] = type(e).__name__
        if listed.line:
            failed["line"] = listed.line
        return failed
    return {
        "url": url,
        "ok": True,
        "bundle": str(bundle.path),
        "final_url": bundle.final_url,
        "status": bundle.status,
        "http_error": bundle.http_error,
        "log_origin": bundle.log_origin,
        "log_index": bundle.log_index,
        "checkpoint_size": bundle.checkpoint.size,
        "checkpoint_root": bundle.checkpoint.root_hash.hex(),
        "manifest_sha256": bundle.manifest_sha256,
        "timestamps": bundle.timestamps,
        "warnings": list(bundle.warnings),
        "qa_flags": list(bundle.qa_flags),
        "seconds": round(outcome.seconds, 2),
    }


def _report(
    say: Callable[[str], None], label: str, result: dict[str, Any], outcome: Outcome, source: str | None
) -> None:
    """The progress line of one finished URL (and its warnings)."""
    if not result["ok"]:
        kind = "could not be captured" if isinstance(outcome.error, CaptureError) else "failed"
        where = f" (line {result['line']} of {source})" if result.get("line") else ""
        say(f"{label} FAILED {result['url']}{where}: {kind}: {result['error']}")
        return
    bundle = outcome.bundle
    assert bundle is not None
    flag = f" (HTTP {bundle.status}: error page preserved)" if bundle.http_error else ""
    lines = [f"{label} ok {result['url']} -> {bundle.path} in {outcome.seconds:.1f}s{flag}"]
    if bundle.qa_flags:
        lines.append(f"    QA: probably NOT the listing ({len(bundle.qa_flags)} flag(s)); see the warnings")
    lines += ["    warning: " + w.replace("\n", "\n             ") for w in bundle.warnings]
    say("\n".join(lines))


def verify_command(log: Any, tsas: Sequence[Any] = ()) -> str:
    """The ``evidence verify`` command that reaches VERIFIED for this run's bundles.

    Trust comes from the log itself, never from a bundle: a local log's
    ``verification-keys.txt`` (log key and clock key), or the keys a log server presented
    (the ones config.toml pins, if it does); plus the root certificate of each TSA whose
    time-stamps are in the bundles, when config.toml pins one.
    """

    keys_file = getattr(log, "verification_keys_path", None)
    if keys_file is not None and Path(keys_file).is_file():
        parts = ["--log-key", shlex.quote(str(keys_file))]
    else:
        parts = []
        for key in (log.verifier.vkey(), log.timestamp_verifier.vkey()):
            parts += ["--log-key", shlex.quote(key)]
    for root in dict.fromkeys(str(t.root) for t in tsas if getattr(t, "root", None) is not None):
        parts += ["--tsa-cert", shlex.quote(root)]
    return "evidence verify BUNDLE.wacz " + " ".join(parts)


def _tsa_setup_hint() -> str:
    """The one next step shown when no TSA is configured (the README's first-hour step 1)."""
    from evidence.config import load_config

    return (
        f"To configure one, add a [[tsa]] table to {load_config().path} (README: 'Configure a "
        "time-stamping authority'), or pass --tsa URL."
    )


def _interrupted(args: argparse.Namespace, batch: _Batch, out: Path, log_key: str) -> int:
    """Ctrl-C during a batch: say what was preserved, and write what remains to a file."""
    remaining = batch.remaining
    rerun: Path | None = None
    if remaining:
        rerun = _write_remaining(out, remaining)
    ok = batch.ok
    lines = [
        f"\npreserve: interrupted. Preserved {len(ok)} of {len(batch.urls)} page(s); "
        "no half-written bundle was left behind."
    ]
    for r in ok:
        lines.append(f"  preserved: {r['url']} -> {r['bundle']}")
    for r in batch.results:
        if not r["ok"]:
            lines.append(f"  failed:    {r['url']}")
    if remaining:
        lines.append(f"Not preserved yet ({len(remaining)}):")
        lines += [f"  {u}" for u in remaining[:20]]
        if len(remaining) > 20:
            lines.append(f"  ... and {len(remaining) - 20} more")
        if rerun is not None:
            lines.append(f"They are listed in {rerun}; to preserve them, run:")
            again = ["preserve", "--from-file", str(rerun), "-o", str(out), *_same_options(args)]
            lines.append("  " + " ".join(shlex.quote(a) for a in again))
    print("\n".join(lines), file=sys.stderr)
    if args.json:
        doc = {
            "log_key": log_key,
            "interrupted": True,
            "results": batch.results,
            "remaining": remaining,
            "remaining_file": str(rerun) if rerun is not None else None,
        }
        print(json.dumps(doc, indent=2))
    return EXIT_INTERRUPTED


def _same_options(args: argparse.Namespace) -> list[str]:
    """The options this run was given (but the URLs, --from-file and -o), to run the rest alike."""
    argv: list[str] = []
    for action in _parser()._actions:
        if not action.option_strings or action.dest in ("help", "urls", "from_file", "output"):
            continue
        value = getattr(args, action.dest, None)
        flag = max(action.option_strings, key=len)
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv


def _write_remaining(out: Path, remaining: list[str]) -> Path | None:
    """The URLs not yet preserved, as a list for --from-file, written whole or not at all."""
    import os
    import tempfile

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = out / f"remaining-{stamp}.txt"
    text = "# URLs not preserved: preserve was interrupted at " + stamp + "\n" + "".join(u + "\n" for u in remaining)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".remaining-", suffix=".partial", dir=out)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, dest)
    except OSError as e:
        print(f"preserve: could not write the list of remaining URLs into {out}: {e.strerror or e}", file=sys.stderr)
        return None
    return dest


#: How a bundle's warning introduces the command that adds its missing time-stamp (evidence/bundle.py).
_NEXT_STEP = "add it with: "


def _summary(results: list[dict[str, Any]], command: str, *, no_tsa_answered: bool = False) -> None:
    ok = [r for r in results if r["ok"]]
    print(f"\nPreserved {len(ok)} of {len(results)} page(s).")
    for r in results:
        if not r["ok"]:
            print(f"\n  NOT preserved: {r['url']}\n    {r['error']}")
            continue
        print(f"\n  {r['url']}")
        print(f"    bundle:     {r['bundle']}")
        print(f"    proves:     its files are sealed as entry {r['log_index']} of the log {r['log_origin']!r},")
        size = r["checkpoint_size"]
        print(f"                under a signed checkpoint of {size} {'entry' if size == 1 else 'entries'}")
        stamps = r["timestamps"]
        print(
            f"    time:       {stamps} independent RFC 3161 time-stamp(s)"
            if stamps
            else "    time:       the log's own signed clock only (no independent time-stamp)"
        )
        steps = [w.split(_NEXT_STEP, 1)[1] for w in r["warnings"] if _NEXT_STEP in w]
        if not stamps and steps:
            print(f"    next step:  once the time-stamping authority answers: {steps[0]}")
        if r["http_error"]:
            print(f"    note:       the server answered HTTP {r['status']}; that error page is what was preserved")
    if no_tsa_answered:
        print("\nNo time-stamping authority that was asked gave a time-stamp (exit code 6); see 'next step' above.")
    if ok:
        print(f"\nVerify offline with:  {command}")
        if any(r["timestamps"] for r in ok) and "--tsa-cert" not in command:
            print(
                "  (add --tsa-cert ROOT.pem, the root certificate of the time-stamping authority, to anchor its "
                "time-stamps too; config.toml can pin it: docs/timestamping.md)"
            )


if __name__ == "__main__":
    sys.exit(main())
