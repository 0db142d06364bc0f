"""Course packs: every installed pack keeps the format's rules (course check's static part here, the whole
run in the slow tier); `--course NAME|DIR` on the commands, $BACKPROP_NINJA_COURSE, the workspace that
remembers its pack, `course list`; a pack takes nothing it does not name; the model section's sizes,
data-free models and tensors made by init; and no Python in tutor/ keyed on a pack's or an exercise's id."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from tutor.course import CourseError, load_course
from tutor.course.packs import ENV_VAR, installed_packs, pack_root
from tutor.course.rules import pack_problems

ROOT = Path(__file__).resolve().parent.parent
PACKS = installed_packs()
PACK_IDS = [p.id for p in PACKS]


# ---- every installed pack ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pack", PACKS, ids=PACK_IDS)
def test_every_installed_pack_keeps_the_rules(pack):
    course = load_course(pack.root)
    assert course.id == pack.id
    assert pack_problems(course) == []
    # ids and orders are the pack's own: numbered from 1 without a gap
    assert [e.order for e in course.exercises] == list(range(1, len(course.exercises) + 1))


def test_the_lecture_pack_comes_first_and_the_transformer_pack_is_installed():
    assert PACK_IDS[0] == load_course().id == "makemore4"
    assert "transformer" in PACK_IDS and len(set(PACK_IDS)) == len(PACK_IDS)
    assert pack_root("transformer") == ROOT / "packs" / "transformer"


# ---- the pack a command works on ---------------------------------------------------------------------------------


def test_course_list_prints_the_installed_packs_one_a_line_id_first(backprop_ninja):
    ran = backprop_ninja("course", "list")
    assert ran.returncode == 0
    lines = ran.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == PACK_IDS
    assert "*" in lines[0].split("\t")[1]  # the pack in use
    ran = backprop_ninja("--course", "transformer", "course", "list")
    assert "*" in ran.stdout.splitlines()[PACK_IDS.index("transformer")].split("\t")[1]


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_course_names_a_pack_before_or_after_the_command_or_in_the_environment(backprop_ninja, where):
    args = {"before": ("--course", "transformer", "list"), "after": ("list", "--course", "transformer"), "env": ("list",)}[where]
    ran = backprop_ninja(*args, env={ENV_VAR: "transformer"} if where == "env" else None)
    assert ran.returncode == 0, ran.stderr
    assert "1. layernorm" in ran.stdout and "atomic" not in ran.stdout


def test_course_takes_a_folder_and_an_unknown_name_is_one_line_exit_2(backprop_ninja, tmp_path):
    folder = str(ROOT / "packs" / "transformer")
    ws = tmp_path / "ws"
    assert backprop_ninja("--course", folder, "init", str(ws)).returncode == 0
    ran = backprop_ninja("--course", folder, "hint", "softmax", "dwei", "--workspace", str(ws))
    assert ran.returncode == 0 and "Work on one row" in ran.stdout
    ran = backprop_ninja("--course", "no-such-pack", "list")
    assert ran.returncode == 2 and len(ran.stderr.strip().splitlines()) == 1
    assert "makemore4" in ran.stderr and "transformer" in ran.stderr


def test_a_workspace_remembers_its_pack(backprop_ninja, tmp_path):
    ws = tmp_path / "ws"
    assert backprop_ninja("--course", "transformer", "init", str(ws)).returncode == 0
    assert (ws / "attention.py").is_file() and not (ws / "atomic.py").exists()
    ran = backprop_ninja("list", cwd=ws)  # no --course: the workspace's own pack
    assert "4. softmax" in ran.stdout
    ran = backprop_ninja("hint", "attention", "dscores", "--workspace", str(ws))
    assert ran.returncode == 0 and "masked_fill" in ran.stdout


def test_the_help_names_the_course_option(backprop_ninja):
    for args in (("--help",), ("check", "--help"), ("course", "check", "--help"), ("tui", "--help")):
        ran = backprop_ninja(*args)
        assert "--course" in ran.stdout, args


def test_the_help_names_exercises_of_the_pack_in_use_not_the_lectures_four(backprop_ninja):
    top = " ".join(backprop_ninja("--help").stdout.split())
    assert "course packs" in top and "of the pack in use by its number or id" in top
    for args in (("check", "--help"), ("hint", "--help"), ("why", "--help"), ("reset", "--help"), ("train", "--help")):
        text = " ".join(backprop_ninja(*args).stdout.split())
        assert not any(word in text for word in ("1-4", "atomic/1", "training/4", "exercise 4", "the MLP")), args
        if args[0] != "train":
            assert "an exercise of the course pack in use, by its number or id" in text, args


# ---- the format ----------------------------------------------------------------------------------------------------


def copy_pack(tmp_path: Path, pack_id: str = "transformer") -> Path:
    root = tmp_path / pack_id
    shutil.copytree(pack_root(pack_id), root)
    return root


def test_a_pack_takes_nothing_it_does_not_name(tmp_path):
    root = copy_pack(tmp_path)
    toml = root / "exercises" / "softmax.toml"
    toml.write_text(toml.read_text().replace('model_file = "models/attention.toml"\n', ""))
    with pytest.raises(CourseError, match=r"softmax.toml: exercise 'softmax': key '(context|model\.\w+)': is missing"):
        load_course(root)


def test_a_forward_name_assigned_twice_is_refused(tmp_path):
    root = copy_pack(tmp_path)
    model = root / "exercises" / "models" / "attention.toml"
    model.write_text(model.read_text().replace("wei = scores.masked_fill", "wei = scores\nwei = wei.masked_fill"))
    with pytest.raises(CourseError, match=r"key 'model.forward': assigns 'wei' twice \(lines 6 and 7"):
        load_course(root)


def test_sizes_are_the_packs_own_and_the_second_batch_varies_all_but_the_kept(course):
    import random

    from tutor.engine.context import draw_second_spec

    attention = load_course(pack_root("transformer")).find("attention")
    assert dict(attention.model.sizes) == {"T": 8, "C": 16, "H": 8} and attention.model.data == "none"
    spec = draw_second_spec(attention, None, random.Random(1))
    assert {name for name, _ in spec.sizes} == {"T", "C", "H"}
    assert all(value not in (4, 8, 16) for _, value in spec.sizes) and spec.batch_size != 4
    atomic = course.find("atomic")
    spec = draw_second_spec(atomic, 27, random.Random(1))
    assert {name for name, _ in spec.sizes} == {"n_embd", "n_hidden"}  # block_size is kept
    assert atomic.model.keep == ("block_size",) and atomic.model.window_size == 3


def test_a_lecture_free_pack_needs_no_moments_and_a_lecture_pack_does(course):
    transformer = load_course(pack_root("transformer"))
    assert not transformer.pack.lecture and all(not s.why_at for e in transformer.exercises for s in e.steps)
    import dataclasses

    broken = dataclasses.replace(course, exercises=(dataclasses.replace(course.exercises[0], chapter_at=""),))
    assert any("chapter_at is missing" in line for line in pack_problems(broken))


def test_a_missing_translation_and_a_short_why_are_named(tmp_path):
    root = copy_pack(tmp_path)
    toml = root / "exercises" / "softmax.toml"
    text = toml.read_text()
    start = text.index("why_zh = ")
    toml.write_text(text[:start] + text[text.index("\n", start) + 1:])
    (root / "exercises" / "zh" / "layernorm.toml").unlink()
    problems = pack_problems(load_course(root))
    assert "softmax: step dwei: why_zh is missing" in problems
    assert any(line.startswith("layernorm: the starter's zh words") for line in problems)


# ---- the pack's own words: its first batch, its calibration, its moments -----------------------------------------


@pytest.mark.parametrize("pack_id, en, zh", [("makemore4", "the lecture's batch", "讲座的批次"),
                                             ("transformer", "the first batch", "第一个批次")])
def test_the_notes_call_the_first_batch_what_the_pack_calls_it(pack_id, en, zh):
    from tutor.messages import message, render_message

    first = load_course(pack_root(pack_id)).exercises[0].pack.first_batch_words()
    for code in ("second-batch-fails", "fails-local-rule", "hard-coded-size", "lecture-only-true-zero", "grid-second-batch"):
        said = message(code, first=first, sizes="T=5", status="wrong", detail="x", n=4, second="T=5", names="T", gives="0")
        assert en in render_message(said, "en") and zh in render_message(said, "zh"), code
        if pack_id == "transformer":
            assert "lecture" not in render_message(said, "en") and "讲座" not in render_message(said, "zh"), code


def test_a_pack_names_its_first_batch_in_every_language_it_promises(tmp_path):
    root = copy_pack(tmp_path)
    toml = root / "exercises" / "pack.toml"
    toml.write_text(toml.read_text() + 'first_batch = "the batch you see"\n')
    assert "pack.toml: first_batch_zh is missing" in pack_problems(load_course(root))
    toml.write_text(toml.read_text() + 'first_batch_zh = "你看到的批次"\n')
    course = load_course(root)
    assert pack_problems(course) == [] and course.pack.first_batch_words()["params"]["text_zh"] == "你看到的批次"


def test_the_calibration_is_named_by_the_pack_and_not_shown_without_one(tmp_path):
    from rich.console import Console

    from tutor.reports.training import Trained, TrainingResult
    from tutor.training.view import results_table, samples_table

    lecture = load_course(pack_root("makemore4")).find("training").training
    block = load_course(pack_root("transformer")).find("block").training
    assert lecture.text("calibrated") == "After calibrating BatchNorm on the training set"
    assert lecture.text("calibrating", "zh") == "正在校准 BatchNorm"
    assert not block.calibrated and not block.calibrating
    result = TrainingResult("block", "cpu", 10, learner=Trained(10, 1.0, loss={"train": 2.0, "val": 2.1}))

    def shown(title):
        console = Console(width=100, record=True)
        console.print(results_table(result, title=title))
        return console.export_text()

    assert "After calibrating BatchNorm" in shown(lecture.text("calibrated"))
    assert "BatchNorm" not in shown(None) and "2.1000" in shown(None)
    console = Console(width=100, record=True)
    console.print(samples_table(result, lecture=False))
    said = " ".join(console.export_text().split())  # the title wraps to the table's width
    assert "Samples (a fixed seed)" in said and "lecture" not in said
    # one without the other is refused: the heading and the phase come together
    root = copy_pack(tmp_path)
    toml = root / "exercises" / "block.toml"
    toml.write_text(toml.read_text().replace('calibrate = "pass"', 'calibrate = "pass"\ncalibrated = "After a rest"'))
    with pytest.raises(CourseError, match=r"block.toml: exercise 'block': key 'training.calibrating': is missing"):
        load_course(root)


def test_the_tutors_training_phase_names_the_calibration_only_where_the_pack_gives_it():
    from tutor.ui.words import say

    lecture = load_course(pack_root("makemore4")).find("training").training
    assert say("train-phase-calibrate", "en", calibrating=lecture.text("calibrating"), who="autograd") == (
        "Calibrating BatchNorm, evaluating and sampling (autograd's model)…")
    for lang in ("en", "zh"):
        assert "BatchNorm" not in say("train-phase-evaluate", lang, who="x")


def test_a_lecture_free_pack_refuses_a_moment_and_its_why_names_none(tmp_path):
    from tutor.cli.common import why_lines

    root = copy_pack(tmp_path)
    toml = root / "exercises" / "softmax.toml"
    text = toml.read_text()
    toml.write_text(text.replace("\nwhy = ", '\nwhy_at = "0:00:00"\nwhy = ', 1))
    with pytest.raises(CourseError, match=r"why_at': is a moment of the pack's lecture, and this pack follows none"):
        load_course(root)
    for exercise in load_course(pack_root("transformer")).exercises:
        for step in exercise.steps:
            for lang in ("en", "zh"):
                said = "\n".join(why_lines(exercise, step, lang))
                assert "the lecture explains it" not in said and "0:00" not in said and "课程视频在" not in said


# ---- no Python keyed on an id ----------------------------------------------------------------------------------


def _literals(path: Path) -> set[str]:
    """The string constants of a module that are not docstrings, nor the format's `kind` values compared."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "kind":
            skip.update(id(c) for c in node.comparators)
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip}


