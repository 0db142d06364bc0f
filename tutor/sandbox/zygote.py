"""The sandbox's parent process: holds checking contexts, forks the children that run the learner's file
(ahead of time: spare.py) and lends them to the tutor (handover.py).

Started fresh by the tutor (never forked from it), so it has run no multi-threaded torch op and holds
no reference gradient: a child forked from here can neither hang on torch's thread pool nor find the
answers in its memory. The run requests themselves go from the tutor straight into a lent child, so no
learner's batch or injected gradient ever passes through here either. Speaks frames (tutor.process.wire)
on stdin/stdout; a lent child's pipe ends go to the tutor over a Unix socket (`--lease-fd`).
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time
from typing import IO, Any

import torch
import torch.autograd.functional  # noqa: F401 - loaded once here, so a child's autograd guard costs nothing
import torch.func  # noqa: F401

from tutor.process.wire import read_frame, unpack_tensors, widen_pipe, write_frame
from tutor.sandbox.hugepages import collapse
from tutor.sandbox.reaper import become_subreaper
from tutor.sandbox.spare import SparePool, keep_from_children

# How long the zygote waits, after a run, for another request before it forks new spares (none with
# --refill-at-once: runs come back to back, and every wait leaves a core idle).
REFILL_AFTER_S = 0.05
# After this many runs the zygote serves a session (the tutor, the check server, a grader's worker, not one
# `check` from the shell): its memory then goes into huge pages, which makes each later fork and each child's
# exit cheaper (hugepages.py). It takes a few hundred ms once, after a refill, while the tutor judges.
HUGE_PAGES_AFTER_RUNS = 2


def main(lease_fd: int, refill_after: float = REFILL_AFTER_S) -> None:
    torch.set_num_threads(1)

    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    widen_pipe(outbox.fileno())
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol
    lease = socket.socket(fileno=lease_fd)
    keep_from_children(lease_fd)
    contexts: dict[str, dict[str, Any]] = {}
    # Orphans of the learner's processes come back here, not to init, so that none outlives its check.
    become_subreaper()
    spares = SparePool()
    refill_at: float | None = None
    runs, collapsed = 0, False
    try:
        while True:
            # After a run, the tutor judges while its child is torn down: new spares are forked `refill_after`
            # later (a spare is still waiting; requests in between are served first), so they do not compete
            # with the judging for the CPU.
            if refill_at is not None:
                wait = refill_at - time.monotonic()
                if wait <= 0 or not select.select([inbox], [], [], wait)[0]:
                    spares.refill(contexts)
                    refill_at = None
                    if not collapsed and runs >= HUGE_PAGES_AFTER_RUNS:
                        collapse()
                        collapsed = True
                    continue
            try:
                header, blob = read_frame(inbox)
            except EOFError:  # the tutor is gone: so are the children (main's finally), and this process
                return
            runs += header.get("op") == "ran"
            if serve(header, blob, contexts, spares, outbox, lease) and refill_at is None:
                refill_at = time.monotonic() + refill_after
    finally:
        spares.close()


def serve(
    header: dict[str, Any], blob: bytes, contexts: dict[str, dict[str, Any]], spares: SparePool, outbox: IO[bytes],
    lease: socket.socket,
) -> bool:
    """Answer one request; True when it changed the contexts or used up a spare."""
    op = header.get("op")
    if op == "context":
        contexts[header["key"]] = {
            "tensors": unpack_tensors(header["tensors"], blob),
            "scalars": header.get("scalars", {}),
            "device": header["device"],
            "warm": header.get("warm") if isinstance(header.get("warm"), str) else "",
        }
        spares.contexts_changed()
        write_frame(outbox, {"ok": True})
        return True
    if op == "lease":
        spare, waiting = spares.lend(contexts, fork=bool(header.get("fork"))) if contexts else (None, False)
        if spare is None:
            write_frame(outbox, {"pid": None})
            return False
        fds = spare.give_pipes()
        try:
            socket.send_fds(lease, [b"L"], list(fds))  # before the reply: the tutor reads them after it
        finally:
            for fd in fds:
                os.close(fd)
        write_frame(outbox, {"pid": spare.pid, "ready": spare.ready, "born": spare.born, "spare": waiting})
        return True
    if op == "ran":
        pid, ended, grace = header.get("pid"), header.get("ended"), header.get("grace", 0.0)
        reply = spares.ended(pid, ended, float(grace)) if isinstance(pid, int) else {"error": "no pid"}
        write_frame(outbox, reply)
        spares.settle()  # the child's tree and any orphan: after the reply, while the tutor judges
        return True
    if op == "drop":  # the tutor will not use the child it was lent
        write_frame(outbox, {"ok": spares.take_back(header.get("pid"))})
        return True
    if op == "ping":
        write_frame(outbox, {"ok": True, "pid": os.getpid(), **spares.pids()})
    else:
        write_frame(outbox, {"error": f"unknown op {op!r}"})
    return False


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--lease-fd") + 1]), 0.0 if "--refill-at-once" in sys.argv else REFILL_AFTER_S)
    # Its spares and children are gone (main's finally): leave at once. The interpreter's own shutdown of a
    # process holding torch takes a second or more, and the zygote must not outlive a killed tutor by that.
    sys.stderr.flush()
    os._exit(0)
