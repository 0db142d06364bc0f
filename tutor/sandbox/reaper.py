"""Finding and killing every process a learner's code started, wherever it moved.

A process the learner's file forks may leave the child's process group (`setsid`, `setpgid`,
`start_new_session=True`), so killing the group is not enough. Instead the zygote and each child are
*subreapers* (Linux `PR_SET_CHILD_SUBREAPER`): an orphaned descendant is re-parented to the nearest of them
rather than to init, so the whole tree stays reachable through parent links and can be walked in /proc and
killed. Elsewhere (no prctl, no /proc) these helpers quietly do nothing more than the group kill did.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PROC = Path("/proc")
# A fork bomb may add processes while we kill; each round catches what the previous one missed.
KILL_ROUNDS = 8

# Processes this one adopted and killed, not yet reaped (a zombie that is never waited for stays in the table).
_unreaped: set[int] = set()


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Orphaned descendants of this process come back to it (not to init): True where the platform allows."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """The kernel sends `sig` to this process when its parent dies."""
    return _prctl(PR_SET_PDEATHSIG, int(sig))


def children(pid: int) -> list[int]:
    """The direct children of `pid` (from /proc/PID/task/*/children, else a scan of every /proc/*/stat)."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return []
    readable = False
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        readable = True
        found.extend(int(word) for word in text.split())
    if readable:
        return found
    return [child for child, parent in _parents().items() if parent == pid]


def _parents() -> dict[int, int]:
    """Every visible process's parent, from /proc/*/stat (the kernel built without the children file)."""
    parents: dict[int, int] = {}
    try:
        entries = os.listdir(PROC)
    except OSError:
        return parents
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = (PROC / entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the fields after the last ')' are fixed
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, parents before their children."""
    out: list[int] = []
    queue = [pid]
    seen = {pid}
    while queue:
        for child in children(queue.pop(0)):
            if child not in seen:
                seen.add(child)
                out.append(child)
                queue.append(child)
    return out


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(pid: int, include_root: bool = True) -> None:
    """SIGKILL `pid` (optionally) and all its descendants, in rounds until no descendant is left standing.

    Descendants are killed before the root: while the root lives (a subreaper) the orphans of a killed
    process come back to it, where the next round finds them."""
    for _ in range(KILL_ROUNDS):
        below = [p for p in descendants(pid) if _alive(p)]
        if not below:
            break
        for p in below:
            _kill(p)
    if include_root:
        _kill(pid)


def _alive(pid: int) -> bool:
    """Running or stopped, not a zombie (a zombie waits for its parent's wait, not for a signal)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def kill_adopted(keep: set[int]) -> None:
    """Kill the trees of this process's children that are not in `keep`: orphans it adopted as a subreaper."""
    for child in children(os.getpid()):
        if child not in keep:
            kill_tree(child)
            _unreaped.add(child)
    reap_adopted()


def reap_adopted() -> None:
    """Wait (without blocking) for the adopted orphans killed so far."""
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.discard(pid)
