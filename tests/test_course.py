"""The course checks itself: TOML loads, order and names follow the lecture, malformed files get clear errors."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
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


def _copy_course(tmp_path: Path, course) -> Path:
    shutil.copytree(course.root / "exercises", tmp_path / "exercises")
    shutil.copytree(course.root / "solutions", tmp_path / "solutions")
    return tmp_path


@pytest.mark.parametrize(
    "file, old, new, key",
    [
        ("atomic.toml", 'name = "dprobs"', 'nome = "dprobs"', "steps[1].name"),
        ("atomic.toml", 'starter = "atomic.py"', 'starter = "nope.py"', "starter"),
        ("model.toml", 'n_hidden = 64', 'n_hidden = "64"', "model.sizes.n_hidden"),
        ("model.toml", "forward = '''\nemb = C[Xb]", "forward = '''\nemb = C[Xb", "model.forward"),
        ("model.toml", 'batch_size = 32', 'batch_size = 1', "context.batch_size"),
        ("cross_entropy.toml", "loss_fast = F.cross_entropy(logits, Yb)", "loss_fast = F.cross_entropy(logits, Yb", "model.forward_extra"),
        ("training.toml", "n_hidden = 200", "n_hidden = 200.0", "model.sizes.n_hidden"),
    ],
)
def test_malformed_toml_names_file_exercise_and_key(tmp_path, course, file, old, new, key):
    root = _copy_course(tmp_path, course)
    toml = root / "exercises" / file
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    with pytest.raises(CourseError) as info:
        load_course(root)
    message = str(info.value)
    assert str(toml) in message and repr(key) in message
    # the shared file's keys are no one exercise's: its errors name the file and the key
    assert (info.value.exercise is None) == (file == "model.toml"), message


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


# ---- the shared model file ---------------------------------------------------------------------------------------

# The commit before exercises/model.toml: every exercise then spelt out its own [model] and [context].
BEFORE_SHARED = "84bd31b"
SHARED_FORWARD_LINES = 20


def _files_before_shared(tmp_path: Path, course) -> Path:
    """The course's TOML files as they were before the shared model file, with today's .py files."""
    root = Path(course.root)
    files = {}
    for toml in ("atomic", "cross_entropy", "batchnorm", "training"):
        shown = subprocess.run(
            ["git", "-C", str(root), "show", f"{BEFORE_SHARED}:exercises/{toml}.toml"], capture_output=True, text=True
        )
        if shown.returncode != 0:
            pytest.skip(f"the course's history is not here (git show {BEFORE_SHARED}): {shown.stderr.strip()[:100]}")
        files[toml] = shown.stdout
    for folder in ("exercises", "solutions"):
        shutil.copytree(root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.toml"))
    for name, text in files.items():
        (tmp_path / "exercises" / f"{name}.toml").write_text(text)
    return tmp_path


def test_the_shared_model_file_changes_no_exercise(tmp_path, course):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    before = load_course(_files_before_shared(tmp_path, course))  # self-contained files load as they always did
    assert [e.id for e in before.exercises] == [e.id for e in course.exercises]
    for old, new in zip(before.exercises, course.exercises):  # what the shared file holds; steps may change since
        assert dataclasses.replace(new.model, private=()) == old.model, new.id  # the first format hid no name
        assert new.context == old.context, new.id


def test_exercises_take_the_shared_model_and_add_only_what_differs(course):
    atomic, cross, batchnorm, training = (course.find(str(i)) for i in range(1, 5))
    shared = atomic.model.forward.splitlines()
    assert len(shared) == SHARED_FORWARD_LINES
    assert shared[0] == "emb = C[Xb]" and shared[-1] == "loss = -logprobs[range(n), Yb].mean()"
    assert cross.model.forward.splitlines() == [*shared, "loss_fast = F.cross_entropy(logits, Yb)"]
    assert batchnorm.model.forward.splitlines()[:-1] == shared
    assert batchnorm.model.forward.splitlines()[-1].startswith("hpreact_fast = bngain * (hprebn - hprebn.mean(0")
    assert dataclasses.replace(cross.model, forward="") == dataclasses.replace(atomic.model, forward="")
    assert (training.model.size("n_hidden"), atomic.model.size("n_hidden")) == (200, 64)
    assert training.model.forward.splitlines()[-1] == "loss = F.cross_entropy(logits, Yb)"
    assert dataclasses.replace(training.model, sizes=atomic.model.sizes, forward="") == dataclasses.replace(atomic.model, forward="")
    assert {e.context for e in course.exercises} == {atomic.context}
    assert atomic.context.seed == 2147483647 and atomic.context.batch_size == 32


def test_errors_in_course_code_name_the_file_that_wrote_it(course):
    cross, training = course.find("cross-entropy"), course.find("training")
    shared = Path(course.root) / "exercises" / "model.toml"
    assert cross.origin("model.init") == (shared, "model.init", None)
    assert cross.origin("model.forward", 3) == (shared, "model.forward", 3)
    assert cross.origin("model.forward", SHARED_FORWARD_LINES + 1) == (cross.source, "model.forward_extra", 1)
    assert training.origin("model.forward", 2) == (training.source, "model.forward", 2)
    assert training.origin("model.n_hidden") == (training.source, "model.n_hidden", None)
    assert training.origin("steps[dC].of") == (training.source, "steps[dC].of", None)


def test_a_misspelt_model_key_is_refused(tmp_path, course):
    root = _copy_course(tmp_path, course)
    toml = root / "exercises" / "batchnorm.toml"
    toml.write_text(toml.read_text().replace("forward_extra = ", "foward_extra = ", 1))
    with pytest.raises(CourseError) as info:
        load_course(root)
    assert info.value.key == "model.foward_extra" and info.value.path == toml
    assert "forward_extra" in str(info.value).split("its keys:")[1]


def test_the_shared_file_holds_only_model_and_context(tmp_path, course):
    root = _copy_course(tmp_path, course)
    shared = root / "exercises" / "model.toml"
    shared.write_text('title = "not shared"\n' + shared.read_text())
    with pytest.raises(CourseError) as info:
        load_course(root)
    assert info.value.path == shared and info.value.key == "title" and info.value.exercise is None


def test_a_key_in_neither_file_is_missing_in_the_exercise(tmp_path, course):
    root = _copy_course(tmp_path, course)
    shared = root / "exercises" / "model.toml"
    text = shared.read_text()
    assert 'loss = "loss"\n' in text
    shared.write_text(text.replace('loss = "loss"\n', "", 1))
    with pytest.raises(CourseError, match="key 'model.loss': is missing \\(neither here nor in model.toml\\)") as info:
        load_course(root)
    assert info.value.path.name == "atomic.toml"
