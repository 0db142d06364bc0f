"""The results kept under --out: one per (student, exercise, content hash, grading settings), appended to a
journal in batches so that Ctrl-C (or a crash) keeps what was graded, and a rerun grades only what changed."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from tutor import __version__
from tutor.grading.submissions import Task

JOURNAL = ".grade-cache.jsonl"


def key_of(task: Task, settings: str) -> str:
    text = "\0".join((task.student, task.exercise, task.file, task.digest, settings, __version__))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ResultCache:
    """key -> the result object; `put` buffers, `flush` appends the buffer to the journal (at most every
    FLUSH_S seconds or FLUSH_COUNT results, and at the end)."""

    FLUSH_S = 1.0
    FLUSH_COUNT = 64

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL
        self.results: dict[str, dict[str, Any]] = {}
        self._buffer: list[str] = []
        self._flushed = time.monotonic()
        self._read()

    def _read(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return
        for line in lines:  # a line cut short by a kill is skipped: that file is graded again
            try:
                entry = json.loads(line)
                self.results[entry["key"]] = entry["result"]
            except (ValueError, KeyError, TypeError):
                continue

    def get(self, key: str) -> dict[str, Any] | None:
        return self.results.get(key)

    def put(self, key: str, result: dict[str, Any]) -> None:
        self.results[key] = result
        self._buffer.append(json.dumps({"key": key, "result": result}, ensure_ascii=False))
        if len(self._buffer) >= self.FLUSH_COUNT or time.monotonic() - self._flushed > self.FLUSH_S:
            self.flush()

    def flush(self) -> None:
        self._flushed = time.monotonic()
        if not self._buffer:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(self._buffer) + "\n")
        self._buffer.clear()
