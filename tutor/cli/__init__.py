"""The command line: `backprop-ninja COMMAND`; each command lives in its own module and registers itself,
and COMMANDS below is the one table of them."""

from __future__ import annotations

import argparse
import os
import sys

from tutor import __version__
from tutor.cli import check, course, hint, init, listing, progress, reset, server, solution, train, tui, why
from tutor.cli.common import EXIT_FAIL, EXIT_USAGE, Parser, UsageError, console, say
from tutor.course import CourseError, load_course
from tutor.lang import ENV_VAR, LanguageError
from tutor.lang import resolve as resolve_language
from tutor.progress import ProgressBusy

# Each module has register(subparsers); a command's handler is called as handler(args, course) -> exit code.
# `backprop-ninja --help` lists the commands in this order.
COMMANDS = (check, init, listing, hint, solution, progress, reset, why, tui, train, course, server)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="backprop-ninja",
        description="Write the backward pass of a 2-layer MLP with BatchNorm by hand; the tutor checks every "
        "gradient against PyTorch autograd. Exercises are named by id or number (1-4).",
        epilog="Run `backprop-ninja` alone to open the tutor (`backprop-ninja --workspace DIR` for another "
        "workspace; `backprop-ninja tui --help` for its options); `backprop-ninja check 1` checks from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-ninja {__version__}")
    # Only for the bare command; each subcommand has its own --workspace.
    parser.add_argument("--workspace", dest="top_workspace", metavar="DIR", help="with no command: open the tutor on DIR")
    parser.add_argument(
        "--lang", metavar="en|zh",
        help=f"the language of the course text (else {ENV_VAR}, else the locale: zh_* is Chinese; else English)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        # no command: open the tutor
        lang = ["--lang", args.lang] if args.lang else []
        args = parser.parse_args([*lang, "tui", *(["--workspace", args.top_workspace] if args.top_workspace else [])])
    try:
        args.lang = resolve_language(args.lang)
    except LanguageError as exc:
        console(stderr=True).print(f"backprop-ninja: {exc}", markup=False)
        return EXIT_USAGE

    try:
        course = load_course()
        code = args.handler(args, course)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return code
    except (UsageError, CourseError) as exc:
        text = exc.text(args.lang) if isinstance(exc, UsageError) else str(exc)
        console(stderr=True).print(f"backprop-ninja: {text}", markup=False)
        return EXIT_USAGE
    except ProgressBusy as exc:  # another process sits on the progress lock: nothing was changed
        print(f"backprop-ninja: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(say("interrupted", args.lang), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`progress --json | head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def run() -> None:
    sys.exit(main())
