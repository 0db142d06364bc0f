"""The TUI's side of a training run: start `python -m tutor.training.stream`, read its JSON lines, cancel it.

Imports neither torch nor any UI: the app holds a TrainingClient and paints at once; torch loads in the
run's own process. A run's events() ends with exactly one final line: the stream's "result" or "error",
or a "crashed" line made here when the process ends (or garbles a line) before it reported.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tutor.process.spawn import describe_exit, open_log, send_signal, spawn, terminate
from tutor.reports.training import FINAL_TYPES, TrainingProblem

STOP_WAIT_S = 3.0


class TrainingRun:
    """One stream process; events() is read by one worker thread, cancel()/stop() may come from any."""

    def __init__(self, command: list[str], log_path: Path | None = None) -> None:
        log = open_log(log_path)
        self.log_path = log_path if not isinstance(log, int) else None
        # new session: the terminal's keys belong to the app, which decides how to stop it
        self.proc = spawn(command, stderr=log, new_session=True)
        self.cancelled = threading.Event()

    def events(self) -> Iterator[dict[str, Any]]:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                self.stop()
                yield self._crashed("it sent a line that is not JSON")
                return
            if not isinstance(line, dict):
                continue
            yield line
            if line.get("type") in FINAL_TYPES:
                self.proc.wait()
                return
        yield self._crashed(describe_exit(self.proc.wait()))

    def _crashed(self, why: str) -> dict[str, Any]:
        where = f"; its log is {self.log_path}" if self.log_path else ""
        return TrainingProblem("crashed", f"the training process ended before it reported ({why}){where}").to_line()

    def cancel(self) -> None:
        """Stop after the current step and still evaluate and sample the model trained so far."""
        self.cancelled.set()
        send_signal(self.proc, signal.SIGINT)

    def stop(self) -> None:
        """Stop now (leaving the screen, quitting): SIGTERM, then SIGKILL if it lingers."""
        terminate(self.proc, STOP_WAIT_S)


class TrainingClient:
    """start(exercise_id, path) -> a TrainingRun of the learner's file; close() stops what still runs."""

    def __init__(self, *, data: str | Path | None = None, device: str = "cpu", timeout: float = 10.0,
                 steps: int | None = None, log_path: Path | None = None, command: list[str] | None = None) -> None:
        self.data = str(data) if data else None
        self.device = device
        self.timeout = timeout
        self.steps = steps
        self.log_path = log_path
        self.command = command or [sys.executable, "-W", "ignore", "-m", "tutor.training.stream"]
        self._runs: list[TrainingRun] = []

    def arguments(self, exercise_id: str, path: Path) -> list[str]:
        args = ["--exercise", exercise_id, "--file", str(path), "--device", self.device, "--timeout", str(self.timeout)]
        if self.data:
            args += ["--data", self.data]
        if self.steps:
            args += ["--steps", str(self.steps)]
        return args

    def start(self, exercise_id: str, path: Path) -> TrainingRun:
        run = TrainingRun([*self.command, *self.arguments(exercise_id, path)], self.log_path)
        self._runs = [r for r in self._runs if r.proc.poll() is None] + [run]
        return run

    def close(self) -> None:
        for run in self._runs:
            run.stop()
        self._runs = []
