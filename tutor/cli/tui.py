"""`backprop-ninja tui` (also what `backprop-ninja` alone runs): the full-screen tutor."""

from __future__ import annotations

import argparse
import sys

from tutor.cli.common import EXIT_PASS, UsageError, add_engine_options, add_workspace_option, timeout_seconds
from tutor.course import Course
from tutor.workspace.files import WorkspaceError


def cmd_tui(args: argparse.Namespace, course: Course) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(code="tui-needs-terminal")
    from tutor.ui.app import make_app

    try:
        app = make_app(course, args.workspace, watch=not args.no_watch, data=args.data, device=args.device,
                       timeout=args.timeout, lang=args.lang if getattr(args, "lang_chosen", False) else None)
    except WorkspaceError as exc:
        raise UsageError(str(exc)) from None
    app.run()
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    tui = sub.add_parser("tui", help="open the tutor (the default command)",
                         description="The full-screen tutor: exercises, per-gradient checks on every save, hints.")
    add_workspace_option(tui)
    tui.add_argument("--no-watch", action="store_true", help="do not re-check on save (press c to check)")
    add_engine_options(tui)
    tui.add_argument("--timeout", type=timeout_seconds, default=10.0, metavar="S", help="seconds your code may run (default: 10)")
    tui.set_defaults(handler=cmd_tui)
