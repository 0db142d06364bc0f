"""The command line: `backprop-ninja COMMAND`; each command lives in its own module and registers itself."""

from __future__ import annotations

import argparse
import sys

from tutor import __version__
from tutor.cli import basics, train
from tutor.cli.common import EXIT_PASS, EXIT_USAGE, UsageError, console
from tutor.course import CourseError, load_course

# Each module has register(subparsers); a command's handler is called as handler(args, course) -> exit code.
COMMAND_MODULES = [basics, train]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-ninja",
        description="Write the backward pass of a 2-layer MLP with BatchNorm by hand; the tutor checks every "
        "gradient against PyTorch autograd. Exercises are named by id or number (1-4).",
        epilog="Start with `backprop-ninja init`, edit the files it creates, then `backprop-ninja check 1`.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-ninja {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_PASS
    try:
        course = load_course()
        return args.handler(args, course)
    except (UsageError, CourseError) as exc:
        console(stderr=True).print(f"backprop-ninja: {exc}", markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    sys.exit(main())
