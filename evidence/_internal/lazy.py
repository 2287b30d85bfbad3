"""Lazy re-exports for package ``__init__`` files (standard library only).

A package's ``__init__`` names its public names and the submodule that defines each; a
name is imported on first use, so importing a package loads none of its submodules
(docs/design.md, "Layout and the import rule"). Every package uses this one function
instead of its own copy of a module ``__getattr__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps a public name to the module
    that defines it, either a full name (``evidence.bundle.writer``) or one relative to the
    package (``writer``). The value is cached on the package after the first use."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = home if home.startswith("evidence.") else f"{package}.{home}"
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
