"""The class-wide map of mistakes: per exercise, how many submissions pass; per step, the share of the class
passing it and, for the submissions whose own line is wrong there, a bar per diagnosis (its code and the
course's words for it) with the students behind it; the most common "first to fix"; the files that stopped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tutor.course.model import Course
from tutor.grading.rows import PASSING, row_of
from tutor.messages import render_message


@dataclass
class Bar:
    """One diagnosis at one step: its code, its words, and the students whose submission carries it."""

    code: str
    words: str
    students: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class StepMap:
    name: str
    passing: int = 0
    graded: int = 0
    bars: list[Bar] = field(default_factory=list)
    inherited: int = 0  # wrong only because a gradient above it is

    @property
    def share(self) -> float:
        return self.passing / self.graded if self.graded else 0.0


@dataclass
class ExerciseMap:
    id: str
    title: str
    submissions: int = 0
    passed: int = 0
    steps: list[StepMap] = field(default_factory=list)
    first_to_fix: Counter = field(default_factory=Counter)
    stopped: list[Bar] = field(default_factory=list)  # files that did not run through: by error kind


@dataclass
class ClassMap:
    exercises: list[ExerciseMap]
    unmatched: list[tuple[str, str, str]]  # (student, file, why) for files graded as no exercise

    def exercise(self, exercise_id: str) -> ExerciseMap | None:
        return next((e for e in self.exercises if e.id == exercise_id), None)

    def to_json(self) -> dict[str, Any]:
        """The map as plain JSON (what `grade --json` prints beside its totals)."""

        def bars(items: list[Bar]) -> list[dict[str, Any]]:
            return [{"code": b.code, "words": b.words, "count": b.count, "students": b.students} for b in items]

        return {
            "exercises": [{
                "id": e.id, "submissions": e.submissions, "passed": e.passed,
                "first_to_fix": dict(e.first_to_fix.most_common()),
                "steps": [{"name": s.name, "passing": s.passing, "graded": s.graded, "inherited": s.inherited,
                           "bars": bars(s.bars)} for s in e.steps],
                "stopped": bars(e.stopped),
            } for e in self.exercises],
            "unmatched": [{"student": s, "file": f, "why": w} for s, f, w in self.unmatched],
        }


def words_of(row: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """(code, words) of a failing row's bar: its diagnosis, else what its status says."""
    diagnosis = row.get("diagnosis")
    if diagnosis:
        if diagnosis.get("message_code"):
            text = render_message({"code": diagnosis["message_code"], "params": diagnosis.get("params") or {}}, lang)
        else:
            text = diagnosis.get("message", "")
        return diagnosis["code"], text
    status = row["status"]
    return status, render_message({"code": f"cli-grade-status-{status}", "params": {}}, lang)


def _bar(bars: list[Bar], code: str, words: str, student: str) -> None:
    bar = next((b for b in bars if b.code == code and b.words == words), None)
    if bar is None:
        bar = Bar(code, words)
        bars.append(bar)
    bar.students.append(student)


def build(results: Iterable[Mapping[str, Any]], course: Course, lang: str = "en") -> ClassMap:
    maps = {e.id: ExerciseMap(e.id, e.text("title", lang), steps=[StepMap(s.name) for s in e.steps]) for e in course.exercises}
    unmatched = []
    for result in results:
        student = str(result.get("student", ""))
        exercise = maps.get(result.get("exercise") or "")
        if exercise is None:
            error = result.get("error") or {}
            unmatched.append((student, str(result.get("file") or ""), str(error.get("message", ""))))
            continue
        exercise.submissions += 1
        row = row_of(result, course)
        exercise.passed += bool(row["passed"])
        if row["first_to_fix"]:
            exercise.first_to_fix[row["first_to_fix"]] += 1
        error = result.get("error")
        if error:
            message = str(error.get("message") or "").strip().splitlines()
            _bar(exercise.stopped, str(error.get("kind")), message[-1][:160] if message else "", student)
        verdicts = {t["name"]: t for t in result.get("tensors") or ()}
        for step in exercise.steps:
            step.graded += 1
            verdict = verdicts.get(step.name)
            if verdict is None or (error and verdict["status"] not in PASSING):
                continue  # a file that stopped is counted once, by its error
            if verdict["status"] in PASSING:
                step.passing += 1
            elif verdict.get("inherits_from"):
                step.inherited += 1
            else:
                _bar(step.bars, *words_of(verdict, lang), student)
    for exercise in maps.values():
        for step in exercise.steps:
            step.bars.sort(key=lambda b: (-b.count, b.code))
        exercise.stopped.sort(key=lambda b: (-b.count, b.code))
    return ClassMap([m for m in maps.values() if m.submissions], unmatched)
