"""Turn learner runs into a CheckReport: three runs per check, one verdict per row, roots and diagnoses.

The Checker runs the learner's file three times in one sandboxed child; everything here is pure judging
in the tutor process:
- the lecture's batch: the file as written, against autograd (the numbers the learner sees);
- a second batch drawn for this check (another seed and every size different): a hard-coded size fails;
- the local-rule run (local.py): each gradient's own line, with random gradients injected from above.
A row passes only when it passes all three. A root is a failing row whose own line is wrong: it fails the
local rule, or it fails only on the second batch with no failing row between it and the loss (a size written
as a number), or a run stopped at it. Every other failing row inherits its failure from the nearest root
between it and the loss (else the nearest failing row there). Roots get the likely mistake (diagnose.py),
computed from the local-rule run where the learner's line read known values, or from the second batch.
Notes and diagnoses are messages (tutor.messages): codes and parameters, put into words where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tutor.course.model import Exercise, Step
from tutor.engine.branches import trace
from tutor.engine.compare import compare_all
from tutor.engine.context import Context
from tutor.engine.diagnose import Diagnosis, batch_sizes, diagnose, explains, size_diagnosis
from tutor.engine.local import LocalTrial
from tutor.messages import Message, message
from tutor.reports.check import NOT_RUN, CheckReport, TensorVerdict
from tutor.sandbox.results import LearnerRun

# A run that ended this way verified nothing after the point where it stopped.
VERIFIES = (None, "exception")
# Below this, a true gradient is ~0 (float noise of a quantity that is zero in exact arithmetic).
NEAR_ZERO = 1e-6


@dataclass
class RunView:
    """One run and how to name it in a note."""

    run: LearnerRun
    label: Message

    def unverified(self, name: str, reached: bool) -> Message | None:
        """Why this run says nothing about `name` (None when it does)."""
        error = self.run.error
        if self.run.skipped:
            return message("run-skipped", run=self.label, kind=_kind_words(error.kind if error else "stopped"))
        if error is not None and error.kind not in VERIFIES:
            return message("run-stopped", run=self.label, kind=_kind_words(error.kind), error=error.message)
        if error is not None and not reached:
            if error.line:
                return message("run-stopped-at-line-before", run=self.label, line=error.line, error=error.message)
            return message("run-stopped-before", run=self.label, error=error.message)
        return None


# In the local-rule run each value is a sum of products with random gradients: float noise scales with the
# largest terms, not with the (sometimes cancelling) result, so atol scales with the largest entry.
LOCAL_ATOL = 1e-6


def run_verdicts(
    rows: tuple[Step, ...], expected: dict[str, torch.Tensor], run: LearnerRun, device: str, atol_relative: float = 0.0
) -> list[TensorVerdict]:
    """Each row of one run against its expected values (a fresh list: judge() adds to them)."""
    names = [(row.name, row.of) for row in rows]
    wanted = [expected[row.name].detach().cpu() for row in rows]
    return compare_all(names, wanted, [run.value(row.name) for row in rows], device, atol_relative)


def verdicts_at(
    index: int, run: LearnerRun, rows: tuple[Step, ...], contexts: list[Context], trial: LocalTrial | None
) -> list[TensorVerdict] | None:
    """The verdicts of run `index` of a check: against its context's reference (the lecture's batch, then the
    others), then the local rule's expected values (None for a run beyond those)."""
    if index < len(contexts):
        return run_verdicts(rows, contexts[index].reference, run, contexts[index].device)
    if index == len(contexts) and trial is not None:
        return run_verdicts(rows, trial.expected, run, contexts[0].device, LOCAL_ATOL)
    return None


def nearest_failing(name: str, upstream: dict[str, tuple[str, ...]], failing: set[str], roots: set[str]) -> str | None:
    """The gradient to fix first for `name`: the nearest root (a failing row whose own line is wrong) on a
    path from it toward the loss, else the nearest failing row there."""
    nearest: str | None = None
    frontier, seen = list(upstream.get(name, ())), {name}
    while frontier:
        hit = next((n for n in frontier if n in roots and n in failing), None)
        if hit is not None:
            return hit
        nearest = nearest or next((n for n in frontier if n in failing), None)
        seen.update(frontier)
        frontier = list(dict.fromkeys(u for n in frontier for u in upstream.get(n, ()) if u not in seen))
    return nearest


