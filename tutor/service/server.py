"""The check service: a long-lived process that answers check requests as JSON lines on stdin/stdout.

Run as `python -m tutor.service.server`. It imports torch and warms a Checker once, prints
{"type": "ready"}, then answers each request line

    {"exercise": "atomic", "file": "/path/atomic.py", "device": "cpu", "data": null, "timeout": 10}

with one line, a CheckReply's JSON: {"type": "report", ...CheckReport.to_json(), "elapsed": s, "grids":
{name: {"diff", "value"}}} or {"type": "error", "message": "..."} for a request the service cannot serve
(unknown exercise, unreadable file, bad device or data). The TUI talks to it through tutor.service.client, so the UI never imports torch.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import IO, Any

from tutor.process.lines import protocol_lines, write_line
from tutor.reports.check import CheckReply

PROTOCOL = 1


class CheckService:
    """Checkers keyed by (data, device), each kept warm between requests."""

    def __init__(self) -> None:
        from tutor.course import load_course

        self.course = load_course()
        self._checkers: dict[tuple[str | None, str], Any] = {}

    def checker(self, data: str | None, device: str):
        key = (data, device)
        if key not in self._checkers:
            from tutor.engine.check import Checker

            self._checkers[key] = Checker(self.course, data=Path(data) if data else None, device=device)
        return self._checkers[key]

    def handle(self, request: Any) -> dict[str, Any]:
        from tutor.course import CourseError
        from tutor.engine.check import CheckerError
        from tutor.engine.data import DataError
        from tutor.engine.grids import row_grids

        if not isinstance(request, dict):
            return error_reply("a request must be a JSON object")
        exercise = self.course.find(str(request.get("exercise", "")))
        if exercise is None:
            return error_reply(f"no exercise {request.get('exercise')!r}; choose one of: {self.course.names()}")
        if not isinstance(request.get("file"), str):
            return error_reply("the request names no file")
        timeout = request.get("timeout", 10.0)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            return error_reply("timeout must be a positive number of seconds")
        try:
            checker = self.checker(request.get("data"), str(request.get("device", "cpu")))
            checker.timeout = float(timeout)
            report = check_file(checker, exercise, Path(request["file"]))
        except (CheckerError, DataError, CourseError) as exc:
            return error_reply(str(exc))
        except ValueError as exc:  # NotebookError: an unreadable notebook, or no exercise cell in it
            return error_reply(str(exc))
        # a notebook's error carries the cell's line: the tutor cannot read it from the .ipynb
        reply = CheckReply(report, error_source=request["file"].endswith(".ipynb"))
        if checker.last_runs:
            verdicts = {t.name: t for t in report.tensors}
            for step in exercise.steps:
                reply.grids[step.name] = row_grids(step.name, checker.last_runs, verdicts.get(step.name))
        return reply.to_json()

    def close(self) -> None:
        for checker in self._checkers.values():
            checker.close()


def check_file(checker: Any, exercise: Any, path: Path):
    """A .py file as it is; a notebook's exercise cells, its error's message naming the cell."""
    if path.suffix != ".ipynb":
        return checker.check(exercise, path)
    from dataclasses import replace

    from tutor.learner.notebook import check_notebook

    result = check_notebook(checker, exercise, path)
    report = result.report
    if report.error is not None and result.error_cell is not None:
        report.error = replace(report.error, message=f"{result.where(report.error.line)}: {report.error.message}")
    return report


def error_reply(message: str) -> dict[str, Any]:
    return CheckReply(message=message).to_json()


def serve(requests: IO[str], replies: IO[str]) -> None:
    def send(obj: dict[str, Any]) -> None:
        write_line(replies, obj)

    service = CheckService()
    service.checker(None, "cpu")  # start the sandbox's torch import now, not on the first request
    send({"type": "ready", "protocol": PROTOCOL, "pid": os.getpid()})
    try:
        for line in requests:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except json.JSONDecodeError as exc:
                send(error_reply(f"not JSON: {exc}"))
                continue
            try:
                send(service.handle(request))
            except Exception as exc:  # noqa: BLE001 - a tutor bug: answer it, keep serving, log the trace
                traceback.print_exc(file=sys.stderr)
                send(error_reply(f"the check service failed: {type(exc).__name__}: {exc}"))
    finally:
        service.close()


def main() -> int:
    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    # Keep the reply channel private: anything else that writes to fd 1 (torch, a child) lands on stderr.
    replies = protocol_lines()
    sys.stdout = sys.stderr
    serve(sys.stdin, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
