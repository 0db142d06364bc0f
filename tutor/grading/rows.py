"""A graded file as a row of the class: what grades.csv shows of a `check --json` object (passed, how many
gradients pass, the one to fix first and its diagnosis, each step's status), and the two files that keep the
rows: grades.csv and results.jsonl."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tutor.course.model import Course

FIRST_COLUMNS = ("student", "exercise", "passed", "gradients_passed", "gradients_total", "first_to_fix", "diagnosis")
PASSING = ("exact", "close")


def first_to_fix(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The row to fix first, as CheckReport.first_failure picks it: the first failing row whose own line is at
    fault, else the first failing row; none of a file that did not run (its rows were not rechecked)."""
    failing = [t for t in result.get("tensors") or () if t["status"] not in PASSING and t.get("rechecked", True)]
    return next((t for t in failing if not t.get("inherits_from")), failing[0] if failing else None)


def diagnosis_of(result: Mapping[str, Any]) -> str:
    """One word for what is wrong: the error's kind when the file stopped, else the first row to fix's
    diagnosis code (its status when it has none), else nothing (it passes)."""
    if result.get("error"):
        return str(result["error"].get("kind") or "error")
    row = first_to_fix(result)
    if row is None:
        return ""
    return row["diagnosis"]["code"] if row.get("diagnosis") else row["status"]


def row_of(result: Mapping[str, Any], course: Course) -> dict[str, Any]:
    """The CSV row of one graded file (its step columns: each step's status)."""
    exercise = course.find(result.get("exercise") or "")
    steps = [s.name for s in exercise.steps] if exercise else []
    status = {t["name"]: t["status"] for t in result.get("tensors") or () if not t.get("support")}
    fix = first_to_fix(result)
    return {
        "student": result.get("student", ""),
        "exercise": result.get("exercise") or "",
        "passed": bool(result.get("passed")),
        "gradients_passed": sum(1 for name in steps if status.get(name) in PASSING),
        "gradients_total": len(steps),
        "first_to_fix": fix["name"] if fix else "",
        "diagnosis": diagnosis_of(result),
        **{name: status.get(name, "") for name in steps},
    }


def step_columns(course: Course) -> list[str]:
    """Every step's name once, in the course's order (a name two exercises share is one column)."""
    seen: dict[str, None] = {}
    for exercise in course.exercises:
        for step in exercise.steps:
            seen.setdefault(step.name, None)
    return list(seen)


def write_csv(path: Path, results: Iterable[Mapping[str, Any]], course: Course) -> None:
    columns = [*FIRST_COLUMNS, *step_columns(course), "file", "reason"]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", restval="")
        writer.writeheader()
        for result in results:
            row = row_of(result, course)
            row["passed"] = "yes" if row["passed"] else "no"
            error = result.get("error") or {}
            row["file"] = result.get("file") or ""
            row["reason"] = error.get("message", "").strip().splitlines()[-1][:300] if error.get("message") else ""
            writer.writerow(row)
    tmp.replace(path)


def write_jsonl(path: Path, results: Iterable[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps(result, ensure_ascii=False) + "\n")
    tmp.replace(path)


def ordered(results: Iterable[Mapping[str, Any]], course: Course) -> list[Mapping[str, Any]]:
    """By student, then the course's exercise order, then file."""
    order = {e.id: e.order for e in course.exercises}
    return sorted(results, key=lambda r: (str(r.get("student", "")).lower(), order.get(r.get("exercise") or "", 99), r.get("file") or ""))
