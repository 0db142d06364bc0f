"""Handing a run request straight to a spare child and reading its result back, in the tutor.

The zygote lends the tutor a spare's two pipe ends (a lease: see spare.py) ahead of the check; the tutor
writes the request into the child and reads the child's frame itself, so no process sits between them while
the learner waits. The zygote stays the child's parent: it is told how the run ended, and answers how the
child ended where the frame did not come (spare.Spare.conclude). `Transfer` is one hand-over as a small
state machine (write the request, read the frame), moved forward by one select loop until the whole frame
is in, the pipe ended, the time ran out or the frames grew too large.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass
from typing import Callable

from tutor.process.wire import PREFIX_SIZE, frame_size
from tutor.sandbox.child import READY

MAX_PAYLOAD = 512 * 1024 * 1024
WRITE_CHUNK = 1 << 20


def close_fd(fd: int | None, owned: set[int] | None = None) -> None:
    if fd is not None:
        if owned is not None:
            owned.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass


@dataclass
class Lease:
    """A spare child lent to the tutor: its pid, the write end of its request pipe and the read end of its
    result pipe, whether the zygote had read its READY byte, when it was forked (monotonic), and whether it
    was forked ahead of the request (a spare) or on the spot."""

    pid: int
    request_fd: int | None
    result_fd: int | None
    ready: bool
    born: float
    spare: bool
    primed: tuple[object, ...] = ()  # the runs already sent to it (the request's first frame), if any

    def poll_ready(self) -> bool:
        """Whether the child has finished setting up (see took_ready)."""
        self.ready = self.ready or took_ready(self.result_fd)
        return self.ready

    def primed_with(self, runs: tuple[object, ...]) -> bool:
        return len(self.primed) == len(runs) and all(a is b for a, b in zip(self.primed, runs))

    def close(self) -> None:
        close_fd(self.request_fd)
        close_fd(self.result_fd)
        self.request_fd = self.result_fd = None


def took_ready(result_fd: int | None) -> bool:
    """Whether a child's READY byte is on its result pipe now; read (taken) if so, without waiting. A child
    writes nothing else before its request is in, so nothing else can come first."""
    if result_fd is None or not select.select([result_fd], [], [], 0)[0]:
        return False
    return os.read(result_fd, len(READY)) == READY


class Transfer:
    """One request on its way into a leased child, and the child's frames on their way out: one per run, each
    passed to `on_frame` as it comes (so the tutor judges a run while the child runs the next), until
    `on_frame` says that was the last."""

    def __init__(
        self, lease: Lease, request: bytes, limit_s: float, on_frame: Callable[[bytes], bool], more_coming: bool = False
    ) -> None:
        """`limit_s` counts from now (the hand-over), not from the fork. `more_coming`: the request goes on in
        a part given later (`append`); what is here is written at once, so the child can start on it."""
        assert lease.request_fd is not None and lease.result_fd is not None, "a spare serves one run"
        self.lease, self.on_frame = lease, on_frame
        self.request_fd, self.result_fd = lease.request_fd, lease.result_fd
        self.handed = time.monotonic()
        self.deadline = self.handed + limit_s
        self.pending = memoryview(request)
        self.more_coming = more_coming
        self.essential, self.written = len(request), 0  # the part the learner's code cannot run without
        os.set_blocking(self.request_fd, False)  # a child still setting up must not stall the clock
        self.buffer = bytearray()
        self.size = 0
        self.status = "exited"  # or "timeout", "oversized"
        self.complete = False  # its last frame is in
        self.done = False
        # A spare sends READY once set up, before its frames (the zygote may have taken it already): taken now
        # if it is there (the child was set up when the request came), else stripped when it comes.
        self.ready = lease.poll_ready()
        self.expect_ready = not self.ready
        self.write_some()

    def append(self, rest: bytes) -> None:
        """The request's last part (see __init__)."""
        self.pending = memoryview(bytes(self.pending) + rest)
        self.more_coming = False
        if not self.done and self.request_fd is not None:
            self.write_some()

    def write_some(self) -> None:
        try:
            wrote = os.write(self.request_fd, self.pending[:WRITE_CHUNK])  # type: ignore[arg-type]
            self.pending, self.written = self.pending[wrote:], self.written + wrote
        except BlockingIOError:
            return
        except BrokenPipeError:  # it died, or its run closed the request pipe: nothing more can go in
            self.pending, self.more_coming = memoryview(b""), False
            close_fd(self.request_fd)
            self.request_fd = None
            self.done = self.written < self.essential  # before the code: it never ran (else its results may come)
            return
        if not self.pending and not self.more_coming:
            close_fd(self.request_fd)
            self.request_fd = None

    def read_some(self) -> None:
        chunk = os.read(self.result_fd, 1 << 20)  # type: ignore[arg-type]
        if not chunk:
            self.done = True
            return
        self.size += len(chunk)
        if self.size > MAX_PAYLOAD + len(READY):
            self.status, self.done = "oversized", True
            return
        self.buffer += chunk
        if self.expect_ready:
            self.expect_ready = False
            if self.buffer.startswith(READY):  # whatever came first if not READY: it is all frames
                del self.buffer[: len(READY)]
        while len(self.buffer) >= PREFIX_SIZE:
            size = frame_size(bytes(self.buffer[:PREFIX_SIZE]))
            if size > MAX_PAYLOAD:
                self.status, self.done = "oversized", True
                return
            if len(self.buffer) < size:
                return
            frame = bytes(self.buffer[:size])
            del self.buffer[:size]
            if self.on_frame(frame):
                self.complete = self.done = True  # what any other writer adds is not read
                return

    def drive(self) -> None:
        """Move the hand-over forward until it is done (last frame, end of file, timeout or oversize)."""
        try:
            while not self.done:
                now = time.monotonic()
                if self.deadline <= now:
                    self.status, self.done = "timeout", True
                    return
                writers = [self.request_fd] if self.pending and self.request_fd is not None else []
                readable, writable, _ = select.select([self.result_fd], writers, [], self.deadline - now)
                if writable:
                    self.write_some()
                if not self.done and readable:
                    self.read_some()
        finally:
            self.close()

    def close(self) -> None:
        close_fd(self.request_fd)
        close_fd(self.result_fd)
        self.request_fd = self.result_fd = None
        self.lease.request_fd = self.lease.result_fd = None

    @property
    def unread(self) -> bool:
        """The child ended before it took the request's first part: none of the learner's code ran."""
        return self.written < self.essential and self.status == "exited" and not self.complete


__all__ = ["Lease", "MAX_PAYLOAD", "Transfer", "close_fd", "took_ready"]
