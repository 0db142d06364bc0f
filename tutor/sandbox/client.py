"""The tutor's side of the sandbox: starts the zygote process, sends contexts, leases its spare children, and
hands each run request straight to one (handover.py), turning what comes back into LearnerRuns."""

from __future__ import annotations

import base64
import functools
import marshal
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from tutor.learner.file import LearnerFile
from tutor.process.spawn import child_env, debug_stderr, end_input, kill, spawn
from tutor.process.wire import WireError, encode_frame, pack_tensors, read_frame, widen_pipe, write_all, write_frame
from tutor.sandbox.handover import Lease, Transfer
from tutor.sandbox.isolate import instrument
from tutor.sandbox.results import LearnerRun, complete_runs, failed_runs, runs_of_frame

# The time a run request gets beyond its runs' own limits before the child is stopped from outside.
GRACE_S = 1.5


class SandboxError(Exception):
    """The sandbox process itself failed (not the learner's code)."""


def compiled_form(learner: LearnerFile, hook: tuple[str, ...]) -> dict[str, Any] | None:
    """The learner's code compiled here, as marshal bytes (base64) for the child: one compile per form in a
    warm process, instead of one in a freshly forked child, where the compiler's first touches cost several
    times more. With names in `hook`, instrumented to call the finishing hook for them (the local-rule run:
    from the file's one syntax tree); without, compiled from the text as it is (no syntax tree to build: the
    form the child needs first). None when the source does not compile: the child then reports the syntax
    error itself. Cached by text: a file checked again unchanged is not compiled again."""
    return _compiled(learner.text, learner.filename, hook)