def _fail(t: TensorVerdict, note: Message) -> None:
    if t.passed:
        t.status = "wrong"
    t.exact = t.close = False
    t.notes.append(note)


def _reads_copy(exercise: Exercise, row: Step, trial: LocalTrial, local: LearnerRun, mine: torch.Tensor) -> bool:
    """The line gave what its rule gives from the learner's own upstream values, not from the gradients
    rebound under those names: it read a private copy (x = dlogits; ...; dh = x @ W2.T)."""
    ups = [name for name in trial.upstream.get(row.name, ()) if name in trial.inject]
    if not ups:
        return False
    owners = {name: tensor for tensor, name in trial.owners.items()}
    inject = dict(trial.context.derived["trace"]["inject"])
    for name in ups:
        own = local.value(name).tensor
        if own is None or tuple(own.shape) != tuple(inject[owners[name]].shape):
            return False
        inject[owners[name]] = own.to(device=inject[owners[name]].device, dtype=inject[owners[name]].dtype)
    copy = trace(exercise, trial.context, trial.context.derived["trace"]["cuts"], inject).grads.get(row.of)
    expected = trial.expected[row.name]
    return copy is not None and explains(copy.cpu(), mine.cpu()) and not explains(copy.cpu(), expected.cpu())


def _local_only(row: Step, found: Diagnosis | None) -> bool:
    """The diagnosis is a mistake the course marks as caught by the local rule alone: its own words say it all."""
    if found is None or found.message.get("code") != "course":
        return False
    text = found.message.get("params", {}).get("text")
    return any(mistake.local_only and mistake.message == text for mistake in row.mistakes)


def _local_words(exercise: Exercise, row: Step, trial: LocalTrial, ctx: Context, local: LearnerRun, t: TensorVerdict) -> Diagnosis | None:
    """Why a line fails its local rule, in words: a private copy, a ~0 gradient, or the mistake itself."""
    mine = local.value(row.name).tensor
    if mine is None:
        return None
    expected, truth = trial.expected[row.name], ctx.reference[row.name]
    found = diagnose(exercise, row, trial.context, mine)
    if found is None and _reads_copy(exercise, row, trial, local, mine):
        names = ", ".join(n for n in trial.upstream[row.name] if n in trial.inject)
        found = Diagnosis("reads-copy", message("reads-copy", name=row.name, names=names))
    if not t.extra.get("lecture_passed") or (found and found.code == "reads-copy") or _local_only(row, found):
        return found
    # right on the lecture's batch, wrong under the local rule: what it leaves out is ~0 there
    why = "lecture-only-true-zero" if float(truth.abs().max()) < NEAR_ZERO else "lecture-only-left-out"
    same = mine.numel() == expected.numel()
    diff = float((mine.to(expected.dtype).reshape(expected.shape).cpu() - expected.cpu()).abs().max()) if same else None
    gives = found.message if found else (message("values-off", diff=diff) if diff is not None else message("another-shape"))
    return Diagnosis(found.code if found else "local-rule", message(why, gives=gives, first=ctx.first_name))


