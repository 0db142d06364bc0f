"""A guard around the progress store: a read-only workspace or a broken disk must not take the app down.

Every call that fails with OSError is reported once through on_error and answered with a neutral value;
hints revealed while saving fails are still remembered for this session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EMPTY_STATE: dict[str, Any] = {"passed": False, "first_passed_at": None, "attempts": 0, "last_status": None, "steps": {}}


class GuardedStore:
    def __init__(self, store: Any, on_error: Callable[[str], None]) -> None:
        self.store = store
        self.on_error = on_error
        self._session_hints: dict[tuple[str, str], int] = {}

    @property
    def warning(self) -> str | None:
        return getattr(self.store, "warning", None)

    def _call(self, what: str, default: Any, method: str, *args: Any) -> Any:
        try:
            return getattr(self.store, method)(*args)
        except (OSError, ValueError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.on_error(f"progress could not be {what}: {detail}")
            return default

    def record_check(self, exercise_id: str, report: dict) -> dict:
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

    def exercise_state(self, exercise_id: str) -> dict:
        return self._call("read", EMPTY_STATE, "exercise_state", exercise_id)
