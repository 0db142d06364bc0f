"""`backprop-ninja grade`: a class of ≥40 submissions built from the course (solutions, starters, every
authored mistake, loose files, notebooks, hostile files) graded in worker processes; each row is what
`check --json` says of its file, the map counts each mistake once per submission carrying it, a rerun
grades nothing new, and the exports instructors download (Gradescope, Canvas) name the students."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from grade_class import build_class, canvas_export, gradescope_export, jsonl

import tutor.cli
from tutor.grading.archive import ArchiveError, read_zip
from tutor.grading.rows import FIRST_COLUMNS, diagnosis_of
from tutor.grading.submissions import by_content, gradescope_names

TIMEOUT = "3"
CLASS = pytest.mark.xdist_group("graded-class")


def run_grade(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = tutor.cli.main(["grade", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    """The class, graded once with two workers: (planted files, out folder, exit code, stdout)."""
    root = tmp_path_factory.mktemp("class") / "submissions"
    planted = build_class(course, root)
    out = root.parent / "grades"
    code, stdout, _ = run_grade(str(root), "--out", str(out), "--jobs", "2", "--timeout", TIMEOUT)
    return planted, root, out, code, stdout


def result_for(results: list[dict], planted) -> dict:
    return next(r for r in results if r["student"] == planted.student and r["exercise"] == planted.exercise)


# ---- fast: the pieces ------------------------------------------------------------------------------------------


def test_gradescope_metadata_names_each_folder():
    text = "submission_1:\n  :submitters:\n  - :name: Ada\n    :sid: '1'\nsubmission_2:\n  :submitters:\n  - :name: 'B C'\n  - :name: D\n"
    assert gradescope_names(text) == {"submission_1": "Ada", "submission_2": "B C; D"}


def test_a_file_is_matched_to_its_exercise_by_what_it_assigns(course):
    for exercise in course.exercises:
        for source in (exercise.solution, exercise.starter):
            assert by_content(source.read_text(encoding="utf-8"), course).id == exercise.id, source
    assert by_content("x = 1\n", course) is None


def test_a_zip_with_a_name_out_of_it_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("alice/atomic.py", "x = 1\n")
        z.writestr("../x", "escape\n")
    with pytest.raises(ArchiveError) as refused:
        read_zip(bad)
    assert "'../x'" in str(refused.value) and "\n" not in str(refused.value)


def test_a_zip_bomb_is_refused_in_one_line(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("alice/atomic.py", b"\0" * (64 * 1024 * 1024))
    with pytest.raises(ArchiveError) as refused:
        read_zip(bomb)
    assert "zip bomb" in str(refused.value) and "\n" not in str(refused.value)


def test_refused_zips_are_one_line_exit_2_from_the_command(tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("/etc/atomic.py", "x = 1\n")
    assert tutor.cli.main(["grade", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "leads out of it" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_gradescope_and_canvas_exports_name_their_students(tmp_path, course, checker):
    from tutor.grading.pool import Settings
    from tutor.grading.run import grade

    names = gradescope_export(course, tmp_path / "gradescope.zip")
    canvas_export(course, tmp_path / "canvas.zip")
    settings = Settings(str(course.root))
    gs = grade(tmp_path / "gradescope.zip", course, settings, tmp_path / "gs", checker=checker)
    assert {r["student"]: r["passed"] for r in gs.results} == {names["submission_101"]: True, names["submission_102"]: False}
    cv = grade(tmp_path / "canvas.zip", course, settings, tmp_path / "cv", checker=checker)
    rows = {r["student"]: r for r in cv.results}
    assert set(rows) == {"lovelaceada", "turingalan"}
    assert rows["lovelaceada"]["passed"] and rows["lovelaceada"]["exercise"] == "cross-entropy"
    assert rows["turingalan"]["late"] and rows["turingalan"]["exercise"] == "cross-entropy"


# ---- slow: the class, graded in worker processes ------------------------------------------------------------------


@pytest.mark.slow
@CLASS
def test_every_row_is_what_check_json_says_of_its_file(graded, backprop_ninja):
    planted, _, out, code, _ = graded
    assert code == 0
    assert len({(p.student, p.exercise) for p in planted}) >= 40
    results = jsonl(out / "results.jsonl")
    assert len(results) == len(planted)
    for p in planted:
        row = result_for(results, p)
        if not p.checkable:  # `check` refuses these with a usage error; the class's row says why
            assert not row["passed"] and row["error"]["kind"] == "refused" and row["error"]["message"], p
            continue
        ran = backprop_ninja("check", p.exercise, "--file", str(p.path), "--json", "--timeout", TIMEOUT)
        checked = json.loads(ran.stdout)
        assert row["passed"] == checked["passed"], p
        assert diagnosis_of(row) == diagnosis_of(checked), p
        mine = {t["name"]: (t["status"], (t.get("diagnosis") or {}).get("code")) for t in row["tensors"]}
        theirs = {t["name"]: (t["status"], (t.get("diagnosis") or {}).get("code")) for t in checked["tensors"]}
        assert mine == theirs, p


@pytest.mark.slow
@CLASS
def test_grades_csv_has_the_columns_and_a_row_per_file(graded, course):
    planted, _, out, _, _ = graded
    with (out / "grades.csv").open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames[: len(FIRST_COLUMNS)]) == FIRST_COLUMNS
        assert "dlogprobs" in reader.fieldnames and "dhprebn" in reader.fieldnames
        rows = list(reader)
    assert len(rows) == len(planted)
    solution = next(r for r in rows if r["student"] == "sol-1")
    assert (solution["passed"], solution["gradients_passed"], solution["gradients_total"]) == ("yes", "26", "26")
    loop = next(r for r in rows if r["student"] == "fault-loop")
    assert loop["passed"] == "no" and loop["diagnosis"] == "timeout"
    for student in ("fault-huge", "fault-link", "fault-latin1", "fault-notebook"):
        row = next(r for r in rows if r["student"] == student)
        assert row["passed"] == "no" and row["diagnosis"] == "refused" and row["reason"], student


@pytest.mark.slow
@CLASS
def test_the_map_counts_each_mistake_once_per_submission_carrying_it(graded, course):
    planted, _, out, _, _ = graded
    from tutor.grading.classmap import build

    results = jsonl(out / "results.jsonl")
    classmap = build(results, course)
    carried = Counter((p.exercise, *p.mistake) for p in planted if p.mistake)
    counted = 0
    for (exercise, step, message), count in carried.items():
        row = result_for(results, next(p for p in planted if p.mistake == (step, message)))
        verdict = next(t for t in row["tensors"] if t["name"] == step)
        if not verdict.get("diagnosis") or verdict["diagnosis"]["message"] != message:
            continue  # a mistake the course does not diagnose as itself (`course check` names those)
        bars = next(s for s in classmap.exercise(exercise).steps if s.name == step).bars
        bar = next(b for b in bars if b.words == message)
        assert bar.count == count, (exercise, step, message)
        counted += 1
    assert counted >= 35
    grace = next(b for b in classmap.exercise("batchnorm").steps[0].bars if "grace" in b.students)
    assert grace.count == 2  # the loose file and the folder both carry mistake 1 of dhprebn


@pytest.mark.slow
@CLASS
def test_the_summary_and_report_are_written(graded):
    _, _, out, _, stdout = graded
    assert "atomic:" in stdout and "most common mistake" in stdout and str(out) in stdout
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "http" not in page.replace('lang="en"', "")
    assert 'class="diagnosis"' in page and "m1-dcounts-1" in page


@pytest.mark.slow
@CLASS
def test_a_rerun_grades_nothing_new_and_a_changed_file_only(graded):
    planted, root, out, _, _ = graded
    code, stdout, _ = run_grade(str(root), "--out", str(out), "--jobs", "2", "--timeout", TIMEOUT, "--json")
    totals = json.loads(stdout)
    assert code == 0 and totals["judged_now"] == 0 and totals["graded"] == len(planted)
    changed = next(p for p in planted if p.student == "starter-2")
    changed.path.write_text(Path(changed.path).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    code, stdout, _ = run_grade(str(root), "--out", str(out), "--jobs", "1", "--timeout", TIMEOUT, "--json")
    assert json.loads(stdout)["judged_now"] == 1


@pytest.mark.slow
def test_ctrl_c_keeps_what_is_graded_and_a_rerun_grades_the_rest(tmp_path, course):
    import os
    import signal
    import subprocess
    import sys
    import time

    from grade_class import LEARNER_FILES

    root = tmp_path / "class"
    for index in range(6):
        folder = root / f"student{index}"
        folder.mkdir(parents=True)
        (folder / "atomic.py").write_text((LEARNER_FILES / "infinite_loop.py").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "tutor", "grade", str(root), "--out", str(out), "--jobs", "1", "--timeout", "2"]
    env = {**os.environ, "NO_COLOR": "1"}
    grading = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    cache = out / ".grade-cache.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (cache.is_file() and cache.read_text().count("\n") >= 1):
        time.sleep(0.2)
    grading.send_signal(signal.SIGINT)
    stdout, stderr = grading.communicate(timeout=60)
    assert grading.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted:" in stderr
    kept = len(jsonl(out / "results.jsonl"))
    assert 1 <= kept < 6
    rerun = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert json.loads(rerun.stdout)["judged_now"] == 6 - kept and json.loads(rerun.stdout)["graded"] == 6


def test_a_zips_wrapping_folder_is_unwrapped_but_a_students_folder_is_kept(course):
    from tutor.grading.archive import Found
    from tutor.grading.submissions import tasks_of

    def students(paths: list[str], unwrap: bool = True) -> set[tuple[str, str]]:
        files = [Found(p, b"dlogits = None\n") for p in paths]
        return {(t.student, t.exercise) for t in tasks_of(files, course, unwrap=unwrap)}

    assert students(["ada/cross_entropy.py"]) == {("ada", "cross-entropy")}
    assert students(["export/ada.py", "export/bob.py"]) == {("ada", "cross-entropy"), ("bob", "cross-entropy")}
    assert students(["export/ada/cross_entropy.py", "export/bob/x.py"]) == {("ada", "cross-entropy"), ("bob", "cross-entropy")}
    assert students(["export/ada.py"], unwrap=False) == {("export", "cross-entropy")}


def test_an_out_folder_that_cannot_be_made_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "class" / "ada").mkdir(parents=True)
    (tmp_path / "taken").write_text("a file, not a folder\n")
    assert tutor.cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write to" in err[0]


@pytest.mark.slow
def test_train_steps_trains_each_file_that_passes_its_grad_check(tmp_path, course):
    training = course.find("training")
    root = tmp_path / "class"
    for student, text in (
        ("ada", training.solution.read_text(encoding="utf-8")),
        ("bo", training.solution.read_text(encoding="utf-8").replace("dlogits[range(n), Yb] -= 1", "dlogits[range(n), Yb] += 1")),
    ):
        (root / student).mkdir(parents=True)
        (root / student / "training.py").write_text(text, encoding="utf-8")
    out = tmp_path / "grades"
    code, _, _ = run_grade(str(root), "--out", str(out), "--jobs", "1", "--train-steps", "30", "--timeout", "20")
    rows = {r["student"]: r for r in jsonl(out / "results.jsonl")}
    assert code == 0  # the class was graded (whatever its grades)
    ada, bo = rows["ada"], rows["bo"]
    assert ada["passed"] and ada["training"]["passed"] and ada["training"]["error"] is None
    trained = ada["training"]["train"]
    assert trained["steps"] == 30 and trained["requested_steps"] == 30 and trained["error"] is None
    assert trained["learner"]["train"] > 0 and trained["learner"]["val"] > 0
    # a file whose grad check fails is not trained
    assert not bo["passed"] and "training" not in bo


@pytest.mark.slow
def test_a_worker_killed_mid_file_loses_nothing_the_file_is_judged_again(tmp_path, course):
    """kill -9 of a worker while it judges a file (the OOM killer, an admin): a fresh worker judges that file
    again; every row comes back judged, and the killed worker's sandbox goes with it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    slow = course.find("atomic").solution.read_text(encoding="utf-8") + "\nimport time\ntime.sleep(2)\n"
    root = tmp_path / "class"
    for index in range(3):
        (root / f"student{index}").mkdir(parents=True)
        (root / f"student{index}" / "atomic.py").write_text(slow + f"# {index}\n", encoding="utf-8")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "tutor", "grade", str(root), "--out", str(out), "--jobs", "1", "--json"]
    grading = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def zygotes() -> list[int]:
        found = subprocess.run(["pgrep", "-f", "tutor.sandbox.zygote"], capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split() if _descends_from(int(pid), grading.pid)]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not zygotes():
        time.sleep(0.1)
    (zygote,) = zygotes()
    time.sleep(5)  # the worker is up and running its first slow file
    worker = int(Path(f"/proc/{zygote}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(worker, signal.SIGKILL)
    stdout, stderr = grading.communicate(timeout=300)
    assert grading.returncode == 0, stderr
    rows = jsonl(out / "results.jsonl")
    assert len(rows) == 3 and all(row["passed"] for row in rows), [row.get("error") for row in rows]
    assert json.loads(stdout)["graded"] == 3
    deadline = time.monotonic() + 10
    while Path(f"/proc/{zygote}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{zygote}").exists() or "Z" in Path(f"/proc/{zygote}/stat").read_text().rsplit(")", 1)[1][:3]


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False
