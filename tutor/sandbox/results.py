"""What comes back from a run in the sandbox: the child's (untrusted) frame checked field by field and turned
into one LearnerRun per requested run, or the reason none came."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from tutor.process.limits import cut
from tutor.process.wire import FrameBytes, WireError, decode_frame, unpack_tensor
from tutor.reports.check import ErrorKind, LearnerError
from tutor.sandbox.child import RESULT_LOST


@dataclass(frozen=True)
class LearnerValue:
    """What the learner's code left under one gradient's name."""

    kind: Literal["missing", "tensor", "other"]
    tensor: torch.Tensor | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    device: str | None = None
    type_name: str | None = None


MISSING = LearnerValue("missing")


@dataclass
class LearnerRun:
    error: LearnerError | None
    values: dict[str, LearnerValue] = field(default_factory=dict)
    output: str = ""
    modified: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    # True when this run never happened because an earlier run in the same child ended it all
    skipped: bool = False

    @property
    def complete(self) -> bool:
        """It ran through (or raised an ordinary exception): its values say something about the code."""
        return not self.skipped and (self.error is None or self.error.kind == "exception")

    def value(self, name: str) -> LearnerValue:
        return self.values.get(name, MISSING)


SIGNAL_WORDS = {
    signal.SIGSEGV: "a segmentation fault",
    signal.SIGABRT: "an abort",
    signal.SIGBUS: "a bus error",
    signal.SIGFPE: "a floating-point exception",
    signal.SIGILL: "an illegal instruction",
}


# What of the child's text reaches the tutor: anything longer is cut with a note (a 30 MB exception message
# must not cost the tutor hundreds of MB nor flood the terminal).
MESSAGE_LIMIT = 2000
SOURCE_LIMIT = 300
OUTPUT_LIMIT = 16 * 1024
# A shape beyond this many dimensions, or a dimension beyond this size, is no answer anyone could judge.
MAX_DIMS = 32
MAX_DIM = 1 << 48


class MalformedFrame(Exception):
    """A field of the child's frame has the wrong type or an impossible value."""


def ended_without_result(reply: dict[str, Any], timeout: float) -> LearnerRun:
    """The run that stands for every run of a child that sent no (whole) result: how it ended, in words."""
    status = reply.get("status")
    if status == "timeout":
        return LearnerRun(LearnerError("timeout", f"your code ran longer than {timeout:g} s and was stopped"))
    if status == "oversized":
        return LearnerRun(LearnerError("output", "your code produced results too large to check"))
    if status == "closed":
        return LearnerRun(LearnerError("crash", "your code closed the checking process's result channel and went on running, so no result came back"))
    if status == "signal":
        sig = reply.get("signal")
        if sig == signal.SIGKILL:
            return LearnerRun(LearnerError("memory", "the checking process was killed, most likely for using too much memory"))
        what = SIGNAL_WORDS.get(sig, f"signal {sig}")  # type: ignore[call-overload]
        return LearnerRun(LearnerError("crash", f"your code crashed the checking process with {what}"))
    if reply.get("code") == RESULT_LOST:
        return LearnerRun(LearnerError("crash", "your code closed the checking process's files (its result channel among them), so no result came back"))
    code = reply.get("code")
    return LearnerRun(LearnerError("crash", f"your code ended the checking process (exit code {code}) before it finished"))


def runs_of_frame(frame: bytes) -> tuple[list[LearnerRun], bool]:
    """The runs one (untrusted) frame of a child carries, and whether it says it is the child's last.

    A child sends a frame per run as each ends ({..., "last": false} until the last); a frame may also hold
    {"runs": [header, ...]}, or one bare header (a child that failed before running anything). A frame that
    does not say otherwise is the last. The frame was written by a process that ran the learner's code, which
    may have forged it: every field is checked, and anything malformed is a crash of that code, never an
    exception in the tutor."""
    try:
        header, blob = decode_frame(frame)
    except WireError as exc:
        return [_garbled(str(exc))], True
    blob = FrameBytes(blob)  # one copy; each tensor is then a view of it
    subs = header.get("runs")
    runs = []
    for sub in subs if isinstance(subs, list) else [header]:
        try:
            runs.append(_parse_header(sub, blob))
        except MalformedFrame as exc:
            runs.append(_garbled(str(exc)))
    return runs, header.get("last") is not False


