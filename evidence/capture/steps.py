"""The steps of a walk: one frozen value per step, validated strictly, from Python or TOML.

A step is a mapping with exactly one action key, and the action's own modifiers::

    {"goto": "https://shop.example/"}           open an address
    {"click": "#buy"}                            click an element (a Playwright selector)
    {"fill": "#q", "text": "shoes"}              type into a field ("secret": True masks it)
    {"press": "Enter"}                           press a key (into the focused element)
    {"select": "#variant", "value": "red"}       choose an option of a <select>
    {"scroll": "bottom"}                         "top", "bottom", or a number of pixels
    {"wait": 500}  /  {"wait": "#sel"}           milliseconds, or until an element shows
    {"snapshot": "listing"}                      record the full set of artifacts here

A walk file (TOML) gives ``start = "URL"`` and ``[[steps]]`` tables of the same shape. Every
error names the step by its number (from 1) and says what is wrong; nothing is captured.
No I/O here but :func:`load_walk_file`'s one bounded read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.capture.errors import InvalidWalkError

__all__ = [
    "ACTIONS",
    "MAX_STEPS",
    "SECRET_MASK",
    "Step",
    "Walk",
    "load_walk_file",
    "load_walk_text",
    "parse_steps",
    "parse_walk",
]

#: Each action and the modifier keys it takes (required ones first in the tuple, see _REQUIRED).
ACTIONS: dict[str, tuple[str, ...]] = {
    "goto": (),
    "click": (),
    "fill": ("text", "secret"),
    "press": (),
    "select": ("value",),
    "scroll": (),
    "wait": (),
    "snapshot": (),
}
_REQUIRED = {"fill": ("text",), "select": ("value",)}
MAX_STEPS = 200
MAX_TEXT = 10_000
MAX_WAIT_MS = 120_000
MAX_SCROLL_PX = 1_000_000
#: What steps.json shows instead of a secret's text.
SECRET_MASK = "********"
_SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_KEY = re.compile(r"[A-Za-z0-9+_ -]{1,40}")


@dataclass(frozen=True)
class Step:
    """One step: ``action`` on ``target`` (selector, address, key, snapshot name, scroll
    position or pixels, milliseconds or selector to wait for), with ``text`` for fill and
    select; ``secret`` text is typed but never recorded."""

    number: int
    action: str
    target: str | int
    text: str | None = None
    secret: bool = False

    @property
    def shown_text(self) -> str | None:
        """The text as recorded: masked when secret."""
        if self.text is None:
            return None
        return SECRET_MASK if self.secret else self.text

    def describe(self) -> str:
        """The step in a few words, for messages: ``step 3 (click "#buy")``."""
        what = f"{self.action} {self.target!r}" if isinstance(self.target, str) else f"{self.action} {self.target}"
        if self.text is not None:
            what += f" with {self.shown_text!r}"
        return f"step {self.number} ({what})"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "text": self.shown_text, "secret": self.secret}


@dataclass(frozen=True)
class Walk:
    """A start address and its steps."""

    start: str
    steps: tuple[Step, ...]

    def definition(self) -> bytes:
        """The walk as canonical JSON (keys sorted, no spaces, UTF-8; secret text masked):
        what an attempt record's walk digest is the SHA-256 of."""
        doc = {"start": self.start, "steps": [s.to_json() for s in self.steps]}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _bad(number: int, message: str, hint: str | None = None) -> InvalidWalkError:
    return InvalidWalkError(f"Step {number} of the walk cannot be used: {message}.", hint=hint)


