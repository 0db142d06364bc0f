"""Checking a notebook: which cells hold an exercise, notebook-only lines made harmless, errors at cell and line."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("nbformat", reason="checking notebooks needs nbformat (pip install '.[jupyter]')")

from tests.lecture_notebook import answer_lines, cell_number, exercise1_cell, lecture_cells, write_notebook  # noqa: E402
from tutor.learner.cells import neutralise  # noqa: E402
from tutor.learner.notebook import NotebookError, check_notebook, extract_exercise  # noqa: E402

EXERCISES = ["atomic", "cross-entropy", "batchnorm", "training"]


@pytest.fixture
def lecture(tmp_path):
    cells = lecture_cells()
    return write_notebook(tmp_path / "lecture.ipynb", cells), cells


def test_picks_each_exercise_cell_of_a_lecture_layout(lecture, course):
    path, cells = lecture
    expected = {
        "atomic": cell_number(cells, "# Exercise 1"),
        "cross-entropy": cell_number(cells, "# backward pass\n\ndlogits"),
        "batchnorm": cell_number(cells, "# backward pass\n\n# before we had"),
        "training": cell_number(cells, "# Exercise 4"),
    }
    for ident, number in expected.items():
        assert extract_exercise(path, course.find(ident), course).cell_numbers == [number], ident


def test_exercise_1_split_over_cells_stays_exercise_1(tmp_path, course):
    lines = answer_lines("atomic.py")
    at = next(i for i, line in enumerate(lines) if line.startswith("dlogits ="))
    upto_dh = next(i for i, line in enumerate(lines) if line.startswith("dh ="))
    # the dlogits cell of the chain reads dnorm_logits: exercise 1's, not exercise 2's
    cells = lecture_cells(ex1=exercise1_cell(lines[:at]))
    ex1 = cell_number(cells, "# Exercise 1")
    cells[ex1:ex1] = [("code", "\n".join(lines[at:upto_dh]) + "\ncmp('logits', dlogits, logits)"),
                      ("markdown", "now the second layer"), ("code", "\n".join(lines[upto_dh:]))]
    path = write_notebook(tmp_path / "split.ipynb", cells)
    assert extract_exercise(path, course.find("atomic"), course).cell_numbers == [ex1, ex1 + 1, ex1 + 3]
    assert extract_exercise(path, course.find("cross-entropy"), course).cell_numbers == [
        cell_number(cells, "# backward pass\n\ndlogits")
    ]


def test_notebook_only_lines_become_pass_and_keep_their_numbers():
    cell = "\n".join([
        "%matplotlib inline",
        "!pip install torch",
        "files = !ls",
        "dprobs = (1.0 / probs) * dlogprobs",
        "cmp('probs', dprobs, probs)",
        "print(dprobs.shape); plt.imshow(dprobs)",
        "assert torch.allclose(dprobs, probs.grad)",
        "for t in [probs, logprobs]:",
        "    t.retain_grad()",
        "x = 1",
    ])
    text, count = neutralise(cell)
    lines = text.split("\n")
    assert len(lines) == 10 and count == 9
    assert lines[3] == "dprobs = (1.0 / probs) * dlogprobs" and lines[9] == "x = 1"
    assert [line.strip() for line in lines[:3]] == ["pass"] * 3
    assert lines[4] == "pass" and lines[5] == "pass; pass" and lines[6] == "pass" and lines[7] == "pass" and lines[8] == ""
    compile(text, "cell", "exec")


def test_non_python_cell_magic_blanks_the_cell_and_python_ones_keep_it():
    assert neutralise("%%bash\necho hi\nls")[0].split("\n") == ["", "", ""]
    assert neutralise("%%time\ndh = dlogits @ W2.T")[0] == "\ndh = dlogits @ W2.T"


def test_training_keeps_autograd_lines_for_the_refusal_but_drops_grad_zeroing():
    text, _ = neutralise("for p in parameters:\n    p.grad = None\nloss.backward()\ndC = C.grad", strict_autograd=True)
    assert text.split("\n") == ["pass", "", "loss.backward()", "dC = C.grad"]


def test_no_exercise_cell_says_which_cells_it_looked_at(tmp_path, course):
    path = write_notebook(tmp_path / "empty.ipynb", [("markdown", "# notes"), ("code", "x = 1"), ("code", "print(x)")])
    with pytest.raises(NotebookError) as caught:
        extract_exercise(path, course.find("batchnorm"), course)
    assert not caught.value.usage
    assert "looked at code cells 2, 3" in str(caught.value) and "--cell" in str(caught.value)


@pytest.mark.parametrize("text, words", [("{not json", "not a Jupyter notebook"), ('{"cells": 3}', "not a Jupyter notebook")])
def test_unreadable_notebook_is_one_usage_line(tmp_path, course, text, words):
    path = tmp_path / "bad.ipynb"
    path.write_text(text)
    with pytest.raises(NotebookError) as caught:
        extract_exercise(path, course.find("atomic"), course)
    assert caught.value.usage and words in str(caught.value) and "\n" not in str(caught.value)


def test_cell_override_must_name_a_code_cell(lecture, course):
    path, _ = lecture
    with pytest.raises(NotebookError, match="has no code cell 1 "):
        extract_exercise(path, course.find("atomic"), course, cells=[1])


def test_lines_map_back_to_cell_and_line(lecture, course):
    path, cells = lecture
    extract = extract_exercise(path, course.find("atomic"), course)
    number = cell_number(cells, "# Exercise 1")
    own = cells[number - 1][1].split("\n")
    line = next(i for i, text in enumerate(extract.source.split("\n"), start=1) if text.startswith("dh ="))
    cell, within, original = extract.locate(line)
    assert (cell, original) == (number, own[within - 1]) and original.startswith("dh =")


@pytest.mark.parametrize("ident", EXERCISES)
def test_lecture_layout_passes_every_exercise(lecture, checker, course, ident):
    path, _ = lecture
    result = check_notebook(checker, course.find(ident), path)
    assert result.report.passed, [(t.name, t.status) for t in result.report.tensors if not t.passed]


def test_planted_mistake_fails_at_its_step_with_a_diagnosis(tmp_path, checker, course):
    lines = [line.replace("(-counts_sum**-2)", "(counts_sum**-2)") for line in answer_lines("atomic.py")]
    path = write_notebook(tmp_path / "sign.ipynb", lecture_cells(ex1=exercise1_cell(lines)))
    report = check_notebook(checker, course.find("atomic"), path).report
    first = report.first_failure
    assert first.name == "dcounts_sum" and first.diagnosis["code"] == "sign"


def test_cli_error_names_the_cell_and_the_line_within_it(tmp_path, course, backprop_ninja):
    lines = answer_lines("atomic.py")
    at = next(i for i, line in enumerate(lines) if line.startswith("dcounts_sum ="))
    lines[at] = "dcounts_sum = undefined_name * dcounts_sum_inv"
    cells = lecture_cells(ex1=exercise1_cell(lines))
    path = write_notebook(tmp_path / "work.ipynb", cells)
    number = cell_number(cells, "# Exercise 1")
    within = cells[number - 1][1].split("\n").index(lines[at]) + 1
    result = backprop_ninja("check", "1", "--file", str(path))
    assert result.returncode == 1, result.stderr
    assert f"error (exception) at cell {number}, line {within}: NameError" in result.stdout
    assert f"{within} | dcounts_sum = undefined_name" in result.stdout
    report = json.loads(backprop_ninja("check", "1", "--file", str(path), "--json", "--cell", str(number)).stdout)
    assert report["error"]["cell"] == number and report["error"]["line"] == within
    assert report["notebook"]["cells"] == [number] and report["tensors"][2]["status"] == "exact"


def test_cli_passes_a_lecture_layout_and_exits_1_without_an_exercise_cell(lecture, tmp_path, backprop_ninja):
    path, cells = lecture
    passed = backprop_ninja("check", "batchnorm", "--file", str(path))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert f"checking cell {cell_number(cells, '# backward pass' + chr(10) * 2 + '# before')}" in passed.stdout
    empty = write_notebook(tmp_path / "empty.ipynb", [("code", "x = 1")])
    failed = backprop_ninja("check", "batchnorm", "--file", str(empty))
    assert failed.returncode == 1 and "looked at code cell 1" in failed.stderr and "Traceback" not in failed.stderr
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    usage = backprop_ninja("check", "batchnorm", "--file", str(bad))
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1 and "not a Jupyter notebook" in usage.stderr


def test_the_tutors_check_service_checks_a_notebook_and_names_the_cell(tmp_path, checker, course):
    from tutor.service.server import check_file

    lines = answer_lines("cross_entropy.py")
    lines[1] = "dlogits[range(n), Yb] -= one"
    cells = lecture_cells(ex2=lines)
    number = cell_number(cells, "# backward pass\n\ndlogits")
    report = check_file(checker, course.find("cross-entropy"), write_notebook(tmp_path / "w.ipynb", cells))
    assert report.error.message.startswith(f"cell {number}, line {report.error.line}: NameError")
    assert cells[number - 1][1].split("\n")[report.error.line - 1] == lines[1]
