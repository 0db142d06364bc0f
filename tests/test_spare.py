"""The zygote keeps a spare child ready: it takes the next run, serves only that one, and never outlives
the zygote or the contexts it was made for. A tiny context keeps these tests fast."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch

from tutor.learner.file import LearnerFile
from tutor.sandbox.client import RunSpec, Sandbox

# every test starts a zygote of its own (torch loads in it: seconds), and several kill it or its spares
pytestmark = pytest.mark.slow

PID_SOURCE = "import os\npid = torch.tensor(os.getpid())\ny = x * 2\n"


def gone(pid: int, within: float = 5.0) -> bool:
    """The process has exited (a zombie waiting for the zygote to reap it counts as exited)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def spares(sandbox: Sandbox, count: int = 2, within: float = 10.0) -> list[int]:
    """The zygote's spares, once `count` of them are set up and waiting."""
    deadline = time.monotonic() + within
    while True:
        reply = sandbox.ping()
        if len(reply["ready"]) >= count or time.monotonic() > deadline:
            return reply["spares"]
        time.sleep(0.02)


def run(sandbox: Sandbox, source: str = PID_SOURCE, key: str = "tiny", timeout: float = 5.0, names=("pid", "y")):
    return sandbox.run_many([RunSpec(key)], LearnerFile(source, "learner.py"), list(names), timeout)[0]


def ran_in(result) -> int:
    return int(result.value("pid").tensor)


@pytest.fixture
def sandbox():
    box = Sandbox()
    box.load_context("tiny", {"x": torch.arange(4.0)}, {"n": 4}, "cpu")
    yield box
    box.close()


def test_a_run_goes_to_the_spare_forked_before_the_request(sandbox):
    waiting, _ = spares(sandbox)
    result = run(sandbox)
    assert result.error is None
    assert ran_in(result) == waiting
    assert sandbox.last_child == {"pid": waiting, "spare": True, "ready": True, "age_s": sandbox.last_child["age_s"]}
    assert torch.equal(result.value("y").tensor, torch.arange(4.0) * 2)


def test_a_spare_serves_one_run_and_a_new_one_waits(sandbox):
    first = run(sandbox, PID_SOURCE + "import builtins\nbuiltins.left_behind = 1\ntorch.ones = None\n")
    second = run(sandbox, PID_SOURCE + "import builtins\nseen = torch.tensor(hasattr(builtins, 'left_behind'))\n",
                 names=("pid", "y", "seen"))
    assert first.error is None and second.error is None
    assert ran_in(first) != ran_in(second)
    assert not second.value("seen").tensor.item()  # nothing the first run did reaches the second
    assert sandbox.last_child["spare"] is True
    assert gone(ran_in(first)) and gone(ran_in(second))
    assert len(spares(sandbox)) == 2
    assert not {ran_in(first), ran_in(second)} & set(spares(sandbox))


def test_a_new_context_replaces_the_spare(sandbox):
    old = spares(sandbox)
    sandbox.load_context("other", {"x": torch.full((2,), 5.0)}, {"n": 2}, "cpu")
    assert all(gone(pid) for pid in old)
    new = spares(sandbox)
    assert len(new) == 2 and not set(new) & set(old)
    result = run(sandbox, key="other")
    assert ran_in(result) == new[0]
    assert torch.equal(result.value("y").tensor, torch.full((2,), 10.0))


def test_a_killed_spare_is_replaced_transparently(sandbox):
    waiting = spares(sandbox)
    for pid in waiting:
        os.kill(pid, signal.SIGKILL)
        assert gone(pid)
    result = run(sandbox)
    assert result.error is None and torch.equal(result.value("y").tensor, torch.arange(4.0) * 2)
    assert ran_in(result) not in waiting and sandbox.last_child["spare"] is False
    assert len(spares(sandbox)) == 2  # and the next ones are ready again


def test_the_time_limit_counts_from_the_hand_over(sandbox):
    # the zygote's hard limit is timeout + 1.5 s of grace; the spares below are older than that
    spares(sandbox)
    time.sleep(2.2)
    slow = run(sandbox, "import time\ntime.sleep(0.3)\n" + PID_SOURCE, timeout=0.6)
    assert slow.error is None and sandbox.last_child["age_s"] >= 2.2
    spares(sandbox)
    time.sleep(2.2)
    started = time.monotonic()
    stubborn = run(sandbox, "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass\n", timeout=0.3)
    assert stubborn.error.kind == "timeout"
    assert time.monotonic() - started >= 0.3 + 1.5 - 0.05


