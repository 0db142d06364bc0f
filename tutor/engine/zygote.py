"""The sandbox's parent process: holds checking contexts and forks one child per learner run.

Started fresh by the tutor (never forked from it), so it has run no multi-threaded torch op and holds
no reference gradient: a child forked from here can neither hang on torch's thread pool nor find the
answers in its memory. Speaks frames (wire.py) on stdin/stdout.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from typing import Any

import torch

from tutor.engine.child import run_learner
from tutor.engine.wire import read_frame, unpack_tensors, write_frame

GRACE_S = 1.5
MAX_PAYLOAD = 512 * 1024 * 1024


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def run_one(request: dict[str, Any], runs: list[dict[str, Any]]) -> tuple[dict[str, Any], bytes]:
    """Fork one child that runs the learner's file once per entry of `runs` (see child.run_learner)."""
    rfd, wfd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child never returns from run_learner
        os.close(rfd)
        try:
            run_learner(request, runs, wfd)
        finally:
            os._exit(70)
    os.close(wfd)
    deadline = started + float(request["timeout"]) * max(1, len(runs)) + GRACE_S
    chunks: list[bytes] = []
    size = 0
    status = "exited"
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            ready, _, _ = select.select([rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(rfd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_PAYLOAD:
                status = "oversized"
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
    if status != "exited":
        _kill_group(pid)
    _, wait_status = os.waitpid(pid, 0)
    _kill_group(pid)  # anything the learner's code started in its own group goes too
    reply: dict[str, Any] = {"status": status, "elapsed": time.monotonic() - started, "code": None, "signal": None}
    if os.WIFSIGNALED(wait_status):
        reply["signal"] = os.WTERMSIG(wait_status)
        if status == "exited":
            status = reply["status"] = "signal"
    elif os.WIFEXITED(wait_status):
        reply["code"] = os.WEXITSTATUS(wait_status)
    return reply, b"".join(chunks) if status == "exited" else b""


def main() -> None:
    torch.set_num_threads(1)
    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the protocol
    contexts: dict[str, dict[str, Any]] = {}
    while True:
        try:
            header, blob = read_frame(inbox)
        except EOFError:
            return
        op = header.get("op")
        if op == "context":
            contexts[header["key"]] = {
                "tensors": unpack_tensors(header["tensors"], blob),
                "scalars": header.get("scalars", {}),
                "device": header["device"],
            }
            write_frame(outbox, {"ok": True})
        elif op == "run":
            # "runs": one entry per context ({"key", "extra", "swap"}); a bare header is one run on "key"
            specs = header.get("runs") or [{"key": header.get("key", ""), "extra": header.get("extra", [])}]
            missing = [spec.get("key", "") for spec in specs if spec.get("key", "") not in contexts]
            if missing:
                write_frame(outbox, {"status": "unknown-context", "keys": missing})
                continue
            runs = []
            for spec in specs:
                ctx = contexts[spec["key"]]
                extra = unpack_tensors(spec.get("extra", []), blob)
                run = {"tensors": ctx["tensors"], "scalars": ctx["scalars"]}
                if spec.get("swap"):
                    run.update(correct=extra, swap=list(spec["swap"]))
                else:
                    run["tensors"] = {**ctx["tensors"], **extra}
                runs.append(run)
            request = {**header, "device": contexts[specs[0]["key"]]["device"]}
            reply, payload = run_one(request, runs)
            write_frame(outbox, reply, payload)
        elif op == "ping":
            write_frame(outbox, {"ok": True, "pid": os.getpid()})
        else:
            write_frame(outbox, {"error": f"unknown op {op!r}"})


if __name__ == "__main__":
    main()
