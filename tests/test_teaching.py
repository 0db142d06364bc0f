"""The teaching around the verdicts, read from the course's TOML: a `why` and a lecture timestamp for every
step, derivation ladders that add one idea per rung, and diagnoses that name the mistake without handing
over any answer line."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import torch

from tutor.course import CourseError, load_course
from tutor.course.load import load_exercise
from tutor.course.model import Exercise, Step
from tutor.engine.branches import tensor_uses
from tutor.engine.context import Context, TrainingSplits, build_context
from tutor.engine.data import load_names
from tutor.engine.diagnose import diagnose

COURSE = load_course()
STEPS = [(e, s) for e in COURSE.exercises for s in e.steps]
STEP_IDS = [f"{e.id}-{s.name}" for e, s in STEPS]
LECTURE_END = "1:54:24"  # the outro's chapter mark


def seconds(stamp: str) -> int:
    h, m, s = (int(x) for x in stamp.split(":"))
    return h * 3600 + m * 60 + s


# ---- why and timestamps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise, step", STEPS, ids=STEP_IDS)
def test_every_step_has_a_why_with_a_lecture_timestamp(exercise, step):
    assert len(step.why) >= 60, "a why is the lecture's insight in two or three sentences"
    assert step.why.count(".") <= 5
    assert 0 < seconds(step.why_at) < seconds(LECTURE_END)
    # the why is not one of the hints said again
    assert all(step.why.strip() != hint.strip() for hint in step.hints)


def test_every_exercise_has_its_chapter_in_lecture_order():
    stamps = [seconds(e.chapter_at) for e in COURSE.exercises]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(0 < s < seconds(LECTURE_END) for s in stamps)


def _course_copy(tmp_path: Path, old: str, new: str) -> Path:
    root = Path(COURSE.root)
    (tmp_path / "exercises").mkdir()
    (tmp_path / "solutions").mkdir()
    source = (root / "exercises" / "cross_entropy.toml").read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "exercises" / "cross_entropy.toml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    for folder in ("exercises", "solutions"):
        (tmp_path / folder / "cross_entropy.py").write_text((root / folder / "cross_entropy.py").read_text())
    for name in ("model.toml", "pack.toml"):  # the pack names its shared model file
        (tmp_path / "exercises" / name).write_text((root / "exercises" / name).read_text())
    return path


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("why = ", "whyy = ", "steps[0].why"),
        ('why_at = "1:33:59"', 'why_at = "93:59"', "steps[0].why_at"),
        ('chapter_at = "1:26:31"', "", "chapter_at"),
    ],
)
def test_a_step_without_its_why_is_a_course_error(tmp_path, old, new, key):
    path = _course_copy(tmp_path, old, new)
    with pytest.raises(CourseError) as error:
        load_exercise(path, tmp_path)
    assert error.value.key == key


# ---- hint ladders ------------------------------------------------------------------------------------------------


def answer_lines(step: Step) -> list[str]:
    return [line.strip() for line in step.hints[-1].strip().splitlines() if line.strip()]


def answer_fragments(step: Step) -> list[str]:
    """The answer's lines and the right-hand side of each (the code a message must not print)."""
    out = []
    for line in answer_lines(step):
        out.append(line)
        rhs = re.split(r"(?<![=!<>])(?:\+|-|\*|/)?=(?!=)", line, maxsplit=1)
        if len(rhs) == 2 and len(rhs[1].strip()) >= 12:
            out.append(rhs[1].strip())
    return out


@pytest.mark.parametrize("exercise, step", STEPS, ids=STEP_IDS)
def test_no_rung_before_the_last_gives_the_answer_line(exercise, step):
    for hint in step.hints[:-1]:
        for line in answer_lines(step):
            assert line not in hint, f"a rung before the answer prints {line!r}"
    # the rungs before the near-code one speak in ideas and shapes, not in the answer's expressions
    for hint in step.hints[:-2]:
        for fragment in answer_fragments(step):
            assert fragment not in hint, f"an early rung prints {fragment!r}"


@pytest.mark.parametrize("exercise_id", ["cross-entropy", "batchnorm"])
def test_fused_exercises_have_a_derivation_ladder(exercise_id):
    (step,) = COURSE.find(exercise_id).steps
    assert 5 <= len(step.hints) <= 6
    # the first rung starts the derivation on paper, it does not state the result
    assert "softmax(logits, 1)" not in step.hints[0] and "bnvar_inv / n" not in step.hints[0]
    # only the near-code rung and the answer speak in the tensors' code names
    assert all("dhpreact.sum" not in h and "F.softmax" not in h for h in step.hints[:-2])


def test_cross_entropy_ladder_derives_in_the_lectures_order():
    (step,) = COURSE.find("cross-entropy").steps
    order = ["log(sum_j e**l_j)", "i = y", "softmax probability", "1/n", "[range(n), Yb]"]
    assert [next(i for i, h in enumerate(step.hints) if words in h) for words in order] == [0, 1, 2, 3, 4]


def test_cross_entropy_says_training_pulls_the_target_logit_up():
    (step,) = COURSE.find("cross-entropy").steps
    text = " ".join(step.hints) + step.why
    assert "pulled up" in text and "pushed down" in text
    assert "pulled down as much" not in text


