"""Verdicts you can trust: each gap a learner's file once slipped through, closed, and every correct variant passing.

Each test carries the file (or the line of it) that exposed the gap: a ~0 gradient that could not fail, a replay
of what an earlier check left behind, a second batch that could be skipped, a hard-coded size, a correct line
blamed in exercise 4, exercise 1's chain pasted into exercises 2 and 3.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from tests.test_diagnose import check_source, solution_with, verdict
from tutor.process.wire import tensor_bytes
from tutor.reports.check import LearnerError
from tutor.sandbox.guard import AutogradUsed
from tutor.sandbox.privacy import is_hidden
from tutor.sandbox.results import LearnerRun


def failing(report) -> list[str]:
    return [t.name for t in report.tensors if not t.passed]


# -- 1. a gradient that is ~0 in truth can still fail ------------------------------------------------------------

NEAR_ZERO = [
    ("dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)", "dlogit_maxes = torch.zeros_like(logit_maxes)", "dlogit_maxes"),
    ("dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes\n", "", "dlogits"),
    (
        "dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes",
        "dlogits += dlogit_maxes",
        "dlogits",
    ),
    ("db1 = dhprebn.sum(0)", "db1 = torch.zeros_like(b1)", "db1"),
]


@pytest.mark.parametrize(("old", "new", "step"), NEAR_ZERO, ids=["zeros-dlogit_maxes", "no-max-branch", "no-one-hot", "zeros-db1"])
def test_a_near_zero_gradient_fails_its_local_rule(checker, atomic, old, new, step):
    report = check_source(checker, atomic, solution_with(atomic, old, new))
    roots = [t.name for t in report.tensors if not t.passed and not t.inherits_from]
    assert roots == [step]
    t = verdict(report, step)
    assert (t.status, t.local, t.second, t.inherits_from) == ("wrong", "fail", "pass", None)
    # it matched autograd on the lecture's batch, and the report says why that was not enough
    assert t.max_abs_diff < 1e-6
    assert "only because" in t.diagnosis["message"] and "~0" in t.diagnosis["message"]


def test_a_line_reading_a_private_copy_fails_and_says_so(checker, atomic):
    source = solution_with(atomic, "dlogits = dnorm_logits.clone()", "dlogits = dnorm_logits.clone(); x = dlogits",
                           "dh = dlogits @ W2.T", "dh = x @ W2.T")
    report = check_source(checker, atomic, source)
    t = verdict(report, "dh")
    assert (t.local, t.diagnosis["code"]) == ("fail", "reads-copy")
    assert "does not read dlogits" in t.diagnosis["message"]


def test_exercise_4_wrong_dhprebn_no_longer_leaves_db1_close(checker, course):
    training = course.find("training")
    source = solution_with(training, "dhprebn = bngain * bnvar_inv / n", "dhprebn = 1.3 * bngain * bnvar_inv / n")
    report = check_source(checker, training, source)
    assert not verdict(report, "db1").passed
    assert verdict(report, "db1").inherits_from == "dhprebn"


# -- 2. nothing judged is within the learner's reach -------------------------------------------------------------


def test_no_reference_gradient_ever_goes_to_the_sandbox(checker, atomic, monkeypatch):
    sent: list[torch.Tensor] = []
    original_run, original_load = checker.sandbox.run_many, checker.sandbox.load_context

    def spy_run(specs, *args, **kwargs):
        for spec in specs:
            sent.extend((spec.tensors or {}).values())
            sent.extend((spec.inject or {}).values())
        return original_run(specs, *args, **kwargs)

    def spy_load(key, tensors, *args, **kwargs):
        sent.extend(tensors.values())
        return original_load(key, tensors, *args, **kwargs)

    monkeypatch.setattr(checker.sandbox, "run_many", spy_run)
    monkeypatch.setattr(checker.sandbox, "load_context", spy_load)
    wrong = solution_with(atomic, "dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs")
    check_source(checker, atomic, wrong)
    checker.check(atomic, atomic.solution)
    references = list(checker.context(atomic).reference.values())
    assert sent
    for tensor in sent:
        for ref in references:
            assert not (tensor.shape == ref.shape and torch.equal(tensor.cpu(), ref.cpu())), "a reference gradient was sent"


def test_the_checking_process_is_not_dumpable(checker):
    assert is_hidden()  # /proc/<pid>/mem of the process holding the answers is closed to the learner's code


REPLAY = '''
import os, torch
state = {state!r}
names = {names!r}
if os.path.exists(state):
    seen = torch.load(state)
    for name in names:
        if name in seen:
            globals()[name] = seen[name]
else:
    seen = {{}}
# record everything this run can see under a gradient's name: its own values, and whatever was injected
for name in names:
    value = globals().get(name)
    if isinstance(value, torch.Tensor):
        seen[name] = value.clone()
torch.save(seen, state)
'''


@pytest.mark.slow
def test_a_file_that_records_and_replays_its_globals_does_not_pass(checker, atomic, tmp_path):
    names = [s.name for s in atomic.steps]
    body = "\n".join(f"{name} = torch.zeros_like({step.of})" for name, step in zip(names, atomic.steps))
    source = body + REPLAY.format(state=str(tmp_path / "seen.pt"), names=names)
    for _ in range(3):
        report = check_source(checker, atomic, source)
        # only the gradients whose true value is 0 everywhere may match, and they fail their local rule
        assert not report.passed
        assert all(not t.passed for t in report.tensors)


CLOSURE_WALKER = '''
import gc, torch
found = {}
hook = globals().get("__tutor_finished__")
cells = [c.cell_contents for c in (getattr(hook, "__closure__", None) or ())]
for obj in cells + gc.get_objects():
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            if isinstance(key, str) and key.startswith("d") and isinstance(value, torch.Tensor):
                found.setdefault(key, value)
for name, value in found.items():
    globals()[name] = value.clone()
'''


def test_a_file_that_walks_closures_and_the_heap_does_not_pass(checker, atomic):
    for _ in range(2):
        report = check_source(checker, atomic, CLOSURE_WALKER)
        assert all(not t.passed for t in report.tensors), [t.name for t in report.tensors if t.passed]


MEMORY_SCANNER = '''
import ctypes, re
patterns = {{name: bytes.fromhex(text) for name, text in {patterns!r}.items()}}
buffer = bytearray(1 << 20)
view = memoryview(buffer)
base = ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
mine = [(id(p), id(p) + len(p) + 64) for p in patterns.values()] + [(base, base + len(buffer))]
hits = {{name: 0 for name in patterns}}
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
    for line in maps:
        fields = line.split()
        if "r" not in fields[1] or len(fields) > 5 and fields[5].startswith("/"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for at in range(start, end, len(buffer)):
            size = min(len(buffer), end - at)
            try:
                mem.seek(at)
                got = mem.readinto(view[:size])
            except OSError:
                break
            for name, pattern in patterns.items():
                offset = buffer.find(pattern, 0, got)
                while offset >= 0:
                    address = at + offset
                    if not any(lo <= address < hi for lo, hi in mine):
                        hits[name] += 1
                    offset = buffer.find(pattern, offset + 1, got)
with open({out!r}, "w") as fh:
    fh.write(repr(hits))
'''


def test_a_file_that_scans_its_own_memory_finds_no_answer(checker, atomic, tmp_path):
    ctx = checker.context(atomic)
    # a failing check first: what it sent to the sandbox is what a later child could inherit
    check_source(checker, atomic, solution_with(atomic, "dprobs = (1.0 / probs) * dlogprobs", "dprobs = 2 * dlogprobs"))
    patterns = {
        "answer": tensor_bytes(ctx.reference["dW1"])[:64].hex(),  # autograd's gradient
        "given": tensor_bytes(ctx.inputs["W1"])[:64].hex(),  # a forward tensor: must be found
    }
    out = tmp_path / "hits.txt"
    report = check_source(checker, atomic, MEMORY_SCANNER.format(patterns=patterns, out=str(out)))
    assert report.error is None, report.error
    hits = eval(out.read_text())  # noqa: S307 - the test's own file
    assert hits["given"] >= 1, "the scanner does not work: it cannot even find W1"
    assert hits["answer"] == 0
    assert not verdict(report, "dW1").passed


def test_autograd_is_refused_at_run_time_in_every_exercise(checker, atomic):
    source = textwrap.dedent('''
        w = W1.clone().requires_grad_(True)
        with torch.enable_grad():
            out = (embcat @ w).sum()
            getattr(out, "back" + "ward")()
        dW1 = w.grad
    ''')
    report = check_source(checker, atomic, source)
    assert report.error.kind == "forbidden" and report.error.line == 5
    grad = "g = vars(torch)['autograd'].grad\ndlogprobs = g((logprobs * 1).sum(), [logprobs])[0]\n"
    report = check_source(checker, atomic, grad)
    assert report.error.kind == "forbidden" and report.error.line == 2


def test_the_guard_raises_a_base_exception():
    assert issubclass(AutogradUsed, BaseException) and not issubclass(AutogradUsed, Exception)


# -- 3. the second batch cannot be skipped, and it changes every size ---------------------------------------------


@pytest.mark.parametrize("stop", ["while True:\n        pass", "print('x' * 3_000_000)"], ids=["timeout", "flood"])
def test_a_second_batch_that_stops_fails_the_steps(checker, atomic, stop):
    source = f"if n != 32:\n    {stop}\n" + atomic.solution.read_text()
    checker.timeout, before = 1.0, checker.timeout
    try:
        report = check_source(checker, atomic, source)
    finally:
        checker.timeout = before
    assert report.error is None  # the lecture's batch ran through
    assert all(not t.passed for t in report.tensors)
    assert all("second batch" in (t.note or "") for t in report.tensors)


def test_an_unverified_run_is_a_failure_never_a_skip(checker, atomic):
    from tutor.engine.judge import judge

    ctx = checker.context(atomic)
    full = checker.sandbox.run_many  # one real run of the solution on the lecture's batch
    from tutor.learner.file import LearnerFile
    from tutor.sandbox.client import RunSpec

    first = full([RunSpec(ctx.key)], LearnerFile(atomic.solution.read_text(), "sol.py"), [s.name for s in atomic.steps], 5.0)[0]
    stopped = LearnerRun(LearnerError("timeout", "stopped"), skipped=True)
    second = checker.second_context(atomic)
    report = judge(atomic, atomic.rows, [ctx, second], [first, stopped], "sol.py")
    assert all(not t.passed for t in report.tensors)


@pytest.mark.parametrize(
    ("old", "new", "root"),
    [
        ("dlogprobs = torch.zeros_like(logprobs)", "dlogprobs = torch.zeros(n, 27)", "dlogprobs"),
        ("dbnbias = dhpreact.sum(0, keepdim=True)", "dbnbias = dhpreact.sum(0, keepdim=True).view(1, 64)", "dbnbias"),
        ("dC.index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))", "dC.index_add_(0, Xb.view(-1), demb.view(-1, 10))", "dC"),
        ("dW1 = embcat.T @ dhprebn", "dW1 = embcat.view(n, 30).T @ dhprebn", "dW1"),
        ("dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(n), Yb] = -1.0 / 32", "dlogprobs"),
    ],
    ids=["27", "64", "10", "30", "32"],
)
def test_a_hard_coded_size_fails(checker, atomic, old, new, root):
    report = check_source(checker, atomic, solution_with(atomic, old, new))
    t = verdict(report, root)
    assert not t.passed and t.second == "fail" and t.inherits_from is None
    assert t.diagnosis["code"] == "hard-coded-size"
    for other in report.tensors:
        if not other.passed and other.name != root:
            assert other.inherits_from is not None, other.name


def test_the_second_batch_differs_in_every_size(checker, atomic):
    first = checker.context(atomic).scalars
    for _ in range(5):
        second = checker.second_context(atomic).scalars
        for size in ("n", "vocab_size", "n_embd", "n_hidden"):
            assert second[size] != first[size]
        assert second["n_embd"] * second["block_size"] != first["n_embd"] * first["block_size"]


# -- 4. exercise 4 names the line to fix ----------------------------------------------------------------------------


def test_exercise_4_without_bngain_names_dhprebn(checker, course):
    training = course.find("training")
    report = check_source(checker, training, solution_with(training, "dhprebn = bngain * bnvar_inv / n", "dhprebn = bnvar_inv / n"))
    assert [t.name for t in report.tensors][:3] == ["dlogits", "dh", "dW2"]  # the order of a backward pass
    root = verdict(report, "dhprebn")
    assert (root.support, root.local, root.inherits_from) == (True, "fail", None)
    assert report.first_failure.name == "dhprebn"
    for name in ("dW1", "dC"):
        t = verdict(report, name)
        assert (t.local, t.inherits_from) == ("pass", "dhprebn"), t.to_json()


def test_exercise_4_rows_are_in_backward_order_without_supporting_rows(checker, course):
    training = course.find("training")
    source = solution_with(training, "dlogits = F.softmax(logits, 1)", "g = F.softmax(logits, 1)", "dlogits[range(n), Yb] -= 1",
                           "g[range(n), Yb] -= 1", "dlogits /= n", "g /= n")
    source = source.replace("dlogits @", "g @").replace("@ dlogits", "@ g").replace("dlogits.sum", "g.sum")
    report = check_source(checker, training, source)
    names = [t.name for t in report.tensors]
    assert names[:4] == ["dh", "dW2", "db2", "dhpreact"] and names[-1] == "dC"
    assert report.passed


@pytest.mark.slow
def test_exercise_4_right_only_on_its_first_calls_fails_training(course, tmp_path, shared_checkers):
    from tutor.training.session import train_exercise

    training = course.find("training")
    source = "calls = globals().get('calls', 0) + 1\n" + solution_with(
        training, "dW2 = h.T @ dlogits", "dW2 = h.T @ dlogits * (1.0 if calls < 50 else 1.5)"
    )
    result = train_exercise(course, training, tmp_path / "training.py", source=source, steps=200, reference=False)
    assert result.grad_check_passed  # its first calls are right
    assert result.error["kind"] == "grad-check" and result.error["gradient"] == "dW2"
    assert result.error["step"] == 199


# -- 5. exercises 2 and 3 ask for one expression -------------------------------------------------------------------


def test_exercise_1_chain_in_exercise_2_is_not_a_pass(checker, course, atomic):
    report = check_source(checker, course.find("cross-entropy"), atomic.solution.read_text())
    t = verdict(report, "dlogits")
    assert not report.passed and t.diagnosis["code"] == "chain" and t.max_abs_diff < 1e-6


def test_exercise_1_chain_in_exercise_3_is_not_a_pass(checker, course, atomic):
    lines = atomic.solution.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("dbnraw"))
    end = next(i for i, line in enumerate(lines) if line.startswith("dembcat"))
    report = check_source(checker, course.find("batchnorm"), "\n".join(lines[start:end]) + "\n")
    t = verdict(report, "dhprebn")
    assert not report.passed and t.diagnosis["code"] == "chain"


# -- every correct variant still passes ------------------------------------------------------------------------------

VARIANTS = {
    "lecture-dbnmeani-(64,)": ("dbnmeani = (-dbndiff).sum(0, keepdim=True)", "dbnmeani = (-dbndiff).sum(0)"),
    "dC-loop": (
        "dC = torch.zeros_like(C)\ndC.index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))",
        "dC = torch.zeros_like(C)\nfor k in range(Xb.shape[0]):\n    for j in range(Xb.shape[1]):\n        dC[Xb[k, j]] += demb[k, j]",
    ),
    "dC-one-hot-matmul": (
        "dC = torch.zeros_like(C)\ndC.index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))",
        "dC = F.one_hot(Xb.view(-1), num_classes=C.shape[0]).float().T @ demb.view(-1, C.shape[1])",
    ),
    "max-argmax-mask": (
        "dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes",
        "mask = torch.zeros_like(logits)\nmask[range(n), logits.argmax(1)] = 1.0\ndlogits += mask * dlogit_maxes",
    ),
    "max-boolean": (
        "dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes",
        "dlogits += (logits == logit_maxes).float() * dlogit_maxes",
    ),
    "tanh-cosh": ("dhpreact = (1.0 - h**2) * dh", "dhpreact = 1 / torch.cosh(hpreact)**2 * dh"),
    "keepdim-biases": ("db2 = dlogits.sum(0)", "db2 = dlogits.sum(0, keepdim=True)"),
    "expand-as": ("dcounts += torch.ones_like(counts) * dcounts_sum", "dcounts += dcounts_sum.expand_as(counts)"),
    "bessel-after-sum": (
        "dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(bndiff2) * dbnvar",
        "dbndiff2 = torch.ones_like(bndiff2) * dbnvar / (n - 1)",
    ),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_correct_variant_passes(checker, atomic, name):
    old, new = VARIANTS[name]
    report = check_source(checker, atomic, solution_with(atomic, old, new))
    assert report.passed, [(t.name, t.status, t.local, t.second, t.note) for t in report.tensors if not t.passed]


@pytest.mark.slow
def test_the_solutions_pass_every_run_again_and_again(checker, course):
    for _ in range(3):  # each check draws a new second batch and new injected gradients
        for exercise in course.exercises:
            report = checker.check(exercise, exercise.solution)
            assert report.passed, (exercise.id, [t.to_json() for t in report.tensors if not t.passed])


def test_starters_still_fail(checker, course):
    for exercise in course.exercises:
        assert not checker.check(exercise, Path(exercise.starter)).passed
