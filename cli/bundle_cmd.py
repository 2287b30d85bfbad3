"""`evidence report BUNDLE -o FILE.pdf`: the certificate of preservation as a PDF."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evidence.errors import EXIT_OK, UsageError


def cmd_report(args: argparse.Namespace) -> int:
    from evidence.bundle import REPORT_PATH, BundleView
    from evidence.report import render_pdf

    out = Path(args.output)
    if out.suffix.lower() not in (".pdf", ".html"):
        raise UsageError("the output must end in .pdf (rendered with Chromium) or .html")
    with BundleView.open(args.bundle) as view:
        html = view.read(REPORT_PATH)
        images = {
            name.split("/")[-1]: view.read(name) for name in ("evidence/screenshot-viewport.png",) if view.has(name)
        }
    if out.suffix.lower() == ".html":
        out.write_bytes(html)
        for name, data in images.items():
            (out.parent / name).write_bytes(data)
    else:
        render_pdf(html, images, str(out), executable=args.browser)
    print(f"Wrote {out}")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="render a bundle's certificate of preservation to PDF (or HTML)")
    p.add_argument("bundle", help="the .wacz bundle")
    p.add_argument("-o", "--output", required=True, help="FILE.pdf or FILE.html")
    p.add_argument("--browser", metavar="PATH", help="Chromium/Chrome executable (default: found automatically)")
    p.set_defaults(func=cmd_report)
