"""The learner's progress in one workspace: checks, passes, hints revealed and where they were, kept safe on disk.

The file is `<workspace>/.backprop-ninja/progress.json`. Every change takes an exclusive lock, re-reads the
file, applies itself and writes a new file atomically (temp file in the same folder, fsync, os.replace), so
a kill -9 leaves the old or the new state and two tutors on one workspace never erase each other's updates.
A file that cannot be understood is moved aside to a timestamped backup, never overwritten.

The learner's code runs with the same rights as the tutor, so it may trample the file or hold its lock:
every write also refreshes `progress.json.bak`, the last good copy, from which an unusable file is
recovered; and the lock is waited for at most LOCK_TIMEOUT_S, after which a change is refused
(ProgressBusy: reported as not saved) and a read goes ahead without the lock (writes are atomic renames,
so an unlocked reader still sees a whole file).

A file that is valid but was not written by the tutor (the learner's code rewrote progress.json and its .bak)
is caught by the journal: a copy of the last state the store wrote, kept outside the workspace in
$XDG_STATE_HOME/backprop-ninja/ (~/.local/state/...) and signed with an HMAC whose key is kept there too.
On every read, a progress.json that differs from the journal is set aside (progress.TIME.foreign.json) and
the journal's state restored. Each write first notes in the journal the digest of the text it is about to
write, so a write cut short by kill -9 is told apart from a foreign one. The journal is only a guard against
stray or casual writes: code running as the same user can read the key too.

The state itself, and what a check, a hint or a reset changes in it, is tutor.workspace.progress_state; the atomic
writes and the journal are tutor.journal.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tutor.reports.check import CheckReport
from tutor.workspace.files import MARKER, backup_path
from tutor.workspace.journal import Journal, write_atomically
from tutor.workspace.progress_state import (
    ProgressFileError,
    current_of,
    exercise_of,
    fresh_state,
    hints_of,
    parse_state,
    record_check,
    reset_exercise,
    reveal_hint,
    set_current,
)

FILE_NAME = "progress.json"
LOCK_NAME = "progress.lock"
BACKUP_NAME = "progress.json.bak"
LOCK_TIMEOUT_S = 3.0
LOCK_POLL_S = 0.05

T = TypeVar("T")


class ProgressBusy(OSError):
    """Another process held progress.lock for longer than the store waits; nothing was changed."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ProgressStore:
    """Progress of one workspace; each method reads the file afresh, so several stores may share a workspace."""

    def __init__(self, root: Path, one_shot: bool = False, lock_timeout: float = LOCK_TIMEOUT_S) -> None:
        """`one_shot`: a single command owns this store (not the tutor's long session), which changes how
        a state kept in memory is described."""
        self.root = Path(root)
        self.state_dir = self.root / MARKER
        self.path = self.state_dir / FILE_NAME
        self.backup = self.state_dir / BACKUP_NAME
        self.lock_path = self.state_dir / LOCK_NAME
        self.lock_timeout = lock_timeout
        self.one_shot = one_shot
        self.journal = Journal(self.state_dir)
        # The text of progress.json as last read and trusted (None: no file to trust), noted in the journal
        # before each write as the state to come back to.
        self._disk_text: str | None = None
        self.warning: str | None = None
        # Set once the file cannot be written (or read): from then on this store keeps its state here only.
        self._memory: dict[str, Any] | None = None

    # ---- reading -------------------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """A JSON-able snapshot of the whole state; never raises for a corrupt or unreadable file."""
        if self._memory is not None:
            return copy.deepcopy(self._memory)
        if not self.path.exists() and not self.backup.exists() and self.journal.read() is None:
            return fresh_state()
        with self._locked() as locked:
            return self._read(may_move=locked is not None)

    def exercise_state(self, exercise_id: str) -> dict[str, Any]:
        return exercise_of(self.load(), exercise_id)

    def hints_revealed(self, exercise_id: str, step: str) -> int:
        return hints_of(self.load(), exercise_id, step)

    def current(self) -> tuple[str | None, str | None]:
        return current_of(self.load())

    # ---- changing ------------------------------------------------------------------------------------------

    def record_check(self, exercise_id: str, report: CheckReport, *, current: bool = False) -> dict[str, Any]:
        """Count one check; passes are kept even when a later check fails. With `current`, the exercise and
        its first failing step become the learner's current place too, in the same write."""

        def change(state: dict[str, Any]) -> dict[str, Any]:
            result = record_check(state, exercise_id, report)
            if current:
                set_current(state, exercise_id, next((t.name for t in report.tensors if not t.passed), None))
            return result

        return self._mutate(change)

    def reveal_hint(self, exercise_id: str, step: str, total: int) -> int:
        """Reveal one more hint of the step (never more than total); returns how many are revealed now."""
        revealed = self.hints_revealed(exercise_id, step)
        if revealed >= total:  # nothing to change: spare the write
            return max(0, total)
        return self._mutate(lambda state: reveal_hint(state, exercise_id, step, total))

    def set_current(self, exercise_id: str, step: str | None) -> None:
        self._mutate(lambda state: set_current(state, exercise_id, step))

    def reset_exercise(self, exercise_id: str) -> None:
        """Forget everything about one exercise (its checks, passes and hints)."""
        self._mutate(lambda state: reset_exercise(state, exercise_id))

    # ---- the file ------------------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        if self.warning and message not in self.warning:
            self.warning = f"{self.warning}\n{message}"
        else:
            self.warning = message

    @contextmanager
    def _locked(self) -> Iterator[bool | None]:
        """An exclusive lock on progress.lock (never deleted: deleting a lock file races with its next user).

        Yields True when locked, False on a file system without locks (still correct for a single tutor),
        None when another process held the lock for longer than lock_timeout."""
        try:
            self.state_dir.mkdir(exist_ok=True)
        except OSError:
            pass  # a read-only or missing workspace: reading still works, writing will say why it cannot
        fd = None
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                fd = os.open(self.lock_path, flags, 0o644)
                break
            except OSError:
                continue
        locked: bool | None = False
        try:
            if fd is not None:
                locked = _lock_within(fd, self.lock_timeout)
            yield locked
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def _read(self, may_move: bool = True) -> dict[str, Any]:
        """The state on disk (call with the lock held); a file the tutor did not write is set aside and the
        journal's state restored; an unusable file is moved aside and the state recovered from the last good
        copy, else started afresh. `may_move` False (the lock was not had): nothing on disk is touched, the
        recovered state is only returned."""
        self._disk_text = None
        text: str | None = None
        problem: ProgressFileError | None = None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            pass
        except UnicodeDecodeError:
            problem = ProgressFileError("corrupt", "it is not UTF-8 text")
        except OSError as exc:
            return self._keep_in_memory(f"cannot read {self.path} ({_reason(exc)}); it is left as it is")
        journal = self.journal.read()
        if journal is not None and text != journal["text"]:
            # Unless it is our own write that ended before the journal caught up, someone else wrote this.
            if text is None or _digest(text) != journal.get("pending"):
                try:
                    good = parse_state(journal["text"])
                except ProgressFileError:  # not from this tutor's version: rely on the files as before
                    good = None
                if good is not None:
                    return self._restore(good, journal["text"], text, problem, may_move)
        if text is not None and problem is None:
            try:
                state = parse_state(text)
                self._disk_text = text
                return state
            except ProgressFileError as exc:
                problem = exc
        recovered = self._last_good()
        if problem is None:  # no main file: a writer killed between the two renames, or a learner's rm
            return recovered if recovered is not None else fresh_state()
        if not may_move:
            return recovered if recovered is not None else fresh_state()
        return self._set_aside(problem, recovered)

    def _restore(
        self, state: dict[str, Any], good: str, text: str | None, problem: ProgressFileError | None, may_move: bool
    ) -> dict[str, Any]:
        """Put the journal's last state (good, its text) back over a progress.json the tutor did not write
        (kept aside first) or lost."""
        if not may_move:
            return state
        where = f"the tutor's own copy ({self.journal.path})"
        if text is None and problem is None:
            message = f"{self.path} was missing; progress was recovered from {where}."
        else:
            if problem is None:
                try:
                    parse_state(text or "")
                    problem = ProgressFileError("foreign", "it differs from the progress the tutor last saved")
                except ProgressFileError as exc:
                    problem = exc
            aside = backup_path(self.state_dir, "progress", f".{problem.kind}.json")
            try:
                os.rename(self.path, aside)
            except OSError as exc:
                return self._keep_in_memory(
                    f"{self.path} cannot be used: {problem}; it could not be moved aside ({_reason(exc)}), so it is left untouched",
                    state,
                )
            message = f"{self.path} could not be used: {problem}. It was kept as {aside} and progress was recovered from {where}."
        try:
            write_atomically(self.path, good)
        except OSError as exc:
            self._memory = state
            self._warn(f"{message} It cannot be saved back ({_reason(exc)}); {self._memory_note()}")
            return copy.deepcopy(state)
        try:
            write_atomically(self.backup, good)
        except OSError:
            pass
        self._disk_text = good
        self._warn(message)
        return state

    def _last_good(self) -> dict[str, Any] | None:
        """The state in progress.json.bak, when that is a usable progress file."""
        try:
            return parse_state(self.backup.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ProgressFileError):
            return None

    def _keep_in_memory(self, why: str, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """From now on this store works on state (else a fresh one) in memory and leaves the file alone."""
        self._memory = state if state is not None else fresh_state()
        self._warn(f"{why}, and {self._memory_note()}")
        return copy.deepcopy(self._memory)

    def _memory_note(self) -> str:
        return "this command's changes are not saved" if self.one_shot else "progress is kept in memory until the tutor exits"

    def _set_aside(self, problem: ProgressFileError, recovered: dict[str, Any] | None) -> dict[str, Any]:
        backup = backup_path(self.state_dir, "progress", f".{problem.kind}.json")
        try:
            os.rename(self.path, backup)
        except OSError as exc:
            return self._keep_in_memory(
                f"{self.path} cannot be used: {problem}; it could not be moved aside ({_reason(exc)}), so it is left untouched"
            )
        if recovered is not None:
            self._warn(f"{self.path} could not be used: {problem}. It was kept as {backup} and progress was "
                       f"recovered from the last good copy ({self.backup.name}).")
            return recovered
        self._warn(f"{self.path} could not be used: {problem}. It was kept as {backup} and progress starts afresh.")
        return fresh_state()

    def _remove_stale_temps(self) -> None:
        """Temp files of writers killed mid-write (only call with the lock held: no live writer has one then)."""
        for stale in self.state_dir.glob(f".{FILE_NAME}.*.tmp"):
            try:
                stale.unlink()
            except OSError:
                pass

    def _mutate(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Lock, re-read, apply, write atomically: never a stale copy over another tutor's update."""
        if self._memory is not None:
            return change(self._memory)
        with self._locked() as locked:
            if locked is None:
                raise ProgressBusy(
                    f"progress not saved: another process has held {self.lock_path} for over {self.lock_timeout:g} s"
                )
            state = self._read()
            result = change(state)
            if locked:
                self._remove_stale_temps()
            if self._memory is not None:  # _read found a file it must not overwrite
                self._memory = state
                return result
            text = json.dumps(state, indent=1, sort_keys=True) + "\n"
            # First the journal notes what is about to be written, so a kill -9 before it is committed below
            # still reads as the tutor's own write; a journal that cannot say so must not undo it later.
            journaled = self.journal.write(self._disk_text, _digest(text))
            if not journaled:
                self.journal.forget()
            try:
                write_atomically(self.path, text)
            except OSError as exc:
                self._memory = state
                self._warn(f"cannot save progress to {self.path} ({_reason(exc)}); {self._memory_note()}")
                return result
            self._disk_text = text
            if journaled:
                self.journal.write(text, None)
            try:
                write_atomically(self.backup, text)  # the last good copy, for when progress.json is trampled
            except OSError:
                pass  # the state itself is saved; only the spare copy is older
        return result


def _lock_within(fd: int, timeout: float) -> bool | None:
    """flock(LOCK_EX) waiting at most `timeout` seconds: True locked, None still held by another, False when
    the file system has no locks."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(LOCK_POLL_S)
        except OSError:
            return False