@functools.lru_cache(maxsize=8)
def _compiled(text: str, filename: str, hook: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        if hook:
            learner = LearnerFile(text, filename)  # its tree is the check's own (learner.file caches the parse)
            if learner.tree is None:
                return None
            code = compile(instrument(learner.tree, hook, learner.writes), filename, "exec", dont_inherit=True)
        else:
            code = compile(text, filename, "exec", dont_inherit=True)
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
    """A zygote process that forks the children the runs go to; restarted (with its contexts) if it dies.

    Between checks the tutor holds a lease on the zygote's oldest spare (its pipe ends), asked for as the
    previous check ended, so that a check hands its request over without a round trip through the zygote."""

    def __init__(self, back_to_back: bool = False) -> None:
        """`back_to_back`: runs come one right after another (a grader): the zygote forks new spares as soon as
        a run ends, instead of leaving the CPU to the tutor's judging first (what a learner waits for)."""
        self.back_to_back = back_to_back
        self._lock = threading.Lock()
        self._contexts: dict[str, dict[str, Any]] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._owed: list[str] = []  # ops sent whose replies are still to be read, oldest first
        self._lease: Lease | None = None
        # The child that ran the latest run: {"pid", "spare": forked before the request, "ready": set up by
        # then, "age_s": how long before it was forked} (see spare.py)
        self.last_child: dict[str, Any] | None = None
        self._start()

    def _start(self) -> None:
        env = child_env()
        env.setdefault("OMP_NUM_THREADS", "1")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = spawn(
                [sys.executable, "-m", "tutor.sandbox.zygote", "--lease-fd", str(theirs.fileno()),
                 *(["--refill-at-once"] if self.back_to_back else [])],
                stderr=debug_stderr(),
                env=env,
                new_session=True,  # Ctrl-C in the terminal reaches the tutor, which decides
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self._socket = ours
        if self._proc.stdin is not None:
            widen_pipe(self._proc.stdin.fileno())

    def _send(self, header: dict[str, Any], blob: bytes = b"") -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        write_frame(proc.stdin, header, blob)
        self._owed.append(str(header.get("op")))

    def _receive(self) -> tuple[dict[str, Any], bytes]:
        """The reply to the oldest op still owed one (a lease's reply brings the child's pipe ends with it)."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        reply, blob = read_frame(proc.stdout)
        if self._owed.pop(0) == "lease" and isinstance(reply.get("pid"), int):
            assert self._socket is not None
            _, fds, _, _ = socket.recv_fds(self._socket, 1, 2, getattr(socket, "MSG_CMSG_CLOEXEC", 0))
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                raise WireError("a lease came without its pipe ends")
            self._drop_lease()
            self._lease = Lease(reply["pid"], fds[0], fds[1], bool(reply.get("ready")), float(reply.get("born", 0.0)),
                                bool(reply.get("spare")))
        return reply, blob

    def _exchange(self, header: dict[str, Any], blob: bytes = b"") -> tuple[dict[str, Any], bytes]:
        self._send(header, blob)
        while len(self._owed) > 1:
            self._receive()
        return self._receive()

    def _send_context(self, key: str) -> None:
        self._drop_lease()  # a spare forked before this context will not do (the zygote ends them all)
        spec = self._contexts[key]
        reply, _ = self._exchange({**spec["header"], "op": "context", "key": key}, spec["blob"])
        if not reply.get("ok"):
            raise SandboxError(f"the sandbox refused a context: {reply}")

    def _call(self, header: dict[str, Any], blob: bytes = b"") -> tuple[dict[str, Any], bytes]:
        """One exchange; if the zygote died, start a new one, resend contexts and retry once."""
        for attempt in (1, 2):
            try:
                if self._proc is None or self._proc.poll() is not None:
                    self._kill()
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
        """The zygote's pid, its spares' pids (lent ones first) and those of them set up and waiting (of a
        child lent to the tutor, only the tutor can tell)."""
        with self._lock:
            reply, _ = self._call({"op": "ping"})
            lease, ready = self._lease, reply.get("ready")
            if lease is not None and isinstance(ready, list) and lease.pid not in ready and lease.poll_ready():
                reply["ready"] = [lease.pid, *ready]
        return reply

    def has_context(self, key: str) -> bool:
        return key in self._contexts

    def run_many(
        self,
        runs: list[RunSpec],
        learner: LearnerFile,
        names: list[str],
        timeout: float,
        memory_limit: int = 4 << 30,
        output_limit: int = 1 << 20,
        options: dict[str, Any] | None = None,
        on_run: Callable[[int, LearnerRun], None] | None = None,
    ) -> list[LearnerRun]:
        """Several runs of one file in ONE forked child (one hand-over), one LearnerRun each. The runs' frame
        goes ahead of the code's; a lent child primed with these very runs (`prime`) gets only the code now.
        Each run comes back in a frame of its own as it ends, and is given to `on_run` (its index, the run)
        at once, while the child runs the next; runs it was given are in the list returned, unless the child
        then failed (a crash, a timeout: every run then fails with how it ended)."""
        hook = tuple(dict.fromkeys(n for spec in runs for n in spec.hook))
        header = {
            "op": "run",
            "source": learner.text,
            "filename": learner.filename,
            "code": compiled_form(learner, ()),
            "hooked": bool(hook),  # the instrumented form follows in a frame of its own
            "names": names,
            "timeout": timeout,
            "memory_limit": memory_limit,
            "output_limit": output_limit,
            **(options or {}),
        }
        code = encode_frame(header)

        def hooked() -> bytes:  # built while the child runs the runs that need no hook (compiled_form caches)
            return encode_frame({"op": "code", "code": compiled_form(learner, hook)}) if hook else b""

        limit = timeout * max(1, len(runs)) + GRACE_S
        with self._lock:
            return self._hand_over(tuple(runs), code, hooked, limit, timeout, on_run)

    def prime(self, runs: list[RunSpec]) -> None:
        """Send the runs of the next check (its batch, its injected gradients: no answer) to the lent child now,
        while the learner types: it unpacks and copies them, and waits for the code."""
        with self._lock:
            self._read_owed()
            lease = self._lease
            if lease is None or lease.request_fd is None or lease.primed:
                return
            try:
                write_all(lease.request_fd, self._runs_frame(runs))
            except OSError:  # it died meanwhile: a lease is asked for at the check
                self._give_back_lease()
                return
            lease.primed = tuple(runs)

    def _runs_frame(self, runs: list[RunSpec] | tuple[RunSpec, ...]) -> bytes:
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
        return encode_frame({"op": "runs", "runs": specs}, b"".join(parts))

    def _hand_over(
        self, runs: tuple[RunSpec, ...], code: bytes, hooked: Callable[[], bytes], limit: float, timeout: float,
        on_run: Callable[[int, LearnerRun], None] | None,
    ) -> list[LearnerRun]:
        """The request into a leased child and its runs back (see handover.py); retried once with another
        child if that one died before it took the request, or the zygote died meanwhile (nothing of the
        learner's ran, so that is no verdict)."""
        for attempt in (1, 2):
            lease = self._take_lease(runs)
            got: list[LearnerRun] = []

            def on_frame(frame: bytes) -> bool:
                more, last = runs_of_frame(frame)
                for run in more:
                    if on_run is not None and len(got) < len(runs):
                        on_run(len(got), run)
                    got.append(run)
                return last or len(got) >= len(runs)

            transfer = Transfer(lease, code if lease.primed else self._runs_frame(runs) + code, limit, on_frame, True)
            transfer.append(hooked())
            transfer.drive()
            self.last_child = {"pid": lease.pid, "spare": lease.spare, "ready": transfer.ready,
                               "age_s": round(transfer.handed - lease.born, 4)}
            if transfer.complete:
                try:  # the zygote ends the child's tree and lends the next spare while the tutor judges
                    self._send({"op": "ran", "pid": lease.pid})
                    self._send({"op": "lease", "fork": False})
                except OSError:
                    self._kill()  # restarted at the next call
                return complete_runs(got, len(runs))
            if self._proc is None or self._proc.poll() is not None:  # the zygote died: its children with it
                self._kill()
                continue
            grace = max(0.0, transfer.deadline - time.monotonic())
            reply, _ = self._call({"op": "ran", "pid": lease.pid, "ended": transfer.status, "grace": grace})
            if not transfer.unread or attempt == 2:
                return failed_runs(reply, timeout, len(runs))
        raise SandboxError("the sandbox process died twice during a run")

    def _read_owed(self) -> None:
        try:
            while self._owed:  # the replies to the last run's "ran" and "lease", long since written
                self._receive()
        except (EOFError, WireError, OSError, ValueError):
            self._kill()  # the zygote died: the next call starts another

    def _take_lease(self, runs: tuple[RunSpec, ...]) -> Lease:
        """The lease asked for ahead (its reply read now), else one asked for now (a child forked on the
        spot when no spare waits). A lent child primed with other runs than these will not do."""
        self._read_owed()
        lease = self._lease
        if lease is not None and lease.primed and not lease.primed_with(runs):
            self._give_back_lease()
            lease = None
        if lease is None or lease.request_fd is None:
            reply, _ = self._call({"op": "lease", "fork": True})
            lease = self._lease
            if lease is None or lease.pid != reply.get("pid"):
                raise SandboxError(f"the sandbox lent no child: {reply}")
        self._lease = None
        return lease

    def _drop_lease(self) -> None:
        """Close the lease's pipe ends (the unused child reads end of file and leaves): where the zygote ends
        its lent children itself (a new context) or is gone."""
        if self._lease is not None:
            self._lease.close()
            self._lease = None

    def _give_back_lease(self) -> None:
        """Hand an unused lent child back to the zygote, which ends it and forks a spare in its place."""
        if self._lease is not None:
            pid = self._lease.pid
            self._drop_lease()
            try:
                self._send({"op": "drop", "pid": pid})
            except OSError:
                self._kill()  # restarted at the next call

    def _device_of(self, runs: list[RunSpec] | tuple[RunSpec, ...]) -> str:
        """An inline context runs on the device of the request's held contexts (the checker's one device)."""
        for spec in runs:
            if spec.key in self._contexts:
                return str(self._contexts[spec.key]["header"]["device"])
        return "cpu"

    def _kill(self) -> None:
        self._drop_lease()
        self._owed = []
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._proc is not None:
            kill(self._proc)
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._drop_lease()
            # The zygote ends at EOF and takes its children with it; one that never got a context has forked
            # none, and may still be importing torch (it would read the EOF only after): it is killed at once.
            if self._proc is not None and self._contexts:
                end_input(self._proc, 2)
            self._kill()


__all__ = ["RunSpec", "Sandbox", "SandboxError", "compiled_form"]
