"""Pieces every CLI command shares: exit codes, usage errors, consoles, exercise lookup, common options."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from tutor.course import Course, Exercise
from tutor.engine.limits import TIMEOUT_RANGE
from tutor.workspace import Workspace, default_workspace, resolve_workspace

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Something the user fixes in the command line; printed as one line, exit 2."""


# Options whose refused value is said in one line: the usage block above it would only hide the reason.
ONE_LINE_OPTIONS = ("--timeout",)


class Parser(argparse.ArgumentParser):
    """argparse's parser, except that a refused value of ONE_LINE_OPTIONS is one line, exit 2, no usage."""

    def error(self, message: str):  # type: ignore[override]
        if message.startswith(tuple(f"argument {option}:" for option in ONE_LINE_OPTIONS)):
            self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")
        super().error(message)


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # A pipe has no width; give tables room instead of rich's 80 columns.
    width = None if stream.isatty() else 120
    return Console(stderr=stderr, highlight=False, no_color="NO_COLOR" in os.environ, width=width, soft_wrap=stderr)


def find_exercise(course: Course, name: str) -> Exercise:
    exercise = course.find(name)
    if exercise is None:
        raise UsageError(f"no exercise {name!r}; choose one of: {course.names()}")
    return exercise


def learner_file(args: argparse.Namespace, exercise: Exercise) -> Path:
    if getattr(args, "file", None):
        return Path(args.file)
    workspace = Workspace(resolve_workspace(args.workspace))
    path = workspace.checked_file(exercise)  # the workspace's notebook for the exercise when it holds one
    if not path.exists():
        raise UsageError(
            f"no {exercise.file_name} in the workspace {workspace.root}; "
            f"create it with `backprop-ninja init {workspace.root}` or name a file with --file"
        )
    return path


def quiet_torch_import() -> None:
    # torch warns at import when NumPy is absent; the tutor never needs NumPy.
    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    import torch  # noqa: F401


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


