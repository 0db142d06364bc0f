"""What a process that runs a learner's code does to itself, and how it describes the learner's errors.

Shared by the sandbox's children (tutor.sandbox.child) and exercise 4's trainer (tutor.training.worker):
an output cap that keeps the first bytes printed, death with the parent process, a memory limit, and the
learner's error as plain data (kind, message, line, source), its text cut short.
"""

from __future__ import annotations

import resource
import signal
import traceback
from typing import Any

import torch

OUTPUT_KEEP = 16 * 1024


class OutputLimit(BaseException):
    """Raised when the learner's code prints more than the check allows."""


class BoundedOutput:
    """A stdout/stderr stand-in that keeps the first bytes printed and stops a flood."""

    def __init__(self, limit: int | None):
        """`limit`: characters after which OutputLimit is raised; None keeps printing allowed (a trainer)."""
        self.limit, self.total, self.kept, self.kept_len = limit, 0, [], 0

    def write(self, text: Any) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept_len < OUTPUT_KEEP:
            self.kept.append(text[: OUTPUT_KEEP - self.kept_len])
            self.kept_len += len(self.kept[-1])
        if self.limit is not None and self.total > self.limit:
            raise OutputLimit
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        out = "".join(self.kept)
        return out + ("\n… (output cut)" if self.total > OUTPUT_KEEP else "")


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux; elsewhere nothing happens)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def limit_memory(extra_bytes: int) -> None:
    """Cap this process's address space at what it uses now plus `extra_bytes` (where /proc tells)."""
    try:
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, vm + extra_bytes))
    except (OSError, ValueError, StopIteration):
        pass


# Error text sent back is cut here already (the tutor cuts again: the frame is untrusted), so a 30 MB
# exception message costs neither a 30 MB frame nor a 30 MB line on the learner's terminal.
MESSAGE_KEEP = 2000
SOURCE_KEEP = 300


def cut(text: str, limit: int) -> str:
    """text, or its first `limit` characters and a note saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters cut)"


def learner_error(kind: str, message: str, line: int | None, source_lines: list[str]) -> dict[str, Any]:
    """The learner's error as plain data: kind, message and line, with the source of that line, all cut."""
    text = source_lines[line - 1].rstrip() if line and 0 < line <= len(source_lines) else None
    return {"kind": kind, "message": cut(message, MESSAGE_KEEP), "line": line,
            "source": cut(text, SOURCE_KEEP) if text is not None else None}


def short_repr(value: Any) -> str:
    """repr() of what the learner's code raised or exited with, never longer than the error it goes into
    (str/bytes are cut before repr: a 30 MB string is never copied again)."""
    try:
        if isinstance(value, (str, bytes)) and len(value) > MESSAGE_KEEP:
            return cut(repr(value[:MESSAGE_KEEP]), MESSAGE_KEEP) + f" ({len(value):,} long)"
        return cut(repr(value), MESSAGE_KEEP)
    except BaseException:  # a learner's __repr__ may raise anything
        return f"<a {type(value).__name__}>"


def describe_exception(exc: BaseException) -> str:
    """"Type: message", cut, without trusting the exception's __str__."""
    try:
        args = exc.args
        if len(args) == 1 and isinstance(args[0], str) and len(args[0]) > MESSAGE_KEEP:
            text = args[0][:MESSAGE_KEEP] + f"… ({len(args[0]) - MESSAGE_KEEP:,} more characters cut)"
        else:
            text = cut(str(exc), MESSAGE_KEEP)
    except BaseException:
        text = "(its message could not be read)"
    return f"{type(exc).__name__}: {text}".strip().rstrip(":")


def learner_line(exc: BaseException, filename: str) -> int | None:
    """The line of the learner's file where `exc` was raised (its innermost frame there), if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames else None


def is_memory_error(exc: BaseException) -> bool:
    """Whether `exc` says memory ran out (Python's, torch's or the allocator's way of saying it)."""
    if isinstance(exc, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in str(exc) or "out of memory" in str(exc).lower()
    )
