"""The rules a pack's text and structure must follow, checked without running anything: `course check` says
them first (one line each), before it runs the solutions, starters and mistakes. Each rule reads the pack's
own settings (pack.toml): its lecture, if any, the languages it must be complete in, the least why.

- every step's why says something (pack.min_why characters at least) and is not one of its hints again, and
  every supporting row has a why of that length too;
- a hint ladder has distinct rungs, and its last rung is Python that assigns the step's name;
- a pack that follows a lecture: every step has a why_at, every exercise a chapter_at, the chapters in the
  exercises' order, and every moment before the lecture's end (pack.lecture_length, when given);
- every text is there in each of the pack's languages (the pack's title and name for its first batch, each
  exercise's and step's texts, a training exercise's words for its calibration), and so is each starter's
  translation;
- a step's `line` (each part of it, "a  and  b") and its `of` name only what the model defines.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator

from tutor.course.model import Course, Exercise, Localized, Step

# What the code blocks and the learner read besides the model's own names.
TUTOR_NAMES = frozenset({"torch", "F", "n", "batch_size", "vocab_size"})


def seconds(stamp: str) -> int:
    h, m, s = (int(x) for x in stamp.split(":"))
    return h * 3600 + m * 60 + s


def _assigned(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def defined_names(exercise: Exercise) -> set[str]:
    """Every name the exercise's model code defines or the tutor gives it."""
    model = exercise.model
    return (_assigned(model.init) | _assigned(model.batch) | _assigned(model.forward) | set(model.parameters)
            | set(model.inputs) | {name for name, _ in model.sizes} | TUTOR_NAMES | set(dir(builtins)))


def _step_problems(exercise: Exercise, step: Step, min_why: int) -> Iterator[str]:
    where = f"step {step.name}"
    if len(step.why.strip()) < min_why:
        yield f"{where}: its why has {len(step.why.strip())} characters, fewer than {min_why}: say the insight behind the answer"
    if any(step.why.strip() == hint.strip() for hint in step.hints):
        yield f"{where}: its why is one of its hints again"
    rungs = [" ".join(h.split()).lower() for h in step.hints]
    if len(set(rungs)) != len(rungs):
        yield f"{where}: two rungs of its hint ladder say the same thing"
    if step.hints:
        try:
            last = ast.parse(step.hints[-1].strip())
        except SyntaxError:
            yield f"{where}: the last hint is not Python (it should be the answer line)"
        else:
            assigned = {n.id for n in ast.walk(last) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            if step.name not in assigned:
                yield f"{where}: the last hint does not assign {step.name} (it should be the answer line)"
    defined = defined_names(exercise)
    if step.of not in defined:
        yield f"{where}: of = {step.of!r} is no tensor of the model"
    for part in step.line.split("  and  "):
        try:
            used = {n.id for n in ast.walk(ast.parse(part.strip())) if isinstance(n, ast.Name)}
        except SyntaxError:
            yield f"{where}: its line {part.strip()!r} is not Python"
            continue
        if used - defined:
            yield f"{where}: its line names {', '.join(sorted(used - defined))}, which the model does not define"


def _lecture_problems(course: Course) -> Iterator[str]:
    end = seconds(course.pack.lecture_length) if course.pack.lecture_length else None
    previous = None
    for exercise in course.exercises:
        if not exercise.chapter_at:
            yield f"{exercise.id}: the pack follows a lecture, and chapter_at is missing"
            continue
        at = seconds(exercise.chapter_at)
        if previous is not None and at <= previous:
            yield f"{exercise.id}: chapter_at {exercise.chapter_at} is not after the chapter of the exercise before it"
        previous = at
        for step in exercise.steps:
            if not step.why_at:
                yield f"{exercise.id}: step {step.name}: the pack follows a lecture, and why_at is missing"
            elif end is not None and seconds(step.why_at) >= end:
                yield f"{exercise.id}: step {step.name}: why_at {step.why_at} is after the lecture's end ({course.pack.lecture_length})"
        if end is not None and at >= end:
            yield f"{exercise.id}: chapter_at {exercise.chapter_at} is after the lecture's end ({course.pack.lecture_length})"


def _untranslated(record: Localized, lang: str, where: str) -> Iterator[str]:
    """The record's texts that it gives in English and not in `lang`."""
    for key in record.TEXT_KEYS:
        if getattr(record, key) and record.translations.get(lang, key) is None:
            yield f"{where}{key}_{lang} is missing"


def _language_problems(course: Course, lang: str) -> Iterator[str]:
    pack = course.pack
    yield from _untranslated(pack, lang, "pack.toml: ")
    for exercise in course.exercises:
        yield from _untranslated(exercise, lang, f"{exercise.id}: ")
        if exercise.training:
            yield from _untranslated(exercise.training, lang, f"{exercise.id}: training.")
        if not exercise.starter_words(lang).is_file():
            yield f"{exercise.id}: the starter's {lang} words ({exercise.starter_words(lang)}) are missing"
        for step in exercise.rows:
            for key in ("hints", "why"):
                if getattr(step, key) and step.translations.get(lang, key) is None:
                    yield f"{exercise.id}: step {step.name}: {key}_{lang} is missing"
            for i, mistake in enumerate(step.mistakes):
                if mistake.translations.get(lang, "message") is None:
                    yield f"{exercise.id}: step {step.name}: mistake {i + 1}: message_{lang} is missing"


def pack_problems(course: Course) -> list[str]:
    """Every rule the pack breaks, one line each (empty: none)."""
    problems: list[str] = []
    for exercise in course.exercises:
        for step in exercise.steps:
            problems += [f"{exercise.id}: {p}" for p in _step_problems(exercise, step, course.pack.min_why)]
        for row in exercise.support:  # a supporting row shows its why once it passes, as a step does
            if len(row.why.strip()) < course.pack.min_why:
                problems.append(f"{exercise.id}: supporting row {row.name}: its why has {len(row.why.strip())} characters, "
                                f"fewer than {course.pack.min_why}: say the insight behind it")
    if course.pack.lecture:
        problems += list(_lecture_problems(course))
    for lang in course.pack.languages:
        problems += list(_language_problems(course, lang))
    return problems
