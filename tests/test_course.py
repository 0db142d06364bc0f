"""The course checks itself: TOML loads, order and names follow the lecture, malformed files get clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tutor.course import CourseError, load_course

ATOMIC_ORDER = (
    "dlogprobs dprobs dcounts_sum_inv dcounts_sum dcounts dnorm_logits dlogit_maxes dlogits dh dW2 db2 "
    "dhpreact dbngain dbnbias dbnraw dbnvar_inv dbnvar dbndiff2 dbndiff dbnmeani dhprebn dembcat dW1 db1 demb dC"
).split()


def test_exercises_in_order(course):
    assert [e.id for e in course.exercises] == ["atomic", "cross-entropy", "batchnorm", "training"]
    assert [e.order for e in course.exercises] == [1, 2, 3, 4]


def test_numbers_are_aliases(course):
    for number, ident in enumerate(["atomic", "cross-entropy", "batchnorm", "training"], start=1):
        assert course.find(str(number)).id == ident
        assert course.find(ident.upper()).id == ident
    assert course.find("5") is None


def test_atomic_steps_follow_the_lecture(course):
    assert [s.name for s in course.find("atomic").steps] == ATOMIC_ORDER
    assert all(s.of == s.name[1:] for s in course.find("atomic").steps)


def test_every_step_has_a_hint_ladder(course):
    for exercise in course.exercises:
        for step in exercise.steps:
            assert len(step.hints) >= 3, f"{exercise.id}/{step.name}"


def _copy_course(tmp_path: Path, course) -> Path:
    shutil.copytree(course.root / "exercises", tmp_path / "exercises")
    shutil.copytree(course.root / "solutions", tmp_path / "solutions")
    return tmp_path


@pytest.mark.parametrize(
    "old, new, key",
    [
        ('n_hidden = 64', 'n_hidden = "64"', "model.n_hidden"),
        ('name = "dprobs"', 'nome = "dprobs"', "steps[1].name"),
        ('starter = "atomic.py"', 'starter = "nope.py"', "starter"),
        ("forward = '''\nemb = C[Xb]", "forward = '''\nemb = C[Xb", "model.forward"),
        ('batch_size = 32', 'batch_size = 1', "context.batch_size"),
    ],
)
def test_malformed_toml_names_file_exercise_and_key(tmp_path, course, old, new, key):
    root = _copy_course(tmp_path, course)
    toml = root / "exercises" / "atomic.toml"
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    with pytest.raises(CourseError) as info:
        load_course(root)
    message = str(info.value)
    assert str(toml) in message and "'atomic'" in message and repr(key) in message


def test_too_few_hints_is_a_course_error(tmp_path, course):
    root = _copy_course(tmp_path, course)
    toml = root / "exercises" / "cross_entropy.toml"
    text = toml.read_text()
    start = text.index("hints = [")
    end = text.index("\n]", start) + 1
    toml.write_text(text[:start] + 'hints = ["only one"]' + text[end + 1 :])
    with pytest.raises(CourseError, match="at least 3 hints"):
        load_course(root)


def test_broken_toml_syntax_is_one_clear_error(tmp_path, course, capsys):
    root = _copy_course(tmp_path, course)
    (root / "exercises" / "batchnorm.toml").write_text("id = 'batchnorm'\n[model\n")
    with pytest.raises(CourseError, match="batchnorm.toml: is not valid TOML"):
        load_course(root)


def test_adding_an_exercise_needs_no_python(tmp_path, course):
    root = _copy_course(tmp_path, course)
    text = (root / "exercises" / "cross_entropy.toml").read_text()
    text = text.replace('id = "cross-entropy"', 'id = "cross-entropy-again"').replace("order = 2", "order = 9")
    (root / "exercises" / "again.toml").write_text(text)
    loaded = load_course(root)
    assert loaded.find("9").id == "cross-entropy-again"
