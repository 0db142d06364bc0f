"""Helpers of the TUI tests: build an app on a fresh workspace, let workers settle, read what is on screen."""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console

from tests.ui_fakes import FakeChecker, FakeStore, FakeTrainer
from tutor.ui.app import TutorApp
from tutor.workspace.files import Workspace


def workspace(course, root: Path) -> Workspace:
    ws = Workspace(root)
    ws.init(course)
    return ws


def tutor_app(course, root: Path, store=None, checker=None, watch: bool = True, trainer=None) -> TutorApp:
    return TutorApp(course, workspace(course, root), store or FakeStore(), checker or FakeChecker(course),
                    trainer=trainer or FakeTrainer(), watch=watch)


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_for(pilot, condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


def plain(renderable) -> str:
    console = Console(width=120, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def save(path: Path, text: str) -> None:
    """Save as editors do: write a temp file, rename it over the original."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text)
    tmp.replace(path)