# Words that are the format's own besides naming an exercise: the lecture's fourth exercise is of kind
# "training" (and the tutor has a training package); the kinds are looked for only as compared ids.
FORMAT_WORDS = {"check", "training"}


def test_no_pack_or_exercise_id_in_the_tutors_code():
    ids = set(PACK_IDS) | {e.id for p in PACKS for e in load_course(p.root).exercises}
    found = {}
    for path in (ROOT / "tutor").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if not any(f'"{ident}"' in text or f"'{ident}'" in text for ident in ids - FORMAT_WORDS):
            continue  # no id as a literal at all: nothing to parse
        hits = (_literals(path) & ids) - FORMAT_WORDS
        if hits:
            found[str(path.relative_to(ROOT))] = sorted(hits)
    assert found == {}
    tracked = __import__("subprocess").run(
        ["git", "-C", str(ROOT), "grep", "-n", "-E", "makemore4|transformer|layernorm", "--", "tutor"],
        capture_output=True, text=True,
    )
    if tracked.returncode not in (0, 1):
        pytest.skip(f"git grep cannot run here: {tracked.stderr.strip()[:80]}")
    assert [line for line in tracked.stdout.splitlines() if "NodeTransformer" not in line] == []


# ---- the transformer pack's verdicts (slow: a sandbox for the pack) ----------------------------------------------


