"""The check server: a background process holding warm Checkers for the command line (`python -m
tutor.checkd.server --socket PATH --fingerprint FP`, started by tutor.checkd.client on first use).

It listens on a Unix socket (0600, in a 0700 folder: see place.py) and answers each connection's one request,
a JSON line, with one JSON line:

    {"op": "check", "fingerprint": FP, "course": ROOT, "exercise": ID, "file": NAME, "source": TEXT,
     "data": PATH|null, "device": "cpu", "timeout": 10}
        -> {"type": "report", "report": CheckReport.to_json(), "elapsed": s}
         | {"type": "refused", "message": ...}   (a CheckerError or DataError: the learner's to fix)
         | {"type": "error", "message": ...}     (the server's own failure: the client checks in-process)
    {"op": "status"} -> {"type": "status", "pid", "fingerprint", "started", "idle_s", "checks", "checkers"}
    {"op": "stop"}   -> {"type": "stopping"}, then the server closes its checkers and leaves

A request whose fingerprint differs from the server's gets {"type": "stale"} and the server leaves: another
version of the tutor is installed now. Each connection is served on its own thread, so a client killed
mid-check costs nothing but its reply; one Checker per (course, data, device, timeout), its checks one at a
time. The server leaves after IDLE_S without a request (BACKPROP_NINJA_SERVER_IDLE overrides it), on SIGTERM
or SIGINT, and its sandboxes' zygotes leave with it, even after a SIGKILL: each reads its requests from a pipe
whose end is the server's, and ends (with its children) when that pipe closes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

IDLE_S = 15 * 60.0
IDLE_ENV = "BACKPROP_NINJA_SERVER_IDLE"
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a learner's file is at most 1 MiB, and travels inside the request


def idle_limit() -> float:
    try:
        return max(0.1, float(os.environ.get(IDLE_ENV, IDLE_S)))
    except ValueError:
        return IDLE_S


class CourseCache:
    """Courses by folder, reloaded when one of their files changes (size or time)."""

    def __init__(self) -> None:
        self._courses: dict[str, tuple[str, Any]] = {}

    @staticmethod
    def signature(root: Path) -> str:
        """What the pack's parse depends on: the same digest the command line's course cache is named by."""
        from tutor.course.cache import course_digest

        try:
            return course_digest(root)
        except OSError:  # a file vanished while it was stamped: a signature no later one equals, so it is read again
            return f"unreadable at {time.monotonic_ns()}"

    def get(self, root: str) -> tuple[Any, bool]:
        """The course at `root`, and whether it was (re)loaded just now."""
        from tutor.course import load_course

        signature = self.signature(Path(root))
        held = self._courses.get(root)
        if held is not None and held[0] == signature:
            return held[1], False
        course = load_course(Path(root))
        self._courses[root] = (signature, course)
        return course, True


class CheckServer:
    def __init__(self, sock: socket.socket, path: Path, fingerprint: str) -> None:
        self.sock, self.path, self.fingerprint = sock, path, fingerprint
        self.inode = os.stat(path).st_ino
        self.started = time.time()
        self.last_request = time.monotonic()
        self.active = 0
        self.checks = 0
        self.courses = CourseCache()
        self.checkers: dict[tuple, Any] = {}
        self.locks: dict[tuple, threading.Lock] = {}
        self.lock = threading.Lock()  # guards the tables above and the counters
        self.stopping = threading.Event()

    # -- serving -----------------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        threading.Thread(target=self._watch_idle, name="idle", daemon=True).start()
        self.sock.settimeout(0.5)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self.stopping.is_set():
                    break
                raise
            with self.lock:
                self.active += 1
            threading.Thread(target=self._serve_connection, args=(conn,), name="client", daemon=True).start()

    def _watch_idle(self) -> None:
        limit = idle_limit()
        while not self.stopping.wait(min(limit, 5.0) / 2):
            with self.lock:
                idle = self.active == 0 and time.monotonic() - self.last_request > limit
            if idle:
                self.stop()

    def _serve_connection(self, conn: socket.socket) -> None:
        reply: dict[str, Any] = {}
        try:
            with conn:
                request = read_request(conn)
                reply = self.handle(request) if request is not None else error_reply("a request must be one JSON object")
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:  # the client went away mid-check (killed, Ctrl-C): only its reply is lost
                    pass
        finally:
            with self.lock:
                self.active -= 1
                if reply.get("type") != "status":  # asking what runs keeps nothing alive
                    self.last_request = time.monotonic()
            if reply.get("type") in ("stopping", "stale"):
                self.stop()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            return self.status()
        if op == "stop":
            return {"type": "stopping", "pid": os.getpid()}
        if request.get("fingerprint") != self.fingerprint:
            return {"type": "stale", "fingerprint": self.fingerprint, "pid": os.getpid()}
        if op != "check":
            return error_reply(f"no operation {op!r}")
        try:
            return self.check(request)
        except Exception as exc:  # noqa: BLE001 - a tutor bug: logged; the client checks in its own process
            traceback.print_exc(file=sys.stderr)
            return error_reply(f"the check server failed: {type(exc).__name__}: {exc}")

    def check(self, request: dict[str, Any]) -> dict[str, Any]:
        from tutor.course import CourseError
        from tutor.engine.data import DataError
        from tutor.learner.file import CheckerError

        try:
            course, fresh = self.courses.get(str(request["course"]))
            exercise = course.find(str(request["exercise"]))
            if exercise is None:
                return error_reply(f"no exercise {request['exercise']!r} in {request['course']}")
            key = (str(request["course"]), request.get("data"), str(request.get("device", "cpu")), float(request["timeout"]))
            with self._checker_lock(key, course if fresh else None):
                checker = self._checker(key, course)
                report = checker.check(exercise, Path(str(request["file"])), source=str(request["source"]))
        except (CheckerError, DataError, CourseError) as exc:
            return {"type": "refused", "message": str(exc)}
        with self.lock:
            self.checks += 1
        reply = {"type": "report", "report": report.to_json(), "elapsed": report.elapsed}
        if isinstance(request.get("view"), dict):
            reply["drawn"] = draw(report, request["view"])
        return reply

    def _checker_lock(self, key: tuple, reloaded: Any) -> threading.Lock:
        with self.lock:
            if reloaded is not None:  # the course changed: its checkers judged with the old one
                for old in [k for k in self.checkers if k[0] == key[0]]:
                    self.checkers.pop(old).close()
            return self.locks.setdefault(key, threading.Lock())

    def _checker(self, key: tuple, course: Any) -> Any:
        """The warm Checker of `key` (made on first use; its lock is held by the caller)."""
        checker = self.checkers.get(key)
        if checker is None:
            from tutor.engine.check import Checker

            course_root, data, device, timeout = key
            checker = Checker(course, data=Path(data) if data else None, device=device, timeout=timeout)
            with self.lock:
                self.checkers[key] = checker
        return checker

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "type": "status",
                "pid": os.getpid(),
                "fingerprint": self.fingerprint,
                "started": self.started,
                "idle_s": 0.0 if self.active > 1 else time.monotonic() - self.last_request,  # this request aside
                "idle_limit_s": idle_limit(),
                "checks": self.checks,
                "busy": self.active - 1,  # requests being served besides this one
                "checkers": [{"course": k[0], "data": k[1], "device": k[2], "timeout": k[3]} for k in self.checkers],
                "socket": str(self.path),
            }

    # -- leaving -----------------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        """Give up the socket (only if the path is still ours: a newer server may have taken it) and the checkers."""
        try:
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            checkers, self.checkers = list(self.checkers.values()), {}
        for checker in checkers:
            try:
                checker.close()
            except Exception:  # noqa: BLE001 - leaving anyway
                traceback.print_exc(file=sys.stderr)


class Screen(io.StringIO):
    """The client's stdout as rich sees it (a terminal or not, its encoding), written into a string."""

    def __init__(self, tty: bool, encoding: str) -> None:
        super().__init__()
        self._tty, self._encoding = tty, encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def draw(report: Any, view: dict[str, Any]) -> str:
    """The verdict as the client's `check` would print it on its screen (client.screen() describes it)."""
    from rich.console import Console

    from tutor.views.text import print_report

    env = {str(k): str(v) for k, v in dict(view.get("env") or {}).items()}
    screen = Screen(bool(view.get("isatty")), str(view.get("encoding") or "utf-8"))
    console = Console(file=screen, highlight=False, no_color="NO_COLOR" in env, width=int(view.get("width") or 120),
                      _environ=env)
    print_report(report, console, lang=str(view.get("lang") or "en"))
    return screen.getvalue()


