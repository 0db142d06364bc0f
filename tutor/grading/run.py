"""A class graded from PATH to --out: read the files, make the tasks, take what the cache already holds, judge
the rest on warm checkers (worker processes, or one Checker of the caller's), keep each result as it comes,
then write grades.csv, results.jsonl and report.html. Ctrl-C writes what is done and raises on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.course.model import Course, Exercise
from tutor.grading import archive, report_html, rows
from tutor.grading.cache import ResultCache, key_of
from tutor.grading.classmap import ClassMap, build
from tutor.grading.pool import Pool, Settings
from tutor.grading.submissions import Task, tasks_of


@dataclass
class Progress:
    """What the progress bar shows: done of total, passes so far, seconds since the first judged file."""

    total: int
    done: int = 0
    passed: int = 0
    cached: int = 0
    started: float = field(default_factory=time.monotonic)
    first: float | None = None  # when the first file was judged: the workers' start-up is behind it

    @property
    def eta_s(self) -> float | None:
        judged = self.done - self.cached - 1
        left = self.total - self.done
        if self.first is None or judged <= 0:
            return None
        return (time.monotonic() - self.first) / judged * left


@dataclass
class Graded:
    results: list[dict[str, Any]]
    classmap: ClassMap
    warnings: list[str]
    judged: int  # how many were judged now (the rest came from the cache)
    seconds: float
    interrupted: bool = False


def plan(path: Path, course: Course, forced: Exercise | None = None) -> tuple[list[Task], list[str]]:
    """The tasks of the folder or zip at `path`, and warnings about it (raises archive.ArchiveError)."""
    files, warnings = archive.read_path(path)
    return tasks_of(files, course, forced, unwrap=not path.is_dir()), warnings


def grade(
    path: Path,
    course: Course,
    settings: Settings,
    out: Path,
    *,
    jobs: int = 1,
    forced: Exercise | None = None,
    checker=None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Graded:
    """Grade PATH into `out`. With `checker`, judge in this process on it; else in `jobs` worker processes."""
    started = time.monotonic()
    tasks, warnings = plan(path, course, forced)
    out.mkdir(parents=True, exist_ok=True)
    cache = ResultCache(out)
    tag = settings.tag()
    keys = [key_of(task, tag) for task in tasks]
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    progress = Progress(len(tasks))
    todo: list[tuple[int, Task]] = []
    for index, (task, key) in enumerate(zip(tasks, keys)):
        kept = cache.get(key)
        if kept is None:
            todo.append((index, task))
        else:
            results[index] = kept
            progress.done += 1
            progress.cached += 1
            progress.passed += bool(kept.get("passed"))
    progress.started = time.monotonic()

    def on_result(index: int, result: dict[str, Any]) -> None:
        task = tasks[index]
        result = {"student": task.student, **result, "exercise": task.exercise or result.get("exercise", ""),
                  "file": task.file}
        if task.late:
            result["late"] = True
        results[index] = result
        cache.put(keys[index], result)
        progress.done += 1
        progress.passed += bool(result.get("passed"))
        if progress.first is None:
            progress.first = time.monotonic()
        if on_progress:
            on_progress(progress)

    if on_progress:
        on_progress(progress)
    interrupted = False
    try:
        if checker is not None:
            from tutor.grading.judge import judge_task

            for index, task in todo:
                on_result(index, judge_task(checker, course, task, settings.lang, settings.train_steps))
        elif todo:
            Pool(settings, jobs).run(todo, on_result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        cache.flush()
    done = rows.ordered([r for r in results if r is not None], course)
    classmap = write_outputs(out, done, course, settings.lang)
    graded = Graded(done, classmap, warnings, progress.done - progress.cached, time.monotonic() - started, interrupted)
    if interrupted:
        raise Interrupted(graded)
    return graded


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during grading: what was done is written; `graded` holds it."""

    def __init__(self, graded: Graded) -> None:
        super().__init__()
        self.graded = graded


def write_outputs(out: Path, results: list[dict[str, Any]], course: Course, lang: str = "en") -> ClassMap:
    out.mkdir(parents=True, exist_ok=True)
    rows.write_csv(out / "grades.csv", results, course)
    rows.write_jsonl(out / "results.jsonl", results)
    classmap = build(results, course, lang)
    tmp = out / "report.html.tmp"
    tmp.write_text(report_html.page(classmap, lang), encoding="utf-8")
    tmp.replace(out / "report.html")
    return classmap