def test_spares_die_with_the_zygote(sandbox):
    waiting = spares(sandbox)
    sandbox._proc.kill()
    assert all(gone(pid) for pid in waiting)
    assert run(sandbox).error is None  # the sandbox restarts, with its contexts and fresh spares
    again = spares(sandbox)
    sandbox.close()
    assert len(again) == 2 and all(gone(pid) for pid in again)


def test_a_wrong_file_finds_both_its_children_ready_and_neither_holds_the_others_pipes(sandbox):
    waiting = spares(sandbox)
    assert len(waiting) == 2
    source = PID_SOURCE + "fds = torch.tensor([int(f) for f in os.listdir('/proc/self/fd')])\n"
    first = run(sandbox, source, names=("pid", "fds"))
    second = run(sandbox, source, names=("pid", "fds"))  # at once, as the isolated re-run follows a chained one
    assert [ran_in(first), ran_in(second)] == waiting  # both were ready, oldest first
    assert sandbox.last_child["ready"] is True
    for result in (first, second):
        # stdio, the result pipe, and the descriptor listdir opened: nothing of the zygote's or a sibling's
        assert len(result.value("fds").tensor) <= 5


def test_the_number_of_spares_can_be_set_for_benchmarks(monkeypatch):
    monkeypatch.setenv("BACKPROP_NINJA_SPARES", "0")
    box = Sandbox()
    try:
        box.load_context("tiny", {"x": torch.arange(4.0)}, {"n": 4}, "cpu")
        assert box.ping()["spares"] == []
        assert run(box).error is None and box.last_child["spare"] is False
    finally:
        box.close()


@pytest.mark.cuda
def test_on_a_gpu_the_spare_holds_the_context_on_the_device():
    box = Sandbox()
    try:
        box.load_context("tiny", {"x": torch.arange(4.0)}, {"n": 4}, "cuda")
        waiting = spares(box)[0]
        result = run(box, PID_SOURCE + "on_gpu = torch.tensor(x.is_cuda)\n", names=("pid", "y", "on_gpu"))
        assert result.error is None and ran_in(result) == waiting
        assert result.value("on_gpu").tensor.item() and result.value("y").device == "cuda"
    finally:
        box.close()


def test_a_child_that_closes_its_pipe_is_stopped_not_waited_for(sandbox):
    source = "import os, time\nos.closerange(3, 4096)\nwhile True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass\n"
    started = time.monotonic()
    result = run(sandbox, source, timeout=30.0)
    assert result.error is not None and result.error.kind in ("crash", "memory")
    assert time.monotonic() - started < 10
    assert run(sandbox).error is None


# Looks for the bytes of torch.full((4,), 1234.5) in every frame on its stack and every object gc knows.
SEEKS_BYTES = """import gc, struct, sys
needle = struct.pack('<f', 1234.5) * 4
hits = 0
frame = sys._getframe()
places = []
while frame is not None:
    places.append(frame.f_locals)
    frame = frame.f_back
for obj in gc.get_objects():
    if isinstance(obj, dict):
        places.append(obj)
    elif isinstance(obj, (list, tuple)):
        places.append(dict(enumerate(obj)))
for place in places:
    for value in list(place.values()):
        if value is not needle and isinstance(value, (bytes, bytearray, memoryview)) and needle in bytes(value):
            hits += 1
found = torch.tensor(hits)
y = x * 2
"""


def test_a_spare_holds_nothing_of_an_earlier_injected_run(sandbox):
    answer = torch.full((4,), 1234.5)
    injected = sandbox.run_many([RunSpec("tiny", inject={"y": answer}, hook=("y",))], LearnerFile("y = x * 3\n", "learner.py"), ["y"], 5.0)
    assert injected[0].error is None
    for _ in range(2):  # the spare that waited during the injected run, then the one forked after it
        spares(sandbox)
        assert run(sandbox, SEEKS_BYTES, names=("found", "y")).value("found").tensor.item() == 0


def test_a_primed_child_runs_the_check_it_was_primed_for(sandbox):
    run(sandbox)  # the next spare is lent to the tutor as a run ends
    lent = spares(sandbox)[0]
    spec = RunSpec("tiny", tensors={"x": torch.full((4,), 3.0)})
    sandbox.prime([spec])
    result = sandbox.run_many([spec], LearnerFile(PID_SOURCE, "learner.py"), ["pid", "y"], 5.0)[0]
    assert result.error is None and ran_in(result) == lent
    assert torch.equal(result.value("y").tensor, torch.full((4,), 6.0))


