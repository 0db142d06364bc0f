"""Cheaper forks: the zygote's anonymous memory moved into 2 MiB pages once it serves a session.

A process holding torch has ~140 MB of anonymous memory (most of it the C heap). Forking it copies one page
table entry per 4 KiB page and takes a reference on each page; the child's exit drops them all again. That
bookkeeping, not the learner's code, was most of a check's system time: about 4 ms in the zygote for each
fork and 5 ms for each child's exit on a 2-core machine. With the same memory in transparent huge pages the
kernel handles one entry per 2 MiB instead of 512 for what it could move (about half of it: the rest is in
regions too small or too scattered).

Only MADV_COLLAPSE is asked for (Linux 6.1+): it moves the memory now, once, and marks nothing, so memory the
zygote or a child allocates later is in ordinary pages as before, and a kernel that does not know it refuses
the whole call and nothing changes (no MADV_HUGEPAGE is left behind for khugepaged to act on later). Moving
~140 MB takes a few hundred ms, so the zygote does it once, after its second run (zygote.py): a single
`check` from the shell never pays it; the tutor, the check server and a grader's workers do, once.
BACKPROP_NINJA_HUGEPAGES=0 leaves the memory as it is (for benchmarks that compare the two).
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENV = "BACKPROP_NINJA_HUGEPAGES"
HUGE = 1 << 21
MADV_COLLAPSE = 25  # Linux 6.1+
# Regions smaller than this are not worth a call (they hold no whole huge page, or only one).
MIN_REGION = 4 * HUGE


def wanted(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    return sys.platform.startswith("linux") and environ.get(ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def anonymous_regions(maps: str) -> list[tuple[int, int]]:
    """The whole huge pages inside each private writable anonymous region (the heap included) of a
    /proc/PID/maps text, as (start, length); regions under MIN_REGION are left out."""
    regions = []
    for line in maps.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[1] != "rw-p":
            continue
        if len(parts) >= 6 and parts[5] != "[heap]":  # a file's mapping, the stack, vdso...
            continue
        low, high = (int(x, 16) for x in parts[0].split("-"))
        start, end = -(-low // HUGE) * HUGE, high // HUGE * HUGE
        if end - start >= MIN_REGION:
            regions.append((start, end - start))
    return regions


def _madvise() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc.madvise


def collapse() -> int:
    """Move this process's large anonymous regions into huge pages; the bytes of the regions the kernel moved
    whole (0 when it moved none, or where this cannot be done). Never raises."""
    if not wanted():
        return 0
    try:
        with open("/proc/self/maps", encoding="ascii") as f:
            regions = anonymous_regions(f.read())
        madvise = _madvise()
        return sum(length for start, length in regions if madvise(start, length, MADV_COLLAPSE) == 0)
    except Exception:  # noqa: BLE001 - an optimisation only: a kernel or libc without it changes nothing
        return 0


def can_collapse() -> bool:
    """Whether this kernel moves memory into huge pages on request (a probe on a fresh 4 MiB mapping)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import mmap

    try:
        area = mmap.mmap(-1, 3 * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        try:
            area.write(b"x" * len(area))
            view = ctypes.c_char.from_buffer(area)
            start = -(-ctypes.addressof(view) // HUGE) * HUGE
            del view  # the mapping can be closed only once nothing points into it
            return _madvise()(start, HUGE, MADV_COLLAPSE) == 0
        finally:
            area.close()
    except Exception:  # noqa: BLE001 - no huge pages
        return False


__all__ = ["anonymous_regions", "can_collapse", "collapse", "wanted"]
