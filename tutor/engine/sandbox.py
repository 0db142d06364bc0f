"""The tutor's side of the sandbox: starts the zygote process, sends contexts, and turns runs into LearnerRuns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from tutor.engine.wire import WireError, decode_frame, pack_tensors, read_frame, unpack_tensor, write_frame

ErrorKind = Literal["syntax", "exception", "timeout", "crash", "memory", "output", "forbidden"]
PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)


@dataclass(frozen=True)
class LearnerError:
    kind: ErrorKind
    message: str
    line: int | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "line": self.line}


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


def parse_runs(reply: dict[str, Any], payload: bytes, timeout: float, count: int = 1) -> list[LearnerRun]:
    """Turn the zygote's reply and the child's (untrusted) frame into one LearnerRun per requested run."""
    status = reply.get("status")
    failed: LearnerRun | None = None
    if status == "timeout":
        failed = LearnerRun(LearnerError("timeout", f"your code ran longer than {timeout:g} s and was stopped"))
    elif status == "oversized":
        failed = LearnerRun(LearnerError("output", "your code produced results too large to check"))
    elif status == "signal":
        sig = reply.get("signal")
        if sig == signal.SIGKILL:
            failed = LearnerRun(LearnerError("memory", "the checking process was killed, most likely for using too much memory"))
        else:
            what = SIGNAL_WORDS.get(sig, f"signal {sig}")  # type: ignore[call-overload]
            failed = LearnerRun(LearnerError("crash", f"your code crashed the checking process with {what}"))
    elif not payload:
        code = reply.get("code")
        failed = LearnerRun(LearnerError("crash", f"your code ended the checking process (exit code {code}) before it finished"))
    else:
        try:
            header, blob = decode_frame(payload)
        except WireError as exc:
            failed = LearnerRun(LearnerError("crash", f"the checking process sent back garbage ({exc})"))
    if failed is not None:
        return [failed] + [LearnerRun(failed.error, skipped=True) for _ in range(count - 1)]
    subs = header.get("runs")
    if not isinstance(subs, list):  # a child that failed before running anything sends one bare header
        subs = [header]
    runs = [_parse_header(sub, blob) if isinstance(sub, dict) else _garbled() for sub in subs[:count]]
    while len(runs) < count:
        runs.append(LearnerRun(runs[0].error if runs else None, skipped=True))
    return runs


def _garbled() -> LearnerRun:
    return LearnerRun(LearnerError("crash", "the checking process sent back garbage (a run is not an object)"))


def _parse_header(header: dict[str, Any], blob: bytes) -> LearnerRun:
    error = None
    raw_error = header.get("error")
    if isinstance(raw_error, dict):
        kind = raw_error.get("kind") if raw_error.get("kind") in ErrorKind.__args__ else "crash"  # type: ignore[attr-defined]
        line = raw_error.get("line") if isinstance(raw_error.get("line"), int) else None
        error = LearnerError(kind, str(raw_error.get("message", "")), line, raw_error.get("source"))
    values: dict[str, LearnerValue] = {}
    for entry in header.get("values", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name, kind = entry["name"], entry.get("kind")
        if kind == "tensor":
            try:
                tensor = unpack_tensor(entry, blob)
            except WireError:
                tensor = None
            shape = entry.get("shape")
            values[name] = LearnerValue(
                "tensor",
                tensor=tensor,
                dtype=str(entry.get("dtype")),
                shape=tuple(shape) if isinstance(shape, list) else None,
                device=str(entry.get("device")),
            )
        elif kind == "other":
            values[name] = LearnerValue("other", type_name=str(entry.get("type")))
        else:
            values[name] = MISSING
    return LearnerRun(
        error=error,
        values=values,
        output=str(header.get("output", "")),
        modified=[str(m) for m in header.get("modified", []) if isinstance(m, str)],
        elapsed=float(header.get("elapsed", 0.0) or 0.0),
        skipped=bool(header.get("skipped", False)),
    )


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
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
        env.setdefault("OMP_NUM_THREADS", "1")
        stderr = None if env.get("BACKPROP_NINJA_DEBUG") else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tutor.engine.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,  # Ctrl-C in the terminal reaches the tutor, which decides
        )

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

    def load_context(self, key: str, tensors: dict[str, torch.Tensor], scalars: dict[str, int], device: str) -> None:
        meta, blob = pack_tensors({k: v.detach().cpu() for k, v in tensors.items()}, max_bytes=1 << 30)
        with self._lock:
            self._contexts[key] = {"header": {"tensors": meta, "scalars": scalars, "device": device}, "blob": blob}
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
        tensors: dict[str, torch.Tensor] = {}
        for index, spec in enumerate(runs):
            for part, given in (("extra", spec.tensors), ("inject", spec.inject)):
                for name, tensor in (given or {}).items():
                    tensors[f"{index}/{part}/{name}"] = tensor.detach().cpu()
        meta, blob = pack_tensors(tensors, max_bytes=1 << 30)
        specs: list[dict[str, Any]] = []
        for index, spec in enumerate(runs):
            entry: dict[str, Any] = {"key": spec.key, "hook": list(spec.hook)}
            if spec.inline is not None:
                entry["inline"] = {"scalars": spec.inline, "device": self._device_of(runs)}
            for part in ("extra", "inject"):
                prefix = f"{index}/{part}/"
                entry[part] = [{**m, "name": m["name"][len(prefix):]} for m in meta if m["name"].startswith(prefix)]
            specs.append(entry)
        header = {
            "op": "run",
            "runs": specs,
            "source": source,
            "filename": filename,
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
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._proc = None

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                    self._proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()
