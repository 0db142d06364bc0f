"""`init`: create a workspace with the starter files; existing files are never overwritten."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from tutor.cli.common import EXIT_PASS, UsageError, say
from tutor.course import Course
from tutor.workspace.files import Workspace, WorkspaceError, default_workspace, resolve_workspace


def cmd_init(args: argparse.Namespace, course: Course) -> int:
    root = Path(args.dir).expanduser().resolve() if args.dir else resolve_workspace(args.workspace)
    try:
        results = Workspace(root).init(course, args.lang)
    except WorkspaceError as exc:
        raise UsageError(str(exc)) from None
    for path, created in results:
        print(say("created" if created else "kept", args.lang, path=path))
    print(say("init-ready", args.lang, root=root, quoted=shlex.quote(str(root))))
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="create a workspace with the starter files", description="Create a workspace; existing files are never overwritten.")
    init.add_argument("dir", nargs="?", metavar="DIR", help=f"where (default: {default_workspace()})")
    init.add_argument("--workspace", help=argparse.SUPPRESS)
    init.set_defaults(handler=cmd_init)
