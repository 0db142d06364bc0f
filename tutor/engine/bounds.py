"""Limits on what the learner hands the checker, shared by the command line and the engine (no torch here)."""

from __future__ import annotations

# Seconds the learner's code may run per check: below this no file can run at all, above it a hung check
# would outlast any learner's patience.
TIMEOUT_RANGE = (0.1, 600.0)
# A learner's file larger than this is refused before it goes near the sandbox (the lecture's answers are a
# few KiB; the file travels to the sandbox inside one JSON header).
MAX_LEARNER_BYTES = 1024 * 1024
