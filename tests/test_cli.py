"""The CLI contract: exit codes, --json shape, init, list, and one-line errors. Most run the command in this
process (`backprop_ninja`, on warm Checkers); those about the real process run `python -m tutor` as a user does."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LECTURE_NAMES, ROOT, run_cli

EXERCISES = ["atomic", "cross-entropy", "batchnorm", "training"]
TENSOR_KEYS = {"name", "of", "status", "expected_shape", "shape", "max_abs_diff", "note"}


@pytest.mark.parametrize("number, ident", list(enumerate(EXERCISES, start=1)))
def test_solution_passes_and_starter_fails(number, ident, course, backprop_ninja):
    exercise = course.find(ident)
    passed = backprop_ninja("check", str(number), "--file", str(exercise.solution), "--json")
    assert passed.returncode == 0, passed.stderr
    report = json.loads(passed.stdout)
    assert report["exercise"] == ident and report["passed"] is True and report["error"] is None
    # every row the solution computes, in the order of a backward pass (exercise 4: with its supporting rows)
    assert [t["name"] for t in report["tensors"]] == [s.name for s in exercise.rows]
    assert all(t["local"] == "pass" and t["second"] == "pass" for t in report["tensors"])
    assert all(t["status"] in ("exact", "close") for t in report["tensors"])
    failed = backprop_ninja("check", ident, "--file", str(exercise.starter), "--json")
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["passed"] is False
    assert all(t["status"] == "missing" for t in report["tensors"])


def test_json_has_the_contracted_shape(course, backprop_ninja):
    result = backprop_ninja("check", "1", "--file", str(course.find("1").solution), "--json")
    report = json.loads(result.stdout)
    assert {"exercise", "passed", "device", "loss", "error", "tensors"} <= set(report)
    assert report["device"] == "cpu" and isinstance(report["loss"], float) and 3.0 < report["loss"] < 4.0
    first = report["tensors"][0]
    assert TENSOR_KEYS <= set(first)
    assert first == {**first, "name": "dlogprobs", "of": "logprobs", "status": "exact", "expected_shape": [32, 27], "shape": [32, 27], "max_abs_diff": 0.0}


def test_human_output_is_a_plain_table_without_a_terminal(course, backprop_ninja):
    result = backprop_ninja("check", "atomic", "--file", str(course.find("1").solution))
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout
    for word in ("gradient", "expected", "yours", "exact", "close", "max abs diff", "status", "dbnmeani"):
        assert word in result.stdout
    assert "all 26 gradients match" in result.stdout


@pytest.mark.slow
def test_a_table_written_into_a_pipe_is_plain_text(tmp_path, backprop_ninja):
    # a fresh process whose stdout is a real pipe (progress: a table of the same console, without torch): its
    # exit code, and no colour or style codes meant for a terminal
    workspace = tmp_path / "ws"
    backprop_ninja("init", str(workspace))
    result = run_cli("progress", "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert "┃ #" in result.stdout and "│ 1 │ atomic" in result.stdout and "not started" in result.stdout


def test_learner_error_exits_1_with_its_line(backprop_ninja):
    result = backprop_ninja("check", "1", "--file", "tests/learner_files/raises_halfway.py", "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error == {"kind": "exception", "message": error["message"], "line": 5}


def test_json_names_the_root_a_second_batch_finds_on_every_row_below(tmp_path, course, backprop_ninja):
    wrong = tmp_path / "atomic.py"
    source = course.find("1").solution.read_text(encoding="utf-8")
    wrong.write_text(source.replace("dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(n), Yb] = -1.0/32"))
    result = backprop_ninja("check", "1", "--file", str(wrong), "--json")
    assert result.returncode == 1
    rows = {t["name"]: t for t in json.loads(result.stdout)["tensors"]}
    root = rows.pop("dlogprobs")
    assert (root["inherits_from"], root["local"], root["diagnosis"]["code"]) == (None, "fail", "hard-coded-size")
    assert {name: t["inherits_from"] for name, t in rows.items()} == dict.fromkeys(rows, "dlogprobs")


@pytest.mark.parametrize(
    "args, message, fresh",
    [
        (["check", "7", "--file", "x.py"], "no exercise '7'", False),
        (["check", "1", "--file", "does/not/exist.py"], "does not exist", False),
        # a fresh process: the sandbox it started ends with it, and nothing is printed on the way out
        pytest.param(["check", "1", "--file", "solutions/atomic.py", "--data", "missing.txt"], "missing.txt does not exist", True,
                     marks=pytest.mark.slow),
        (["check", "1", "--file", "solutions/atomic.py", "--timeout", "-1"], "between 0.1 and 600", False),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, message, fresh, backprop_ninja):
    result = run_cli(*args) if fresh else backprop_ninja(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cuda_without_a_gpu_is_a_clear_message(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from tutor.cli import main

    # refused before any process starts: checked in this process
    assert main(["check", "1", "--file", str(ROOT / "solutions" / "atomic.py"), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_init_creates_and_never_overwrites(tmp_path, backprop_ninja):
    workspace = tmp_path / "ws"
    first = backprop_ninja("init", str(workspace))
    assert first.returncode == 0
    atomic = workspace / "atomic.py"
    assert atomic.read_text() == (ROOT / "exercises" / "atomic.py").read_text()
    atomic.write_text("dlogprobs = None  # my work\n")
    second = backprop_ninja("init", str(workspace))
    assert second.returncode == 0 and "kept" in second.stdout
    assert atomic.read_text() == "dlogprobs = None  # my work\n"


def test_check_defaults_to_the_workspace_file(tmp_path, backprop_ninja):
    workspace = tmp_path / "ws"
    backprop_ninja("init", str(workspace))
    (workspace / "cross_entropy.py").write_text((ROOT / "solutions" / "cross_entropy.py").read_text())
    by_flag = backprop_ninja("check", "2", "--workspace", str(workspace), "--json")
    assert by_flag.returncode == 0 and json.loads(by_flag.stdout)["passed"]
    by_cwd = backprop_ninja("check", "2", "--json", cwd=workspace)
    assert by_cwd.returncode == 0
    missing = backprop_ninja("check", "2", "--workspace", str(tmp_path / "none"))
    assert missing.returncode == 2 and "backprop-ninja init" in missing.stderr


def test_list_shows_exercises_and_steps(backprop_ninja):
    result = backprop_ninja("list")
    assert result.returncode == 0
    for ident in EXERCISES:
        assert ident in result.stdout
    assert "dcounts_sum_inv" in result.stdout


def test_help_and_python_m_agree():
    # the fast tier's one `python -m tutor` process (no torch is loaded for --help)
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("check", "init", "hint", "solution", "progress", "reset", "train", "why"):
        assert command in result.stdout, command


@pytest.mark.slow
@pytest.mark.lecture
def test_lecture_data_passes_through_data_flag(backprop_ninja):
    # a Checker of its own: the lecture's file is the data
    result = backprop_ninja("check", "1", "--file", "solutions/atomic.py", "--data", str(LECTURE_NAMES), "--json")
    assert result.returncode == 0
    assert 3.0 < json.loads(result.stdout)["loss"] < 4.0


@pytest.mark.slow
@pytest.mark.cuda
def test_cuda_check_passes_and_keeps_tensors_on_the_gpu(course, backprop_ninja):
    result = backprop_ninja("check", "1", "--file", str(course.find("1").solution), "--device", "cuda", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["device"] == "cuda" and report["passed"]
    cpu_made = backprop_ninja("check", "2", "--file", "tests/learner_files/cpu_tensor.py", "--device", "cuda", "--json")
    verdict = json.loads(cpu_made.stdout)["tensors"][0]
    assert verdict["status"] == "invalid" and "cpu" in verdict["note"]


@pytest.mark.slow
def test_bare_command_without_a_terminal_explains_instead_of_hanging(tmp_path):
    result = run_cli("--workspace", str(tmp_path / "ws"), timeout=30)
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr and "backprop-ninja check" in result.stderr


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.slow])])
def test_a_file_written_for_the_cpu_passes_on_either_device(backprop_ninja, device):
    # torch.zeros((n, vocab_size)), torch.ones(shape), torch.arange(n): no device named; the check's device is
    # the default one where the file runs
    result = backprop_ninja("check", "1", "--file", "tests/learner_files/default_device.py", "--device", device, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["passed"] and report["device"] == device, result.stdout + result.stderr


def test_a_command_line_that_names_its_command_registers_that_command_alone():
    from tutor.cli import COMMANDS, build_parser, named_command, subcommands

    assert named_command(["check", "1"]) == "check"
    assert named_command(["--lang", "zh", "--course=transformer", "--notebook", "hint", "1", "dprobs"]) == "hint"
    assert named_command(["--workspace", "check", "list"]) == "list"  # "check" is the option's value
    # no command, help, version, an abbreviated option or a typo: every command, as the help and errors list them
    for argv in ([], ["--help"], ["--version"], ["--lan", "zh", "check"], ["chek"], ["--workspace"]):
        assert named_command(argv) is None
    assert [p.prog for p in subcommands(build_parser("check"))] == ["backprop-ninja check"]
    everything = {p.prog.split()[1] for p in subcommands(build_parser())}
    assert everything == set(COMMANDS)
