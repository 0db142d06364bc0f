"""Turn learner runs into a CheckReport: chained verdicts on two batch sizes, isolated verdicts, diagnoses.

The Checker runs the learner's file; everything here is pure judging in the tutor process:
- chained: the file as written, on the checked context and on a second one with another seed and batch
  size; a tensor passes only when it passes on both (otherwise `batch-size`).
- isolated (only after a chained failure): the file re-run with every gradient swapped for the correct one
  after the line that finishes it (see isolate.py); tensors that pass there are inherited errors.
- diagnosis: for each failing tensor whose error is its own, the mistake that explains it, if any.
"""

from __future__ import annotations

from collections.abc import Callable

from tutor.course.model import Exercise
from tutor.engine.compare import TensorVerdict, compare
from tutor.engine.context import Context
from tutor.engine.diagnose import batch_size_diagnosis, diagnose
from tutor.engine.isolate import attribute_roots
from tutor.engine.report import CheckReport
from tutor.engine.sandbox import LearnerRun

# A chained failure of these kinds has a value that an isolated run can explain.
ISOLATABLE = ("wrong", "shape", "invalid")


def _verdicts(exercise: Exercise, ctx: Context, run: LearnerRun) -> list[TensorVerdict]:
    return [compare(step.name, step.of, ctx.reference[step.name], run.value(step.name), ctx.device) for step in exercise.steps]


def _on_both(first: list[TensorVerdict], second: list[TensorVerdict] | None, stopped: bool = False) -> list[bool]:
    """Per tensor: passes on the first context and (when there is a usable second run) on the second.

    With `stopped` (the second run raised), tensors the second run never reached say nothing about their
    own lines: the first of them (where it raised) fails, the rest are judged on the first context alone.
    """
    if second is None:
        return [t.passed for t in first]
    out, blamed = [], False
    for a, b in zip(first, second):
        unreached = stopped and b.status == "missing" and a.status != "missing"
        out.append(a.passed and (b.passed or (unreached and blamed)))
        blamed = blamed or unreached or not b.passed
    return out


def judge_chained(exercise: Exercise, contexts: list[Context], runs: list[LearnerRun]) -> list[TensorVerdict]:
    """Verdicts of the file as written; a pass on the first batch that fails on the second becomes `wrong`."""
    tensors = _verdicts(exercise, contexts[0], runs[0])
    if len(contexts) < 2 or not runs[1].complete:
        return tensors
    second = _verdicts(exercise, contexts[1], runs[1])
    a, b = contexts[0].scalars["n"], contexts[1].scalars["n"]
    for t, other in zip(tensors, second):
        if t.passed and not other.passed:
            t.status = "wrong"
            t.exact = t.close = False
            why = other.note or f"max abs diff {other.max_abs_diff:.2e}"
            t.note = f"matches at n={a} but not at n={b} ({other.status}: {why})"
            t.extra["batch_only"] = True
    return tensors


def needs_isolation(tensors: list[TensorVerdict], run: LearnerRun) -> bool:
    return run.complete and any(t.status in ISOLATABLE for t in tensors)


def judge_isolated(
    exercise: Exercise, contexts: list[Context], tensors: list[TensorVerdict], runs: list[LearnerRun]
) -> None:
    """Mark each chained failure isolated pass/fail and point inherited ones at their root."""
    first = _verdicts(exercise, contexts[0], runs[0])
    usable = len(contexts) > 1 and runs[1].complete
    second = _verdicts(exercise, contexts[1], runs[1]) if usable else None
    stopped = usable and runs[1].error is not None
    for t, ok, iso in zip(tensors, _on_both(first, second, stopped), first):
        if not t.passed:
            t.isolated = "pass" if ok else "fail"
            t.extra["batch_only"] = iso.passed and not ok
    attribute_roots(tensors)
    for t in tensors:
        if t.isolated == "pass" and t.inherits_from is None:
            # right when its own line ran and nothing upstream is wrong: something later changed it
            t.diagnosis = CHANGED_LATER


CHANGED_LATER = {
    "code": "changed-later",
    "message": "right when its line ran, but changed afterwards: a later in-place update (+=, x[...] = ...) "
    "went through another name that shares its memory; use .clone() when copying a gradient",
}


def add_diagnoses(
    exercise: Exercise,
    contexts: list[Context],
    tensors: list[TensorVerdict],
    chained: LearnerRun,
    isolated: LearnerRun | None,
) -> None:
    """A diagnosis for each failing tensor whose error is its own (root, or not isolated)."""
    for step, t in zip(exercise.steps, tensors):
        if t.passed or t.inherits_from or t.isolated == "pass" or t.status in ("missing", "invalid"):
            continue
        if t.extra.get("batch_only") and len(contexts) > 1:
            t.diagnosis = batch_size_diagnosis(contexts[0], contexts[1])
            continue
        # the learner's own value at the line that finished it, given correct upstream gradients
        value = (isolated or chained).value(step.name)
        t.diagnosis = diagnose(exercise, step, contexts[0], value.tensor)


def judge(
    exercise: Exercise,
    contexts: list[Context],
    runs: list[LearnerRun],
    filename: str,
    isolate: Callable[[], list[LearnerRun]] | None = None,
) -> CheckReport:
    """The report of `runs` (one per context); `isolate` runs the isolated form, called only on a failure."""
    tensors = judge_chained(exercise, contexts, runs)
    isolated = isolate() if isolate is not None and needs_isolation(tensors, runs[0]) else None
    if isolated is not None:
        judge_isolated(exercise, contexts, tensors, isolated)
    add_diagnoses(exercise, contexts, tensors, runs[0], isolated[0] if isolated and isolated[0].complete else None)
    run = runs[0]
    warnings = [
        f"your code changed {name} in place; the reference is unaffected, but gradients computed after that "
        "change used altered values"
        for name in run.modified
    ]
    if len(runs) > 1 and run.error is None and runs[1].error is not None and runs[1].complete:
        e = runs[1].error
        where = f" at line {e.line}" if e.line else ""
        warnings.append(f"at batch size n={contexts[1].scalars['n']} your code stopped{where}: {e.message}")
    return CheckReport(
        exercise=exercise.id,
        device=contexts[0].device,
        loss=contexts[0].loss,
        tensors=tensors,
        error=run.error,
        output=run.output,
        warnings=warnings,
        file=filename,
    )


__all__ = ["add_diagnoses", "judge", "judge_chained", "judge_isolated", "needs_isolation"]
