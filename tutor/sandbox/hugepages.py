"""Cheaper forks: the zygote's anonymous memory moved into 2 MiB pages once it serves a session.

A process holding torch has ~140 MB of anonymous memory (most of it the C heap). Forking it copies one page
table entry per 4 KiB page and takes a reference on each page; the child's exit drops them all again. That
bookkeeping, not the learner's code, was most of a check's system time: about 4 ms in the zygote for each
fork and 5 ms for each child's exit on a 2-core machine. With the same memory in transparent huge pages the
kernel handles one entry per 2 MiB instead of 512, and a page the child writes to is still copied 4 KiB at a
time (the huge page is split in the child only), so the child's memory and what it can see do not change.
Moving ~140 MB takes a few hundred ms, so the zygote does it once, after its second run (zygote.py): a
single `check` from the shell never pays it; the tutor, the check server and a grader's workers do, once.

Linux only, and only where transparent huge pages can be asked for (`madvise` mode or `always`); anywhere
else, or when the kernel refuses, nothing changes. BACKPROP_NINJA_HUGEPAGES=0 leaves the memory as it is
(for benchmarks that compare the two).
"""

from __future__ import annotations

import os
import sys

ENV = "BACKPROP_NINJA_HUGEPAGES"
HUGE = 1 << 21
MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25  # Linux 6.1+: collapse now, instead of waiting for khugepaged
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


def collapse() -> int:
    """Move this process's large anonymous regions into huge pages; the bytes the kernel took (0 when it
    took none, or where this cannot be done). Never raises."""
    if not wanted():
        return 0
    try:
        import ctypes

        with open("/proc/self/maps", encoding="ascii") as f:
            regions = anonymous_regions(f.read())
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        done = 0
        for start, length in regions:
            # MADV_HUGEPAGE first: without it a kernel in `madvise` mode refuses the collapse
            if libc.madvise(start, length, MADV_HUGEPAGE) == 0 and libc.madvise(start, length, MADV_COLLAPSE) == 0:
                done += length
        return done
    except Exception:  # noqa: BLE001 - an optimisation only: a kernel or libc without it changes nothing
        return 0


__all__ = ["collapse", "anonymous_regions", "wanted"]
