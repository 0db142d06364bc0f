"""Where a learner's files live: finding the workspace and creating it from the starter files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tutor.course.model import Course, Exercise
from tutor.messages import toml

MARKER = ".backprop-ninja"
ENV_VAR = "BACKPROP_NINJA_WORKSPACE"
SETTINGS = "settings.json"  # what the tutor remembers of the learner's choices: {"lang": "zh"}


class WorkspaceError(Exception):
    """A workspace that cannot be found or written."""


def default_workspace() -> Path:
    """Per-user location: $XDG_DATA_HOME/backprop-ninja/workspace (~/.local/share/... by default)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and must be ignored
        base = str(Path.home() / ".local" / "share")
    return Path(base) / "backprop-ninja" / "workspace"


def starter_translation(exercise: Exercise, lang: str) -> Path:
    """Where the starter's words in `lang` live: exercises/zh/atomic.toml for exercises/atomic.py."""
    return exercise.starter_words(lang)


def starter_text(exercise: Exercise, lang: str = "en") -> str:
    """The exercise's starter file with its docstring and comments in `lang` (from the translation beside
    it: a `docstring` and a `[comments]` table, English line -> translated line); the code is the English
    starter's, line for line. English, or a language without a translation: the starter as it is."""
    text = exercise.starter.read_text(encoding="utf-8")
    translation = starter_translation(exercise, lang)
    if lang == "en" or not translation.is_file():
        return text
    with translation.open("rb") as handle:
        words = toml().load(handle)
    head, body = "", text
    if text.startswith('"""') and "docstring" in words:
        end = text.index('"""', 3) + 3
        head, body = f'"""{words["docstring"]}"""', text[end:]
    comments = words.get("comments", {})
    lines = [comments.get(line, line) if line.lstrip().startswith("#") else line for line in body.split("\n")]
    return head + "\n".join(lines)


def write_starter(exercise: Exercise, path: Path, lang: str = "en") -> None:
    """Write the starter (its words in `lang`) to `path`."""
    path.write_text(starter_text(exercise, lang), encoding="utf-8")


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

    def exists(self) -> bool:
        return self.state_dir.is_dir()

    def file_for(self, exercise: Exercise) -> Path:
        """The exercise's .py file: what init creates and reset restores."""
        return self.root / exercise.file_name

    def notebook_for(self, exercise: Exercise) -> Path:
        """The exercise's notebook, when the learner puts one in the workspace: atomic.ipynb next to atomic.py."""
        return self.root / f"{Path(exercise.file_name).stem}.ipynb"

    def checked_file(self, exercise: Exercise) -> Path:
        """The file the tutor checks and watches: the notebook whenever the workspace holds one (it takes the
        place of the .py, whatever their times), else the .py. Moving the notebook away goes back to the .py."""
        notebook = self.notebook_for(exercise)
        return notebook if notebook.exists() else self.file_for(exercise)

    def watched_names(self, exercise: Exercise) -> tuple[str, str]:
        """The names whose saves re-check the exercise: either file may come, go or be saved."""
        return self.file_for(exercise).name, self.notebook_for(exercise).name

    def init(self, course: Course, lang: str = "en") -> list[tuple[Path, bool]]:
        """Copy starter files (their comments in `lang`) that are not there yet; returns (path, created) and
        never overwrites. The workspace remembers the course's pack (its id, or its folder when not installed)."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            if course.id:
                from tutor.course.packs import pack_name

                if self.setting("course") != pack_name(course.root):
                    try:
                        self.remember("course", pack_name(course.root))
                    except WorkspaceError:
                        pass  # a read-only workspace still opens; --course names its pack then
            results = []
            for exercise in course.exercises:
                target = self.file_for(exercise)
                if target.exists():
                    results.append((target, False))
                    continue
                tmp = target.with_name(f".{target.name}.tmp")
                write_starter(exercise, tmp, lang)
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

    def setting(self, name: str) -> str | None:
        """A choice the learner made in the tutor (the language: "lang"); None if never made or unreadable."""
        try:
            value = json.loads((self.state_dir / SETTINGS).read_text(encoding="utf-8")).get(name)
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def remember(self, name: str, value: str) -> None:
        """Keep a choice for the next start (replacing the settings file whole, never half-written)."""
        path = self.state_dir / SETTINGS
        tmp = path.with_name(f".{SETTINGS}.tmp")
        try:
            try:
                settings = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                settings = {}
            settings = {**(settings if isinstance(settings, dict) else {}), name: value}
            tmp.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise WorkspaceError(f"cannot remember {name} in {path}: {exc.strerror or exc}") from None

    @property
    def backups_dir(self) -> Path:
        return self.state_dir / "backups"

    def reset_file(self, exercise: Exercise, lang: str = "en") -> Path | None:
        """Put the starter file (its comments in `lang`) back; the learner's file is kept in backups/ first.
        Returns the backup (None if no file)."""
        target = self.file_for(exercise)
        tmp = target.with_name(f".{target.name}.reset.tmp")
        try:
            write_starter(exercise, tmp, lang)
            backup = None
            if target.exists():
                self.backups_dir.mkdir(parents=True, exist_ok=True)
                backup = backup_path(self.backups_dir, target.stem, target.suffix)
                try:
                    # A second name for the same file: at no moment is the learner's work only in one half-copied place.
                    os.link(target, backup)
                except OSError:
                    import shutil  # here: it loads the zlib, bz2 and lzma modules, which a check never needs

                    shutil.copy2(target, backup)
            os.replace(tmp, target)
            return backup
        except OSError as exc:
            raise WorkspaceError(f"cannot reset {target}: {exc.strerror or exc}") from None
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only folder refuses even this: the error above is the one to report


def timestamp(moment: datetime | None = None) -> str:
    """A UTC time stamp that sorts and fits in a file name: 20240131-154502."""
    return (moment or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")


def backup_path(folder: Path, stem: str, suffix: str) -> Path:
    """A name in folder that does not exist yet: STEM.TIMESTAMP[-N]SUFFIX."""
    stamp = timestamp()
    candidate = folder / f"{stem}.{stamp}{suffix}"
    counter = 1
    while candidate.exists():
        candidate = folder / f"{stem}.{stamp}-{counter}{suffix}"
        counter += 1
    return candidate
