"""Keep the tutor's memory (autograd's reference gradients) out of reach of the learner's processes."""

from __future__ import annotations

import sys

PR_SET_DUMPABLE = 4


def hide_memory() -> bool:
    """Mark this process undumpable on Linux: /proc/<pid>/mem and ptrace are then closed to other processes
    of the same user (the learner's code runs as that user). True when it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def is_hidden() -> bool:
    """Whether this process is undumpable (False where that cannot be told)."""
    try:
        import ctypes

        return ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE
    except (OSError, AttributeError):
        return False
