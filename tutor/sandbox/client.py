"""The tutor's side of the sandbox: starts the zygote process, sends contexts, and turns runs into LearnerRuns."""

from __future__ import annotations

import base64
import functools
import marshal
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from tutor.process.limits import cut
from tutor.process.spawn import child_env, debug_stderr, end_input, kill, spawn
from tutor.process.wire import (
    FrameBytes,
    WireError,
    decode_frame,
    pack_tensors,
    read_frame,
    unpack_tensor,
    widen_pipe,
    write_frame,
)
from tutor.reports.check import ErrorKind, LearnerError
from tutor.sandbox.child import RESULT_LOST
from tutor.sandbox.isolate import instrument, parse


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


class SandboxError(Exception):
    """The sandbox process itself failed (not the learner's code)."""


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


def parse_runs(reply: dict[str, Any], payload: bytes, timeout: float, count: int = 1) -> list[LearnerRun]:
    """Turn the zygote's reply and the child's (untrusted) frame into one LearnerRun per requested run.

    The frame was written by a process that ran the learner's code, which may have forged it: every field is
    checked, and anything malformed is a crash of that code, never an exception in the tutor."""
    status = reply.get("status")
    failed: LearnerRun | None = None
    if status == "timeout":
        failed = LearnerRun(LearnerError("timeout", f"your code ran longer than {timeout:g} s and was stopped"))
    elif status == "oversized":
        failed = LearnerRun(LearnerError("output", "your code produced results too large to check"))
    elif status == "closed":
        failed = LearnerRun(LearnerError("crash", "your code closed the checking process's result channel and went on running, so no result came back"))
    elif status == "signal":
        sig = reply.get("signal")
        if sig == signal.SIGKILL:
            failed = LearnerRun(LearnerError("memory", "the checking process was killed, most likely for using too much memory"))
        else:
            what = SIGNAL_WORDS.get(sig, f"signal {sig}")  # type: ignore[call-overload]
            failed = LearnerRun(LearnerError("crash", f"your code crashed the checking process with {what}"))
    elif not payload and reply.get("code") == RESULT_LOST:
        failed = LearnerRun(LearnerError("crash", "your code closed the checking process's files (its result channel among them), so no result came back"))
    elif not payload:
        code = reply.get("code")
        failed = LearnerRun(LearnerError("crash", f"your code ended the checking process (exit code {code}) before it finished"))
    else:
        try:
            header, blob = decode_frame(payload)
            blob = FrameBytes(blob)  # one copy; each tensor is then a view of it
        except WireError as exc:
            failed = _garbled(str(exc))
    if failed is not None:
        return [failed] + [LearnerRun(failed.error, skipped=True) for _ in range(count - 1)]
    subs = header.get("runs")
    if not isinstance(subs, list):  # a child that failed before running anything sends one bare header
        subs = [header]
    runs = []
    for sub in subs[:count]:
        try:
            runs.append(_parse_header(sub, blob))
        except MalformedFrame as exc:
            runs.append(_garbled(str(exc)))
    while len(runs) < count:
        runs.append(LearnerRun(runs[0].error if runs else None, skipped=True))
    return runs


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
        error = LearnerError(kind, cut(message, MESSAGE_LIMIT), line, cut(source, SOURCE_LIMIT) if source is not None else None)
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


