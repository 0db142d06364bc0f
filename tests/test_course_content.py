"""The course's teaching content checks itself: every hint ladder ends in code that computes the right
gradient, and every course-authored mistake is a wrong answer that the wrong code it names really produces."""

from __future__ import annotations

import dataclasses
import random
from functools import cache
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from tutor.course import load_course
from tutor.course.model import DATA_NAMES, Exercise, Step
from tutor.course.packs import installed_packs
from tutor.engine.compare import tolerance
from tutor.engine.context import Context, TrainingSplits, build_context, draw_second_spec
from tutor.engine.data import load_names
from tutor.engine.diagnose import explains

COURSE = load_course()
# Every installed pack's content is held to the same rules; an exercise of a pack besides the lecture's is
# named "PACK:ID" here (the lecture's by its id alone).
PACKS = {pack.id: load_course(pack.root) for pack in installed_packs()}
KEYS = [(e.id if course.root == COURSE.root else f"{course.id}:{e.id}", e) for course in PACKS.values() for e in course.exercises]
# The other packs' content runs in the slow tier (their course check there covers it too): the fast tier stays fast.
OTHER = pytest.mark.slow


def _param(*values):
    return pytest.param(*values, marks=OTHER) if ":" in values[0] else values


STEPS = [_param(key, s.name) for key, e in KEYS for s in e.steps]
MISTAKES = [_param(key, s.name, i) for key, e in KEYS for s in e.steps for i in range(len(s.mistakes))]


def _exercise(key: str) -> Exercise:
    pack, _, ident = key.rpartition(":")
    exercise = (PACKS[pack] if pack else COURSE).find(ident)
    assert exercise is not None, key
    return exercise
CONTEXTS = ("first", "second")
# Mistakes and answers must hold wherever the engine builds contexts; the CUDA runs skip without a GPU.
DEVICES = ("cpu", pytest.param("cuda", marks=pytest.mark.cuda))

# Gradients a learner computes on the way through a training step that the course does not check. The
# answer lines of that exercise may use them; here autograd provides them under their d-names.
UNCHECKED_UPSTREAM = {"training": ("logits", "hpreact", "hprebn")}

# A mistake must be far from the right answer, not merely outside the engine's tolerance.
MARGIN = 10.0


@cache
def _splits() -> TrainingSplits:
    return TrainingSplits(load_names())


def _with_unchecked_steps(exercise: Exercise) -> Exercise:
    """The exercise plus steps for its unchecked intermediates, so the context carries their gradients too."""
    extra = tuple(
        Step(name=f"d{of}", of=of, line="(test only)", hints=("-", "-", "-"))
        for of in UNCHECKED_UPSTREAM.get(exercise.id, ())
    )
    return dataclasses.replace(exercise, steps=exercise.steps + extra)


@cache
def _context(exercise_id: str, which: str, device: str = "cpu") -> Context:
    exercise = _exercise(exercise_id)
    splits = _splits() if exercise.model.data == DATA_NAMES else None  # the packs here use the names or no data
    # the second: a batch unlike the lecture's in every size, like the one each check draws
    SECOND = draw_second_spec(exercise, splits.dataset.vocab_size if splits else None, random.Random(7))
    spec = exercise.context if which == "first" else SECOND
    return build_context(_with_unchecked_steps(exercise), splits, device, spec)


def _base(ctx: Context) -> dict[str, Any]:
    ns: dict[str, Any] = {"torch": torch, "F": F, **ctx.scalars}
    ns.update({k: v.clone() for k, v in ctx.inputs.items()})
    return ns


def answer_namespace(exercise: Exercise, step: Step, ctx: Context) -> dict[str, Any]:
    """What the learner has when writing `step`: the forward pass, `given`, and every gradient before it."""
    ns = _base(ctx)
    earlier = [s.name for s in exercise.steps[: exercise.steps.index(step)]]
    unchecked = [f"d{of}" for of in UNCHECKED_UPSTREAM.get(exercise.id, ())]
    support = [row.name for row in exercise.support]  # a training exercise's answers read its supporting rows
    for name in (*earlier, *unchecked, *support):
        ns[name] = ctx.reference[name].clone()
    assert step.name not in ns
    return ns


