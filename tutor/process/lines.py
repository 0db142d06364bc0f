"""JSON lines between the tutor's processes: one JSON object per line, flushed at once.

The TUI's check service and the training stream speak them; the TUI reads them. Imports no torch.
"""

from __future__ import annotations

import json
import os
import selectors
import threading
import time
from typing import IO, Any


def encode_line(line: dict[str, Any]) -> str:
    """One object as one line of JSON, its newline included."""
    return json.dumps(line, allow_nan=True) + "\n"


def write_line(out: IO[str], line: dict[str, Any]) -> None:
    """One object as one line, flushed at once (a reader that went away raises here)."""
    out.write(encode_line(line))
    out.flush()


class LineWriter:
    """One JSON object per line, flushed at once; safe from any thread."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        text = encode_line(line)
        with self.lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (OSError, ValueError):  # the reader went away: nothing left to tell
                pass


class LineTimeout(Exception):
    """No whole line came before the deadline."""


class LineReader:
    """Whole lines from a pipe, each waited for until a deadline; a part line waits for the next call."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self._buffer = b""

    def read_line(self, deadline: float) -> bytes:
        """The next line without its newline. LineTimeout once `deadline` (time.monotonic) passes; EOFError
        when the pipe ends first."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise LineTimeout
                chunk = os.read(self.stream.fileno(), 65536)
                if not chunk:
                    raise EOFError
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


def protocol_lines() -> IO[str]:
    """Keep the real stdout for the lines; fd 1 goes to stderr so a stray print cannot break a line."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return out
