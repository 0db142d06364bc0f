"""The command line's side of the check server: ask it for a check, start it when none listens, replace one
that runs another version of the tutor, and say when it cannot be used (the caller then checks in its own
process). Imports no torch, and little else: a check served here costs the command its start-up and a reply.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tutor.checkd.place import LOCK_NAME, LOG_NAME, UnsafePlace, fingerprint, socket_path

ENV = "BACKPROP_NINJA_SERVER"
# A fresh server binds its socket before it imports anything heavy; under load that may still take seconds.
START_WAIT_S = 30.0
# A reply waits for the learner's code (three runs) and, on a fresh server, for torch and the contexts.
STARTUP_ALLOWANCE_S = 120.0
# How long an old server (another version, or told to stop) gets to give up its socket.
LEAVE_WAIT_S = 10.0


class ServerUnavailable(Exception):
    """The server cannot serve this check; the message says why, in a few words."""


def wanted(no_server: bool = False) -> bool:
    """Whether checks go to the server: not with --no-server or BACKPROP_NINJA_SERVER=0 (or off, no, false)."""
    return not no_server and os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def _exchange(path: Path, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """One request and its reply. ConnectionRefusedError/FileNotFoundError: nobody listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        sock.sendall((json.dumps(request) + "\n").encode())
        deadline = time.monotonic() + wait_s
        buffer = b""
        while b"\n" not in buffer:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                raise ServerUnavailable(f"the check server gave no answer in {wait_s:g} s") from None
            except OSError as exc:
                raise ServerUnavailable(f"the check server went away mid-check ({exc.strerror or exc})") from None
            if not chunk:
                raise ServerUnavailable("the check server went away mid-check")
            buffer += chunk
    finally:
        sock.close()
    try:
        reply = json.loads(buffer.split(b"\n", 1)[0])
    except ValueError:
        raise ServerUnavailable("the check server sent something that is not JSON") from None
    if not isinstance(reply, dict):
        raise ServerUnavailable("the check server sent something that is not a JSON object")
    return reply


