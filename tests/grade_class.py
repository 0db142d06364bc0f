"""A class of submissions built from the course itself (solutions, starters, every authored mistake written
into its solution as `course check` writes it), as folders, loose files, notebooks and hostile files: what
the grading tests grade, and what each file is expected to carry."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tutor.cli.course import with_mistake

LEARNER_FILES = Path(__file__).resolve().parent / "learner_files"


@dataclass(frozen=True)
class Planted:
    """One graded file of the class: who, which exercise, where, and the authored mistake it carries."""

    student: str
    exercise: str
    path: Path
    mistake: tuple[str, str] | None = None  # (step, the mistake's message)
    checkable: bool = True  # `check --json` judges it (a refused file is a usage error there)


def notebook(cells: list[str]) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# my backprop")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def build_class(course, root: Path) -> list[Planted]:
    planted: list[Planted] = []

    def put(student: str, exercise, name: str, text: str | bytes, mistake=None, checkable=True, loose=False) -> Path:
        path = root / name if loose else root / student / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        planted.append(Planted(student, exercise.id, path, mistake, checkable))
        return path

    for exercise in course.exercises:
        solution = exercise.solution.read_text(encoding="utf-8")
        put(f"sol-{exercise.order}", exercise, exercise.file_name, solution)
        put(f"starter-{exercise.order}", exercise, exercise.file_name, exercise.starter.read_text(encoding="utf-8"))
        for step in exercise.steps:
            for index, mistake in enumerate(step.mistakes):
                text = with_mistake(solution, step, mistake)
                student = f"m{exercise.order}-{step.name}-{index + 1}"
                put(student, exercise, exercise.file_name, text, (step.name, mistake.message))
    atomic, ce, bn = (course.find(i) for i in ("atomic", "cross-entropy", "batchnorm"))
    # loose files: the student is the stem, the exercise found by what the file assigns
    put("frank", ce, "frank.py", ce.solution.read_text(encoding="utf-8"), loose=True)
    step = bn.steps[0]
    put("grace", bn, "grace.py", with_mistake(bn.solution.read_text(encoding="utf-8"), step, step.mistakes[0]),
        (step.name, step.mistakes[0].message), loose=True)
    step = atomic.step("dcounts")
    put("heidi", atomic, "heidi.py", with_mistake(atomic.solution.read_text(encoding="utf-8"), step, step.mistakes[0]),
        (step.name, step.mistakes[0].message), loose=True)
    # notebooks: one exercise's cells under another name, and one notebook holding two exercises
    put("ivan", atomic, "my_work.ipynb", notebook([atomic.solution.read_text(encoding="utf-8")]))
    both = notebook([atomic.solution.read_text(encoding="utf-8"), ce.solution.read_text(encoding="utf-8")])
    path = put("judy", atomic, "lecture.ipynb", both)
    planted.append(Planted("judy", ce.id, path))
    # hostile and broken files: each a row with its reason
    for student, name in (("loop", "infinite_loop.py"), ("flood", "floods_output.py"), ("fork", "fork_holds_pipe.py"),
                          ("syntax", "syntax_error.py"), ("halfway", "raises_halfway.py")):
        put(f"fault-{student}", atomic, "atomic.py", (LEARNER_FILES / name).read_text(encoding="utf-8"))
    put("fault-latin1", atomic, "atomic.py", "# caf\xe9\n".encode("latin-1") + b"dlogprobs = None\n", checkable=False)
    put("fault-notebook", atomic, "atomic.ipynb", "{ this is not json", checkable=False)
    huge = put("fault-huge", atomic, "atomic.py", "", checkable=False)
    os.truncate(huge, 1024**3)  # 1 GB, sparse: refused by its size, never read
    link = root / "fault-link" / "atomic.py"
    link.parent.mkdir()
    outside = root.parent / "outside-secret.py"
    outside.write_text("dlogprobs = None\n", encoding="utf-8")
    os.symlink(outside, link)
    planted.append(Planted("fault-link", atomic.id, link, None, False))
    return planted


def gradescope_export(course, target: Path) -> dict[str, str]:
    """A zip shaped like Gradescope's "Export Submissions": submission folders and submission_metadata.yml.
    Returns folder -> the student names the grader should show."""
    import zipfile

    atomic = course.find("atomic")
    names = {"submission_101": "Ada Lovelace", "submission_102": "Alan Turing; Grace Hopper"}
    meta = ("submission_101:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '1'\n    :email: ada@example.com\n"
            "  :created_at: 2026-12-01 10:00:00.000000000 -08:00\n"
            "submission_102:\n  :submitters:\n  - :name: Alan Turing\n    :sid: '2'\n  - :name: Grace Hopper\n    :sid: '3'\n")
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("assignment_1_export/submission_metadata.yml", meta)
        z.writestr("assignment_1_export/submission_101/atomic.py", atomic.solution.read_text(encoding="utf-8"))
        z.writestr("assignment_1_export/submission_102/atomic.py", atomic.starter.read_text(encoding="utf-8"))
    return names


def canvas_export(course, target: Path) -> None:
    import zipfile

    ce = course.find("cross-entropy")
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("lovelaceada_1234_5678_cross_entropy.py", ce.solution.read_text(encoding="utf-8"))
        z.writestr("turingalan_LATE_2345_6789_cross_entropy-1.py", ce.starter.read_text(encoding="utf-8"))


def copy_of(path: Path, target: Path) -> Path:
    shutil.copytree(path, target, symlinks=True)
    return target


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
