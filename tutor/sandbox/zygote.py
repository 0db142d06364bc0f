"""The sandbox's parent process: holds checking contexts and forks a child per learner run (ahead of time:
spare.py).

Started fresh by the tutor (never forked from it), so it has run no multi-threaded torch op and holds
no reference gradient: a child forked from here can neither hang on torch's thread pool nor find the
answers in its memory. Speaks frames (tutor.process.wire) on stdin/stdout.
"""

from __future__ import annotations

import os
import select
import sys
import time
from typing import IO, Any

import torch
import torch.autograd.functional  # noqa: F401 - loaded once here, so a child's autograd guard costs nothing
import torch.func  # noqa: F401

from tutor.process.wire import read_frame_raw, unpack_tensors, widen_pipe, write_frame
from tutor.sandbox.child import run_specs
from tutor.sandbox.handover import TutorGone
from tutor.sandbox.reaper import become_subreaper
from tutor.sandbox.spare import SparePool

# How long the zygote waits, after a run, for another request before it forks new spares.
REFILL_AFTER_S = 0.05


def main() -> None:
    torch.set_num_threads(1)

    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    widen_pipe(outbox.fileno())
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol
    contexts: dict[str, dict[str, Any]] = {}
    # Orphans of the learner's processes come back here, not to init, so that none outlives its check.
    become_subreaper()
    spares = SparePool(watch_fd=inbox.fileno())
    refill_at: float | None = None
    try:
        while True:
            # After a run, the tutor judges while its child is torn down: new spares are forked REFILL_AFTER_S
            # later (a spare is still waiting; requests in between are served first), so they do not compete
            # with the judging for the CPU.
            if refill_at is not None:
                wait = refill_at - time.monotonic()
                if wait <= 0 or not select.select([inbox], [], [], wait)[0]:
                    spares.refill(contexts)
                    refill_at = None
                    continue
            try:
                header, blob, raw = read_frame_raw(inbox)
            except EOFError:
                return
            try:
                if serve(header, blob, contexts, spares, outbox, raw) and refill_at is None:
                    refill_at = time.monotonic() + REFILL_AFTER_S
            except TutorGone:  # the tutor died mid-check: the child's tree is gone, and so is this process
                return
            # A spare forked later copies this process: it must not hold the request just served (the
            # last check's batch and injected gradients), so nothing here refers to it any more.
            del header, blob, raw
    finally:
        spares.close()


def serve(
    header: dict[str, Any], blob: bytes, contexts: dict[str, dict[str, Any]], spares: SparePool, outbox: IO[bytes],
    raw: bytes = b"",
) -> bool:
    """Answer one request (`raw`: its frame as it came, passed on to a child unchanged); True when it changed
    the contexts or used up a spare."""
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
    if op == "run":
        specs = run_specs(header)
        missing = [spec.get("key", "") for spec in specs if "inline" not in spec and spec.get("key", "") not in contexts]
        if missing:
            write_frame(outbox, {"status": "unknown-context", "keys": missing})
            return False
        reply, payload = spares.run(header, blob, contexts, raw)
        write_frame(outbox, reply, payload)
        spares.settle()  # the child's tree and any orphan: after the reply, while the tutor judges
        return True
    if op == "ping":
        write_frame(outbox, {"ok": True, "pid": os.getpid(), **spares.pids()})
    else:
        write_frame(outbox, {"error": f"unknown op {op!r}"})
    return False


if __name__ == "__main__":
    main()
    # Its spares and children are gone (main's finally): leave at once. The interpreter's own shutdown of a
    # process holding torch takes a second or more, and the zygote must not outlive a killed tutor by that.
    sys.stderr.flush()
    os._exit(0)