def complete_runs(runs: list[LearnerRun], count: int) -> list[LearnerRun]:
    """Exactly `count` runs: those beyond what came are skipped (the child stopped running them)."""
    runs = runs[:count]
    while len(runs) < count:
        runs.append(LearnerRun(runs[0].error if runs else None, skipped=True))
    return runs


def failed_runs(reply: dict[str, Any], timeout: float, count: int) -> list[LearnerRun]:
    """Every run of a child that sent no whole result: the first says how it ended, the others were skipped."""
    failed = ended_without_result(reply, timeout)
    return [failed] + [LearnerRun(failed.error, skipped=True) for _ in range(count - 1)]


def _garbled(why: str) -> LearnerRun:
    return LearnerRun(LearnerError("crash", cut(f"your code's checking process sent back a malformed result ({why})", MESSAGE_LIMIT)))


def _typed(header: dict[str, Any], key: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    """header[key] when it has one of `kinds` (bool is never an int here), else MalformedFrame."""
    value = header.get(key, default)
    if value is default or (isinstance(value, kinds) and not (isinstance(value, bool) and bool not in _as_tuple(kinds))):
        return value
    raise MalformedFrame(f"{key!r} is a {type(value).__name__}")


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _shape(raw: Any) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > MAX_DIMS or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in raw
    ):
        raise MalformedFrame(f"a shape is not a list of sizes: {cut(repr(raw), 80)}")
    return tuple(raw)


def _parse_header(header: Any, blob: bytes) -> LearnerRun:
    if not isinstance(header, dict):
        raise MalformedFrame("a run is not an object")
    error = None
    raw_error = _typed(header, "error", dict, None)
    if raw_error is not None:
        kind = raw_error.get("kind") if raw_error.get("kind") in ErrorKind.__args__ else "crash"  # type: ignore[attr-defined]
        line = _typed(raw_error, "line", int, None)
        message = _typed(raw_error, "message", str, "")
        source = _typed(raw_error, "source", str, None)
        column, end = _typed(raw_error, "column", int, None), _typed(raw_error, "end_column", int, None)
        error = LearnerError(kind, cut(message, MESSAGE_LIMIT), line, cut(source, SOURCE_LIMIT) if source is not None else None,
                             column, end)
    values: dict[str, LearnerValue] = {}
    for entry in _typed(header, "values", list, []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise MalformedFrame("a value is not an object with a name")
        name, kind = entry["name"], entry.get("kind")
        if kind == "tensor":
            shape = _shape(entry.get("shape"))
            try:
                tensor = unpack_tensor(entry, blob)
            except (WireError, RuntimeError, ValueError, OverflowError) as exc:
                raise MalformedFrame(cut(str(exc), 200)) from None
            values[name] = LearnerValue(
                "tensor",
                tensor=tensor,
                dtype=cut(str(entry.get("dtype")), 40),
                shape=shape,
                device=cut(str(entry.get("device")), 40),
            )
        elif kind == "other":
            values[name] = LearnerValue("other", type_name=cut(str(entry.get("type")), 80))
        else:
            values[name] = MISSING
    elapsed = _typed(header, "elapsed", (int, float), 0.0)
    return LearnerRun(
        error=error,
        values=values,
        output=cut(_typed(header, "output", str, ""), OUTPUT_LIMIT),
        modified=[cut(m, 80) for m in _typed(header, "modified", list, []) if isinstance(m, str)],
        elapsed=float(elapsed or 0.0),
        skipped=_typed(header, "skipped", bool, False),
    )
