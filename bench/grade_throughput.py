"""Benchmark (not a test): how many exercise-1 submissions `grade` judges per minute with --jobs 2.

Builds a class of N student folders, each with an atomic.py: a mix of the reference solution, the starter and
every authored mistake of exercise 1 written into the solution (as `course check` writes them), then grades it
into a fresh --out (no cache) with warm checkers in worker processes, as `backprop-ninja grade` does. Every
check is the full one (the lecture's batch, a second batch, the local-rule run).

Prints one JSON line: submissions, jobs, the seconds spent reading and matching the files (plan_s), starting
the workers up to the first result (startup_s), judging the rest (steady_s) and writing grades.csv,
results.jsonl and report.html (write_s); submissions_per_min over the steady part (the target: >= 2,000 on 2
cores) and over the whole run (startup included); and the CPU time the workers and their sandboxes spent
per submission (start-up included), which a loaded machine does not inflate as it does the wall clock.

    python bench/grade_throughput.py [--submissions 240] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")


def build(course, root: Path, count: int) -> int:
    from tutor.cli.course import with_mistake

    atomic = course.find("atomic")
    solution = atomic.solution.read_text(encoding="utf-8")
    kinds = [solution, atomic.starter.read_text(encoding="utf-8")]
    kinds += [with_mistake(solution, step, m) for step in atomic.steps for m in step.mistakes]
    for index in range(count):
        folder = root / f"student{index:04d}"
        folder.mkdir(parents=True)
        # every other one right; the rest cycle through the starter and the mistakes
        text = kinds[0] if index % 2 == 0 else kinds[1 + (index // 2) % (len(kinds) - 1)]
        (folder / "atomic.py").write_text(text + f"\n# student {index}\n", encoding="utf-8")
    return len(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=240)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from tutor.course import load_course
    from tutor.grading import run
    from tutor.grading.pool import Settings

    course = load_course()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "class"
        kinds = build(course, root, args.submissions)
        marks: dict[str, float] = {}

        def on_progress(progress) -> None:
            now = time.perf_counter()
            if progress.done >= 1 and "first" not in marks:
                marks["first"] = now
            if progress.done == progress.total:
                marks["last"] = now

        original_plan = run.plan

        def timed_plan(*a, **k):
            started = time.perf_counter()
            out = original_plan(*a, **k)
            marks["plan"] = time.perf_counter() - started
            marks["pool_start"] = time.perf_counter()
            return out

        run.plan = timed_plan
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        graded = run.grade(root, course, Settings(str(course.root)), Path(tmp) / "out", jobs=args.jobs, on_progress=on_progress)
        ended = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the workers and the sandboxes' children (all reaped by the end): what the machine's load
    # does not change, unlike the wall-clock rate
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    n = len(graded.results)
    steady = marks["last"] - marks["first"]
    print(json.dumps({
        "submissions": n,
        "distinct_files": kinds,
        "passed": sum(1 for r in graded.results if r.get("passed")),
        "jobs": args.jobs,
        "plan_s": round(marks["plan"], 3),
        "startup_s": round(marks["first"] - marks["pool_start"], 2),
        "steady_s": round(steady, 2),
        "write_s": round(ended - marks["last"], 3),
        "total_s": round(ended - started, 2),
        "submissions_per_min": round((n - 1) / steady * 60) if steady > 0 else None,
        "submissions_per_min_with_startup": round(n / (ended - started) * 60),
        "workers_cpu_s": round(cpu, 1),
        "cpu_ms_per_submission": round(cpu / n * 1000, 1),
        "cores": len(os.sched_getaffinity(0)),
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
