"""Step 8, the walk: ``steps.json`` is a walk in order, its times fit the capture and its video,
and every file it names is sealed (and every sealed walk file is named).

A bundle that seals no ``evidence/steps.json`` and no walk file is not a walk: nothing to check.
The checks (docs/verifying.md, "Walks"; the format in docs/bundle-format.md, "Walks"):

1. ``steps.json`` is an ``evidence-walk/1`` record of the manifest's start address, with steps
   numbered 0, 1, 2, ... (0: the start page), each of a known action;
2. each step starts no earlier than the one before it ended, ends no earlier than it started,
   and lies within the capture's recorded start and end (:data:`WALK_TOLERANCE_S`);
3. the screen recording is a WebM file whose own header states the duration ``steps.json``
   gives, and the time from its first frame to its end there; it was not asked for after
   its first frame (its DateUTC); each step's offset into it is its time less the recording's
   first frame, every step lies within the recording, and the recording lasts as long as the
   session did, from step 0 to the end (within :data:`VIDEO_SLACK_S` or :data:`VIDEO_SHARE`);
4. every screenshot, snapshot file and video ``steps.json`` names is sealed, and every sealed
   walk file is named in it.
"""

from __future__ import annotations

from typing import Any

from evidence._internal.webm import HEAD_BYTES, WebMError, webm_info
from evidence.bundle.format import MANIFEST_PATH, STEPS_PATH, WALK_ACTIONS, WALK_FILE_RE, WALK_FORMAT
from evidence.verify.common import READ_ERRORS, Fail, parse_utc, short_json, when_text
from evidence.verify.context import Context

__all__ = ["VIDEO_SHARE", "VIDEO_SLACK_S", "WALK_TOLERANCE_S", "check_walk"]

#: Steps and the capture are timed by the same clock: they must agree this closely.
WALK_TOLERANCE_S = 2.0
#: A step's offset into the video may differ this much from its time less the video's start.
OFFSET_TOLERANCE_S = 0.05
#: The recording may be this much longer or shorter than the session, or :data:`VIDEO_SHARE` of it.
VIDEO_SLACK_S = 2.0
VIDEO_SHARE = 0.15
MAX_WALK_STEPS = 1000


def _time(value: Any, what: str) -> float:
    t = parse_utc(value)
    if t is None:
        raise Fail(f"{STEPS_PATH} gives {what} as {short_json(value)}, which is not a UTC time.", STEPS_PATH)
    return t


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise Fail(f"{STEPS_PATH} gives {what} as {short_json(value)}, which is not a number.", STEPS_PATH)
    return float(value)


