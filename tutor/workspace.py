"""Where a learner's files live: finding the workspace and creating it from the starter files."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tutor.course.model import Course, Exercise

MARKER = ".backprop-ninja"
ENV_VAR = "BACKPROP_NINJA_WORKSPACE"


class WorkspaceError(Exception):
    """A workspace that cannot be found or written."""


def default_workspace() -> Path:
    """Per-user location: $XDG_DATA_HOME/backprop-ninja/workspace (~/.local/share/... by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "backprop-ninja" / "workspace"


def resolve_workspace(given: str | Path | None = None) -> Path:
    """--workspace, else $BACKPROP_NINJA_WORKSPACE, else the enclosing workspace of the cwd, else the default."""
    if given:
        return Path(given).expanduser().resolve()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_dir():
            return folder
    return default_workspace()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / MARKER

    @property
    def backup_dir(self) -> Path:
        return self.state_dir / "backups"

    def exists(self) -> bool:
        return self.state_dir.is_dir()

    def file_for(self, exercise: Exercise) -> Path:
        return self.root / exercise.file_name

    def init(self, course: Course) -> list[tuple[Path, bool]]:
        """Copy starter files that are not there yet; returns (path, created) and never overwrites."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            results = []
            for exercise in course.exercises:
                target = self.file_for(exercise)
                if target.exists():
                    results.append((target, False))
                    continue
                tmp = target.with_name(f".{target.name}.tmp")
                shutil.copyfile(exercise.starter, tmp)
                try:
                    os.link(tmp, target)  # fails if the learner's file appeared meanwhile: never overwrite
                    results.append((target, True))
                except FileExistsError:
                    results.append((target, False))
                finally:
                    tmp.unlink(missing_ok=True)
            return results
        except OSError as exc:
            raise WorkspaceError(f"cannot create the workspace at {self.root}: {exc.strerror or exc}") from None

    def reset(self, exercise: Exercise) -> Path | None:
        """Back the learner's file up (if any) to .backprop-ninja/backups/, then restore the starter.
        Returns the backup's path; raises WorkspaceError when either step fails (the file is then untouched)."""
        target = self.file_for(exercise)
        backup = None
        try:
            if target.exists():
                self.backup_dir.mkdir(parents=True, exist_ok=True)
                stamp = time.strftime("%Y%m%d-%H%M%S")
                backup = self.backup_dir / f"{target.stem}-{stamp}{target.suffix}"
                n = 1
                while backup.exists():
                    n += 1
                    backup = self.backup_dir / f"{target.stem}-{stamp}-{n}{target.suffix}"
                shutil.copy2(target, backup)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(exercise.starter, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise WorkspaceError(f"cannot reset {target.name}: {exc.strerror or exc}") from None
        return backup