def _solution_with(exercise: str, old: str, new: str) -> str:
    source = (pack_root("transformer") / "solutions" / f"{exercise}.py").read_text()
    assert old in source
    return source.replace(old, new)


@pytest.mark.slow
@pytest.mark.parametrize(
    "exercise, old, new, row, words",
    [
        # a hard-coded sequence length: the second batch has another T, and the message lists the pack's sizes
        ("attention", "dwei.masked_fill(tril == 0", "dwei.masked_fill(torch.tril(torch.ones(8, 8)) == 0", "dscores",
         "hard-coded-size"),
        # the mask dropped in the backward pass: right on every batch, caught by the local rule at its line
        ("attention", "dscores = dwei.masked_fill(tril == 0, 0.0)", "dscores = dwei.clone()", "dscores", "The mask is dropped"),
        # LayerNorm's mean term taken as ~0 (its variance branch): the local rule again, at its own line
        ("layernorm", "dxmean = -dxc.sum(-1, keepdim=True)", "dxmean = -(rstd * dxhat).sum(-1, keepdim=True)", "dxmean",
         "That shortcut drops the variance's branch"),
    ],
    ids=["hard-coded-T", "dropped-mask", "mean-term-shortcut"],
)
def test_the_transformer_packs_traps_fail_at_their_own_line(backprop_ninja, tmp_path, exercise, old, new, row, words):
    path = tmp_path / f"{exercise}.py"
    path.write_text(_solution_with(exercise, old, new))
    ran = backprop_ninja("--course", "transformer", "check", exercise, "--file", str(path), "--json")
    assert ran.returncode == 1, ran.stderr
    import json

    report = json.loads(ran.stdout)
    first = next(t for t in report["tensors"] if t["status"] not in ("exact", "close"))
    assert first["name"] == row and words in json.dumps(first["diagnosis"])
    if words == "hard-coded-size":
        assert "Use n, T, C, H or tensor.shape" in first["diagnosis"]["message"]
        # the pack names its first batch no lecture's: the tutor's own words for it
        assert first["diagnosis"]["message"].startswith("right on the first batch (n=4)")
    # the rows below it are blamed on it, not on their own lines
    assert all(t["status"] in ("exact", "close") or t["inherits_from"] == row for t in report["tensors"] if t["name"] != row)


