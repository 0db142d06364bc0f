"""Re-check on save: a thread that polls a folder for changes to some files and reports them, debounced.

Editors save by writing a temp file and renaming it over the original, which breaks a watch on the
file itself; so the folder is scanned (name -> mtime, size, inode) every POLL seconds. Polling works on
every file system (network drives and WSL mounts included) and costs one scandir of a small folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

POLL = 0.15
Signature = tuple[int, int, int] | None


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

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="folder-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            self.problem = problem
            self.on_problem(problem)

    def _loop(self) -> None:
        seen: dict[str, Signature] | None = None
        pending: dict[str, Signature] = {}
        while not self._stop.wait(self.interval):
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
