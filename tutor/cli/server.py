"""`backprop-ninja server status|stop`: what the warm check server behind `check` is doing, and stopping it
(it starts by itself on the next check, and leaves by itself after 15 idle minutes)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

from tutor.cli.common import EXIT_FAIL, EXIT_PASS, say
from tutor.course import Course


def duration(seconds: float, lang: str = "en") -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return say("server-seconds", lang, s=seconds)
    if seconds < 3600:
        return say("server-minutes", lang, m=seconds // 60, s=seconds % 60)
    return say("server-hours", lang, h=seconds // 3600, m=seconds % 3600 // 60)


def cmd_server(args: argparse.Namespace, course: Course) -> int:
    from tutor.checkd.client import ServerUnavailable, ask, wait_gone
    from tutor.checkd.place import UnsafePlace, fingerprint, socket_path

    try:
        path = socket_path()
        status = ask({"op": "status"})
    except UnsafePlace as exc:
        print(say("server-unsafe", args.lang, why=exc), file=sys.stderr)
        return EXIT_FAIL
    except ServerUnavailable as exc:  # it listens but does not answer
        print(say("server-in-process", args.lang, why=exc), file=sys.stderr)
        return EXIT_FAIL
    if args.action == "status":
        if args.json:
            print(json.dumps({"running": status is not None, "socket": str(path), **(status or {})}))
        elif status is None:
            print(say("server-none", args.lang, socket=path))
        else:
            print_status(status, args.lang, stale=status.get("fingerprint") != fingerprint())
        return EXIT_PASS
    # stop
    if status is None:
        print(say("server-none", args.lang, socket=path))
        return EXIT_PASS
    pid = int(status["pid"])
    ask({"op": "stop"})
    if not (wait_gone(path) and process_gone(pid, 10.0)):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        print(say("server-stuck", args.lang, pid=pid), file=sys.stderr)
        return EXIT_FAIL
    print(say("server-stopped", args.lang, pid=pid))
    return EXIT_PASS


def process_gone(pid: int, wait_s: float) -> bool:
    """Wait until process `pid` has ended (it closes its checkers first: their sandboxes end with them)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process has that pid now
            return True
        time.sleep(0.02)
    return False


def print_status(status: dict, lang: str, stale: bool) -> None:
    print(say("server-status", lang, pid=status["pid"], up=duration(time.time() - status["started"], lang),
              idle=duration(status["idle_s"], lang), limit=duration(status["idle_limit_s"], lang),
              checks=status["checks"], socket=status["socket"]))
    for checker in status.get("checkers", []):
        print(say("server-checker", lang, course=checker["course"], data=checker["data"] or "names.txt",
                  device=checker["device"], timeout=checker["timeout"]))
    if stale:
        print(say("server-stale", lang))


def register(sub: argparse._SubParsersAction) -> None:
    server = sub.add_parser(
        "server", help="the warm check server behind `check`: status, stop",
        description="`check` is served by a warm background process (one per user, started on first use, gone "
        "after 15 idle minutes), so a check answers in a fraction of a second. `check --no-server` or "
        "BACKPROP_NINJA_SERVER=0 checks in the command's own process instead.",
    )
    server.add_argument("action", choices=["status", "stop"], help="status: what runs; stop: stop it now")
    server.add_argument("--json", action="store_true", help="status as one JSON object")
    server.set_defaults(handler=cmd_server)