def test_a_child_primed_for_other_runs_is_given_back_and_replaced(sandbox):
    run(sandbox)
    lent = spares(sandbox)[0]
    sandbox.prime([RunSpec("tiny", tensors={"x": torch.full((4,), 3.0)})])
    result = run(sandbox)  # other runs: the primed child must not serve them
    assert result.error is None and ran_in(result) != lent
    assert torch.equal(result.value("y").tensor, torch.arange(4.0) * 2)
    assert gone(lent)
    assert len(spares(sandbox)) == 2 and lent not in spares(sandbox)


def _thp_mode() -> str:
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return ""
    return text[text.find("[") + 1:text.find("]")] if "[" in text else ""


def huge_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    return 0


def test_the_zygote_moves_its_memory_into_huge_pages_once_it_serves_a_session(sandbox):
    from tutor.sandbox.hugepages import can_collapse
    from tutor.sandbox.zygote import HUGE_PAGES_AFTER_RUNS

    if not can_collapse():
        pytest.skip("this kernel does not move memory into huge pages on request (MADV_COLLAPSE: Linux 6.1+)")
    zygote = sandbox._proc.pid
    run(sandbox)
    assert HUGE_PAGES_AFTER_RUNS >= 2
    if _thp_mode() != "always":  # (with `always`, the kernel makes huge pages of its own accord)
        assert huge_kb(zygote) < 8 * 1024  # one check from the shell never pays for the move
    for _ in range(HUGE_PAGES_AFTER_RUNS):
        result = run(sandbox)
        assert result.error is None and result.value("y").tensor.tolist() == [0.0, 2.0, 4.0, 6.0]
    spares(sandbox)  # the refill after the run, and the move after it, are done
    deadline = time.monotonic() + 10
    while huge_kb(zygote) < 16 * 1024 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert huge_kb(zygote) >= 16 * 1024
    # children forked from it still run, each in memory of its own
    first, second = run(sandbox), run(sandbox)
    assert ran_in(first) != ran_in(second) and first.value("y").tensor.tolist() == [0.0, 2.0, 4.0, 6.0]
    # nothing is left marked for khugepaged: memory allocated from now on is in ordinary pages
    assert " hg" not in Path(f"/proc/{zygote}/smaps").read_text().replace("\n", " ")


def test_huge_pages_can_be_turned_off(monkeypatch):
    from tutor.sandbox import hugepages

    monkeypatch.setenv(hugepages.ENV, "0")
    assert not hugepages.wanted() and hugepages.collapse() == 0


def test_only_large_private_anonymous_regions_are_moved():
    from tutor.sandbox.hugepages import HUGE, anonymous_regions

    maps = "\n".join([
        "55a202000123-55a207000000 rw-p 00000000 00:00 0                          [heap]",
        "7fa2f6600000-7fa2f8800000 rw-p 00000000 00:00 0 ",
        "7fa2f8f00000-7fa2f9000000 rw-p 00000000 00:00 0 ",  # 1 MiB: too small
        "7fa30dfe5000-7fa30e285000 r--p 145e4000 fe:00 6285141   /usr/lib/libtorch_cpu.so",
        "7fa310e00000-7fa311e00000 rw-p 00443000 fe:00 26933     /usr/lib/libpython3.11.so.1.0",  # a file's
        "7ffc10000000-7ffc11000000 rw-p 00000000 00:00 0                          [stack]",
    ])
    assert anonymous_regions(maps) == [
        (0x55A202200000, 0x55A207000000 - 0x55A202200000),  # rounded in to whole huge pages
        (0x7FA2F6600000, 0x7FA2F8800000 - 0x7FA2F6600000),
    ]
    assert all(start % HUGE == 0 and length % HUGE == 0 for start, length in anonymous_regions(maps))


def test_a_sandbox_for_back_to_back_runs_refills_its_spares_at_once():
    """Right after a run, the zygote of a back-to-back sandbox has forked its spares again before it answers
    anything else; a learner's waits REFILL_AFTER_S first (the tutor judges meanwhile)."""
    from tutor.sandbox.spare import SPARES

    box = Sandbox(back_to_back=True)
    try:
        box.load_context("tiny", {"x": torch.arange(4.0)}, {"n": 4}, "cpu")
        spares(box)
        assert b"--refill-at-once" in Path(f"/proc/{box._proc.pid}/cmdline").read_bytes().split(b"\0")
        seen = set()
        for _ in range(4):
            seen.add(ran_in(run(box)))
            assert len(box.ping()["spares"]) == SPARES
        assert len(seen) == 4  # a child of its own for each run, as ever
    finally:
        box.close()
