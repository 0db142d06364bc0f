"""The TUI's side of the check service: starts `python -m tutor.service.server`, sends requests, restarts it
when it dies. Imports neither torch nor any UI, so an app holding a CheckClient paints at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tutor.process.lines import LineReader, LineTimeout
from tutor.process.spawn import describe_exit, end_input, kill, open_log, spawn

# The first request also waits for torch's import and the context build; later ones for the learner's code.
STARTUP_ALLOWANCE = 120.0


class ServiceDied(Exception):
    """The service process ended or stopped answering; the message says how."""


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
        course_root: Path | None = None,
    ) -> None:
        self.data = str(data) if data else None
        self.course_root = course_root  # the pack the service loads (else its environment's)
        self.device = device
        self.timeout = timeout
        self.command = command or [sys.executable, "-m", "tutor.service.server"]
        self.log_path = log_path
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: LineReader | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- process lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the service in the background (returns at once; torch imports over there)."""
        with self._lock:
            if self._proc is None and not self._closed:
                self._spawn()

    def _spawn(self) -> None:
        env = None
        if self.course_root is not None:
            from tutor.course.packs import ENV_VAR

            env = {**os.environ, ENV_VAR: str(self.course_root)}
        self._proc = spawn(self.command, stderr=open_log(self.log_path), bufsize=0, env=env)
        assert self._proc.stdout is not None
        self._reader = LineReader(self._proc.stdout)

    def _stop(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            return kill(proc)
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
            if proc is not None and proc.poll() is None:
                end_input(proc, 3)  # the service ends at EOF and closes its sandboxes
            self._stop()
        finally:
            self._lock.release()

    # -- talking -----------------------------------------------------------------------------------------
    def _read_line(self, deadline: float) -> bytes:
        proc, reader = self._proc, self._reader
        assert proc is not None and reader is not None
        try:
            return reader.read_line(deadline)
        except LineTimeout:
            raise ServiceDied(describe_exit(None)) from None
        except EOFError:
            raise ServiceDied(describe_exit(proc.wait())) from None

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