def read_request(conn: socket.socket) -> dict[str, Any] | None:
    """The connection's one request line (None when it is not a JSON object or the client left)."""
    buffer = b""
    conn.settimeout(30.0)
    try:
        while b"\n" not in buffer:
            chunk = conn.recv(1 << 16)
            if not chunk:
                return None
            buffer += chunk
            if len(buffer) > MAX_REQUEST_BYTES:
                return None
        request = json.loads(buffer.split(b"\n", 1)[0])
    except (OSError, ValueError):
        return None
    return request if isinstance(request, dict) else None


def error_reply(message: str) -> dict[str, Any]:
    return {"type": "error", "message": message}


def bind(path: Path) -> socket.socket:
    """Listen on `path`, made 0600 from the start; an old socket there that answers nobody is replaced."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        try:
            sock.bind(str(path))
        except OSError:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
            except OSError:  # nobody listens: a stale socket
                os.unlink(path)
                sock.bind(str(path))
            else:
                probe.close()
                sock.close()
                raise SystemExit(f"another check server listens on {path}") from None
    finally:
        os.umask(old_umask)
    sock.listen(64)
    return sock


def detach() -> int:
    """Fork: the parent returns once the child says it listens (exit 0) or dies first (exit 1); the child,
    the server, goes on. Returns the fd the child writes "1" to once it listens."""
    ready_r, ready_w = os.pipe()
    if os.fork():
        os.close(ready_w)
        ok = os.read(ready_r, 1) == b"1"
        os._exit(0 if ok else 1)
    os.close(ready_r)
    return ready_w


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutor.checkd.server")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--fingerprint", required=True)
    parser.add_argument("--detach", action="store_true", help="fork; return once the server listens")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    ready = detach() if args.detach else None
    os.chdir("/")  # hold no learner's folder
    sock = bind(args.socket)
    server = CheckServer(sock, args.socket, args.fingerprint)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: server.stop())
    print(f"check server {os.getpid()} listens on {args.socket}", file=sys.stderr, flush=True)
    if ready is not None:
        os.write(ready, b"1")
        os.close(ready)
    try:
        server.serve_forever()
    finally:
        server.close()
        print(f"check server {os.getpid()} left", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
