"""A guard around the progress store: a read-only workspace, a broken disk or a held lock must not take the
app down, nor freeze its screen.

Every store call runs on one worker thread, in order. The screen waits for a call at most WAIT_S; a call
that takes longer (another process holds progress.lock: the store waits for it up to its own timeout) goes
on in the background while the screen carries on with a neutral answer, and later calls queue behind it
without waiting at all. Every call that fails with OSError is reported once through on_error and answered
with a neutral value; hints revealed while saving fails are still remembered for this session."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from tutor.reports.check import CheckReport
from tutor.workspace.progress_state import fresh_exercise

# How long the screen waits for a store call before it moves on (a healthy call takes a few ms).
WAIT_S = 0.3


class _Job:
    def __init__(self, method: str, args: tuple[Any, ...], what: str) -> None:
        self.method, self.args, self.what = method, args, what
        self.done = threading.Event()
        self.result: Any = None
        self.error: str | None = None
        self.abandoned = False  # the caller stopped waiting: a failure is reported late, through `post`


class GuardedStore:
    def __init__(self, store: Any, on_error: Callable[[str], None],
                 post: Callable[[Callable[[str], None], str], None] | None = None) -> None:
        """`post(callback, message)` runs callback(message) on the screen's thread, for failures found after
        the screen stopped waiting (default: call it right away)."""
        self.store = store
        self.on_error = on_error
        self.post = post or (lambda callback, message: callback(message))
        self._session_hints: dict[tuple[str, str], int] = {}
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._pending = 0  # jobs submitted and not finished (only changed under _count_lock)
        self._count_lock = threading.Lock()
        self._worker: threading.Thread | None = None

    @property
    def warning(self) -> str | None:
        return getattr(self.store, "warning", None)

    # ---- the worker ------------------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.result = getattr(self.store, job.method)(*job.args)
            except (OSError, ValueError) as exc:
                detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                job.error = detail if detail.startswith("progress ") else f"progress could not be {job.what}: {detail}"
            with self._count_lock:
                self._pending -= 1
                job.done.set()
                late = job.abandoned and job.error is not None
            if late:
                self.post(self.on_error, job.error)  # type: ignore[arg-type]

    def _call(self, what: str, default: Any, method: str, *args: Any) -> Any:
        job = _Job(method, args, what)
        with self._count_lock:
            backlog = self._pending > 0
            self._pending += 1
        if self._worker is None:
            # a daemon: a call stuck on another process's lock never keeps the app from quitting
            self._worker = threading.Thread(target=self._serve, name="progress store", daemon=True)
            self._worker.start()
        self._jobs.put(job)
        # behind a slow call, do not wait at all: the screen stays responsive while the lock is held
        if not job.done.wait(0 if backlog else WAIT_S):
            with self._count_lock:
                if not job.done.is_set():
                    job.abandoned = True
            if job.abandoned:
                self.on_error(f"progress is busy (another process holds {_lock_name(self.store)}); "
                              "changes are saved when it frees")
                return default
        if job.error is not None:
            self.on_error(job.error)
            return default
        return job.result

    # ---- the store's interface -------------------------------------------------------------------------

    def record_check(self, exercise_id: str, report: CheckReport) -> dict[str, Any]:
        return self._call("saved", {}, "record_check", exercise_id, report)

    def hints_revealed(self, exercise_id: str, step: str) -> int:
        stored = self._call("read", 0, "hints_revealed", exercise_id, step)
        return max(stored, self._session_hints.get((exercise_id, step), 0))

    def reveal_hint(self, exercise_id: str, step: str, total: int) -> int:
        shown = min(total, self.hints_revealed(exercise_id, step) + 1)
        stored = self._call("saved", shown, "reveal_hint", exercise_id, step, total)
        self._session_hints[(exercise_id, step)] = max(shown, stored)
        return self._session_hints[(exercise_id, step)]

    def set_current(self, exercise_id: str, step: str | None) -> None:
        self._call("saved", None, "set_current", exercise_id, step)

    def current(self) -> tuple[str | None, str | None]:
        return self._call("read", (None, None), "current")

    def reset_exercise(self, exercise_id: str) -> None:
        self._session_hints = {k: v for k, v in self._session_hints.items() if k[0] != exercise_id}
        self._call("cleared", None, "reset_exercise", exercise_id)

    def exercise_state(self, exercise_id: str) -> dict[str, Any]:
        return self._call("read", fresh_exercise(), "exercise_state", exercise_id)


def _lock_name(store: Any) -> str:
    path = getattr(store, "lock_path", None)
    return str(path) if path is not None else "the progress file"