@functools.lru_cache(maxsize=4)
def compiled_form(source: str, filename: str, hook: tuple[str, ...]) -> dict[str, Any] | None:
    """The learner's code compiled here, instrumented to call the finishing hook for the names in `hook`
    (a run that captures nothing gets a hook that does nothing), as marshal bytes (base64) for the child:
    one compile per check in a warm process, instead of one per form in a freshly forked child, where the
    compiler's first touches cost several times more. None when the source does not compile: the child
    then reports the syntax error itself."""
    parsed = parse(source)
    if parsed is None:
        return None
    try:
        code = compile(instrument(parsed.tree, hook, parsed.writes) if hook else parsed.tree, filename, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return {"hook": list(hook), "code": base64.b64encode(marshal.dumps(code)).decode("ascii")}


@dataclass(frozen=True)
class RunSpec:
    """One run of the learner's file in a child.

    `key` names a context the zygote holds; `inline` (scalars) sends a context with the request instead,
    its tensors in `tensors` (a batch drawn for one check is never kept). `tensors` otherwise replace
    names of the context; `inject` rebinds names right after their finishing statement, and every name
    in `hook` is captured there (the local-rule run)."""

    key: str = ""
    inline: dict[str, int] | None = None
    tensors: dict[str, torch.Tensor] | None = None
    inject: dict[str, torch.Tensor] | None = None
    hook: tuple[str, ...] = ()

    @functools.cached_property
    def packed(self) -> dict[str, tuple[list[dict[str, Any]], bytes]]:
        """Its tensors as they travel ("extra" and "inject": descriptions and bytes), packed once: a run
        drawn ahead of its check is packed then, not while the learner waits."""
        return {
            part: pack_tensors({name: t.detach().cpu() for name, t in (given or {}).items()}, max_bytes=1 << 30)
            for part, given in (("extra", self.tensors), ("inject", self.inject))
        }


class Sandbox:
    """A zygote process that forks a child per run; restarted (with its contexts) if it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[str, dict[str, Any]] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        # The child that ran the latest run: {"pid", "spare": forked before the request, "ready": set up by
        # then, "age_s": how long before it was forked} (see spare.py)
        self.last_child: dict[str, Any] | None = None
        self._start()

    def _start(self) -> None:
        env = child_env()
        env.setdefault("OMP_NUM_THREADS", "1")
        self._proc = spawn(
            [sys.executable, "-m", "tutor.sandbox.zygote"],
            stderr=debug_stderr(),
            env=env,
            new_session=True,  # Ctrl-C in the terminal reaches the tutor, which decides
        )
        if self._proc.stdin is not None:
            widen_pipe(self._proc.stdin.fileno())

    def _exchange(self, header: dict[str, Any], blob: bytes = b"") -> tuple[dict[str, Any], bytes]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        write_frame(proc.stdin, header, blob)
        return read_frame(proc.stdout)

    def _send_context(self, key: str) -> None:
        spec = self._contexts[key]
        reply, _ = self._exchange({**spec["header"], "op": "context", "key": key}, spec["blob"])
        if not reply.get("ok"):
            raise SandboxError(f"the sandbox refused a context: {reply}")

    def _call(self, header: dict[str, Any], blob: bytes = b"") -> tuple[dict[str, Any], bytes]:
        """One exchange; if the zygote died, start a new one, resend contexts and retry once."""
        for attempt in (1, 2):
            try:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                    for key in self._contexts:
                        self._send_context(key)
                return self._exchange(header, blob)
            except (BrokenPipeError, EOFError, WireError, OSError, ValueError) as exc:
                self._kill()
                if attempt == 2:
                    raise SandboxError(f"the sandbox process failed twice: {exc!r}") from None
        raise AssertionError("unreachable")

    def load_context(
        self, key: str, tensors: dict[str, torch.Tensor], scalars: dict[str, int], device: str, warm: str = ""
    ) -> None:
        """Hold a context in the zygote. `warm`: code (the course's solution) that the zygote runs once on stand-in
        values of the context's shapes, so that every child starts with the learner's likely ops warmed up."""
        meta, blob = pack_tensors({k: v.detach().cpu() for k, v in tensors.items()}, max_bytes=1 << 30)
        with self._lock:
            header = {"tensors": meta, "scalars": scalars, "device": device, "warm": warm}
            self._contexts[key] = {"header": header, "blob": blob}
            self._call({"op": "ping"})
            self._send_context(key)

    def ping(self) -> dict[str, Any]:
        """The zygote's pid, its spares' pids and those of them set up and waiting (see spare.py)."""
        with self._lock:
            reply, _ = self._call({"op": "ping"})
        return reply

    def has_context(self, key: str) -> bool:
        return key in self._contexts

    def run_many(
        self,
        runs: list[RunSpec],
        source: str,
        filename: str,
        names: list[str],
        timeout: float,
        memory_limit: int = 4 << 30,
        output_limit: int = 1 << 20,
        options: dict[str, Any] | None = None,
    ) -> list[LearnerRun]:
        """Several runs of one file in ONE forked child (one fork, one round trip), one LearnerRun each."""
        parts: list[bytes] = []
        offset = 0
        specs: list[dict[str, Any]] = []
        for spec in runs:
            entry: dict[str, Any] = {"key": spec.key, "hook": list(spec.hook)}
            if spec.inline is not None:
                entry["inline"] = {"scalars": spec.inline, "device": self._device_of(runs)}
            for part, (meta, data) in spec.packed.items():
                entry[part] = [{**m, "offset": m["offset"] + offset} for m in meta]
                parts.append(data)
                offset += len(data)
            specs.append(entry)
        blob = b"".join(parts)
        header = {
            "op": "run",
            "runs": specs,
            "source": source,
            "filename": filename,
            "code": compiled_form(source, filename, tuple(dict.fromkeys(n for spec in runs for n in spec.hook))),
            "names": names,
            "timeout": timeout,
            "memory_limit": memory_limit,
            "output_limit": output_limit,
            **(options or {}),
        }
        with self._lock:
            reply, payload = self._call(header, blob)
            if reply.get("status") == "unknown-context":
                for key in {spec.key for spec in runs if spec.inline is None}:
                    self._send_context(key)
                reply, payload = self._call(header, blob)
            self.last_child = reply.get("child") if isinstance(reply.get("child"), dict) else None
        return parse_runs(reply, payload, timeout, len(runs))

    def _device_of(self, runs: list[RunSpec]) -> str:
        """An inline context runs on the device of the request's held contexts (the checker's one device)."""
        for spec in runs:
            if spec.key in self._contexts:
                return str(self._contexts[spec.key]["header"]["device"])
        return "cpu"

    def _kill(self) -> None:
        if self._proc is not None:
            kill(self._proc)
            self._proc = None

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                end_input(self._proc, 2)  # the zygote ends at EOF and takes its children with it
            self._kill()
