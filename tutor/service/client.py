"""The TUI's side of the check service: starts `python -m tutor.service.server`, sends requests, restarts it
when it dies. Imports neither torch nor any UI, so an app holding a CheckClient paints at once."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)
# The first request also waits for torch's import and the context build; later ones for the learner's code.
STARTUP_ALLOWANCE = 120.0


class ServiceDied(Exception):
    """The service process ended or stopped answering; the message says how."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def child_env() -> dict[str, str]:
    """The environment for a tutor child process: this checkout of the package first on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))}


def open_log(path: Path | None) -> IO[bytes] | int:
    """The child's stderr: the log file opened for appending (the caller closes it after Popen), else DEVNULL."""
    if path is not None:
        try:
            return open(path, "ab")  # noqa: SIM115 - handed to the child, closed by the caller
        except OSError:
            pass
    return subprocess.DEVNULL


class CheckClient:
    """check(exercise_id, path) -> the service's reply dict; safe to call from one worker thread at a time."""

    def __init__(
        self,
        *,
        data: str | Path | None = None,
        device: str = "cpu",
        timeout: float = 10.0,
        command: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data = str(data) if data else None
        self.device = device
        self.timeout = timeout
        self.command = command or [sys.executable, "-m", "tutor.service.server"]
        self.log_path = log_path
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._closed = False

    # -- process lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the service in the background (returns at once; torch imports over there)."""
        with self._lock:
            if self._proc is None and not self._closed:
                self._spawn()

    def _spawn(self) -> None:
        log = open_log(self.log_path)
        try:
            self._proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=child_env(), bufsize=0
            )
        finally:
            if not isinstance(log, int):
                log.close()
        self._buffer = b""

    def _stop(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None
        finally:
            for stream in (proc.stdin, proc.stdout):
                if stream:
                    stream.close()

    def close(self) -> None:
        self._closed = True
        while not self._lock.acquire(timeout=0.05):
            # A check is waiting on the service (maybe for minutes): end the service so that it returns now.
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.kill()
        try:
            proc = self._proc
            if proc is not None and proc.poll() is None and proc.stdin:
                try:
                    proc.stdin.close()  # the service ends at EOF and closes its sandboxes
                    proc.wait(timeout=3)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._stop()
        finally:
            self._lock.release()

    # -- talking -----------------------------------------------------------------------------------------
    def _read_line(self, deadline: float) -> bytes:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ServiceDied(describe_exit(None))
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    raise ServiceDied(describe_exit(proc.wait()))
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(request) + "\n").encode())
        except OSError:
            raise ServiceDied(describe_exit(proc.wait())) from None
        deadline = time.monotonic() + self.timeout * 3 + STARTUP_ALLOWANCE
        while True:
            line = self._read_line(deadline)
            try:
                reply = json.loads(line)
            except ValueError:
                raise ServiceDied("it sent something that is not JSON") from None
            if isinstance(reply, dict) and reply.get("type") in ("report", "error"):
                return reply
            # {"type": "ready"} and anything unknown: keep reading

    def check(self, exercise_id: str, path: str | Path) -> dict[str, Any]:
        request = {"exercise": exercise_id, "file": str(path), "device": self.device, "data": self.data, "timeout": self.timeout}
        notes: list[str] = []
        with self._lock:
            for _attempt in range(2):
                if self._closed:
                    return {"type": "error", "message": "the checker was closed (the tutor is quitting)"}
                if self._proc is not None and self._proc.poll() is not None:
                    notes.append(f"the checking worker had ended ({describe_exit(self._stop())}); restarted it")
                    self.restarts += 1
                if self._proc is None:
                    self._spawn()
                try:
                    reply = self._ask(request)
                except ServiceDied as exc:
                    code = self._stop()
                    why = describe_exit(code) if str(exc) == describe_exit(None) and code is not None else str(exc)
                    notes.append(f"the checking worker crashed ({why}); restarted it and re-ran the check")
                    self.restarts += 1
                    continue
                if notes:
                    reply["service_notes"] = notes
                return reply
        return {"type": "error", "message": "the checking worker crashed twice in a row; see the log, then press c to try again", "service_notes": notes}