@pytest.mark.slow
def test_a_tensor_made_by_init_is_read_by_the_forward_code_and_the_learner(backprop_ninja, tmp_path):
    # tril and wout come from the model's init: the solution reads both, and passes every run
    path = tmp_path / "attention.py"
    path.write_text(_solution_with("attention", "dout = wout / out.numel()", "dout = wout / out.numel()  # wout: init's"))
    ran = backprop_ninja("--course", "transformer", "check", "attention", "--file", str(path))
    assert ran.returncode == 0, ran.stdout + ran.stderr


# ---- the author docs' walk-through ---------------------------------------------------------------------------------

DOCS = ROOT / "docs" / "course-authors-format.md"


def walk_through_pack(target: Path) -> Path:
    """The one-exercise pack of the docs' walk-through, written from the page's `file=` code blocks."""
    import re

    blocks = re.findall(r"```\w+ file=(\S+)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert {name for name, _ in blocks} == {"exercises/pack.toml", "exercises/tanh.toml", "exercises/tanh.py", "solutions/tanh.py"}
    for name, text in blocks:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text, encoding="utf-8")
    return target


def test_the_docs_name_every_key_the_loader_reads():
    from tutor.course import load

    text = DOCS.read_text(encoding="utf-8")
    keys = {*load.PACK_KEYS, *load.MODEL_KEYS, *load.CONTEXT_KEYS, "model_file", "local_only", "support", "given", "chain",
            "chain_message", "forbid_autograd", "rows", "why_at", "chapter_at", "code", "expr", "max_steps",
            "default_steps", "lr", "lr_decay_at", "lr_after", "grad_check_steps", "sample_count", "sample_seed",
            "max_name_length", "calibrate", "infer", "calibrated", "calibrating"}
    assert [key for key in sorted(keys) if f"`{key}`" not in text] == []


