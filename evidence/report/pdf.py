"""HTML to PDF with Chromium, for documents that must not run anything or fetch anything.

``evidence report`` renders only the certificate the project generated itself
(:func:`evidence.report.certificate.render_certificate`), never a bundle's own HTML. Even so it is
rendered as if it were hostile:

- JavaScript is disabled for the page (``java_script_enabled=False``), service workers are
  blocked, downloads refused;
- every request the page makes is refused: a route aborts each one before it leaves the
  browser (the certificate's images are ``data:`` URIs, which are not requests), and host
  names resolve to nothing (``--host-resolver-rules``) as a second fence;
- the HTML is handed to the page directly (``set_content``), not through a file or a
  server, so no file is written for it;
- Chromium's sandbox stays on. Only when running as root (where Chromium refuses to start
  sandboxed, as in most containers) is ``--no-sandbox`` used; see docs/design.md.

The result is the PDF's bytes; writing them is the caller's job (atomically).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from evidence.errors import ReportError

__all__ = ["PdfRendering", "html_to_pdf", "page_footer", "sandbox_enabled"]

#: Chromium flags: no background traffic, and no host name resolves (a fence behind the route).
_ARGS = (
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


@dataclass(frozen=True)
class PdfRendering:
    """A rendered PDF, and every request the page attempted (all were refused)."""

    pdf: bytes
    refused: tuple[str, ...]


def sandbox_enabled() -> bool:
    """Whether Chromium's sandbox is used: always, except as root (where Chromium refuses it)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is None or geteuid() != 0


def page_footer(left: str, *, fonts: str = "sans-serif") -> str:
    """A footer template for :func:`html_to_pdf`: ``left`` (HTML, escaped by the caller) and
    "page N / M" (Chromium fills in ``pageNumber`` and ``totalPages``)."""
    return (
        f'<div style="font-size:8px;font-family:{fonts};width:100%;margin:0 12mm;display:flex;'
        f'justify-content:space-between;color:#444"><span>{left}</span>'
        '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>'
    )


def html_to_pdf(
    html: bytes, *, executable: str | None = None, timeout_s: float = 60.0, footer: str = ""
) -> PdfRendering:
    """Render ``html`` (UTF-8) to an A4 PDF with JavaScript off and every request refused.

    ``footer``: a Chromium footer template printed on every page (:func:`page_footer`), or
    "" for none.

    The rendering runs in a thread of its own, under a total deadline: Playwright's sync API
    refuses to run in a thread that already drives a browser (a program that called
    :func:`evidence.capture` keeps one), and a browser that hangs must not hang the caller.
    """
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = _render(html, executable=executable, timeout_s=timeout_s, footer=footer)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    worker = threading.Thread(target=work, name="evidence-pdf", daemon=True)
    worker.start()
    deadline = 2 * max(1.0, timeout_s) + 30
    worker.join(deadline)
    if worker.is_alive():
        raise ReportError(
            f"Chromium did not finish rendering the certificate to PDF within {deadline:.0f} s.",
            hint="Try again on a less loaded machine, or write the certificate as HTML instead (-o FILE.html).",
        )
    if "error" in box:
        raise box["error"]
    result: PdfRendering = box["result"]
    return result


def _render(html: bytes, *, executable: str | None, timeout_s: float, footer: str = "") -> PdfRendering:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - a declared dependency of the capture extra
        raise ReportError(
            f"Playwright is not installed ({e}).",
            hint="pip install 'preserve-evidence[capture]' (a PDF needs Playwright; an .html one does not)",
        ) from None
    from evidence.capture.discovery import find_chromium

    exe = executable or str(find_chromium().path)
    ms = max(1.0, timeout_s) * 1000
    refused: list[str] = []

    def refuse(route: Any) -> None:
        refused.append(str(route.request.url)[:500])
        route.abort("blockedbyclient")

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=exe,
                chromium_sandbox=sandbox_enabled(),
                args=list(_ARGS),
                headless=True,
                timeout=ms,
            )
            try:
                context = browser.new_context(
                    java_script_enabled=False, service_workers="block", accept_downloads=False
                )
                context.set_default_timeout(ms)
                context.route("**/*", refuse)
                page = context.new_page()
                page.set_content(html.decode("utf-8", "replace"), wait_until="load", timeout=ms)
                if footer:
                    pdf = page.pdf(
                        format="A4",
                        print_background=True,
                        display_header_footer=True,
                        header_template="<span></span>",
                        footer_template=footer,
                        margin={"top": "12mm", "bottom": "16mm", "left": "10mm", "right": "10mm"},
                    )
                else:
                    pdf = page.pdf(format="A4", print_background=True)
            finally:
                browser.close()
    except PlaywrightError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(
            f"Chromium at {exe} could not render the certificate to PDF ({first[:300]}).",
            hint="Check that it is a working Chromium (run it with --version), give another with --browser, "
            "or write the certificate as HTML instead (-o FILE.html).",
        ) from None
    return PdfRendering(pdf=pdf, refused=tuple(refused))
