"""Benchmark (not a test): what checking a notebook costs over checking the same answers as a .py file.

One warm Checker (as the tutor's service keeps it) checks exercise 1's reference solution as a .py file,
then a lecture-layout notebook (20 cells, the same answers, cmp() calls after them) with check_notebook,
alternating, with a pause between checks (the learner typing). The notebook's read + cell picking +
neutralising is also timed alone. Then a `%%ninja atomic --no-run` cell as a kernel runs it (tutor.jupyter's
session, its workspace in a temporary folder): the first cell (the kernel's Checker starts) and the next ones
(the same Checker, warm: they should cost what a warm check costs). Prints one JSON line of medians; the target
is notebook check <= .py check + read.

    python bench/notebook_check.py [--runs 15] [--pause 0.5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pause", type=float, default=0.5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    import torch

    from tests.lecture_notebook import lecture_cells, write_notebook
    from tutor.course import load_course
    from tutor.engine.check import Checker
    from tutor.learner.notebook import check_notebook, extract_exercise

    course = load_course()
    exercise = course.find("atomic")
    with tempfile.TemporaryDirectory() as folder, Checker(course) as checker:
        notebook = write_notebook(Path(folder) / "lecture.ipynb", lecture_cells())
        assert checker.check(exercise, exercise.solution).passed and check_notebook(checker, exercise, notebook).report.passed
        py, nb, read = [], [], []
        for _ in range(args.runs):
            time.sleep(args.pause)
            started = time.perf_counter()
            checker.check(exercise, exercise.solution)
            py.append(time.perf_counter() - started)
            time.sleep(args.pause)
            started = time.perf_counter()
            check_notebook(checker, exercise, notebook)
            nb.append(time.perf_counter() - started)
            started = time.perf_counter()
            extract_exercise(notebook, exercise, course)
            read.append(time.perf_counter() - started)
    first_cell, cells = ninja_cells(exercise.solution.read_text(encoding="utf-8"), args.runs, args.pause)
    ms = {name: round(statistics.median(times) * 1000, 1) for name, times in (("py_check_ms", py), ("notebook_check_ms", nb), ("notebook_read_ms", read), ("ninja_cell_ms", cells))}
    print(json.dumps({**ms, "ninja_first_cell_s": round(first_cell, 2), "overhead_ms": round(ms["notebook_check_ms"] - ms["py_check_ms"], 1), "runs": args.runs,
                      "python": platform.python_version(), "torch": torch.__version__}))


def ninja_cells(source: str, runs: int, pause: float) -> tuple[float, list[float]]:
    """`%%ninja atomic --no-run` on the reference answers: the first cell's seconds, then each later cell's."""
    from tutor.notebook.magics import NinjaSession

    with tempfile.TemporaryDirectory() as folder:
        session = NinjaSession(Path(folder))
        try:
            started = time.perf_counter()
            shown, _ = session.check_cell("atomic --no-run", source)
            first = time.perf_counter() - started
            assert not isinstance(shown, str) and shown.report.passed, shown
            times = []
            for _ in range(runs):
                time.sleep(pause)
                started = time.perf_counter()
                session.check_cell("atomic --no-run", source)
                times.append(time.perf_counter() - started)
        finally:
            session.close()
    return first, times


if __name__ == "__main__":
    main()
