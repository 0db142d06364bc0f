"""Pieces the CLI commands share: exit codes, usage errors, consoles, exercise and step lookup, common
options, and the workspace's progress (opening it, its warnings, recording a check of the workspace's file)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import unicodedata
import warnings
from pathlib import Path
from typing import Any

from tutor.course import Course, Exercise
from tutor.course.model import Step
from tutor.engine.bounds import TIMEOUT_RANGE
from tutor.messages import part
from tutor.reports.check import CheckReport
from tutor.views.text import say
from tutor.workspace.files import Workspace, default_workspace, resolve_workspace
from tutor.workspace.progress import ProgressBusy, ProgressStore

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Something the user fixes in the command line; printed as one line, exit 2. Made with a catalogue
    `code` (cli.en.toml's `cli-CODE`) and its parameters, it is said in the learner's language; made with
    text (another part's error), it is said as it is."""

    def __init__(self, text: str = "", *, code: str | None = None, **params: Any) -> None:
        super().__init__(say(code, "en", **params) if code else text)
        self.code, self.params = code, params

    def text(self, lang: str = "en", notebook: bool = False) -> str:
        """The error in `lang` (naming a notebook's commands where it names any, when `notebook`)."""
        return say(in_notebook(self.code, notebook), lang, **self.params) if self.code else str(self)


def in_notebook(code: str, notebook: bool) -> str:
    """The catalogue entry for where the command was typed: in a notebook (`%ninja hint ...`), the entry that
    names the notebook's commands (cli-CODE-notebook) where there is one, else `code`."""
    return f"{code}-notebook" if notebook and f"cli-{code}-notebook" in part("cli") else code


def say_to(args: argparse.Namespace, code: str, /, **params: Any) -> str:
    """`say` in the command's language, naming the commands of where it was typed: the shell's `backprop-ninja
    hint ...`, or a notebook's `%ninja hint ...` (args.notebook: run by `%ninja`)."""
    return say(in_notebook(code, getattr(args, "notebook", False)), args.lang, **params)


# Options whose refused value is said in one line: the usage block above it would only hide the reason.
ONE_LINE_OPTIONS = ("--timeout",)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, as wide as argparse makes it but without importing shutil: argparse makes a formatter for
    every option it adds, and shutil brings the zlib, bz2 and lzma modules into every command."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width,
                         **kwargs)


class Parser(argparse.ArgumentParser):
    """argparse's parser, except that a refused value of ONE_LINE_OPTIONS is one line, exit 2, no usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        if message.startswith(tuple(f"argument {option}:" for option in ONE_LINE_OPTIONS)):
            self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")
        super().error(message)


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the width of the terminal on stdout, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # A pipe has no width; give tables room instead of rich's 80 columns.
    width = None if stream.isatty() else 120
    return Console(stderr=stderr, highlight=False, no_color="NO_COLOR" in os.environ, width=width, soft_wrap=stderr)


def find_exercise(course: Course, name: str) -> Exercise:
    exercise = course.find(name)
    if exercise is None:
        raise UsageError(code="no-exercise", name=name, names=course.names())
    return exercise


def learner_file(args: argparse.Namespace, exercise: Exercise) -> Path:
    if getattr(args, "file", None):
        return Path(args.file)
    workspace = Workspace(resolve_workspace(args.workspace))
    path = workspace.checked_file(exercise)  # the workspace's notebook for the exercise when it holds one
    if not path.exists():
        raise UsageError(code="no-file", file=exercise.file_name, root=str(workspace.root))
    return path


def quiet_torch_import() -> None:
    # torch warns at import when NumPy is absent; the tutor never needs NumPy.
    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    import torch  # noqa: F401


def open_checker(course: Course, args: argparse.Namespace):
    """The Checker a command judges with, for its --data, --device and --timeout; the command closes it at the
    end of its `with` block. A command with --no-server (`check`) is served by the check server unless
    --no-server or BACKPROP_NINJA_SERVER=0 says otherwise, and checks in this process when the server cannot
    be had. (The tests' in-process runner puts a warm one of its own in its place.)"""
    if hasattr(args, "no_server"):
        from tutor.checkd.client import wanted

        if wanted(args.no_server):
            from tutor.checkd.client import RemoteChecker

            lang = getattr(args, "lang", "en")
            return RemoteChecker(
                course, data=args.data, device=args.device, timeout=args.timeout,
                local=lambda: local_checker(course, args),
                note=lambda why: print(say("server-in-process", lang, why=why), file=sys.stderr),
            )
    return local_checker(course, args)


def local_checker(course: Course, args: argparse.Namespace):
    """A Checker in this process (torch is imported here)."""
    quiet_torch_import()
    from tutor.engine.check import Checker

    return Checker(course, data=args.data, device=args.device, timeout=args.timeout)


def whole_number(least: int):
    """An argparse type: a whole number (1_000 allowed) of at least `least`."""

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError("must be 0 or more" if least == 0 else f"must be at least {least}")
        return value

    return parse


def timeout_seconds(text: str) -> float:
    """--timeout: a number of seconds within TIMEOUT_RANGE (inf, nan, 1e300 and 1e-9 are refused)."""
    low, high = TIMEOUT_RANGE
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not low <= value <= high:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} seconds, not {text}")
    return value


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, metavar="FILE", help="names file, one name per line (default: the bundled 5,163 names)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="where the context and reference live (default: cpu)")