def mistake_namespace(exercise: Exercise, ctx: Context) -> dict[str, Any]:
    """What a mistake's expr sees (the diagnosis contract): the forward pass, `given`, every row's right answer
    (exercise 4's supporting rows included)."""
    ns = _base(ctx)
    ns.update({s.name: ctx.reference[s.name].clone() for s in exercise.rows})
    return ns


def _lookup(exercise_id: str, step_name: str) -> tuple[Exercise, Step]:
    exercise = _exercise(exercise_id)
    step = exercise.step(step_name)
    assert step is not None and step.name == step_name
    return exercise, step


def _close(a: torch.Tensor, b: torch.Tensor, margin: float = 1.0) -> bool:
    rtol, atol = tolerance(b.device.type, b.dtype)
    if a.device != b.device:
        return False
    try:
        a, b = torch.broadcast_tensors(a.to(b.dtype), b)
    except RuntimeError:
        return False
    return torch.allclose(a, b, rtol=rtol * margin, atol=atol * margin)


@pytest.mark.parametrize("exercise_id, step_name", STEPS)
def test_hint_ladder_is_long_distinct_and_ends_in_code(exercise_id, step_name):
    exercise, step = _lookup(exercise_id, step_name)
    pack = next(course.pack for course in (*PACKS.values(), COURSE) if exercise in course.exercises)
    assert len(step.hints) >= pack.min_hints
    assert all(hint.strip() for hint in step.hints)
    normalised = [" ".join(hint.split()).lower() for hint in step.hints]
    assert len(set(normalised)) == len(normalised), "two hints say the same thing"
    for hint in step.hints[:-1]:
        assert len(hint) <= 400, f"hint too long for a one-glance read: {hint[:60]}..."
    compile(step.hints[-1], f"<{exercise_id}/{step_name} answer>", "exec")
    assert step.name in step.hints[-1]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("which", CONTEXTS)
@pytest.mark.parametrize("exercise_id, step_name", STEPS)
def test_answer_line_reproduces_the_reference(exercise_id, step_name, which, device):
    exercise, step = _lookup(exercise_id, step_name)
    ctx = _context(exercise_id, which, device)
    ns = answer_namespace(exercise, step, ctx)
    exec(compile(step.hints[-1], f"<{exercise_id}/{step_name} answer>", "exec"), ns)
    got, want = ns.get(step.name), ctx.reference[step.name]
    assert isinstance(got, torch.Tensor), f"the answer line does not assign {step.name}"
    assert got.shape == want.shape
    assert _close(got, want), f"max abs diff {(got - want).abs().max().item():.3g}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("which", CONTEXTS)
@pytest.mark.parametrize("exercise_id, step_name, index", MISTAKES)
def test_mistake_is_a_wrong_answer(exercise_id, step_name, index, which, device):
    exercise, step = _lookup(exercise_id, step_name)
    mistake = step.mistakes[index]
    assert mistake.message.strip()
    if mistake.local_only:
        pytest.skip("right on every batch by design: course check holds it to failing the local rule alone")
    ctx = _context(exercise_id, which, device)
    value = eval(
        compile(mistake.expr, f"<{exercise_id}/{step_name} mistake {index}>", "eval"), mistake_namespace(exercise, ctx)
    )
    want = ctx.reference[step.name]
    assert isinstance(value, torch.Tensor)
    assert torch.broadcast_shapes(value.shape, want.shape) == want.shape
    assert torch.isfinite(value).all()
    if _close(value, want, MARGIN):
        # A near miss (a dropped epsilon): it must still fail the check on the lecture's batch, where it is diagnosed.
        if device == "cuda":
            pytest.skip("a near miss is within the GPU's wider tolerance (docs/verdicts.md: Tolerances); the CPU runs catch it")
        first = _context(exercise_id, "first", device)
        near = eval(compile(mistake.expr, "<near miss>", "eval"), mistake_namespace(exercise, first))
        assert not _close(near, first.reference[step.name]), "this mistake equals the right answer"


