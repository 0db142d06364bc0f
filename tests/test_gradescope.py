"""The Gradescope autograder that `grade --gradescope-bundle` writes: setup.sh installs torch's CPU-only build
then the bundled tutor; run_autograder, run against a fake /autograder tree (BACKPROP_NINJA_AUTOGRADER_ROOT),
writes results.json in Gradescope's format, one test per gradient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tutor.cli
from tutor.cli.course import with_mistake
from tutor.grading.gradescope import ROOT_ENV, results_json


def write_bundle(tmp_path: Path, *args: str) -> Path:
    target = tmp_path / "autograder.zip"
    assert tutor.cli.main(["grade", "--gradescope-bundle", str(target), *args]) == 0
    return target


def test_the_bundle_holds_setup_and_run_autograder_at_its_root(tmp_path, capsys):
    bundle = write_bundle(tmp_path, "--exercise", "1")
    assert "autograder.zip" in capsys.readouterr().out
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        setup = z.read("setup.sh").decode()
        config = json.loads(z.read("autograder.json"))
        modes = {name: (z.getinfo(name).external_attr >> 16) & 0o777 for name in ("setup.sh", "run_autograder")}
    assert {"setup.sh", "run_autograder", "backprop-ninja/pyproject.toml", "backprop-ninja/tutor/grading/autograder.py",
            "backprop-ninja/tutor/_course/exercises/atomic.toml", "backprop-ninja/tutor/_course/solutions/atomic.py"} <= names
    assert not any("__pycache__" in name for name in names)
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup and '"torch==2.' in setup
    assert setup.index("download.pytorch.org") < setup.index("./backprop-ninja")  # torch first, CPU-only
    assert config["exercise"] == "atomic"
    assert all(mode & 0o111 for mode in modes.values())


def test_results_json_never_shows_a_second_batchs_sizes(course):
    sizes = "n=45, vocab_size=27, n_embd=7, n_hidden=61"
    row = {"name": "dC", "status": "wrong", "inherits_from": None,
           "diagnosis": {"code": "hard-coded-size", "message": f"wrong on a second one ({sizes})"}}
    atomic = course.find("atomic")
    rows = [{**row, "name": s.name} for s in atomic.steps]
    result = results_json([{"exercise": "atomic", "tensors": rows, "error": None, "file": "atomic.py"}], course)
    text = json.dumps(result)
    assert "vocab_size=27" not in text and "other sizes" in text
    assert result["tests"][0]["tags"] == ["hard-coded-size"] and result["score"] == 0


def fake_autograder(tmp_path: Path, bundle: Path, files: dict[str, str], name: str) -> Path:
    root = tmp_path / name
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    for file, text in files.items():
        (root / "submission" / file).write_text(text, encoding="utf-8")
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"name": "Ada Lovelace"}]}), encoding="utf-8")
    return root


def run_autograder(root: Path) -> dict:
    env = {**os.environ, ROOT_ENV: str(root), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def valid(results: dict) -> None:
    assert set(results) >= {"score", "output", "tests"}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "tags"}
        assert 0 <= test["score"] <= test["max_score"] and test["output"] and test["tags"]


@pytest.mark.slow
def test_run_autograder_scores_a_right_and_a_nearly_right_submission(tmp_path, course):
    bundle = write_bundle(tmp_path, "--exercise", "atomic")
    atomic = course.find("atomic")
    solution = atomic.solution.read_text(encoding="utf-8")
    right = run_autograder(fake_autograder(tmp_path, bundle, {"atomic.py": solution}, "right"))
    valid(right)
    total = sum(t["max_score"] for t in right["tests"])
    assert total == len(atomic.steps) and right["score"] == total == sum(t["score"] for t in right["tests"])
    assert "atomic: 26 of 26" in right["output"]

    step = atomic.step("dC")
    wrong = run_autograder(fake_autograder(tmp_path, bundle, {"atomic.py": with_mistake(solution, step, step.mistakes[0])}, "wrong"))
    valid(wrong)
    assert 0 < wrong["score"] < total
    failed = [t for t in wrong["tests"] if t["score"] == 0]
    assert [t["name"] for t in failed] == ["atomic · dC"]
    assert failed[0]["tags"] != ["pass"] and step.mistakes[0].message[:30] in failed[0]["output"]
    assert "vocab_size=" not in json.dumps(wrong)


@pytest.mark.slow
def test_run_autograder_writes_results_for_a_submission_with_no_exercise(tmp_path):
    bundle = write_bundle(tmp_path)
    results = run_autograder(fake_autograder(tmp_path, bundle, {"notes.py": "x = 1\n"}, "empty"))
    assert results["score"] == 0 and results["tests"] == [] and "atomic.py" in results["output"]