def test_batchnorm_ladder_goes_x_hat_then_variance_then_mean_then_x():
    (step,) = COURSE.find("batchnorm").steps
    firsts = [h.split(".")[0] for h in step.hints[:4]]
    assert "dL/dx_hat_i" in step.hints[0] and "columns never mix" in step.hints[0]
    assert "variance" in firsts[1] and "mean" in firsts[2] and "x_i" in firsts[3]
    assert "is 0 because mu is the batch mean" in step.hints[2]
    assert "three contributions" in step.hints[3]


def _forward_names(exercise: Exercise) -> set[str]:
    tree = ast.parse(exercise.model.forward)
    names = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return names | set(exercise.model.parameters) | {"torch", "F", "n", "Xb", "Yb", "range"}


@pytest.mark.parametrize("exercise, step", STEPS, ids=STEP_IDS)
def test_forward_line_uses_only_defined_tensors(exercise, step):
    defined = _forward_names(exercise)
    used = {n.id for n in ast.walk(ast.parse(step.line)) if isinstance(n, ast.Name)}  # one line: `a = ...; b = ...`
    assert used <= defined, f"{step.line!r} names {used - defined}, which this exercise does not define"


# ---- diagnoses never hand over the answer ------------------------------------------------------------------------


@cache
def _context(exercise_id: str) -> Context:
    exercise = COURSE.find(exercise_id)
    return build_context(exercise, TrainingSplits(load_names()), "cpu", exercise.context)


def _course_values(exercise: Exercise, step: Step, ctx: Context):
    import torch.nn.functional as F

    for mistake in step.mistakes:
        ns = {"torch": torch, "F": F, **ctx.scalars, **{k: v.clone() for k, v in ctx.inputs.items()}}
        ns.update({k: v.clone() for k, v in ctx.reference.items()})
        yield f"course mistake {mistake.expr[:40]!r}", eval(mistake.expr, ns)  # noqa: S307 - course data


def _generic_values(exercise: Exercise, step: Step, ctx: Context):
    """A wrong tensor for every generic diagnosis that applies to this step."""
    right = ctx.reference[step.name].clone()
    n = ctx.scalars["n"]
    yield "sign", -right
    for k in (n, 1 / n, n / (n - 1), 2.0, 0.5, 3.0):
        yield f"scale {k:.3g}", right * k
    if right.dim() == 2:
        yield "transpose", right.T.contiguous()
    if right.dim() >= 1 and right.shape[-1] > 1:
        yield "keepdim", right.reshape(-1) if right.dim() == 2 and 1 in right.shape else right
    for use in tensor_uses(exercise, ctx).get(step.of, []):
        if use.unreduced is not None:
            yield f"reduce {use.line}", use.unreduced
        if use.contribution is not None:
            yield f"branch {use.line}", use.contribution


def _forbidden_code(exercise: Exercise) -> list[str]:
    return [fragment for step in exercise.steps for fragment in answer_fragments(step)]


@pytest.mark.parametrize("exercise", COURSE.exercises, ids=[e.id for e in COURSE.exercises])
def test_no_diagnosis_message_contains_answer_code(exercise):
    ctx = _context(exercise.id)
    forbidden = _forbidden_code(exercise)
    seen = 0
    for step in exercise.steps:
        for what, value in [*_course_values(exercise, step, ctx), *_generic_values(exercise, step, ctx)]:
            found = diagnose(exercise, step, ctx, value)
            if found is None:
                continue
            seen += 1
            for fragment in forbidden:
                assert fragment not in found["message"], f"{step.name}, {what}: the message prints {fragment!r}"
    assert seen >= len(exercise.steps), "the diagnoses under test hardly ever fired"


def test_course_mistake_and_generic_code_say_it_once():
    # dbnmeani with the mean's 1/n applied here: the generic `scale` and the course's words both match
    exercise = COURSE.find("atomic")
    step = exercise.step("dbnmeani")
    ctx = _context("atomic")
    found = diagnose(exercise, step, ctx, ctx.reference["dbnmeani"] / ctx.scalars["n"])
    assert found["code"] == "scale"
    assert found["message"] == step.mistakes[0].message  # the course's words alone, no second opinion


@pytest.mark.parametrize(
    "exercise_id, step_name, wrong, words",
    [
        ("atomic", "dbnvar", lambda ns: (-0.5 * ns["bnvar"] ** -1.5) * ns["dbnvar_inv"], "epsilon is missing"),
        ("cross-entropy", "dlogits",
         lambda ns: (torch.log_softmax(ns["logits"], 1) - torch.nn.functional.one_hot(ns["Yb"], 27)) / ns["n"],
         "log-probabilities"),
        ("batchnorm", "dhprebn",
         lambda ns: ns["bngain"] * ns["bnvar_inv"] / ns["n"] * (
             ns["n"] * ns["dhpreact"] - ns["dhpreact"].sum(1, keepdim=True)
             - ns["n"] / (ns["n"] - 1) * ns["bnraw"] * (ns["dhpreact"] * ns["bnraw"]).sum(1, keepdim=True)),
         "belong on dim 0"),
    ],
)
def test_lecture_traps_are_named(exercise_id, step_name, wrong, words):
    exercise = COURSE.find(exercise_id)
    step = exercise.step(step_name)
    ctx = _context(exercise_id)
    ns = {**ctx.scalars, **ctx.inputs, **ctx.reference}
    found = diagnose(exercise, step, ctx, wrong(ns))
    assert found is not None and words in found["message"], found
