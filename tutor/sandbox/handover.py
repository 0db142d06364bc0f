"""Handing a run request to a spare child and reading its result back.

Each hand-over is a small state machine (write the request, read the frame), and `drive` moves any number of
them forward in one select loop until every one has its whole frame, has timed out, or has ended.
"""

from __future__ import annotations

import os
import select
import time
from typing import TYPE_CHECKING, Any

from tutor.process.wire import PREFIX_SIZE, frame_size, is_whole_frame
from tutor.sandbox.child import READY
from tutor.sandbox.reaper import kill_tree

if TYPE_CHECKING:
    from tutor.sandbox.spare import Spare

MAX_PAYLOAD = 512 * 1024 * 1024
WRITE_CHUNK = 1 << 20
# After the result pipe's EOF with no whole frame, how long the child gets to exit on its own before it is
# killed: its exit status is the verdict, and a kill would read as "memory".
EXIT_GRACE_S = 1.0


class TutorGone(Exception):
    """The tutor's end of the zygote's request pipe closed during a run: nobody waits for the verdict."""


def hung_up(fd: int) -> bool:
    """Whether every writer of the pipe `fd` reads from has gone (POLLHUP; end of file where poll is missing)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
    return False


def close_fd(fd: int | None, owned: set[int]) -> None:
    if fd is not None:
        owned.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass


class Handover:
    """One request on its way into a spare, and that spare's result on its way out."""

    def __init__(self, spare: Spare, frame: bytes, limit_s: float, owned: set[int]) -> None:
        """`limit_s` counts from now (not from the fork); `owned`: the zygote's open pipe ends, kept current."""
        self.spare, self.owned = spare, owned
        self.ready = spare.poll_ready()
        self.request_fd, self.result_fd = spare.request_fd, spare.result_fd
        assert self.request_fd is not None and self.result_fd is not None, "a spare serves one run"
        spare.request_fd = spare.result_fd = None
        self.handed = time.monotonic()
        self.deadline = self.handed + limit_s
        self.pending = memoryview(frame)
        os.set_blocking(self.request_fd, False)  # a child still setting up must not stall the zygote's clock
        self.chunks: list[bytes] = []
        self.size = 0
        self.status = "exited"
        self.expected: int | None = None  # the whole frame's size, once its prefix is in
        self.skip = 0 if self.ready else len(READY)  # a spare not yet set up sends READY before its frame
        self.done = False

    def write_some(self) -> None:
        try:
            self.pending = self.pending[os.write(self.request_fd, self.pending[:WRITE_CHUNK]) :]  # type: ignore[arg-type]
        except BlockingIOError:
            return
        except BrokenPipeError:  # it died before reading the request
            self.done = True
            return
        if not self.pending:
            close_fd(self.request_fd, self.owned)
            self.request_fd = None

    def read_some(self) -> None:
        chunk = os.read(self.result_fd, 1 << 20)  # type: ignore[arg-type]
        if not chunk:
            self.done = True
            return
        self.size += len(chunk)
        if self.size > MAX_PAYLOAD + self.skip:
            self.status, self.done = "oversized", True
            return
        self.chunks.append(chunk)
        if self.skip and self.size >= self.skip and not b"".join(self.chunks).startswith(READY):
            self.skip = 0  # whatever came first, it was not READY: all of it is the frame
        if self.expected is None and self.size >= self.skip + PREFIX_SIZE:
            self.expected = frame_size(b"".join(self.chunks)[self.skip : self.skip + PREFIX_SIZE])
            if self.expected > MAX_PAYLOAD:
                self.status, self.done = "oversized", True
                return
        if self.expected is not None and self.size >= self.skip + self.expected:
            self.done = True  # the whole frame is in: what any other writer adds is not read

    def close(self) -> None:
        close_fd(self.request_fd, self.owned)
        close_fd(self.result_fd, self.owned)
        self.request_fd = self.result_fd = None

    def finish(self) -> tuple[dict[str, Any], bytes, bool]:
        """The zygote's reply, the child's frame, and whether the child died before it took the whole
        request (then it never ran the learner's code)."""
        self.close()
        spare, status = self.spare, self.status
        unread = bool(self.pending) and status == "exited"
        payload = b"".join(self.chunks)[self.skip :] if status == "exited" else b""
        if self.expected is not None and len(payload) > self.expected:
            payload = payload[: self.expected]
        reply: dict[str, Any] = {"status": status, "elapsed": time.monotonic() - self.handed, "code": None, "signal": None}
        if not is_whole_frame(payload):  # how it ended is the verdict: give it a moment to exit by itself
            # (a child that answered is torn down once the reply has gone: SparePool.settle)
            if status == "exited" and not spare.exits_within(min(EXIT_GRACE_S, max(0.0, self.deadline - time.monotonic()))):
                # it closed its result pipe (or had it closed) and lives on: it will never answer
                status = reply["status"] = "closed"
            spare.end_tree()
            if spare.wait_status is None:
                _, spare.wait_status = os.waitpid(spare.pid, 0)
            if os.WIFSIGNALED(spare.wait_status):
                reply["signal"] = os.WTERMSIG(spare.wait_status)
                if status == "exited":
                    status = reply["status"] = "signal"
                    payload = b""
            elif os.WIFEXITED(spare.wait_status):
                reply["code"] = os.WEXITSTATUS(spare.wait_status)
            if status == "closed":
                reply["signal"] = None
        # for the tutor's tests and benchmarks, never seen by the learner's code
        reply["child"] = {"pid": spare.pid, "ready": self.ready, "age_s": round(self.handed - spare.born, 4)}
        return reply, payload, unread


def drive(handovers: list[Handover], watch_fd: int | None = None) -> None:
    """Move every hand-over forward until each is done (whole frame, end of file, timeout or oversize).

    `watch_fd` (the zygote's request pipe) hanging up means the tutor died: TutorGone, after killing every
    child's whole tree."""
    watched = [watch_fd] if watch_fd is not None else []
    try:
        while True:
            now = time.monotonic()
            for h in handovers:
                if not h.done and h.deadline <= now:
                    h.status, h.done = "timeout", True
            active = [h for h in handovers if not h.done]
            if not active:
                return
            readers = [h.result_fd for h in active] + watched
            writers = [h.request_fd for h in active if h.pending and h.request_fd is not None]
            readable, writable, _ = select.select(readers, writers, [], min(h.deadline for h in active) - now)
            if watched and watched[0] in readable:
                if hung_up(watched[0]):
                    for h in handovers:
                        kill_tree(h.spare.pid)
                    raise TutorGone
                watched = []  # bytes from the tutor mid-run break the protocol; they wait for the next read
            for h in active:
                if h.request_fd is not None and h.request_fd in writable:
                    h.write_some()
                if not h.done and h.result_fd in readable:
                    h.read_some()
    except BaseException:
        for h in handovers:
            h.close()
        raise


__all__ = ["EXIT_GRACE_S", "Handover", "MAX_PAYLOAD", "TutorGone", "drive", "hung_up"]
