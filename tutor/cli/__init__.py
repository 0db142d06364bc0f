"""The command line: `backprop-ninja COMMAND`; each command lives in its own module and registers itself,
and COMMANDS below is the one table of them. A command line that names its command imports that command's
module alone (a check from the shell pays for what `check` needs, not for every command's)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tutor import __version__
from tutor.cli.common import EXIT_FAIL, EXIT_USAGE, Parser, UsageError, console, say
from tutor.course import CourseError
from tutor.course.cache import cached_course
from tutor.course.packs import ENV_VAR as PACK_ENV_VAR
from tutor.lang import ENV_VAR, LanguageError
from tutor.lang import chosen as language_chosen
from tutor.lang import resolve as resolve_language
from tutor.workspace.files import Workspace, resolve_workspace
from tutor.workspace.progress import ProgressBusy

# Command -> its module under tutor.cli, which has register(subparsers); a command's handler is called as
# handler(args, course) -> exit code. `backprop-ninja --help` lists the commands in this order.
COMMANDS = {
    "check": "check", "init": "init", "list": "listing", "hint": "hint", "solution": "solution",
    "progress": "progress", "reset": "reset", "why": "why", "tui": "tui", "train": "train", "course": "course",
    "grade": "grade", "server": "server",
}
# The options before the command, those of them that take a value.
TOP_OPTIONS = {"--workspace": True, "--lang": True, "--course": True, "--notebook": False}


def named_command(argv: Sequence[str]) -> str | None:
    """The command a command line names, when that is certain: the first word that is neither one of the
    options before it nor their value. None for no command, a help or version request, or an option it does not
    know exactly (an abbreviation): every command is registered then, as the help and usage errors list them."""
    words = iter(argv)
    for word in words:
        option = word.split("=", 1)[0]
        if option in TOP_OPTIONS:
            if TOP_OPTIONS[option] and "=" not in word:
                next(words, None)
            continue
        return word if word in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; `only`: a command the line names (see named_command), the one registered."""
    parser = Parser(
        prog="backprop-ninja",
        description="Write a network's backward pass by hand, one gradient at a time; the tutor checks every "
        "gradient against PyTorch autograd. The exercises come in course packs: the lecture's (a 2-layer MLP with "
        "BatchNorm, the default) and any other installed pack or pack folder that `--course NAME|DIR` names "
        "(`backprop-ninja course list` lists the installed ones). Commands name an exercise of the pack in use by "
        "its number or id (`backprop-ninja list` shows them).",
        epilog="Run `backprop-ninja` alone to open the tutor (`backprop-ninja --workspace DIR` for another "
        "workspace; `backprop-ninja tui --help` for its options); `backprop-ninja check 1` checks from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-ninja {__version__}")
    # Only for the bare command; each subcommand has its own --workspace.
    parser.add_argument("--workspace", dest="top_workspace", metavar="DIR", help="with no command: open the tutor on DIR")
    parser.add_argument(
        "--lang", metavar="en|zh",
        help=f"the language of the course text (else {ENV_VAR}, else the one last chosen in the tutor for this "
        "workspace, else the locale: zh_* is Chinese; else English)",
    )
    add_course_option(parser)
    # `%ninja hint ...` in a notebook runs the command with --notebook: its advice names `%ninja` commands.
    parser.add_argument("--notebook", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(f"tutor.cli.{module}").register(sub)
    for command in subcommands(parser):
        add_course_option(command, default=argparse.SUPPRESS)
    return parser


def add_course_option(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--course", metavar="NAME|DIR", default=default,
        help=f"the course pack: an installed pack's id or a pack's folder (else ${PACK_ENV_VAR}, else the pack "
        "the workspace remembers, else the lecture's)",
    )


def subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones (`course check`) included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *subcommands(child)]
    return found


def course_of(args: argparse.Namespace):
    """The pack the command works on: --course, else $BACKPROP_NINJA_COURSE, else the workspace's, else the
    lecture's. Children (the check service, training) are told which through the environment."""
    from tutor.course.packs import pack_root

    name = getattr(args, "course", None) or os.environ.get(PACK_ENV_VAR, "").strip() or None
    if name is None:
        try:
            given = getattr(args, "dir", None) if args.command == "init" else None
            name = Workspace(resolve_workspace(given or getattr(args, "workspace", None))).setting("course")
        except OSError:
            name = None
    return cached_course(pack_root(name))
def remembered_language(args: argparse.Namespace) -> str | None:
    """The language the learner chose in the tutor, remembered in the command's workspace (None if none)."""
    try:
        return Workspace(resolve_workspace(getattr(args, "workspace", None))).setting("lang")
    except (OSError, RuntimeError):  # no home folder, a cwd that is gone: the locale decides
        return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(named_command(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        # no command: open the tutor
        lang = ["--lang", args.lang] if args.lang else []
        course = ["--course", args.course] if args.course else []
        args = parser.parse_args([*lang, *course, "tui", *(["--workspace", args.top_workspace] if args.top_workspace else [])])
    try:
        args.lang_chosen = language_chosen(args.lang, os.environ)  # the tutor may prefer the one it remembers
        args.lang = resolve_language(args.lang, remembered=remembered_language(args))
    except LanguageError as exc:
        console(stderr=True).print(f"backprop-ninja: {exc}", markup=False)
        return EXIT_USAGE

    try:
        course = course_of(args)
        before = os.environ.get(PACK_ENV_VAR)
        os.environ[PACK_ENV_VAR] = str(course.root)  # the check service and training load the same pack
        try:
            code = args.handler(args, course)
        finally:
            if before is None:
                os.environ.pop(PACK_ENV_VAR, None)
            else:
                os.environ[PACK_ENV_VAR] = before
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return code
    except (UsageError, CourseError) as exc:
        text = exc.text(args.lang, args.notebook) if isinstance(exc, UsageError) else str(exc)
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
