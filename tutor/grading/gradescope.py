"""Gradescope: the autograder zip a course uploads (setup.sh installs torch's CPU-only build, then this tutor
from the source bundled beside it; run_autograder grades /autograder/submission with tutor.grading.autograder)
and results.json in Gradescope's format: one test per gradient (its verdict and diagnosis in words, the
diagnosis code as a tag), the table of them as the top-level output. The second batch's sizes and the
local-rule draws are never shown: a learner who sees them could write an answer for them."""

from __future__ import annotations

import json
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tutor import __version__
from tutor.course.model import Course
from tutor.grading.rows import PASSING, first_to_fix
from tutor.messages import render

ROOT_ENV = "BACKPROP_NINJA_AUTOGRADER_ROOT"  # the autograder's root, /autograder unless a test says otherwise
CONFIG = "autograder.json"
SOURCE = "backprop-ninja"
TORCH = "2.13.0"
DEPENDENCIES = ['torch>=2.1', 'textual>=8.0,<9', 'rich>=13.7', "tomli>=2.0; python_version < '3.11'", 'nbformat>=5']

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image: torch's CPU-only build first (a plain
# `pip install torch` pulls the multi-GB CUDA one), then backprop-ninja from the source in this zip.
set -euo pipefail
cd "$(dirname "$0")"
# Ubuntu 24.04's Python refuses system-wide installs without this (PEP 668); older pips ignore it
export PIP_BREAK_SYSTEM_PACKAGES=1
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -y && apt-get install -y python3 python3-pip
fi
python3 -m pip install --upgrade pip
python3 -m pip install "torch=={torch}" --index-url https://download.pytorch.org/whl/cpu
python3 -m pip install ./{source}
python3 -c "import tutor.grading.autograder"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission (in /autograder): grade /autograder/submission and write
# /autograder/results/results.json. {env} names another root (a test's fake /autograder tree).
set -uo pipefail
ROOT="${{{env}:-/autograder}}"
export PYTHONPATH="$ROOT/source/{source}${{PYTHONPATH:+:$PYTHONPATH}}"
mkdir -p "$ROOT/results"
exec python3 -m tutor.grading.autograder --root "$ROOT"
"""

PYPROJECT = """[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "backprop-ninja"
version = "{version}"
requires-python = ">=3.10"
dependencies = {dependencies}

[project.scripts]
backprop-ninja = "tutor.cli:run"

[tool.hatch.build.targets.wheel]
packages = ["tutor"]
"""


def torch_pin() -> str:
    try:
        from importlib.metadata import version

        return version("torch").split("+")[0]
    except Exception:  # noqa: BLE001 - no torch metadata: the version this tutor is tested with
        return TORCH


def write_bundle(target: Path, course: Course, exercise: str | None = None, timeout: float = 10.0, lang: str = "en") -> Path:
    """Write the autograder zip to `target` (a folder target gets autograder.zip inside)."""
    if target.is_dir():
        target = target / "autograder.zip"
    package = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / SOURCE
        shutil.copytree(package, source / "tutor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_course"))
        for folder in ("exercises", "solutions"):
            shutil.copytree(Path(course.root) / folder, source / "tutor" / "_course" / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (source / "pyproject.toml").write_text(
            PYPROJECT.format(version=__version__, dependencies=json.dumps(DEPENDENCIES)), encoding="utf-8")
        files = {
            "setup.sh": SETUP_SH.format(torch=torch_pin(), source=SOURCE),
            "run_autograder": RUN_AUTOGRADER.format(env=ROOT_ENV, source=SOURCE),
            CONFIG: json.dumps({"exercise": exercise, "timeout": timeout, "lang": lang}, indent=2) + "\n",
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in files.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFREG | 0o755) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, text)
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    bundle.write(path, f"{SOURCE}/{path.relative_to(source).as_posix()}")
    return target


# ---- results.json ------------------------------------------------------------------------------------------

SIZES = re.compile(r"n=\d+, vocab_size=\d+, n_embd=\d+, n_hidden=\d+")


def hidden(text: str) -> str:
    """Text with a second batch's sizes replaced by words."""
    return SIZES.sub("other sizes", text)


def say(code: str, lang: str, **params: Any) -> str:
    return render(f"cli-gradescope-{code}", params, lang)


def verdict_words(row: Mapping[str, Any], lang: str) -> str:
    status = render(f"cli-status-{row['status']}", {}, lang)
    if row["status"] in PASSING:
        return say("passes", lang, status=status)
    if row.get("inherits_from"):
        return say("inherits", lang, status=status, root=row["inherits_from"])
    diagnosis = row.get("diagnosis")
    if diagnosis:
        words = render(diagnosis["message_code"], diagnosis.get("params") or {}, lang) if diagnosis.get("message_code") else diagnosis.get("message", "")
        return say("diagnosed", lang, status=status, words=hidden(words))
    return say("wrong", lang, status=status)


def tests_of(result: Mapping[str, Any], course: Course, number: int, lang: str) -> tuple[list[dict[str, Any]], list[str]]:
    """One Gradescope test per gradient of the result's exercise, and the lines of its table."""
    exercise = course.find(result["exercise"])
    rows = {t["name"]: t for t in result.get("tensors") or () if not t.get("support")}
    error = result.get("error")
    stopped = say("stopped", lang, kind=error["kind"], line=error.get("line") or "–",
                  message=hidden(str(error.get("message") or "").strip().splitlines()[-1][:300] if error.get("message") else "")) if error else ""
    tests, lines = [], []
    passed = 0
    for index, step in enumerate(exercise.steps, start=1):
        row = rows.get(step.name)
        ok = row is not None and row["status"] in PASSING and not error
        passed += ok
        words = verdict_words(row, lang) if row is not None else say("not-judged", lang)
        output = words + (f"\n{stopped}" if stopped else "")
        tag = "pass" if ok else (row["diagnosis"]["code"] if row and row.get("diagnosis") else (row["status"] if row else error["kind"] if error else "missing"))
        tests.append({"name": f"{exercise.id} · {step.name}", "number": f"{number}.{index}", "score": 1.0 if ok else 0.0,
                      "max_score": 1.0, "output": output, "tags": [tag], "visibility": "visible"})
        lines.append(f"  {step.name:<16} {'✔' if ok else '✘'} {words.splitlines()[0]}")
    head = say("table-head", lang, exercise=exercise.id, passed=passed, total=len(exercise.steps))
    fix = first_to_fix(result)
    extra = [stopped] if stopped else ([say("first-to-fix", lang, name=fix["name"])] if fix else [])
    return tests, [head, *lines, *extra]


def results_json(results: list[Mapping[str, Any]], course: Course, lang: str = "en", seconds: float = 0.0) -> dict[str, Any]:
    """Gradescope's results.json for one submission's graded files."""
    tests, table = [], []
    graded = [r for r in results if course.find(r.get("exercise") or "")]
    for number, result in enumerate(graded, start=1):
        more, lines = tests_of(result, course, number, lang)
        tests.extend(more)
        table.extend([*lines, ""])
    if not graded:
        names = ", ".join(e.file_name for e in course.exercises)
        table = [say("nothing", lang, names=names)]
        for result in results:
            error = result.get("error") or {}
            table.append(f"  {result.get('file')}: {error.get('message', '')}")
    return {"score": sum(t["score"] for t in tests), "execution_time": round(seconds, 2), "output": "\n".join(table).rstrip() + "\n",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