def add_workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", metavar="DIR", help=f"the learner's workspace (default: the enclosing one, else {default_workspace()})")


# How every command names an exercise: of the pack in use, whichever it is.
EXERCISE_HELP = "an exercise of the course pack in use, by its number or id (`backprop-ninja list` shows them)"


def exercise_command(sub: argparse._SubParsersAction, name: str, help: str, description: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=description)
    parser.add_argument("exercise", metavar="EXERCISE", help=EXERCISE_HELP)
    return parser


# ---- the workspace's progress -------------------------------------------------------------------------------


def open_store(args: argparse.Namespace, must_exist: bool = True) -> ProgressStore:
    """The workspace's progress; hints and the progress table need an initialised workspace to keep them in."""
    root = existing_workspace(args).root if must_exist else resolve_workspace(args.workspace)
    return ProgressStore(root, one_shot=True)


def report_warning(store: ProgressStore, lang: str = "en") -> None:
    """The progress file's warning, if any, on stderr, one line at a time."""
    if store.warning:
        for line in store.warning.splitlines():
            print(say("warning-line", lang, line=line), file=sys.stderr)


def ask(question: str) -> bool:
    """A yes/no question on the terminal; anything but y/yes (or end of input) is no."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def existing_workspace(args: argparse.Namespace) -> Workspace:
    workspace = Workspace(resolve_workspace(args.workspace))
    if not workspace.exists():
        raise UsageError(code="no-workspace", root=str(workspace.root))
    return workspace


def find_step(exercise: Exercise, name: str) -> Step:
    """A step by its gradient's name (dcounts), its forward tensor's name (counts) or its 1-based number."""
    key = name.strip()
    if key.isdigit() and 1 <= int(key) <= len(exercise.steps):
        return exercise.steps[int(key) - 1]
    step = exercise.step(key)
    if step is None:
        choices = ", ".join(f"{i}/{s.name}" for i, s in enumerate(exercise.steps, start=1))
        raise UsageError(code="no-step", name=name, exercise=exercise.id, choices=choices)
    return step


def own_workspace(args: argparse.Namespace, exercise: Exercise, path: Path) -> Workspace | None:
    """The workspace when `path` is its own file of `exercise` (whose checks count in its progress), else None."""
    workspace = Workspace(resolve_workspace(args.workspace))
    try:
        own = path.resolve() == workspace.checked_file(exercise).resolve()
    except OSError:
        own = False
    return workspace if own else None


def record_workspace_check(args: argparse.Namespace, exercise: Exercise, path: Path, report: CheckReport) -> None:
    """Count a check in the workspace's progress when it judged the workspace's own file (not any --file)."""
    lang = getattr(args, "lang", "en")
    workspace = own_workspace(args, exercise, path)
    if workspace is None:
        return
    store = ProgressStore(workspace.root, one_shot=True)
    try:
        store.record_check(exercise.id, report, current=True)
    except ProgressBusy as exc:  # the verdict stands; only its record is missing
        print(say("not-counted", lang, error=exc), file=sys.stderr)
    report_warning(store, lang)


def step_passed(store: ProgressStore, exercise: Exercise, step: Step) -> bool:
    """A step has passed once its tensor has; a supporting row (not a step of progress) once its exercise has."""
    state = store.exercise_state(exercise.id)
    record = state if step.support else state["steps"].get(step.name)
    return bool(record and record.get("passed"))


def why_lines(exercise: Exercise, step: Step, lang: str = "en") -> list[str]:
    """The why in `lang`, wrapped to 100 columns, then the lecture's moment for it."""
    lines = wrap_columns(say("why", lang, text=step.text("why", lang)), 100, "     ")
    if step.why_at:  # a pack that follows no lecture has no moment to point at
        title = exercise.text("title", lang)
        lines.append("     " + say("lecture-at", lang, at=step.why_at, title=title, chapter_at=exercise.chapter_at))
    return lines


def wrap_columns(text: str, width: int, indent: str) -> list[str]:
    """Wrap at spaces to `width` terminal columns; text without spaces (Chinese, where a character takes two
    columns) breaks between characters, never inside a run of ASCII such as a name or a number."""
    if text.isascii():
        import textwrap

        return textwrap.wrap(text, width=width, subsequent_indent=indent)
    lines: list[str] = []
    line, cells = "", 0
    for token in re.findall(r"[\x21-\x7e]+|\s+|.", text):
        size = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in token)
        if cells + size > width and line.strip():
            lines.append(line.rstrip())
            line, cells = indent, len(indent)
            if token.isspace():
                continue
        line, cells = line + token, cells + size
    if line.strip():
        lines.append(line.rstrip())
    return lines