def check_walk(ctx: Context, manifest: dict[str, Any]) -> str | None:
    """The walk checks above; the sentence for step 8's detail, or None for a bundle that is not a walk."""
    files = manifest.get("files")
    sealed = {f.get("path") for f in files if isinstance(f, dict)} if isinstance(files, list) else set()
    walk_files = {p for p in sealed if isinstance(p, str) and WALK_FILE_RE.fullmatch(p)}
    if STEPS_PATH not in sealed:
        if walk_files:
            raise Fail(
                f"The bundle seals walk files ({', '.join(sorted(walk_files)[:3])}) but no {STEPS_PATH}: nothing says "
                "which step they belong to or when they were made.",
                MANIFEST_PATH,
            )
        return None
    doc = ctx.json(STEPS_PATH)
    if not isinstance(doc, dict) or doc.get("format") != WALK_FORMAT:
        raise Fail(f"{STEPS_PATH} is not a walk record (format {WALK_FORMAT}).", STEPS_PATH)
    if doc.get("start") != manifest.get("url"):
        raise Fail(
            f"{STEPS_PATH} starts the walk at {short_json(doc.get('start'))}, but the manifest records the start "
            f"address {short_json(manifest.get('url'))}.",
            STEPS_PATH,
            MANIFEST_PATH,
        )
    steps = doc.get("steps")
    if not isinstance(steps, list) or not steps or len(steps) > MAX_WALK_STEPS:
        raise Fail(f"{STEPS_PATH} lists no steps (or more than {MAX_WALK_STEPS}).", STEPS_PATH)
    begin = _time(manifest.get("capture_started"), "the capture's start")
    end = _time(manifest.get("capture_finished"), "the capture's end")
    named: set[str] = {STEPS_PATH}
    previous_end: float | None = None
    spans: list[tuple[Any, float, float]] = []
    for n, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("number") != n:
            raise Fail(
                f"{STEPS_PATH}: entry {n} is not step number {n}: the steps are out of order, or one was removed "
                "or added.",
                STEPS_PATH,
            )
        action = step.get("action")
        if (n == 0) != (action == "start") or action not in WALK_ACTIONS:
            raise Fail(f"{STEPS_PATH}: step {n} has the action {short_json(action)}, which a walk cannot have there.",
                       STEPS_PATH)  # fmt: skip
        t0 = _time(step.get("started_at"), f"the start of step {n}")
        t1 = _time(step.get("finished_at"), f"the end of step {n}")
        if t1 < t0:
            raise Fail(f"{STEPS_PATH}: step {n} ends ({when_text(t1)}) before it starts ({when_text(t0)}).", STEPS_PATH)
        if previous_end is not None and t0 < previous_end - 0.001:
            raise Fail(
                f"{STEPS_PATH}: step {n} starts at {step.get('started_at')}, before step {n - 1} ended: the steps "
                "are not in the order they were taken.",
                STEPS_PATH,
            )
        if t0 < begin - WALK_TOLERANCE_S or t1 > end + WALK_TOLERANCE_S:
            raise Fail(
                f"{STEPS_PATH}: step {n} ({step.get('started_at')} to {step.get('finished_at')}) is outside the "
                f"capture ({manifest.get('capture_started')} to {manifest.get('capture_finished')}).",
                STEPS_PATH,
                MANIFEST_PATH,
            )
        previous_end = t1
        spans.append((step, t0, t1))
        shot = step.get("screenshot")
        if shot != f"step-{n:03d}.png":
            raise Fail(f"{STEPS_PATH}: step {n} names the screenshot {short_json(shot)}, not step-{n:03d}.png.",
                       STEPS_PATH)  # fmt: skip
        named.add(f"evidence/{shot}")
        snap = step.get("snapshot")
        if snap is not None:
            parts = snap.get("files") if isinstance(snap, dict) else None
            name = snap.get("name") if isinstance(snap, dict) else None
            if action != "snapshot" or not isinstance(parts, list) or not isinstance(name, str):
                raise Fail(f"{STEPS_PATH}: step {n} has a malformed snapshot.", STEPS_PATH)
            for part in parts:
                if not isinstance(part, str) or not part.startswith(f"snapshot-{name}-"):
                    raise Fail(f"{STEPS_PATH}: step {n} names {short_json(part)} as a file of snapshot {name!r}.",
                               STEPS_PATH)  # fmt: skip
                named.add(f"evidence/{part}")
    video = doc.get("video")
    if not isinstance(video, dict):
        raise Fail(f"{STEPS_PATH} has no video record.", STEPS_PATH)
    said = _check_video(ctx, video, spans, named)
    missing = sorted(p for p in named if p not in sealed)
    if missing:
        raise Fail(
            f"{STEPS_PATH} names {missing[0]}, which the bundle does not seal: a file of the walk is missing (or "
            "was never made).",
            STEPS_PATH,
            missing[0],
        )
    unnamed = sorted(walk_files - named)
    if unnamed:
        raise Fail(
            f"The bundle seals {unnamed[0]}, but {STEPS_PATH} does not name it: it belongs to no step of the walk.",
            unnamed[0],
            STEPS_PATH,
        )
    return (
        f"{STEPS_PATH} records a walk of {len(steps) - 1} step(s) from {doc.get('start')}, in order and within "
        f"the capture, each with its sealed screenshot{said}"
    )


