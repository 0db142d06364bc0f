"""Shared fixtures: the course, one warm Checker per session, and the lecture's data when present."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")

from tutor.course import load_course  # noqa: E402
from tutor.reports.check import CheckReport, LearnerError, Status, TensorVerdict  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LEARNER_FILES = Path(__file__).resolve().parent / "learner_files"
LECTURE_NAMES = ROOT.parent / "shared" / "data" / "names.txt"


def report_of(statuses: dict[str, Status], error: LearnerError | None = None, exercise: str = "atomic") -> CheckReport:
    """A check's report with one row per gradient name and its status (what the progress store counts)."""
    tensors = [TensorVerdict(name, name[1:], status, (), ()) for name, status in statuses.items()]
    return CheckReport(exercise, "cpu", 0.0, tensors, error)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="no CUDA GPU visible to torch")
    skip_lecture = pytest.mark.skip(reason=f"the lecture's names.txt is not at {LECTURE_NAMES}")
    has_cuda = cuda_available()
    for item in items:
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(skip_cuda)
        if "lecture" in item.keywords and not LECTURE_NAMES.is_file():
            item.add_marker(skip_lecture)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests (the TUI's Pilot tests) in a fresh event loop; no asyncio plugin needed."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


@pytest.fixture(autouse=True)
def own_state_home(tmp_path_factory, monkeypatch):
    """Each test gets its own $XDG_STATE_HOME: progress's journal and key never land in the real home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def course():
    return load_course()


@pytest.fixture(scope="session")
def checker(course):
    from tutor.engine.check import Checker

    with Checker(course, timeout=5.0) as warm:
        yield warm


@pytest.fixture(scope="session")
def atomic(course):
    return course.find("atomic")


# Training the reference solution costs seconds whatever the steps (a grad check in the sandbox, then a model
# of the learner's and one of autograd's, each in its own process), so the tests that read a good run share
# one: through the stream the TUI trains with (the training worker), every line it sent.
REFERENCE_STEPS = 1000


@pytest.fixture(scope="session")
def reference_stream(tmp_path_factory) -> list[dict]:
    from tutor.training.client import TrainingClient

    client = TrainingClient(steps=REFERENCE_STEPS, log_path=tmp_path_factory.mktemp("training") / "training.log")
    return list(client.start("training", ROOT / "solutions" / "training.py").events())


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m tutor ARGS` as a user would, with no terminal."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tutor", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