def _string(number: int, key: str, value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(number, f"{key} must be a non-empty text, not {value!r}"[:300])
    if len(value) > limit:
        raise _bad(number, f"{key} is longer than {limit} characters")
    return value


def _int(number: int, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(number, f"{key} must be a whole number from {low} to {high}, not {value!r}"[:300])
    return value


def _one(number: int, raw: Any) -> Step:
    if not isinstance(raw, Mapping):
        raise _bad(number, f"a step is a table of keys (like {{click = \"#buy\"}}), not {type(raw).__name__}")
    actions = [k for k in raw if k in ACTIONS]
    if len(actions) != 1:
        found = ", ".join(map(str, actions)) or "none"
        raise _bad(
            number,
            f"a step has exactly one action (found: {found})",
            hint=f"The actions are: {', '.join(ACTIONS)}.",
        )
    action = actions[0]
    allowed = {action, *ACTIONS[action]}
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        takes = ", ".join(ACTIONS[action]) or "no other key"
        raise _bad(number, f"{action} does not take {', '.join(unknown)} ({action} takes {takes})")
    for key in _REQUIRED.get(action, ()):
        if key not in raw:
            raise _bad(number, f"{action} needs {key}")
    value = raw[action]
    text: str | None = None
    secret = False
    target: str | int
    if action == "goto":
        from evidence.capture.errors import InvalidURLError
        from evidence.capture.urls import check_url

        try:
            target = check_url(_string(number, action, value, 8000)).url
        except InvalidURLError as e:
            raise _bad(number, e.message.rstrip("."), e.hint) from None
    elif action in ("click", "fill", "select"):
        target = _string(number, action, value, 2000)
        if action == "fill":
            text = raw["text"]
            if not isinstance(text, str) or len(text) > MAX_TEXT:
                raise _bad(number, f"text must be a text of at most {MAX_TEXT} characters")
            secret = raw.get("secret", False)
            if not isinstance(secret, bool):
                raise _bad(number, f"secret must be true or false, not {secret!r}")
        if action == "select":
            text = _string(number, "value", raw["value"], 2000)
    elif action == "press":
        target = _string(number, action, value, 40)
        if not _KEY.fullmatch(target):
            raise _bad(number, f"press takes a key name such as Enter, Tab or Control+A, not {target!r}")
    elif action == "scroll":
        if isinstance(value, str):
            if value not in ("top", "bottom"):
                raise _bad(number, f'scroll takes "top", "bottom" or a number of pixels, not {value!r}')
            target = value
        else:
            target = _int(number, "scroll", value, -MAX_SCROLL_PX, MAX_SCROLL_PX)
    elif action == "wait":
        if isinstance(value, str):
            target = _string(number, "wait", value, 2000)
        else:
            target = _int(number, "wait", value, 0, MAX_WAIT_MS)
    else:  # snapshot
        target = _string(number, "snapshot", value, 40)
        if not _SNAPSHOT_NAME.fullmatch(target):
            raise _bad(number, f"a snapshot name is 1 to 40 letters, digits, '-' or '_', not {target!r}")
    return Step(number, action, target, text, secret)


def parse_steps(raw: Any) -> tuple[Step, ...]:
    """The steps from a list of mappings; :class:`InvalidWalkError` naming the first bad one."""
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidWalkError(f"A walk's steps are a list of steps, not {type(raw).__name__}.")
    if len(raw) > MAX_STEPS:
        raise InvalidWalkError(f"A walk has at most {MAX_STEPS} steps; this one has {len(raw)}.")
    steps = tuple(_one(n, s) for n, s in enumerate(raw, start=1))
    seen: set[str | int] = set()
    for s in steps:
        if s.action == "snapshot":
            if s.target in seen:
                raise _bad(s.number, f"the snapshot name {s.target!r} is used twice; each snapshot needs its own")
            seen.add(s.target)
    return steps


def parse_walk(start: Any, steps: Any) -> Walk:
    """A checked walk: its start address and steps."""
    from evidence.capture.errors import InvalidURLError
    from evidence.capture.urls import check_url

    if not isinstance(start, str):
        raise InvalidWalkError(f"A walk's start must be an address (a text), not {type(start).__name__}.")
    try:
        url = check_url(start).url
    except InvalidURLError as e:
        raise InvalidWalkError(f"The walk's start address cannot be used: {e.message}", hint=e.hint) from None
    return Walk(url, parse_steps(steps))


def load_walk_file(path: str | os.PathLike[str]) -> Walk:
    """A walk from a TOML file (``start`` and ``[[steps]]``), read with a size cap."""
    from evidence._internal.files import MAX_CONFIG_BYTES, read_text_file

    text = read_text_file(path, limit=MAX_CONFIG_BYTES, what="walk file", error=InvalidWalkError)
    return load_walk_text(text, f"the walk file {os.fspath(path)}")


def load_walk_text(text: str, where: str = "the walk") -> Walk:
    """A walk from the text of a walk file (``start`` and ``[[steps]]``, TOML); ``where``
    names it in messages."""
    from evidence._internal.toml import parse_table
    from evidence.errors import FormatError

    try:
        data = parse_table(text, where, ("start", "steps"))
    except FormatError as e:
        raise InvalidWalkError(e.message, hint=e.hint) from None
    if "start" not in data:
        raise InvalidWalkError(f"{where} has no start address", hint='Add a line such as start = "https://shop.example/".')
    try:
        return parse_walk(data["start"], data.get("steps", []))
    except InvalidWalkError as e:
        raise InvalidWalkError(f"{where}: {e.message}", hint=e.hint) from None