def judge(
    exercise: Exercise,
    rows: tuple[Step, ...],
    contexts: list[Context],
    runs: list[LearnerRun],
    filename: str,
    trial: LocalTrial | None = None,
    local: LearnerRun | None = None,
    chain_used: tuple[str, ...] = (),
    early: dict[int, tuple[LearnerRun, list[TensorVerdict]]] | None = None,
) -> CheckReport:
    """The report of `runs` (one per context, the lecture's batch first) and the local-rule run. `early`: the
    verdicts of runs judged as they came (by index, with the run they are of: see verdicts_at)."""
    early = early or {}

    def verdicts_of(index: int, run: LearnerRun) -> list[TensorVerdict]:
        done = early.get(index)
        found = done[1] if done is not None and done[0] is run else verdicts_at(index, run, rows, contexts, trial)
        assert found is not None, "a check's runs are its contexts' and the local rule's"
        return found

    first_ctx, first = contexts[0], runs[0]
    tensors = verdicts_of(0, first)
    if first.error is not None and first.error.kind in NOT_RUN:
        # not one line ran: no row is judged, each says it was not rechecked (its last verdict is the caller's)
        for row, t in zip(rows, tensors):
            t.support, t.notes, t.rechecked = row.support, [], False
        return CheckReport(exercise.id, first_ctx.device, first_ctx.loss, tensors, first.error, first.output,
                           file=filename)
    others = [
        (ctx, RunView(run, message("second-batch-run", sizes=batch_sizes(ctx)))) for ctx, run in zip(contexts[1:], runs[1:])
    ]
    second_verdicts = [verdicts_of(i, view.run) for i, (ctx, view) in enumerate(others, 1)]
    local_view = RunView(local, message("local-rule-run")) if local is not None else None
    local_verdicts = verdicts_of(len(contexts), local) if trial and local else None

    own_fail: set[str] = set()  # rows whose own line is wrong (roots)
    size_only: set[str] = set()
    unverified: list[tuple[str, RunView]] = []  # rows a run stopped before verifying
    for i, (row, t) in enumerate(zip(rows, tensors)):
        t.support = row.support
        t.upstream = trial.upstream.get(row.name, ()) if trial else ()
        if t.status == "missing":
            continue
        reached = t.status != "missing"
        for (ctx, view), verdicts in zip(others, second_verdicts):
            other = verdicts[i]
            why = view.unverified(row.name, other.status != "missing") if reached else None
            if why:
                t.second = "fail"
                _fail(t, why)
                unverified.append((row.name, view))
            elif not other.passed:
                t.second = "fail"
                if t.passed:
                    size_only.add(row.name)
                    t.extra["second_only"] = True  # its heatmap is drawn on that batch (grids.row_grids)
                    detail = list(other.notes) or message("max-abs-diff", diff=other.max_abs_diff)
                    _fail(t, message("second-batch-fails", first=first_ctx.first_name, sizes=batch_sizes(ctx), status=_status_words(other.status), detail=detail))
            elif t.second is None:
                t.second = "pass"
        if local_view is None or local_verdicts is None:
            continue
        why = local_view.unverified(row.name, local_verdicts[i].status != "missing")
        if why:
            _fail(t, why)
            unverified.append((row.name, local_view))
            continue
        t.local = "pass" if local_verdicts[i].passed else "fail"
        if t.local == "fail":
            own_fail.add(row.name)
            if t.passed:
                t.extra["lecture_passed"] = True
                _fail(t, message("fails-local-rule", first=first_ctx.first_name))

    failing = {t.name for t in tensors if not t.passed}
    upstream = trial.upstream if trial else {}
    # where a run stopped, the first row it left unverified with nothing failing upstream is the root
    by_name = {t.name: t for t in tensors}
    stop_root: str | None = None
    for name, view in unverified:
        if name not in own_fail and nearest_failing(name, upstream, failing, own_fail) is None:
            own_fail.add(name)
            error = view.run.error
            by_name[name].extra["stopped_here"] = error.message if error else "stopped"
            # a size is to blame only when a second batch itself ran and stopped, not when it never ran because
            # the lecture's batch had already stopped (an endless loop stops every batch)
            by_name[name].extra["second_stopped"] = view is not local_view and not view.run.skipped
            if view is not local_view and error is not None and error.kind == "exception" and not view.run.skipped:
                by_name[name].local = "fail"  # its code raises on another batch: the line itself is wrong
            stop_root = name
            break
    # Right on the lecture's batch, wrong on a second one where nothing above it is wrong: its own line is
    # wrong (a size written as a number), found by the second batch: a root like one the local rule finds.
    for name in size_only:
        if name not in own_fail and nearest_failing(name, upstream, failing, own_fail) is None:
            own_fail.add(name)
            by_name[name].local = "fail"  # the own-line verdict: wrong, whichever run found it
            by_name[name].extra["size_root"] = True
    for row, t in zip(rows, tensors):
        if t.passed:
            continue
        if row.name in own_fail:
            if t.extra.get("size_root") and len(contexts) > 1:
                t.diagnosis = size_diagnosis(first_ctx, contexts[1])
            elif t.extra.get("second_stopped") and len(contexts) > 1:  # (never a row the local-rule run failed)
                t.diagnosis = size_diagnosis(first_ctx, contexts[1], t.extra["stopped_here"])
            elif t.local == "fail" and trial is not None and local is not None:
                t.diagnosis = _local_words(exercise, row, trial, first_ctx, local, t)
            continue
        if t.status in ("missing",):
            continue
        root = nearest_failing(row.name, upstream, failing, own_fail)
        if root is None and stop_root is not None and any(row.name == name for name, _ in unverified):
            root = stop_root  # a run stopped at that row's line before it reached this one
        if root is not None:
            t.inherits_from = root
        elif t.local == "pass":
            # right at its line under the local rule, wrong on the lecture's batch: a near miss (a dropped
            # epsilon) can hide under the local rule's tolerance, so a mistake that explains the lecture's
            # value is named first; otherwise the value changed after its line
            mine = first.value(row.name).tensor
            found = diagnose(exercise, row, first_ctx, mine) if mine is not None else None
            if found is not None:  # the mistake is the line's own: its own-line verdict says so, and it is a root
                t.local = "fail"
                own_fail.add(row.name)
            t.diagnosis = found or CHANGED_LATER

    # Right by value, but computed from a gradient that is wrong: it matches only because what the wrong input
    # changes cancels here (db1 from a wrong dhprebn: BatchNorm makes it ~0 either way). A gradient that was
    # right when read and only changed afterwards (changed-later) is no wrong input.
    wrong_inputs = {t.name for t in tensors if not t.passed and (t.diagnosis is None or t.diagnosis.code != "changed-later")}
    for row, t in zip(rows, tensors):
        if t.passed and wrong_inputs:
            root = nearest_failing(row.name, upstream, wrong_inputs, own_fail)
            if root is not None:
                _fail(t, message("right-by-chance", root=root))
                t.inherits_from = root

    if chain_used:
        for t in tensors:
            if t.passed:
                names = ", ".join(chain_used)
                _fail(t, message("reached-through-chain", names=names))
                words = (
                    message("course", text=exercise.chain_message, text_zh=exercise.text("chain_message", "zh"))
                    if exercise.chain_message else message("chain", names=names)
                )
                t.diagnosis = Diagnosis("chain", words)

    warnings: list[str | Message] = [message("changed-in-place", name=name) for name in first.modified]
    for ctx, view in others:
        e = view.run.error
        if first.error is None and e is not None and e.kind == "exception":
            where = message("at-line", line=e.line) if e.line else ""
            warnings.append(message("second-batch-stopped", sizes=batch_sizes(ctx), where=where, error=e.message))
    return CheckReport(
        exercise=exercise.id,
        device=first_ctx.device,
        loss=first_ctx.loss,
        tensors=tensors,
        error=first.error,
        output=first.output,
        warnings=warnings,
        file=filename,
    )


CHANGED_LATER = Diagnosis("changed-later", message("changed-later"))


__all__ = ["judge", "nearest_failing"]


def _status_words(status: str) -> Message:
    """A failing row's status on the second batch in words: a shape of its own, or wrong (values, NaN, none)."""
    return message("row-shape" if status == "shape" else "row-wrong")


def _kind_words(kind: str) -> Message:
    """What ended a run (a LearnerError's kind, or "stopped"), in words."""
    return message(
        "kind-syntax" if kind == "syntax" else "kind-timeout" if kind == "timeout" else "kind-crash" if kind == "crash"
        else "kind-memory" if kind == "memory" else "kind-output" if kind == "output"
        else "kind-forbidden" if kind == "forbidden" else "kind-stopped" if kind == "stopped" else "kind-exception"
    )
