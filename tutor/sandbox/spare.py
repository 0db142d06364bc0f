"""Spare children: forked by the zygote ahead of time, set up, and each waiting on a pipe for its one run.

Everything a child does that does not depend on the learner's file (its process group, death with the
zygote, stdio, rlimits, and on a GPU the CUDA initialisation and the contexts' move to the device: half a
second) happens while the learner is still typing. The tutor leases a spare ahead of its next check: the
zygote sends it the spare's two pipe ends over a Unix socket and keeps no copy, and the tutor hands the
request over and reads the result itself (handover.py). Without a spare, a child is forked for the lease on
the spot; both then follow the same path. The zygote stays every child's parent: the tutor tells it how the
run ended, and it tears the child's tree down, or says how the child died (`Spare.conclude`). A spare serves
one run and dies (the learner's code may change anything in its process), is never older than the latest
context, and never outlives the zygote (death signal, and EOF on its request pipe).
"""

from __future__ import annotations

import gc
import os
import signal
import time
from typing import Any

from tutor.process.wire import widen_pipe
from tutor.sandbox.child import wait_and_run
from tutor.sandbox.handover import close_fd, took_ready
from tutor.sandbox.reaper import kill_adopted, kill_tree, reap_adopted

# After the result pipe's end of file with no whole frame, how long the child gets to exit on its own before
# it is killed: its exit status is the verdict, and a kill would read as "memory".
EXIT_GRACE_S = 1.0


# Checks can come back to back (a learner saving twice, a grad check batch after batch). A
# spare forked after the first would not be ready for the second (on a GPU it needs half a second), so two
# wait. BACKPROP_NINJA_SPARES sets another number for benchmarks (0: every child is forked on demand).
SPARES = 2

# The zygote's ends of every live spare's pipes, and its end of the lease socket: each new child closes them
# all, so that no learner's code can write a request to another spare, read another child's result, or lease.
_ZYGOTE_FDS: set[int] = set()


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def _close(fd: int | None) -> None:
    close_fd(fd, _ZYGOTE_FDS)


def keep_from_children(fd: int) -> None:
    """Every child forked from now on closes `fd` (one of the zygote's own, such as its lease socket)."""
    _ZYGOTE_FDS.add(fd)


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
        # The zygote's own objects go to the collector's permanent generation before each fork: a child's
        # collections then walk only what it made itself, instead of writing to (and so copying) every page of
        # the heap it shares with the zygote. After the first fork this collects only the little made since.
        gc.collect()
        gc.freeze()
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
        """Whether it has finished setting up (see handover.took_ready)."""
        self.ready = self.ready or took_ready(self.result_fd)
        return self.ready

    def discard(self) -> bool:
        """Kill it unused; True once it is reaped (a GPU child can take a moment to die: reap it later)."""
        if self.wait_status is None:
            _kill_group(self.pid)
        _close(self.request_fd)
        _close(self.result_fd)
        self.request_fd = self.result_fd = None
        return not self.alive()

    def give_pipes(self) -> tuple[int, int]:
        """Its two pipe ends, for the tutor; the zygote keeps none (a spare forked later cannot inherit them)."""
        assert self.request_fd is not None and self.result_fd is not None, "a spare serves one run"
        fds = (self.request_fd, self.result_fd)
        _ZYGOTE_FDS.difference_update(fds)
        self.request_fd = self.result_fd = None
        return fds

    def conclude(self, ended: str, grace_s: float) -> dict[str, Any]:
        """How a lent child's run ended, where the tutor got no whole frame: `ended` is "exited" (its result
        pipe closed), "timeout" or "oversized". Ends its tree; returns {"status", "code", "signal"}."""
        status = ended if ended in ("exited", "timeout", "oversized") else "exited"
        reply: dict[str, Any] = {"status": status, "code": None, "signal": None}
        # how it ended is the verdict: give it a moment to exit by itself
        if status == "exited" and not self.exits_within(min(EXIT_GRACE_S, max(0.0, grace_s))):
            # it closed its result pipe (or had it closed) and lives on: it will never answer
            status = reply["status"] = "closed"
        self.end_tree()
        if self.wait_status is None:
            try:
                _, self.wait_status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.wait_status = 0
        if os.WIFSIGNALED(self.wait_status):
            reply["signal"] = os.WTERMSIG(self.wait_status)
            if status == "exited":
                reply["status"] = "signal"
        elif os.WIFEXITED(self.wait_status):
            reply["code"] = os.WEXITSTATUS(self.wait_status)
        if status == "closed":
            reply["signal"] = None
        return reply


