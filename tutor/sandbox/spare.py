"""Spare children: forked by the zygote ahead of time, set up, and each waiting on a pipe for its one run.

Everything a child does that does not depend on the learner's file (its process group, death with the
zygote, stdio, rlimits, and on a GPU the CUDA initialisation and the contexts' move to the device: half a
second) happens while the learner is still typing. A run request is handed to a ready spare, else to a
child forked for it on the spot; both then follow the same path. A spare serves one run and dies (the
learner's code may change anything in its process), is never older than the latest context, and never
outlives the zygote (death signal, and EOF on its request pipe).
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Any

from tutor.process.wire import encode_frame, widen_pipe
from tutor.sandbox.child import READY, run_specs, wait_and_run
from tutor.sandbox.handover import Handover, close_fd, drive
from tutor.sandbox.reaper import kill_adopted, kill_tree, reap_adopted

GRACE_S = 1.5


# Checks can come back to back (a learner saving twice, a grad check batch after batch). A
# spare forked after the first would not be ready for the second (on a GPU it needs half a second), so two
# wait. BACKPROP_NINJA_SPARES sets another number for benchmarks (0: every child is forked on demand).
SPARES = 2

# The zygote's ends of every live spare's pipes: each new child closes them all, so that no learner's code
# can write a request to another spare or read another child's result.
_ZYGOTE_FDS: set[int] = set()


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def _close(fd: int | None) -> None:
    close_fd(fd, _ZYGOTE_FDS)


class Spare:
    """One forked child, set up or setting up, that has not been given a run yet."""

    def __init__(self, pid: int, request_fd: int, result_fd: int, generation: int) -> None:
        self.pid, self.generation = pid, generation
        self.request_fd: int | None = request_fd
        self.result_fd: int | None = result_fd
        self.born = time.monotonic()
        self.ready = False  # it has written READY: set up and waiting
        self.wait_status: int | None = None

    @classmethod
    def fork(cls, contexts: dict[str, dict[str, Any]], generation: int) -> Spare:
        request_r, request_w = os.pipe()
        result_r, result_w = os.pipe()
        widen_pipe(request_w)
        widen_pipe(result_w)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child never returns from wait_and_run
            try:
                for fd in (request_w, result_r, *_ZYGOTE_FDS):
                    os.close(fd)
                wait_and_run(contexts, parent, request_r, result_w)
            finally:
                os._exit(70)
        os.close(request_r)
        os.close(result_w)
        try:
            os.setpgid(pid, pid)  # also done by the child; whichever runs first, the group exists before a kill
        except OSError:
            pass
        _ZYGOTE_FDS.update((request_w, result_r))
        return cls(pid, request_w, result_r, generation)

    def alive(self) -> bool:
        if self.wait_status is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return True
        self.wait_status = status
        return False

    def exits_within(self, seconds: float) -> bool:
        """Whether it ends (and is reaped) within `seconds`, without killing it."""
        end = time.monotonic() + seconds
        while True:
            if not self.alive():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.005)

    def end_tree(self) -> None:
        """Kill the child, its group, and every process below it whatever session or group it moved to."""
        _kill_group(self.pid)
        if self.wait_status is None:
            kill_tree(self.pid)

    def poll_ready(self) -> bool:
        """Whether it has finished setting up (its READY byte is read here, without waiting)."""
        if not self.ready and self.result_fd is not None and select.select([self.result_fd], [], [], 0)[0]:
            self.ready = os.read(self.result_fd, len(READY)) == READY
        return self.ready

    def discard(self) -> bool:
        """Kill it unused; True once it is reaped (a GPU child can take a moment to die: reap it later)."""
        if self.wait_status is None:
            _kill_group(self.pid)
        _close(self.request_fd)
        _close(self.result_fd)
        self.request_fd = self.result_fd = None
        return not self.alive()

    def run(self, frame: bytes, limit_s: float, watch_fd: int | None = None) -> tuple[dict[str, Any], bytes, bool]:
        """Hand over the request and collect the result within `limit_s` from now (see handover.py).

        The result counts as soon as one whole frame has arrived, not at the pipe's end of file: a process
        the learner's code forked may hold the pipe open for as long as it likes. Returns the zygote's reply,
        the child's frame, and whether the child died before it took the whole request."""
        handover = Handover(self, frame, limit_s, _ZYGOTE_FDS)
        drive([handover], watch_fd)
        return handover.finish()


