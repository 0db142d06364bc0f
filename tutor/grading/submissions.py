"""From the files under PATH to the work to grade: who each file belongs to (a folder per student, a loose
file named after its student, Gradescope's "Export Submissions" with its submission_metadata.yml, Canvas's
"Download Submissions" names) and which exercises it holds (by its workspace name, else by its content: the
gradients it assigns, as `check` picks a notebook's cells). A file that cannot be graded is kept, with why."""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tutor.course.model import Course, Exercise
from tutor.grading.archive import METADATA_NAMES, Found

# Canvas: "lastfirst_12345_67890_atomic.py", a late one "lastfirst_LATE_12345_67890_atomic.py", a second
# upload of the same name "..._atomic-1.py".
CANVAS_NAME = re.compile(r"^(?P<student>[^_/]+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
RESUBMITTED = re.compile(r"-\d+$")


@dataclass(frozen=True)
class Task:
    """One (student, exercise, file) to grade: the file's text, or why it cannot be graded."""

    student: str
    exercise: str  # an exercise id, or "" when the file matches none
    file: str  # its path inside PATH
    kind: str  # "py" or "ipynb"
    text: str | None
    problem: str | None = None
    late: bool = False

    @property
    def digest(self) -> str:
        return hashlib.sha256((self.text if self.text is not None else f"\0{self.problem}").encode("utf-8", "surrogatepass")).hexdigest()


# ---- who ---------------------------------------------------------------------------------------------------


def strip_common_folder(files: list[Found], course: Course) -> list[Found]:
    """A zip whose entries all sit in one folder ("export/submission_1/...", "export/ada.py") is read as that
    folder; one student's folder ("ada/atomic.py") is not a wrapper: its files keep their student."""
    while files:
        parts = [PurePosixPath(f.path).parts for f in files]
        if len({p[0] for p in parts}) != 1 or any(len(p) == 1 for p in parts):
            return files
        exercise_files = {Path(e.file_name).stem for e in course.exercises}
        wrapper = (any(p[1:] == (name,) for p in parts for name in METADATA_NAMES) or all(len(p) >= 3 for p in parts)
                   or any(len(p) == 2 and RESUBMITTED.sub("", PurePosixPath(p[1]).stem) not in exercise_files for p in parts))
        if not wrapper:
            return files
        cut = len(parts[0][0]) + 1
        files = [Found(f.path[cut:], f.data, f.problem) for f in files]
    return files


def gradescope_names(text: str) -> dict[str, str]:
    """submission_metadata.yml of Gradescope's export: its folder -> the names of its submitters, joined.
    Read by its shape (`submission_1:` then `:submitters:` with `- :name: Ada`), no YAML library needed."""
    names: dict[str, list[str]] = {}
    folder = None
    for line in text.splitlines():
        top = re.match(r"^([^\s#:][^:]*):\s*$", line)
        if top:
            folder = top.group(1).strip().strip("'\"")
            names.setdefault(folder, [])
            continue
        name = re.match(r"^\s*(?:-\s*)?:name:\s*(.+?)\s*$", line)
        if name and folder is not None:
            names[folder].append(name.group(1).strip().strip("'\""))
    return {folder: "; ".join(people) for folder, people in names.items() if people}


def owners(files: list[Found]) -> list[tuple[str, str, Found, bool]]:
    """(student, file name within the submission, the file, late) for every graded file."""
    metadata = next((f for f in files if f.path in METADATA_NAMES and f.data is not None), None)
    named = gradescope_names(metadata.data.decode("utf-8", "replace")) if metadata else {}
    out = []
    for found in files:
        parts = PurePosixPath(found.path).parts
        if parts[-1] in METADATA_NAMES:
            continue
        if len(parts) > 1:  # a student's folder (Gradescope's submission_N, named by its metadata)
            out.append((named.get(parts[0], parts[0]), "/".join(parts[1:]), found, False))
            continue
        canvas = CANVAS_NAME.match(parts[0])
        if canvas:
            out.append((canvas["student"], canvas["file"], found, bool(canvas["late"])))
        else:
            out.append((PurePosixPath(parts[0]).stem, "", found, False))  # a loose file: its stem is the student
    return out


# ---- which exercise ------------------------------------------------------------------------------------------


def by_name(name: str, course: Course) -> Exercise | None:
    """The exercise whose workspace file this is (atomic.py, atomic.ipynb, Canvas's atomic-1.py)."""
    stem = RESUBMITTED.sub("", PurePosixPath(name).stem)
    return next((e for e in course.exercises if Path(e.file_name).stem == stem), None)


def assigned_at_top(text: str) -> set[str] | None:
    """The names a .py file's statements assign, loops included (None when it does not parse)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def by_content(text: str, course: Course) -> Exercise | None:
    """The exercise a .py file is written for: among those whose names cover every gradient it assigns, the
    one with the largest share of its steps assigned (then the one with fewer steps)."""
    assigned = assigned_at_top(text)
    if not assigned:
        return None
    grads = {name for e in course.exercises for name in (*(s.name for s in e.rows), *e.chain, *e.given)}
    mine = assigned & grads
    best, score = None, (0.0, 0)
    for exercise in course.exercises:
        allowed = {s.name for s in exercise.rows} | set(exercise.chain) | set(exercise.given)
        steps = {s.name for s in exercise.steps}
        if not mine & steps or not mine <= allowed:
            continue
        key = (len(mine & steps) / len(steps), -len(steps))
        if best is None or key > score:
            best, score = exercise, key
    return best


def notebook_exercises(name: str, text: str, course: Course) -> list[Exercise] | str:
    """Every exercise a notebook holds cells for, or why it cannot be read."""
    from tutor.learner.notebook import NotebookError, extract_exercise, read_cells

    path = Path(name)
    try:
        read_cells(path, text)
    except NotebookError as exc:
        return str(exc)
    held = []
    for exercise in course.exercises:
        try:
            extract_exercise(path, exercise, course, text=text)
        except NotebookError:
            continue
        held.append(exercise)
    return held


def tasks_of(files: Iterable[Found], course: Course, forced: Exercise | None = None, unwrap: bool = False) -> list[Task]:
    """The tasks for the files under PATH; `forced`: one exercise for every file (--exercise); `unwrap`: a zip's
    one top folder that wraps the submissions is read as PATH."""
    files = list(files)
    tasks: list[Task] = []
    for student, inner, found, late in owners(strip_common_folder(files, course) if unwrap else files):
        kind = "ipynb" if found.path.endswith(".ipynb") else "py"
        label = inner or PurePosixPath(found.path).name
        named = forced or (by_name(label, course) if inner else None)
        if found.problem is not None:
            tasks.append(Task(student, named.id if named else "", found.path, kind, None, found.problem, late))
            continue
        try:
            text = found.data.decode("utf-8") if found.data is not None else ""
        except UnicodeDecodeError:
            tasks.append(Task(student, named.id if named else "", found.path, kind, None, "not UTF-8 text", late))
            continue
        if named is not None:
            tasks.append(Task(student, named.id, found.path, kind, text, late=late))
            continue
        if kind == "ipynb":
            held = notebook_exercises(found.path, text, course)
            if isinstance(held, str):
                tasks.append(Task(student, "", found.path, kind, None, held, late))
            elif not held:
                tasks.append(Task(student, "", found.path, kind, None, "holds no exercise's cells", late))
            tasks.extend(Task(student, e.id, found.path, kind, text, late=late) for e in held if not isinstance(held, str))
            continue
        exercise = by_content(text, course)
        if exercise is None:
            problem = "does not parse as Python" if assigned_at_top(text) is None else "assigns no exercise's gradients"
            tasks.append(Task(student, "", found.path, kind, None, problem, late))
        else:
            tasks.append(Task(student, exercise.id, found.path, kind, text, late=late))
    return tasks
