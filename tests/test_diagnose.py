"""Root or inherited, and what the mistake is: each diagnosis fires on a purpose-made wrong file, never on right ones."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from tests.conftest import LEARNER_FILES
from tutor.course.model import Mistake
from tutor.engine.branches import tensor_uses
from tutor.learner.file import finishing_statements, written_names
from tutor.sandbox.isolate import instrument

WRONG = LEARNER_FILES / "wrong"
ACCUMULATED = ("dcounts", "dlogits", "dbndiff", "dhprebn")


def solution_with(atomic, *pairs: str) -> str:
    """The atomic reference solution with each (old line, new line) pair replaced."""
    source = atomic.solution.read_text(encoding="utf-8")
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert old in source, old
        source = source.replace(old, new, 1)
    return source


def check_source(checker, exercise, source: str, name: str = "wrong.py"):
    return checker.check(exercise, WRONG / name, source)


def verdict(report, name):
    return next(t for t in report.tensors if t.name == name)


# (old line, new line, failing step, diagnosis code, words the message must hold)
CASES = [
    ("dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs", "dprobs", "sign", "negative"),
    ("dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(n), Yb] = -1.0", "dlogprobs", "scale", "gets -1/n, not -1"),
    ("dbnmeani = (-dbndiff).sum(0, keepdim=True)", "dbnmeani = (-dbndiff).sum(0, keepdim=True) / n", "dbnmeani", "scale", "1/n"),
    (
        "dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(bndiff2) * dbnvar",
        "dbndiff2 = (1.0 / n) * torch.ones_like(bndiff2) * dbnvar",
        "dbndiff2", "scale", "Bessel",
    ),
    (
        "dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(bndiff2) * dbnvar",
        "dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(bndiff2) * dbnvar * n / (n - 1)",
        "dbndiff2", "scale", "n/(n-1)",
    ),
    ("dh = dlogits @ W2.T", "dh = 2 * dlogits @ W2.T", "dh", "scale", "factor of 2"),
    ("dbndiff += (2 * bndiff) * dbndiff2", "dbndiff += 3 * bndiff * dbndiff2", "dbndiff", None, None),  # one branch off by 3/2
    ("dhpreact = (1.0 - h**2) * dh", "dhpreact = 0.5 * (1.0 - h**2) * dh", "dhpreact", "scale", "1/2"),
    ("dh = dlogits @ W2.T", "dh = 3 * dlogits @ W2.T", "dh", "scale", "constant factor 3"),
    ("dW2 = h.T @ dlogits", "dW2 = dlogits.T @ h", "dW2", "transpose", "W2's shape (64, 27)"),
    ("db2 = dlogits.sum(0)", "db2 = dlogits", "db2", "reduce", "not summed over axis 0"),
    ("db2 = dlogits.sum(0)", "db2 = dlogits.sum(1)", "db2", "reduce", "summed over axis 1 instead of axis 0"),
    (
        "dbngain = (bnraw * dhpreact).sum(0, keepdim=True)",
        "dbngain = bnraw * dhpreact",
        "dbngain", "reduce", "not summed over axis 0",
    ),
    (
        "dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)",
        "dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True) + 0 * dnorm_logits",
        "dlogit_maxes", None, None,  # right values that broadcast to (32, 27): no mistake explains them
    ),
    (
        "dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)",
        "dcounts_sum_inv = (counts * dprobs).sum(0, keepdim=True)",
        "dcounts_sum_inv", "reduce", "summed over axis 0 instead of axis 1",
    ),
    (
        "dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)",
        "dcounts_sum_inv = (counts * dprobs).sum(1)",
        "dcounts_sum_inv", "keepdim", "(32,)",
    ),
    ("dcounts += torch.ones_like(counts) * dcounts_sum", "pass", "dcounts", "branch", "counts_sum = counts.sum(1"),
    ("dbndiff += (2 * bndiff) * dbndiff2", "pass", "dbndiff", "branch", "squared into bndiff2"),
    (
        "dhprebn += 1.0 / n * (torch.ones_like(hprebn) * dbnmeani)", "pass",
        "dhprebn", "branch", "feeds the mean bnmeani",
    ),
    ("dh = dlogits @ W2.T", "dh = dlogits @ W2.T + h", "dh", None, None),  # an error nothing explains
]


@pytest.mark.parametrize(("old", "new", "step", "code", "words"), CASES, ids=[f"{c[3]}-{c[2]}" for c in CASES])
def test_diagnosis_fires_on_a_purpose_made_mistake(checker, atomic, old, new, step, code, words):
    report = check_source(checker, atomic, solution_with(atomic, old, new))
    t = verdict(report, step)
    assert not t.passed
    assert t.local == "fail" and t.inherits_from is None  # the mistake is its own line
    if code is None:
        assert t.diagnosis is None
        return
    assert t.diagnosis is not None, t
    assert t.diagnosis["code"] == code, t.diagnosis
    if words:
        assert words in t.diagnosis["message"], t.diagnosis["message"]
    # only the tensor with the mistake is diagnosed; everything below it inherits
    assert [x.name for x in report.tensors if x.diagnosis] == [step]


@pytest.mark.parametrize("exercise_id", ["atomic", "cross-entropy", "batchnorm", "training"])
def test_right_solutions_pass_silently(checker, course, exercise_id):
    exercise = course.find(exercise_id)
    report = checker.check(exercise, exercise.solution)
    assert report.passed, [t.to_json() for t in report.tensors if not t.passed]
    for t in report.tensors:
        assert (t.local, t.second, t.inherits_from, t.diagnosis) == ("pass", "pass", None, None), t.name


def test_one_wrong_early_line_is_the_root_of_everything_below(checker, atomic):
    source = solution_with(atomic, "dprobs = (1.0 / probs) * dlogprobs", "dprobs = (1.0 / probs) * dlogprobs * 1.5")
    report = check_source(checker, atomic, source)
    assert verdict(report, "dlogprobs").passed
    root = verdict(report, "dprobs")
    assert (root.local, root.inherits_from) == ("fail", None)
    failing = [t for t in report.tensors if not t.passed and t.name != "dprobs"]
    assert len(failing) > 15
    for t in failing:
        assert (t.local, t.inherits_from, t.diagnosis) == ("pass", "dprobs", None), t.name


def test_accumulated_gradients_pass_isolated(checker, atomic):
    # the reference solution builds these four with +=, so a swap after the FIRST write would fail them
    source = solution_with(atomic, "dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(n), Yb] = 1.0 / n")
    report = check_source(checker, atomic, source)
    for name in ACCUMULATED:
        t = verdict(report, name)
        assert not t.passed and t.local == "pass" and t.inherits_from == "dlogprobs", t.to_json()


def test_two_independent_wrong_lines_are_two_roots(checker, atomic):
    source = solution_with(
        atomic,
        "dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs",
        "dbnvar = (-0.5 * (bnvar + 1e-5) ** -1.5) * dbnvar_inv", "dbnvar = (-0.5 * (bnvar + 1e-5) ** -0.5) * dbnvar_inv",
    )
    report = check_source(checker, atomic, source)
    roots = [t.name for t in report.tensors if t.local == "fail"]
    assert roots == ["dprobs", "dbnvar"]
    # the nearest root on its path toward the loss, not the first failure in course order
    assert verdict(report, "dbndiff2").inherits_from == "dbnvar"
    assert verdict(report, "dbnvar_inv").inherits_from == "dprobs"
    # a wrong exponent is no constant factor, but the course describes it
    assert verdict(report, "dbnvar").diagnosis == {"code": "course", "message": atomic.step("dbnvar").mistakes[0].message}


def test_hard_coded_batch_size_fails_on_the_second_context(checker, atomic):
    report = checker.check(atomic, WRONG / "hard_coded_batch.py")
    t = verdict(report, "dlogprobs")
    assert t.status == "wrong" and t.max_abs_diff == 0.0  # exact at n=32
    assert t.diagnosis["code"] == "hard-coded-size"
    assert "n=32" in t.diagnosis["message"] and "a second one (n=" in t.diagnosis["message"]
    assert "not on a second one with n=" in t.note
    dprobs = verdict(report, "dprobs")
    assert (dprobs.status, dprobs.local, dprobs.inherits_from, dprobs.diagnosis) == ("wrong", "pass", "dlogprobs", None)


def test_hard_coded_range_that_raises_on_the_second_batch(checker, atomic):
    report = checker.check(atomic, WRONG / "hard_coded_range.py")
    assert report.error is None
    assert any("second batch (n=" in w and "line 3" in w for w in report.warning_texts()), report.warnings
    root = verdict(report, "dlogprobs")
    assert (root.diagnosis["code"], root.local, root.inherits_from) == ("hard-coded-size", "fail", None)
    assert verdict(report, "dprobs").inherits_from == "dlogprobs"


def test_gradient_finished_by_a_loop_is_captured_after_the_loop(checker, atomic):
    report = checker.check(atomic, WRONG / "loop_scatter.py")
    assert verdict(report, "dlogprobs").local == "fail"
    assert verdict(report, "demb").local == "fail"  # zeros, the learner's own line
    dC = verdict(report, "dC")
    assert not dC.passed and dC.local == "pass"  # with the correct demb, the loop's dC is right


def test_course_mistake_matches_and_shows_its_message(checker, atomic):
    mistake = Mistake("tanh-input", "(1.0 - hpreact**2) * dh", "tanh' uses the output h, not the input hpreact")
    unnamed = Mistake("course", "(1.0 - h) * dh", "forgot the square")
    steps = tuple(
        dataclasses.replace(s, mistakes=(unnamed, mistake)) if s.name == "dhpreact" else s for s in atomic.steps
    )
    exercise = dataclasses.replace(atomic, steps=steps)
    wrong = solution_with(atomic, "dhpreact = (1.0 - h**2) * dh", "dhpreact = (1.0 - hpreact**2) * dh")
    t = verdict(check_source(checker, exercise, wrong), "dhpreact")
    assert t.diagnosis == {"code": "tanh-input", "message": mistake.message}
    other = solution_with(atomic, "dhpreact = (1.0 - h**2) * dh", "dhpreact = (1.0 - h) * dh")
    assert verdict(check_source(checker, exercise, other), "dhpreact").diagnosis["code"] == "course"
    assert checker.check(exercise, atomic.solution).passed


def test_branches_come_from_the_forward_code(checker, atomic):
    uses = tensor_uses(atomic, checker.context(atomic))
    assert sorted(name for name, found in uses.items() if len(found) == 2) == ["bndiff", "counts", "hprebn", "logits"]
    assert [u.axes for u in uses["b2"]] == [(0,)] and tuple(uses["b2"][0].unreduced.shape) == (32, 27)
    assert [u.axes for u in uses["logit_maxes"]] == [(1,)]


def test_written_names_sees_every_way_to_write():
    src = """