class SparePool:
    """The zygote's spares: refilled after each context and each run, emptied when the contexts change."""

    def __init__(self, watch_fd: int | None = None) -> None:
        self.watch_fd = watch_fd  # the zygote's request pipe: its hang-up during a run means the tutor died
        self.spares: list[Spare] = []
        self.generation = 0
        self._dying: list[Spare] = []
        self._ran: list[Spare] = []  # children that ran a request whose trees are still to be ended
        wanted = os.environ.get("BACKPROP_NINJA_SPARES", "")
        self.wanted = int(wanted) if wanted.isdigit() else SPARES

    def contexts_changed(self) -> None:
        """A spare holds the contexts it was forked with: after a new one, none of them will do."""
        self.generation += 1
        self._drop(self.spares)
        self.spares = []

    def refill(self, contexts: dict[str, dict[str, Any]]) -> None:
        self._reap()
        while contexts and len(self.spares) < self.wanted:
            self.spares.append(Spare.fork(contexts, self.generation))

    def run(
        self, header: dict[str, Any], blob: bytes, contexts: dict[str, dict[str, Any]], frame: bytes = b""
    ) -> tuple[dict[str, Any], bytes]:
        """One run request: to the oldest live spare, else a child forked now; retried once if that child
        died before it took the request (nothing of the learner's ran, so that is no verdict)."""
        frame = frame or encode_frame(header, blob)  # the request as it came, when the caller kept it
        limit = float(header["timeout"]) * max(1, len(run_specs(header))) + GRACE_S
        for attempt in (1, 2):
            spare, waiting = self._take(contexts)
            reply, payload, unread = spare.run(frame, limit, self.watch_fd)
            reply["child"]["spare"] = waiting
            self._ran.append(spare)
            if not unread or attempt == 2:
                return reply, payload
            self.settle()
        raise AssertionError("unreachable")

    def settle(self) -> None:
        """After a run's reply has gone: end the trees of the children that ran, and every orphan."""
        for spare in self._ran:
            if spare.wait_status is None:
                spare.end_tree()
            if spare.alive():
                self._dying.append(spare)
        self._ran = []
        self._kill_orphans()

    def pids(self) -> dict[str, list[int]]:
        """The live spares, and those of them set up and waiting, oldest first."""
        live = [spare for spare in self.spares if spare.alive()]
        return {"spares": [s.pid for s in live], "ready": [s.pid for s in live if s.poll_ready()]}

    def close(self) -> None:
        self.settle()
        self._drop(self.spares)
        self.spares = []
        kill_adopted(set())
        for spare in self._dying:
            try:
                os.waitpid(spare.pid, 0)
            except ChildProcessError:
                pass
        self._dying = []

    def _take(self, contexts: dict[str, dict[str, Any]]) -> tuple[Spare, bool]:
        self._reap()
        while self.spares:
            spare = self.spares.pop(0)
            if spare.generation == self.generation and spare.alive():
                return spare, True
            self._drop([spare])
        return Spare.fork(contexts, self.generation), False

    def _drop(self, spares: list[Spare]) -> None:
        self._dying.extend(spare for spare in spares if not spare.discard())

    def _reap(self) -> None:
        self._dying = [spare for spare in self._dying if spare.alive()]
        self._kill_orphans()

    def _kill_orphans(self) -> None:
        """Processes the learner's code left behind and the zygote adopted (it is a subreaper): all go."""
        keep = {spare.pid for spare in self.spares} | {spare.pid for spare in self._dying}
        kill_adopted(keep)
        reap_adopted()
