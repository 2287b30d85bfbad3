"""``evidence report BUNDLE -o FILE.pdf|FILE.html``: a graded certificate of preservation.

    evidence report BUNDLE -o FILE.pdf [--trust POLICY | --log-key VKEY ...] [--tsa-cert PEM ...] [--force]
                    [--lang en|zh|en,zh] [--form fre902]

The bundle is verified under the user's trust (the same options as ``evidence verify``),
and the certificate is generated from that verification: every claim with its grade and
what it was checked against, the verdict, warnings, the sealed capture facts and the
screenshot, all in one self-contained file. The bundle's own ``report.html`` is never
opened. PDF output is rendered by Chromium with JavaScript off and every request refused
(:mod:`evidence.report.pdf`), with the bundle's file name, its evidence number and "page N / M"
at the foot of every page. ``--lang`` chooses English, Simplified Chinese or both;
``--form fre902`` writes the US certification form (FRE 902(13)/(14)) instead of the
certificate (:mod:`evidence.report.fre902`).

Exit status, as ``evidence verify``: 0 VERIFIED, 3 VERIFIED BUT NOT ANCHORED IN TRUST, 1
FAILED (the file written says FAILED and is not a certificate), 2 unusable input or usage
error (nothing written; also when FILE exists and ``--force`` is not given).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence._internal.durable import fsync_dir
from evidence._internal.timefmt import utc_text
from evidence.errors import EXIT_USAGE, ReportError, UsageError


def _bundle_digest(path: Path) -> tuple[str, int] | None:
    """SHA-256 and size of the bundle file, or None if it is not a readable regular file."""
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            h, n = hashlib.sha256(), 0
            while chunk := f.read(1 << 20):
                h.update(chunk)
                n += len(chunk)
    except OSError:
        return None
    return h.hexdigest(), n


def _check_output(out: Path, force: bool) -> None:
    if out.suffix.lower() not in (".pdf", ".html"):
        raise UsageError(f"the output {out} must end in .pdf (rendered with Chromium) or .html")
    if out.is_dir():
        raise UsageError(f"the output {out} is a folder; give a file name ending in .pdf or .html")
    if (out.exists() or out.is_symlink()) and not force:
        raise UsageError(
            f"{out} already exists; refusing to overwrite it",
            hint="Choose another file name, or add --force to replace it.",
        )
    if not out.parent.is_dir():
        raise UsageError(f"the folder {out.parent} for the output does not exist")


def write_atomically(dest: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``dest`` whole or not at all: a hidden temporary file beside it,
    flushed to disk, then renamed into place (without ``force``, never over an existing file)."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: never overwritten without --force
            except FileExistsError:
                raise UsageError(
                    f"{dest} already exists; refusing to overwrite it",
                    hint="Choose another file name, or add --force to replace it.",
                ) from None
            except OSError:  # a file system without hard links
                if dest.exists() or dest.is_symlink():
                    raise UsageError(f"{dest} already exists; refusing to overwrite it") from None
                os.replace(tmp, dest)
    except OSError as e:
        raise ReportError(f"cannot write {dest}: {e.strerror or e}") from e
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):  # make the rename durable (best effort: not every system allows it)
        fsync_dir(dest.parent)


def cmd_report(args: argparse.Namespace) -> int:
    from evidence import __version__
    from evidence.bundle import BundleView
    from evidence.report import CertificateContext, evidence_number, parse_languages, read_certified
    from evidence.verify import Verdict, verify

    from .options import trust_from_args

    out = Path(args.output)
    _check_output(out, args.force)
    langs = parse_languages(args.lang)
    policy, keys, certs, source = trust_from_args(args)
    bundle = Path(args.bundle)
    before = _bundle_digest(bundle)
    report = verify(bundle, trust=policy, log_keys=keys, tsa_pins=certs)
    if report.verdict is Verdict.UNUSABLE or before is None:
        print(f"error: no certificate written: {report.summary}", file=sys.stderr)
        return EXIT_USAGE
    data = None
    if report.verdict in (Verdict.VERIFIED, Verdict.NOT_ANCHORED):
        with BundleView.open(bundle) as view:
            data = read_certified(view, manifest_sha256=dict(report.facts).get("Manifest SHA-256"))
    if _bundle_digest(bundle) != before:
        raise ReportError(
            f"the bundle {bundle} changed while it was being verified; no certificate written",
            hint="Make sure nothing writes to the bundle, and run the command again.",
        )
    context = CertificateContext(
        bundle_name=bundle.name,
        bundle_sha256=before[0],
        bundle_size=before[1],
        trust_source=source,
        made_at=utc_text(datetime.now(UTC)) + " (the clock of the computer that made it)",
        tool=f"evidence {__version__}",
    )
    if args.form == "fre902":
        from evidence.report.fre902 import render_fre902

        if data is None:
            print(f"error: no form written: the bundle did not verify ({report.summary})", file=sys.stderr)
            return report.exit_code
        html = render_fre902(report, data, context)
    else:
        from evidence.report import render_certificate

        html = render_certificate(report, data, context, langs=langs)
    if out.suffix.lower() == ".html":
        payload = html
    else:
        from evidence.report.certificate import CJK_FONTS
        from evidence.report.derived import bounded_html
        from evidence.report.pdf import html_to_pdf, page_footer

        number = evidence_number(report) if data is not None else None
        left = bounded_html(bundle.name) + (f" \u00b7 {bounded_html(number.label)}" if number is not None else "")
        footer = page_footer(left, fonts=f"'DejaVu Sans',{CJK_FONTS},sans-serif")
        payload = html_to_pdf(html, executable=args.browser, footer=footer).pdf
    write_atomically(out, payload, force=args.force)
    if report.verdict is Verdict.FAILED:
        failed = report.failed_step
        where = f" at step {failed.number}" if failed else ""
        print(
            f"Wrote {out}: verification FAILED{where}; the file says so and is not a certificate of preservation.",
            file=sys.stderr,
        )
    else:
        print(f"Wrote {out}: {report.verdict.value}.")
    return report.exit_code


def register(sub: Any) -> None:
    from .options import add_browser, add_trust_arguments

    p = sub.add_parser(
        "report",
        help="verify a bundle under your trust and write a graded certificate of preservation (PDF or HTML)",
        description="Verify a bundle under your trust (as 'evidence verify') and write a certificate of preservation "
        "showing each claim with its grade: one self-contained PDF or HTML file. The bundle's own report.html is "
        "never used. Exit status as 'evidence verify'; an existing output is kept unless --force is given.",
    )
    p.add_argument("bundle", help="the .wacz bundle")
    p.add_argument("-o", "--output", required=True, help="FILE.pdf or FILE.html")
    add_trust_arguments(p)
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.add_argument(
        "--lang",
        default="en",
        metavar="en|zh|en,zh",
        help="the certificate's language: English (en, the default), Simplified Chinese (zh) or both (en,zh)",
    )
    p.add_argument(
        "--form",
        choices=["fre902"],
        help="write a form instead of the certificate: fre902, a certification template for US Federal Rules of "
        "Evidence 902(13)/(14), filled in from the bundle, to be signed (a template, not legal advice)",
    )
    add_browser(p)
    p.set_defaults(func=cmd_report)
