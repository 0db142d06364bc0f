"""Failures of the course's own code (a TOML file's model.init/batch/forward, or names it gets wrong) turned
into one CourseError line that names the TOML file, the exercise and the key to fix.

The course's code runs only when a check first needs an exercise's context, long after the TOML files
loaded cleanly, so a `1/0` in `forward` or a step whose `of` names no tensor surfaces there."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from tutor.course import CourseError
from tutor.course.model import Exercise

# How context.py names the code it compiles: "<atomic: model.forward>".
_CODE_NAME = re.compile(r"^<(?P<exercise>[^:>]+): (?P<key>[\w.]+)>$")
# ContextError messages, and the key each one is about.
_MESSAGE_KEYS = (
    (re.compile(r"model code does not define the tensor"), "model.parameters"),
    (re.compile(r"model\.loss names"), "model.loss"),
    (re.compile(r"step (?P<step>\w+) names"), "steps.of"),
    (re.compile(r"given (?P<given>\w+) names"), "given"),
)


def _key_of(exc: BaseException) -> tuple[str | None, int | None, str]:
    """The TOML key at fault, the line of its code, and the message without the file name the ContextError
    may already hold."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        match = _CODE_NAME.match(frame.filename)
        if match:
            return match["key"], frame.lineno or None, f"{type(exc).__name__}: {exc}"
    message = str(exc).split(": ", 1)[-1] if str(exc).startswith(("/", ".")) else str(exc)
    for pattern, key in _MESSAGE_KEYS:
        found = pattern.search(message)
        if found:
            step = found.groupdict().get("step")
            return (f"steps[{step}].of" if step else key), None, message
    return None, None, f"{type(exc).__name__}: {message}"


@contextmanager
def course_code(exercise: Exercise) -> Iterator[None]:
    """Run the exercise's course code; any exception from it becomes a CourseError naming the file and key
    to fix (the shared model file for what the exercise takes from it) and the exercise."""
    try:
        yield
    except CourseError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the course's code raises is the course's fault
        key, line, message = _key_of(exc)
        path, key, line = exercise.origin(key, line)
        where = f" (line {line} of its code)" if line else ""
        raise CourseError(path, f"{message[:500]}{where} (the course's code failed when the context was built)",
                          exercise.id, key) from None
