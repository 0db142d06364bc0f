"""`python3 -m tutor.grading.autograder --root /autograder`: what the Gradescope bundle's run_autograder runs for
one submission: its files (root/submission) matched to exercises as `grade` matches them, judged on one
Checker in this process, and root/results/results.json written, even when the submission is broken."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from tutor.grading.gradescope import CONFIG, ROOT_ENV, SOURCE, results_json


def student_name(root: Path) -> str:
    try:
        users = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8")).get("users") or []
        return "; ".join(str(u.get("name")) for u in users if u.get("name")) or "submission"
    except (OSError, ValueError, AttributeError):
        return "submission"


def config_of(root: Path) -> dict:
    for place in (root / "source" / CONFIG, root / "source" / SOURCE / CONFIG):
        try:
            return json.loads(place.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return {}


def grade_submission(root: Path) -> dict:
    from tutor.course import load_course
    from tutor.grading.archive import Found, read_folder
    from tutor.grading.judge import judge_task
    from tutor.grading.submissions import tasks_of

    started = time.monotonic()
    config = config_of(root)
    lang = config.get("lang") or "en"
    course = load_course()
    forced = course.find(config["exercise"]) if config.get("exercise") else None
    student = student_name(root)
    files = [Found(f"{student}/{f.path}", f.data, f.problem) for f in read_folder(root / "submission")]
    tasks = tasks_of(files, course, forced)
    results = []
    if any(t.problem is None and t.exercise for t in tasks):
        warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
        from tutor.engine.check import Checker

        with Checker(course, timeout=float(config.get("timeout") or 10.0)) as checker:
            results = [{"student": student, **judge_task(checker, course, task, lang), "file": task.file} for task in tasks]
    else:
        from tutor.grading.judge import refused

        results = [{"student": student, **refused(task, task.problem or "matches no exercise")} for task in tasks]
    return results_json(results, course, lang, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tutor.grading.autograder", description=__doc__)
    parser.add_argument("--root", default=os.environ.get(ROOT_ENV, "/autograder"), help=f"the autograder's root (default: ${ROOT_ENV}, else /autograder)")
    root = Path(parser.parse_args(argv).root)
    try:
        results = grade_submission(root)
    except Exception as exc:  # noqa: BLE001 - Gradescope shows results.json, never a traceback
        results = {"score": 0.0, "output": f"the autograder could not grade this submission: {type(exc).__name__}: {exc}", "tests": []}
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(results["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