def _listening(path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def ask(request: dict[str, Any], wait_s: float = 10.0) -> dict[str, Any] | None:
    """A request to the running server (status, stop); None when none listens. Starts nothing."""
    path = socket_path()
    try:
        return _exchange(path, request, wait_s)
    except (FileNotFoundError, ConnectionRefusedError):
        return None


def start(path: Path, tutor_fingerprint: str) -> None:
    """Start a server on `path` unless one listens there already (another client may have just started it);
    returns once it listens. Clients that start one at the same moment take turns on a lock file."""
    import fcntl
    import subprocess
    import sys

    from tutor.process.spawn import child_env

    lock = os.open(path.parent / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _listening(path):
            return
        with open(path.parent / LOG_NAME, "ab") as log:
            # the process started here forks the server and returns once it listens (or could not start):
            # the server is nobody's child to wait for, and no terminal's (its own session)
            proc = subprocess.Popen(
                [sys.executable, "-m", "tutor.checkd.server", "--detach", "--socket", str(path),
                 "--fingerprint", tutor_fingerprint],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=child_env(),
                start_new_session=True, close_fds=True,
            )
        try:
            code = proc.wait(START_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ServerUnavailable(f"the check server did not start in {START_WAIT_S:g} s") from None
        if code != 0 or not _listening(path):
            raise ServerUnavailable(f"the check server could not start (see {path.parent / LOG_NAME})")
    finally:
        os.close(lock)


def wait_gone(path: Path, wait_s: float = LEAVE_WAIT_S) -> bool:
    """Wait until no server listens on `path`; False if one still does after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while _listening(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def served_check(request: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """The server's reply to a check request (the fingerprint added here), the server started or replaced
    on the way as needed. ServerUnavailable when it cannot be had (UnsafePlace's message included)."""
    try:
        path = socket_path()
    except UnsafePlace as exc:
        raise ServerUnavailable(f"not using the check server: {exc}") from None
    mine = fingerprint()
    request = {**request, "op": "check", "fingerprint": mine}
    for _attempt in range(2):
        try:
            reply = _exchange(path, request, wait_s)
        except (FileNotFoundError, ConnectionRefusedError):  # none listens (a stale socket): start one
            start(path, mine)
            continue
        except OSError as exc:
            raise ServerUnavailable(f"the check server cannot be reached: {exc.strerror or exc}") from None
        if reply.get("type") != "stale":
            return reply
        # a server of another version of the tutor: it leaves now; ours takes its place
        if not wait_gone(path):
            raise ServerUnavailable("the check server of another tutor version did not leave")
        start(path, mine)
    raise ServerUnavailable("the check server could not be started")


def screen(lang: str) -> dict[str, Any]:
    """What the server needs to draw a verdict exactly as this process would on its stdout (the CLI's
    console(): no highlighting, NO_COLOR honoured, 120 columns in a pipe, the terminal's width on a terminal):
    whether stdout is a terminal, its encoding and width, and the environment rich reads (TERM, COLORTERM,
    FORCE_COLOR, NO_COLOR, COLUMNS...). The command then never imports rich."""
    import sys

    stdout = sys.stdout
    try:
        tty = stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    width = 120
    if tty:  # as rich sizes a console of no given width
        width = 80
        for fd in (0, 1, 2):
            try:
                width = os.get_terminal_size(fd).columns or 80
                break
            except (AttributeError, ValueError, OSError):
                continue
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit():
            width = int(columns)
        if os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
            width = 80
    return {"lang": lang, "isatty": tty, "encoding": getattr(stdout, "encoding", None) or "utf-8",
            "width": width, "env": dict(os.environ)}


class RemoteChecker:
    """A Checker's `check` served by the check server; what the server cannot serve is checked in this
    process by the Checker `local()` makes (once), after a one-line note on stderr."""

    def __init__(self, course: Any, *, data: Path | None, device: str, timeout: float, local: Callable[[], Any],
                 note: Callable[[str], None]) -> None:
        self.course, self.device, self.timeout = course, device, timeout
        self.data = str(Path(data).resolve()) if data else None
        self._make_local, self._note = local, note
        self._local: Any = None
        # Set by the caller: the server draws the verdict too, for this screen (see screen()); `drawn` is what it
        # drew for the latest check, None when it drew nothing (the caller draws the report itself then).
        self.view: dict[str, Any] | None = None
        self.drawn: str | None = None

    def check(self, exercise: Any, file: Path, source: str | None = None, cells: Any = None) -> Any:
        """As Checker.check, served (a notebook's `cells` stay here: only the caller places errors by them)."""
        from tutor.learner.file import CheckerError, read_learner_file
        from tutor.reports.check import CheckReport

        if source is None:
            source = read_learner_file(file)
        request = {"course": str(Path(self.course.root).resolve()), "exercise": exercise.id, "file": str(file),
                   "source": source, "data": self.data, "device": self.device, "timeout": self.timeout,
                   "view": self.view}
        self.drawn = None
        try:
            reply = served_check(request, self.timeout * 3 + STARTUP_ALLOWANCE_S)
        except ServerUnavailable as exc:
            self._note(str(exc))
            return self.local().check(exercise, file, source=source, cells=cells)
        if reply.get("type") == "report":
            report = CheckReport.from_json(reply["report"])
            report.elapsed = float(reply.get("elapsed") or 0.0)
            self.drawn = reply.get("drawn") if isinstance(reply.get("drawn"), str) else None
            return report
        if reply.get("type") == "refused":
            raise CheckerError(str(reply.get("message")))
        self._note(str(reply.get("message") or "the check server could not check it"))
        return self.local().check(exercise, file, source=source, cells=cells)

    def local(self) -> Any:
        if self._local is None:
            self._local = self._make_local()
        return self._local

    def close(self) -> None:
        if self._local is not None:
            self._local.close()

    def __enter__(self) -> RemoteChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
