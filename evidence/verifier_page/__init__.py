"""The single-file offline verifier page (``verify.html``): sources, build and the shipped file.

Owns the JavaScript sources beside this module and the built page; imports only the
standard library. :func:`build` concatenates the sources into the HTML template;
:func:`page_bytes` returns the shipped ``verify.html`` (a test checks it equals a fresh build).
"""

from __future__ import annotations

import hashlib
from importlib import resources

__all__ = ["SOURCES", "build", "page_bytes", "page_sha256"]

#: The script modules, in the order they are concatenated.
SOURCES = ("zip.js", "json.js", "crypto.js", "tsa.js", "trust.js", "verify.js", "lookup.js", "ui.js")
_MARK = "/*SCRIPT*/"


def _text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def build() -> bytes:
    """The page built from the sources: the template with every module inlined."""
    script = "\n".join(f"// ---- {name}\n{_text(name)}" for name in SOURCES)
    template = _text("page.html")
    if script.count("</script") or template.count(_MARK) != 1:
        raise ValueError("the verifier page sources cannot be inlined")
    return template.replace(_MARK, script).encode("utf-8")


def page_bytes() -> bytes:
    """The shipped ``verify.html``."""
    return resources.files(__name__).joinpath("verify.html").read_bytes()


def page_sha256() -> str:
    """Hex SHA-256 of the shipped page."""
    return hashlib.sha256(page_bytes()).hexdigest()