# Wrong code a learner might write, run with correct upstream gradients, and the step whose course
# mistakes must recognise its result: each mistake expr is checked against the code it describes.
WRONG_CODE = [
    ("atomic", "dlogprobs", "dlogprobs = torch.zeros_like(logprobs)\ndlogprobs[range(n), Yb] = -1.0"),
    ("atomic", "dlogprobs", "dlogprobs = -torch.ones_like(logprobs) / n"),
    ("atomic", "dcounts", "dcounts = counts_sum_inv * dprobs"),
    ("atomic", "dh", "dh = dlogits @ W2.T\ndh = dh * (1 - h**2)"),
    ("atomic", "dhpreact", "dhpreact = (1.0 - torch.tanh(hpreact)**2) * dh\ndhpreact = (1.0 - hpreact**2) * dh"),
    ("atomic", "dbndiff2", "dbndiff2 = 1 / n * torch.ones_like(bndiff2) * dbnvar"),
    ("atomic", "dbndiff", "dbndiff = bnvar_inv * dbnraw\ndbndiff += bndiff * dbndiff2"),
    ("atomic", "dhprebn", "dhprebn = dbndiff.clone()\ndhprebn += torch.ones_like(hprebn) * dbnmeani"),
    ("atomic", "dC", "dC = torch.zeros_like(C)\ndC[Xb] += demb"),
    ("cross-entropy", "dlogits", "dlogits = F.softmax(logits, 1)\ndlogits[:, Yb] -= 1\ndlogits /= n"),
    ("cross-entropy", "dlogits", "dlogits = F.softmax(logits, 1)\ndlogits[range(n), Yb] -= 1"),
    (
        "batchnorm",
        "dhprebn",
        "dhprebn = bngain * bnvar_inv * (dhpreact - dhpreact.mean(0) - bnraw * (dhpreact * bnraw).mean(0))",
    ),
    ("training", "dW2", "dW2 = h.T @ (dlogits * n)"),
    (
        "training",
        "dW1",
        "dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - bnraw * (dhpreact * bnraw).sum(0))\n"
        "dW1 = embcat.T @ dhprebn",
    ),
    ("training", "dC", "demb = (dhprebn @ W1.T).view(emb.shape)\ndC = torch.zeros_like(C)\ndC[Xb] += demb"),
    (
        "training",
        "dbngain",
        "dhpreact = (1 - hpreact**2) * (dlogits @ W2.T)\ndbngain = (bnraw * dhpreact).sum(0, keepdim=True)",
    ),
    ("training", "dbnbias", "dhpreact = (1 - hpreact**2) * (dlogits @ W2.T)\ndbnbias = dhpreact.sum(0, keepdim=True)"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("which", CONTEXTS)
@pytest.mark.parametrize(
    "exercise_id, step_name, code", WRONG_CODE, ids=[f"{e}-{s}-{i}" for i, (e, s, _) in enumerate(WRONG_CODE)]
)
def test_course_mistake_recognises_the_wrong_code_it_describes(exercise_id, step_name, code, which, device):
    if device == "cuda" and "[Xb] +=" in code:
        # Which of several writes to one index wins is undefined on CUDA, for the learner's code and the
        # course's expression alike, so a match there is luck (seen on an H200: no match).
        pytest.skip("repeated-index assignment has no defined winner on CUDA")
    exercise, step = _lookup(exercise_id, step_name)
    ctx = _context(exercise_id, which, device)
    ns = answer_namespace(exercise, step, ctx)
    exec(compile(code, "<wrong code>", "exec"), ns)
    wrong = ns[step.name]
    assert not _close(wrong, ctx.reference[step.name]), "the test's wrong code is right"
    env = mistake_namespace(exercise, ctx)
    # matched as the checker matches them (a tolerance for another order of the same float operations)
    matches = [m.message for m in step.mistakes if explains(eval(m.expr, dict(env)).cpu(), wrong.cpu())]
    assert len(matches) == 1, f"{len(matches)} course mistakes match this wrong code"


def test_the_lecture_traps_have_course_mistakes():
    # The traps the lecture dwells on; each needs at least one course-authored diagnosis.
    traps = {
        "atomic": ("dlogprobs", "dcounts", "dhpreact", "dbndiff2", "dbndiff", "dhprebn", "dC"),
        "cross-entropy": ("dlogits",),
        "batchnorm": ("dhprebn",),
        "training": ("dC", "dW1", "dbngain"),
    }
    for exercise_id, names in traps.items():
        exercise = COURSE.find(exercise_id)
        for name in names:
            assert exercise.step(name).mistakes, f"{exercise_id}/{name} has no course mistakes"
