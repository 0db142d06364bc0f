"""The tutor inside Jupyter or Colab: `%load_ext tutor.jupyter`, then

    %%ninja atomic            check this cell in the sandbox, show the verdict, record it, then run the cell
    %%ninja atomic --no-run   check only
    %ninja hint atomic dcounts / %ninja progress / %ninja solution atomic / %ninja list
    %ninja workspace DIR      where progress and hints are kept (created with the starter files if new)

and `from tutor.jupyter import cmp`: the lecture's cmp with a shape check and the likely mistake.
The check runs the cell's code in the tutor's sandbox against the tutor's own context, never in the kernel.
"""

from __future__ import annotations

import atexit
import shlex
import sys
from pathlib import Path
from typing import Any

from tutor.notebook.cmp import cmp  # torch's NumPy warning is silenced by the package (tutor/notebook/__init__)

__all__ = ["NinjaSession", "cmp", "load_ipython_extension", "unload_ipython_extension"]

USAGE = (
    "usage: %%ninja EXERCISE [--no-run] [--timeout S] (cell magic); "
    "%ninja hint EXERCISE STEP [--yes] | progress | solution EXERCISE | list | workspace DIR"
)
# CLI commands `%ninja` passes on, with the session's workspace; any other word is refused with the usage.
PASSED_ON = {"hint", "progress", "solution", "list"}
HAS_NO_WORKSPACE = {"list"}


class NinjaSession:
    """One per kernel: the workspace, and a Checker kept warm between cells (its sandbox is a child process)."""

    def __init__(self, workspace: Path | None = None) -> None:
        from tutor.course import load_course
        from tutor.workspace.files import resolve_workspace

        self.course = load_course()
        self.workspace = workspace or resolve_workspace()
        self._checker: Any = None

    @property
    def checker(self):
        if self._checker is None:
            from tutor.cli.common import quiet_torch_import

            quiet_torch_import()
            from tutor.engine.check import Checker

            self._checker = Checker(self.course)
            atexit.register(self.close)
        return self._checker

    def close(self) -> None:
        if self._checker is not None:
            self._checker.close()
            self._checker = None

    def set_workspace(self, folder: str) -> str:
        from tutor.workspace.files import Workspace, WorkspaceError

        root = Path(folder).expanduser().resolve()
        try:
            created = [path for path, new in Workspace(root).init(self.course) if new]
        except WorkspaceError as exc:
            return f"backprop-ninja: {exc}"
        self.workspace = root
        return f"workspace: {root}" + (f" (created {len(created)} starter files)" if created else "")

    def check_cell(self, line: str, cell: str):
        """The verdict of the cell's code, or a one-line message; returns (view or message, run the cell?)."""
        from tutor.engine.check import CheckerError
        from tutor.learner.cells import neutralise
        from tutor.learner.notebook import Cell, analyse, backward_block
        from tutor.views.html import VerdictView
        from tutor.workspace.progress import ProgressStore

        try:
            words = shlex.split(line)
        except ValueError as exc:
            return f"backprop-ninja: {exc}; {USAGE}", False
        run = "--no-run" not in words
        words = [w for w in words if w != "--no-run"]
        timeout = None
        if "--timeout" in words:
            at = words.index("--timeout")
            try:
                timeout = float(words[at + 1])
            except (IndexError, ValueError):
                return f"backprop-ninja: --timeout needs a number of seconds; {USAGE}", False
            del words[at : at + 2]
        if len(words) != 1:
            return USAGE, False
        exercise = self.course.find(words[0])
        if exercise is None:
            return f"backprop-ninja: no exercise {words[0]!r}; choose one of: {self.course.names()}", False
        source, first = cell, 1
        if exercise.training is not None:  # a whole training loop: check its backward pass
            block = backward_block(analyse(Cell(0, cell)), exercise)
            if block is not None:
                first, last, indent = block
                source = "\n".join(
                    text[indent:] if text[:indent].strip() == "" else text.lstrip()
                    for text in cell.split("\n")[first - 1 : last]
                )
        source, _ = neutralise(source, strict_autograd=exercise.forbid_autograd)
        checker = self.checker
        if timeout is not None:
            if timeout <= 0:
                return "backprop-ninja: --timeout must be a positive number of seconds", False
            checker.timeout = timeout
        try:
            report = checker.check(exercise, Path(f"%%ninja {exercise.id}"), source=source)
        except CheckerError as exc:
            return f"backprop-ninja: {exc}", run
        if report.error is not None and report.error.line is not None and first != 1:
            from dataclasses import replace

            report.error = replace(report.error, line=report.error.line + first - 1)
        store = ProgressStore(self.workspace)
        store.record_check(exercise.id, report, current=True)
        view = VerdictView(report, where=lambda n: f"line {n} of this cell" if n else "this cell")
        if store.warning:
            report.warnings.append(store.warning)
        return view, run

    def command(self, line: str) -> str | None:
        """`%ninja …` as a line: a CLI command run with this session's workspace, or `workspace DIR`."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return f"backprop-ninja: {exc}; {USAGE}"
        if not words:
            return USAGE
        if words[0] == "workspace":
            return f"workspace: {self.workspace}" if len(words) == 1 else self.set_workspace(words[1])
        if words[0] not in PASSED_ON:
            return f"backprop-ninja: no command {words[0]!r} here; {USAGE}"
        from tutor.cli import main

        extra = [] if words[0] in HAS_NO_WORKSPACE else ["--workspace", str(self.workspace)]
        try:
            main(["--notebook", *words, *extra])
        except SystemExit:  # argparse's own usage message is already printed
            pass
        return None


_session: NinjaSession | None = None


def session() -> NinjaSession:
    global _session
    if _session is None:
        _session = NinjaSession()
    return _session


def ninja(line: str, cell: str | None = None) -> Any:
    """The `ninja` magic: a cell magic that checks, a line magic that runs a tutor command."""
    if cell is None:
        message = session().command(line)
        if message:
            print(message, file=sys.stderr if message.startswith(("backprop-ninja:", "usage:")) else sys.stdout)
        return None
    from IPython import get_ipython
    from IPython.display import display

    shown, run = session().check_cell(line, cell)
    if isinstance(shown, str):
        print(shown, file=sys.stderr)
    else:
        display(shown)
    if run:
        shell = get_ipython()
        try:
            shell.ex(shell.transform_cell(cell))
        except NameError as exc:  # a kernel without the lecture's forward pass: the check above stands
            print(f"backprop-ninja: {ran_without(exc)}", file=sys.stderr)
    return None


def ran_without(exc: NameError) -> str:
    """One line for a checked cell that then stopped in the kernel on a name the kernel does not have."""
    return (
        f"the check above stands; running the cell in this kernel stopped: {exc}. Run the lecture's forward pass "
        "in this notebook first, or check only with `%%ninja EXERCISE --no-run`."
    )


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(ninja, "line_cell", "ninja")


def unload_ipython_extension(ipython: Any) -> None:
    global _session
    if _session is not None:
        _session.close()
        _session = None
