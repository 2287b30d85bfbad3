"""`preserve URL [URL ...]`: capture, seal into the log and write one proof bundle per URL.

Exit codes: 0 every URL preserved; 4 some URLs failed (the others were preserved);
2 usage error, or no URL could be preserved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evidence.errors import EXIT_OK, EXIT_USAGE, CaptureError, EvidenceError, UsageError

EXIT_PARTIAL = 4


def _parser() -> argparse.ArgumentParser:
    from .main import _Parser

    p = _Parser(
        prog="preserve",
        description="Preserve web pages as court-grade evidence: capture each URL, seal it into an "
        "append-only log and write a proof bundle (.wacz) that anyone can verify offline.",
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="http(s) address to preserve")
    p.add_argument("-o", "--output", default=".", metavar="DIR", help="where to write the bundles (default: .)")
    p.add_argument("--from-file", metavar="FILE", help="read URLs from FILE, one per line ('-' for stdin; # comments)")
    p.add_argument(
        "--log", metavar="DIR|URL", help="log directory or log server URL (default: the embedded log in $EVIDENCE_HOME)"
    )
    p.add_argument(
        "--tsa", action="append", metavar="URL|NAME", help="time-stamping authority (repeatable; default: config.toml)"
    )
    p.add_argument("--case", help="case reference, recorded in the bundle")
    p.add_argument("--operator", help="who preserved it, recorded in the bundle")
    p.add_argument("--notes", help="free-text notes, recorded in the bundle")
    p.add_argument("--json", action="store_true", help="print one JSON document with the results")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    g = p.add_argument_group("capture options")
    g.add_argument("--viewport", metavar="WxH", help="browser window size (default 1280x800)")
    g.add_argument("--user-agent", metavar="UA")
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
    g.add_argument("--browser", metavar="PATH", help="Chromium/Chrome executable (default: found automatically)")
    return p


def _urls(args: argparse.Namespace) -> list[str]:
    urls = list(args.urls)
    if args.from_file:
        try:
            text = sys.stdin.read() if args.from_file == "-" else Path(args.from_file).read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot read the URL list {args.from_file}: {e.strerror}") from e
        except UnicodeDecodeError as e:
            raise UsageError(f"the URL list {args.from_file} is not UTF-8 text") from e
        urls += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
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
    from evidence.timestamp import MissingTimestampWarning

    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            # Each bundle reports the TSAs that gave no token in its own warning lines.
            warnings.simplefilter("ignore", MissingTimestampWarning)
            return _run(args)
    except EvidenceError as e:
        print(f"preserve: {e.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("preserve: interrupted; no half-written bundle was left behind", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from evidence.api import capture_with, session

    urls = _urls(args)
    out = Path(args.output)
    results: list[dict[str, Any]] = []
    quiet = args.quiet or args.json

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr)

    with session(log=args.log, tsa=args.tsa, executable=args.browser, **_options(args)) as (capturer, log, tsas):
        say(f"Preserving {len(urls)} page(s) into the log {log.origin!r} ({getattr(log, 'path', '')})")
        if not tsas:
            say("warning: no time-stamping authority configured (config.toml or --tsa): no independent time")
        for n, url in enumerate(urls, start=1):
            t0 = time.perf_counter()
            progress = None if quiet else _Progress(f"[{n}/{len(urls)}]")
            try:
                bundle = capture_with(capturer, log, url, out_dir=out, tsas=tsas, progress=progress)
            except EvidenceError as e:
                kind = "could not be captured" if isinstance(e, CaptureError) else "failed"
                say(f"[{n}/{len(urls)}] FAILED {url}: {kind}: {e.diagnostics()}")
                results.append({"url": url, "ok": False, "error": e.diagnostics()})
                continue
            finally:
                if progress is not None:
                    progress.close()
            took = time.perf_counter() - t0
            flag = f" (HTTP {bundle.status}: error page preserved)" if bundle.http_error else ""
            say(f"[{n}/{len(urls)}] ok {url} -> {bundle.path} in {took:.1f}s{flag}")
            for w in bundle.warnings:
                say("    warning: " + w.replace("\n", "\n             "))
            results.append(
                {
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
                    "seconds": round(took, 2),
                }
            )
        log_key = log.verifier.vkey()
    ok = [r for r in results if r["ok"]]
    if args.json:
        print(json.dumps({"log_key": log_key, "results": results}, indent=2))
    else:
        _summary(results, log_key)
    if len(ok) == len(results):
        return EXIT_OK
    return EXIT_PARTIAL if ok else EXIT_USAGE


def _summary(results: list[dict[str, Any]], log_key: str) -> None:
    ok = [r for r in results if r["ok"]]
    print(f"\nPreserved {len(ok)} of {len(results)} page(s).")
    for r in results:
        if not r["ok"]:
            print(f"\n  NOT preserved: {r['url']}\n    {r['error']}")
            continue
        print(f"\n  {r['url']}")
        print(f"    bundle:     {r['bundle']}")
        print(f"    proves:     its files are sealed as entry {r['log_index']} of the log {r['log_origin']!r},")
        print(f"                under a signed checkpoint of {r['checkpoint_size']} entries")
        stamps = r["timestamps"]
        print(
            f"    time:       {stamps} independent RFC 3161 time-stamp(s)"
            if stamps
            else "    time:       the log's own signed clock only (no independent time-stamp)"
        )
        if r["http_error"]:
            print(f"    note:       the server answered HTTP {r['status']}; that error page is what was preserved")
    if ok:
        print(f"\nVerify offline with:  evidence verify BUNDLE.wacz --log-key '{log_key}'")


if __name__ == "__main__":
    sys.exit(main())
