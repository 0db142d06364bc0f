"""Re-check on save: a thread that watches a folder for changes to some files and reports them, debounced.

Editors save by writing a temp file and renaming it over the original, which breaks a watch on the
file itself; so the folder is scanned (name -> mtime, size, inode). On Linux an inotify watch on the
folder wakes the scan the moment anything there changes, so a save is reported about SETTLE seconds
later; elsewhere, or where inotify fails (some network drives and WSL mounts), the scan runs every POLL
seconds. The scan alone decides what changed: inotify only makes it come sooner.
"""

from __future__ import annotations

import ctypes
import os
import select
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

POLL = 0.15
SETTLE = 0.03  # with inotify: how long a changed file must stay still before it counts as saved
Signature = tuple[int, int, int] | None

# inotify(7) event bits: anything that can mean "a file in this folder was written, replaced or removed".
_IN_MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800  # MODIFY ATTRIB CLOSE_WRITE MOVED_* CREATE DELETE*


class FolderWaker:
    """An inotify watch on a folder, used only to wake the scanner early. Raises OSError where unavailable."""

    def __init__(self, folder: Path) -> None:
        if not sys.platform.startswith("linux"):
            raise OSError("inotify is Linux-only")
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if libc.inotify_add_watch(fd, os.fsencode(folder), _IN_MASK) < 0:
            errno = ctypes.get_errno()
            os.close(fd)
            raise OSError(errno, f"cannot watch {folder}")
        self.fd = fd

    def wait(self, timeout: float) -> None:
        """Return when something in the folder changed, or after timeout seconds."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                while os.read(self.fd, 65536):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        os.close(self.fd)


class FolderWatcher:
    """Calls on_change(name) (from its own thread) once a watched file changed and then stayed still."""

    def __init__(
        self,
        folder: Path,
        names: Iterable[str],
        on_change: Callable[[str], None],
        on_problem: Callable[[str | None], None] | None = None,
        interval: float = POLL,
    ) -> None:
        self.folder = Path(folder)
        self.names = frozenset(names)
        self.on_change = on_change
        self.on_problem = on_problem or (lambda _message: None)
        self.interval = interval
        self.problem: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waker: FolderWaker | None = None

    @property
    def mode(self) -> str:
        """'inotify' when saves wake the scan at once, else 'polling'."""
        return "inotify" if self._waker is not None else "polling"

    def scan(self) -> dict[str, Signature]:
        found: dict[str, Signature] = dict.fromkeys(self.names)
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name in self.names:
                    try:
                        st = entry.stat()
                    except OSError:
                        continue  # vanished between listing and stat: treat as missing
                    found[entry.name] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return found

    def start(self, use_inotify: bool = True) -> None:
        if use_inotify:
            try:
                self._waker = FolderWaker(self.folder)
            except (OSError, AttributeError):  # no inotify here: polling alone still sees every save
                self._waker = None
        self._thread = threading.Thread(target=self._loop, name="folder-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._waker is not None:
            self._waker.close()
            self._waker = None

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            self.problem = problem
            self.on_problem(problem)

    def _loop(self) -> None:
        seen: dict[str, Signature] | None = None
        pending: dict[str, Signature] = {}
        while not self._stop.is_set():
            if self._waker is not None:
                try:
                    self._waker.wait(SETTLE if pending else self.interval)
                except (OSError, ValueError):  # closed by stop() while waiting
                    break
            elif self._stop.wait(self.interval):
                break
            try:
                now = self.scan()
            except OSError as exc:
                self._set_problem(f"cannot read {self.folder}: {exc.strerror or exc}")
                continue
            self._set_problem(None)
            if seen is None:
                seen = now
                continue
            for name, sig in now.items():
                if sig != seen[name]:
                    pending[name] = sig  # changed: wait one more poll for the editor to finish writing
                elif name in pending:
                    del pending[name]
                    self.on_change(name)
            seen = now