a = 1
b += 2
c[0] = 3
d.index_add_(0, i, x)
e.attr = 4
f, (g, h) = 5, (6, 7)
for k in range(3):
    m[k] += 1
torch.add(x, y, out=o)
q.view(-1).zero_()
"""
    tree = ast.parse(src)
    found = [written_names(stmt) for stmt in tree.body]
    assert found == [{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f", "g", "h"}, {"k", "m"}, {"o"}, {"q"}]


def test_instrument_swaps_after_the_last_write():
    tree = ast.parse("x = 1\ny = x\nx += 1\nz = 2\n")
    assert finishing_statements(tree, ["x", "y", "w"]) == {2: ["x"], 1: ["y"]}
    calls = []
    ns = {"__tutor_finished__": lambda name: calls.append((name, dict(ns).get(name)))}
    exec(compile(instrument(tree, ["x", "y"]), "<t>", "exec"), ns)
    assert calls == [("y", 1), ("x", 2)]


def test_json_and_table_say_where_an_error_comes_from(tmp_path, atomic, backprop_ninja):
    wrong = tmp_path / "atomic.py"
    wrong.write_text(solution_with(atomic, "dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs"))
    result = backprop_ninja("check", "atomic", "--file", str(wrong), "--json")
    data = json.loads(result.stdout)
    by_name = {t["name"]: t for t in data["tensors"]}
    assert by_name["dprobs"]["local"] == "fail"
    assert by_name["dprobs"]["diagnosis"]["code"] == "sign"
    assert by_name["dcounts"]["inherits_from"] == "dprobs" and by_name["dcounts"]["diagnosis"] is None
    assert by_name["dlogprobs"]["local"] == "pass" and by_name["dlogprobs"]["inherits_from"] is None
    human = " ".join(backprop_ninja("check", "atomic", "--file", str(wrong)).stdout.split())
    assert "likely mistake (sign)" in human
    assert "wrong (its own line)" in human and "wrong (from dprobs)" in human
    assert "are right; their error comes from dprobs" in human


def test_gradient_changed_later_through_an_alias(checker, atomic):
    # dhprebn = dbndiff (no clone) makes the later += change dbndiff too
    source = solution_with(atomic, "dhprebn = dbndiff.clone()", "dhprebn = dbndiff")
    report = check_source(checker, atomic, source)
    t = verdict(report, "dbndiff")
    assert (t.status, t.local, t.inherits_from) == ("wrong", "pass", None)
    assert t.diagnosis["code"] == "changed-later"
    assert verdict(report, "dhprebn").passed and verdict(report, "dbnmeani").passed


HARD_CODED_N = ("dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(n), Yb] = -1.0/32")


def test_a_root_only_the_second_batch_finds_is_the_root_of_every_row_below(checker, atomic):
    report = check_source(checker, atomic, solution_with(atomic, *HARD_CODED_N))
    root = verdict(report, "dlogprobs")
    # right on the lecture's batch, wrong on the second with nothing above it: its own line is wrong
    assert (root.status, root.inherits_from, root.local, root.second) == ("wrong", None, "fail", "fail")
    assert root.diagnosis["code"] == "hard-coded-size"
    below = [t for t in report.tensors if t.name != "dlogprobs"]
    assert all(not t.passed for t in below)
    # every row below names the root, not the row just above it; the rows right by chance too
    assert {t.name: t.inherits_from for t in below} == {t.name: "dlogprobs" for t in below}
    assert all(t.local == "pass" and t.diagnosis is None for t in below)
    assert report.first_failure.name == "dlogprobs"


def test_a_size_root_reads_as_a_wrong_line_wherever_it_is_shown(checker, atomic):
    from tutor.ui.widgets.detail import verdict_lines
    from tutor.ui.widgets.step_table import status_text
    from tutor.views.text import check_table

    report = check_source(checker, atomic, solution_with(atomic, *HARD_CODED_N))
    for lang in ("en", "zh"):
        root = verdict(report, "dlogprobs")
        words = " ".join(str(getattr(part, "plain", "")) for part in verdict_lines(root, lang))
        assert "your line is right" not in status_text(root, lang).plain
        assert "inherits from" not in words and "继承" not in words, words
        assert ("hard-coded-size" if lang == "en" else "写死的尺寸") in words
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(check_table(report))
    rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines() if line.startswith("│")}
    assert "(from dlogprobs)" in rows["dcounts_sum"] and "(from dlogprobs)" in rows["db1"]
    assert "wrong" in rows["dlogprobs"].split("│")[7]  # its own line


def test_the_heatmap_of_a_size_root_is_drawn_on_the_batch_where_it_fails(checker, atomic):
    from tutor.engine.grids import row_grids
    from tutor.ui.widgets.detail import diff_section

    report = check_source(checker, atomic, solution_with(atomic, *HARD_CODED_N))
    for name in ("dlogprobs", "dcounts"):
        t = verdict(report, name)
        diff = row_grids(name, checker.last_runs, t)["diff"]
        assert diff["max"] > 0 and diff["shape"][0] == checker.last_runs[1][0].scalars["n"] != 32
        head = diff_section(name, t.status, diff)[0].plain
        assert "brightest = 0.00e+00" not in head and "on a second batch (n=" in head, head
        assert "第二个批次（n=" in diff_section(name, t.status, diff, "zh")[0].plain
    # a row wrong on the lecture's batch keeps that batch's picture
    wrong = check_source(checker, atomic, solution_with(atomic, "dh = dlogits @ W2.T", "dh = 2 * dlogits @ W2.T"))
    diff = row_grids("dh", checker.last_runs, verdict(wrong, "dh"))["diff"]
    assert "batch" not in diff and diff["shape"] == [32, 64] and diff["max"] > 0


@pytest.mark.parametrize("exercise_id", ["atomic", "cross-entropy", "batchnorm", "training"])
def test_the_sizes_the_advice_names_are_defined_in_the_starter(checker, course, exercise_id):
    import re

    from tutor.messages import catalogue

    for lang in ("en", "zh"):
        advice = catalogue(lang)["hard-coded-size"]
        stopped = catalogue(lang)["hard-coded-size-stopped"]
        assert advice.count("tensor.shape") == 1 and stopped.split("{sizes}")[-1] == advice.split("{sizes}")[-1]
    exercise = course.find(exercise_id)
    names = checker.context(exercise).varied  # the sizes the advice names: those the second batch changes
    assert {"n", "vocab_size", "n_embd", "n_hidden"} <= set(names)
    docstring = ast.get_docstring(ast.parse(exercise.starter.read_text(encoding="utf-8")))
    defined = docstring[docstring.index("efined when"):]
    assert all(re.search(rf"\b{name}\b", defined) for name in names), (names, defined[:300])


@pytest.mark.slow
def test_a_second_batch_that_never_ran_blames_no_size(warm_checkers, course, atomic):
    """An endless loop stops the lecture's batch; the second batch is then skipped, not stopped by a size."""
    report = warm_checkers.get(course, timeout=1.0).check(atomic, Path(__file__).parent / "learner_files" / "infinite_loop.py")
    assert report.error is not None and report.error.kind == "timeout"
    assert all((t.diagnosis or {}).get("code") != "hard-coded-size" for t in report.tensors), [t.diagnosis for t in report.tensors]