def _check_video(ctx: Context, video: dict[str, Any], spans: list[tuple[Any, float, float]], named: set[str]) -> str:
    """Check 3 (see the module docstring); the words for the detail."""
    file = video.get("file")
    if file is None:
        return "; the walk has no screen recording (" + str(video.get("why_not") or "not recorded")[:200] + ")."
    if file != "session.webm":
        raise Fail(f"{STEPS_PATH} names the recording {short_json(file)}, not session.webm.", STEPS_PATH)
    path = f"evidence/{file}"
    named.add(path)
    if video.get("mp4") is not None:
        if video.get("mp4") != "session.mp4":
            raise Fail(f"{STEPS_PATH} names the MP4 copy {short_json(video.get('mp4'))}, not session.mp4.", STEPS_PATH)
        named.add("evidence/session.mp4")
    if not ctx.v.has(path):
        raise Fail(f"{STEPS_PATH} names the recording {path}, which is not in the bundle.", STEPS_PATH, path)
    try:
        with ctx.v.stream(path) as f:
            head = f.read(HEAD_BYTES)
        info = webm_info(head)
    except READ_ERRORS as e:  # WebMError is a ValueError: name it apart below
        if isinstance(e, WebMError):
            raise Fail(f"The screen recording {path} is not a WebM file that states its length: {e}.", path) from e
        raise Fail(f"{path} is damaged inside the ZIP file and cannot be read ({e}).", path) from e
    duration = info.duration_s
    stated = _number(video.get("duration_ms"), "the recording's duration") / 1000
    if abs(stated - duration) > 0.002:
        raise Fail(
            f"{STEPS_PATH} says the recording lasts {stated:.3f} s, but {path} itself states {duration:.3f} s: the "
            "recording is not the one the steps were timed against.",
            path,
            STEPS_PATH,
        )
    zero = _time(video.get("started_at"), "the recording's start")
    ended = _time(video.get("ended_at"), "the recording's end")
    if abs(ended - zero - duration) > 0.002:
        raise Fail(
            f"{STEPS_PATH} says the recording ran from {video.get('started_at')} to {video.get('ended_at')}, which "
            f"is not the {duration:.3f} s that {path} itself states.",
            path,
            STEPS_PATH,
        )
    if info.created is not None and info.created > zero + VIDEO_SLACK_S:
        raise Fail(
            f"{path} states that it was started at {when_text(info.created)}, after its first frame "
            f"({video.get('started_at')}) according to {STEPS_PATH}.",
            path,
            STEPS_PATH,
        )
    session = _number(video.get("session_ms"), "the session's length") / 1000
    if spans and abs(ended - spans[0][1] - session) > OFFSET_TOLERANCE_S:
        raise Fail(
            f"{STEPS_PATH} says the session lasted {session:.3f} s, but from the start of step 0 to the end of the "
            f"recording is {ended - spans[0][1]:.3f} s.",
            STEPS_PATH,
        )
    if abs(duration - session) > max(VIDEO_SLACK_S, VIDEO_SHARE * session):
        raise Fail(
            f"The screen recording {path} lasts {duration:.1f} s, but the session it should show lasted "
            f"{session:.1f} s: it does not show the whole walk (or shows more than it).",
            path,
            STEPS_PATH,
        )
    for step, t0, t1 in spans:
        n = step.get("number")
        for key, t in (("offset_ms", t0), ("end_offset_ms", t1)):
            offset = _number(step.get(key), f"{key} of step {n}") / 1000
            if abs(offset - (t - zero)) > OFFSET_TOLERANCE_S:
                raise Fail(
                    f"{STEPS_PATH}: step {n}'s {key} ({offset:.3f} s) is not its time less the recording's start "
                    f"({t - zero:.3f} s): it does not point at the moment of the step in the video.",
                    STEPS_PATH,
                )
        if t1 - zero > duration + VIDEO_SLACK_S or t0 - zero < -VIDEO_SLACK_S:
            raise Fail(
                f"Step {n} ({t0 - zero:.1f} s to {t1 - zero:.1f} s into the recording) is outside the recording "
                f"{path}, which lasts {duration:.1f} s.",
                path,
                STEPS_PATH,
            )
    return (
        f"; the screen recording {path} lasts {duration:.1f} s (the session {session:.1f} s) and every step points "
        "into it."
    )