class SparePool:
    """The zygote's spares: refilled after each context and each run, emptied when the contexts change.
    Spares lent to the tutor stay here (`lent`, by pid) until the tutor says how their run ended."""

    def __init__(self) -> None:
        self.spares: list[Spare] = []
        self.lent: dict[int, Spare] = {}
        self.generation = 0
        self._dying: list[Spare] = []
        self._ran: list[Spare] = []  # children that ran a request whose trees are still to be ended
        wanted = os.environ.get("BACKPROP_NINJA_SPARES", "")
        self.wanted = int(wanted) if wanted.isdigit() else SPARES

    def contexts_changed(self) -> None:
        """A spare holds the contexts it was forked with: after a new one, none of them will do (nor a lent
        one the tutor has not used yet: it drops its lease when it sends a context)."""
        self.generation += 1
        self._drop(self.spares + list(self.lent.values()))
        self.spares, self.lent = [], {}

    def refill(self, contexts: dict[str, dict[str, Any]]) -> None:
        self._reap()
        while contexts and len(self.spares) + len(self.lent) < self.wanted:
            self.spares.append(Spare.fork(contexts, self.generation))

    def lend(self, contexts: dict[str, dict[str, Any]], fork: bool) -> tuple[Spare | None, bool]:
        """The oldest live spare for the tutor (else, when `fork`, a child forked now; else None), and whether
        it was forked ahead of the request."""
        self._reap()
        waiting = True
        while self.spares:
            spare = self.spares.pop(0)
            if spare.generation == self.generation and spare.alive():
                spare.poll_ready()
                break
            self._drop([spare])
        else:
            if not fork:
                return None, False
            spare, waiting = Spare.fork(contexts, self.generation), False
        self.lent[spare.pid] = spare
        return spare, waiting

    def ended(self, pid: int, ended: str | None, grace_s: float) -> dict[str, Any]:
        """The tutor's word on a lent child's run: None (its whole frame came: the tree is ended by `settle`,
        after the reply) or how it stopped without one (see Spare.conclude)."""
        spare = self.lent.pop(pid, None)
        if spare is None:
            return {"error": f"no lent child {pid}"}
        if ended is None:
            self._ran.append(spare)
            return {"ok": True}
        return spare.conclude(ended, grace_s)

    def take_back(self, pid: Any) -> bool:
        """End a lent child the tutor will not use; False when no such child was lent."""
        spare = self.lent.pop(pid, None) if isinstance(pid, int) else None
        if spare is not None:
            self._drop([spare])
        return spare is not None

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
        """The live spares (lent ones first), and those of them set up and waiting, oldest first."""
        live = [spare for spare in [*self.lent.values(), *self.spares] if spare.alive()]
        return {"spares": [s.pid for s in live], "ready": [s.pid for s in live if s.ready or s.poll_ready()]}

    def close(self) -> None:
        for spare in self.lent.values():  # a run may be going on: its whole tree goes
            spare.end_tree()
            self._dying.append(spare)
        self.lent = {}
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

    def _drop(self, spares: list[Spare]) -> None:
        self._dying.extend(spare for spare in spares if not spare.discard())

    def _reap(self) -> None:
        self._dying = [spare for spare in self._dying if spare.alive()]
        self._kill_orphans()

    def _kill_orphans(self) -> None:
        """Processes the learner's code left behind and the zygote adopted (it is a subreaper): all go."""
        keep = {spare.pid for spare in self.spares} | {spare.pid for spare in self._dying} | set(self.lent)
        kill_adopted(keep)
        reap_adopted()
