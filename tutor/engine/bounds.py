"""How long the learner's code may run per check, shared by the command line and the engine (no torch here).
(How large a learner's file may be is the learner's file's own rule: tutor.learner.file.)"""

from __future__ import annotations

# Seconds the learner's code may run per check: below this no file can run at all, above it a hung check
# would outlast any learner's patience.
TIMEOUT_RANGE = (0.1, 600.0)
