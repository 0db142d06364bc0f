"""Shared fixtures: the course, warm Checkers per session, the command line run in this process or in a fresh
one, and the lecture's data when present."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import os
import tempfile
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
# The command line checks in its own process in every test, and in every process a test starts: no test leaves a
# check server behind. The check server's own tests (test_checkd.py) turn it on, each in a folder of its own.
os.environ["BACKPROP_NINJA_SERVER"] = "0"
# Parsed course packs are kept in a cache folder of this test run's own, never in the user's ~/.cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="bpn-test-cache-")

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


class WarmCheckers:
    """This session's Checkers, one per (course folder, data, device, timeout), each made on first use and
    closed at the session's end: what a command or a training session builds afresh (a sandbox importing
    torch, the lecture's contexts), tests that only judge files share."""

    def __init__(self) -> None:
        self._warm: dict[tuple, object] = {}

    def get(self, course, data=None, device: str = "cpu", timeout: float | None = None):
        from tutor.engine.check import DEFAULT_TIMEOUT, Checker

        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        key = (str(Path(course.root).resolve()), str(Path(data).resolve()) if data else None, device, float(timeout))
        if key not in self._warm:  # a refusal (no GPU, no data file, a timeout out of range) raises as it would
            self._warm[key] = Checker(course, data=data, device=device, timeout=timeout)
        return self._warm[key]

    def lend(self, course, data=None, device: str = "cpu", timeout: float | None = None):
        """For a `with` block that would close a Checker of its own: the warm one, left open."""
        return contextlib.nullcontext(self.get(course, data, device, timeout))

    def close(self) -> None:
        for warm in self._warm.values():
            warm.close()


@pytest.fixture(scope="session")
def warm_checkers():
    pool = WarmCheckers()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def checker(course, warm_checkers):
    return warm_checkers.get(course)  # the default timeout, as `backprop-ninja check` has it: the command shares it


@pytest.fixture
def shared_checkers(warm_checkers, monkeypatch):
    """The commands' Checkers (`check`, `course check`) and the grad check's of a training session come from
    the session's warm ones, made with the same arguments."""
    import tutor.cli.common
    import tutor.training.session

    monkeypatch.setattr(tutor.cli.common, "open_checker",
                        lambda course, args: warm_checkers.lend(course, args.data, args.device, args.timeout))
    monkeypatch.setattr(tutor.training.session, "Checker", warm_checkers.lend)


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
    """Run `python -m tutor ARGS` as a user would, in a fresh process with no terminal: for what only a real
    process shows (its exit code, a piped stdout, no traceback at exit, its children's end); the rest of the
    command line's tests run it in this process (`backprop_ninja`)."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tutor", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Ran:
    """What one command left, under the names subprocess.CompletedProcess gives them."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def backprop_ninja(shared_checkers) -> Callable[..., Ran]:
    """`backprop-ninja ARGS` in this process, as run_cli runs it in a fresh one: no terminal (stdin at its end,
    stdout and stderr captured), NO_COLOR=1, the working folder `cwd` (default: the repository) and `env` for
    that call only, argparse's exits as exit codes; its checks on the session's warm Checkers."""
    from tutor.cli import main

    def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> Ran:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(cwd or ROOT)
            for name, value in {"NO_COLOR": "1", **(env or {})}.items():
                patch.setenv(name, value)
            patch.setattr(sys, "argv", ["backprop-ninja", *args])
            patch.setattr(sys, "stdin", io.StringIO())
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as stop:  # argparse's --help and refusals
                    code = stop.code if isinstance(stop.code, int) else (stop.code is not None)
                    if isinstance(stop.code, str):
                        print(stop.code, file=sys.stderr)
        return Ran(list(args), int(code), out.getvalue(), err.getvalue())

    return run