def test_the_walk_through_builds_a_pack_a_learner_can_use(backprop_ninja, tmp_path):
    root = walk_through_pack(tmp_path / "tanh")
    course = load_course(root)
    assert course.id == "tanh" and [e.id for e in course.exercises] == ["tanh"] and pack_problems(course) == []
    ran = backprop_ninja("--course", str(root), "list")
    assert ran.returncode == 0 and "1. tanh" in ran.stdout
    ws = tmp_path / "ws"
    assert backprop_ninja("--course", str(root), "init", str(ws)).returncode == 0
    ran = backprop_ninja("hint", "tanh", "dx", "--course", str(root), "--workspace", str(ws))
    assert ran.returncode == 0 and "1 - tanh**2" in ran.stdout


@pytest.mark.slow
def test_a_file_is_checked_against_the_walk_through_pack(backprop_ninja, tmp_path):
    root = walk_through_pack(tmp_path / "tanh")
    ran = backprop_ninja("--course", str(root), "course", "check")
    assert ran.returncode == 0 and "1 solutions, 1 starters, 1 mistakes" in ran.stdout, ran.stdout + ran.stderr
    ws = tmp_path / "ws"
    assert backprop_ninja("--course", str(root), "init", str(ws)).returncode == 0
    (ws / "tanh.py").write_text("dh = w.clone()\ndx = (1 - x**2) * dh\n")
    ran = backprop_ninja("--course", str(root), "check", "tanh", "--file", str(ws / "tanh.py"))
    assert ran.returncode == 1 and "taken at its output a = h" in ran.stdout
    ran = backprop_ninja("check", "tanh", cwd=ws)  # the workspace's pack, remembered
    assert ran.returncode == 1 and "taken at its output a = h" in ran.stdout
    (ws / "tanh.py").write_text((root / "solutions" / "tanh.py").read_text())
    assert backprop_ninja("check", "tanh", cwd=ws).returncode == 0
    ran = backprop_ninja("why", "tanh", "dx", cwd=ws)
    assert ran.returncode == 0 and "written with its output" in ran.stdout and "lecture" not in ran.stdout


@pytest.mark.slow
def test_the_tutors_check_service_loads_the_pack_it_is_given(tmp_path, monkeypatch):
    from tutor.service.client import CheckClient
    from tutor.ui.app import make_app

    monkeypatch.delenv(ENV_VAR, raising=False)
    root = walk_through_pack(tmp_path / "tanh")
    app = make_app(load_course(root), tmp_path / "ws", watch=False)  # as `backprop-ninja --course DIR` starts it
    try:
        assert isinstance(app.checker, CheckClient) and app.checker.course_root == root
        reply = app.checker.check("tanh", root / "solutions" / "tanh.py")
        assert reply.get("type") == "report" and reply["passed"], reply
    finally:
        app.checker.close()
        app.trainer.close()


def test_a_supporting_row_without_a_why_is_named(course):
    """A supporting row shows its why once it passes, as a step does: course check holds it to having one."""
    import dataclasses

    training = next(e for e in course.exercises if e.support)
    row = training.support[0]
    bare = dataclasses.replace(row, why="")
    broken = dataclasses.replace(training, support=(bare, *training.support[1:]))
    problems = pack_problems(dataclasses.replace(course, exercises=(broken,)))
    assert any(line.startswith(f"{training.id}: supporting row {row.name}: its why has 0 characters") for line in problems)


def test_a_tensor_changed_in_place_is_not_assigned_twice():
    """`mask[i] = 0` after `mask = ...` changes mask in place: the forward code binds mask once (nor i at all)."""
    from tutor.course.load import _assigned_twice

    assert _assigned_twice("mask = torch.ones(4, 4)\ni = 2\nmask[i] = 0\nout = x * mask\n") is None
    assert _assigned_twice("wei = q @ k.T\nwei = wei.softmax(-1)\n") == ("wei", 1, 2)