@pytest.mark.parametrize("exercise_id", ["atomic", "cross-entropy", "batchnorm"])
def test_a_local_trials_uses_are_its_pools_traces_combined_as_a_trace_of_its_own_finds_them(checker, course, exercise_id):
    """Diagnosing a line under the local rule reads the uses of each forward tensor with the trial's injected
    gradients: combined from the pool's traced draws (no trace per check), they are what a trace finds."""
    from tutor.engine.branches import _adds_up, _analyse, trace

    exercise = course.find(exercise_id)
    first = checker.context(exercise)
    trial = checker.pool(exercise, first, tuple(exercise.rows)).trial()
    ctx = trial.context
    assert len(ctx.derived["trace_parts"]) == 1 + len(trial_pool_draws(checker, exercise, first))
    traced = trace(exercise, ctx, **ctx.derived["trace"]).uses
    combined = _analyse(exercise, ctx)  # from the pool's parts
    reference = {step.of: ctx.reference[step.name] for step in exercise.rows if step.name in ctx.reference}
    adds_up = {name for name, uses in traced.items() if name in reference and _adds_up(uses, reference[name])}
    assert combined and set(combined) == adds_up  # the tensors a trace of its own keeps, no more, no fewer
    for name, uses in combined.items():
        by_key = {u.key: u for u in traced[name]}
        assert [u.key for u in uses] == [u.key for u in traced[name]]
        for use in uses:
            direct = by_key[use.key]
            assert (use.line, use.axes) == (direct.line, direct.axes)
            scale = float(direct.contribution.abs().max()) + 1e-6
            assert float((use.contribution - direct.contribution).abs().max()) <= 1e-4 * scale
            if direct.unreduced is not None:
                assert float((use.unreduced - direct.unreduced).abs().max()) <= 1e-4 * (float(direct.unreduced.abs().max()) + 1e-6)


def trial_pool_draws(checker, exercise, first) -> list:
    return checker.pool(exercise, first, tuple(exercise.rows)).draws
