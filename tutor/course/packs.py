"""The installed packs and how a learner names one: `--course NAME|DIR`, else $BACKPROP_NINJA_COURSE, else
the pack a workspace remembers, else the lecture's pack.

The lecture's pack is the course folder itself (exercises/ and solutions/ beside the package, or inside it
once installed); every other installed pack is a folder of the same shape under its packs/ (packs/ID/exercises,
packs/ID/solutions). A pack's id is the one its exercises/pack.toml gives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tutor.course.load import CourseError, course_root, load_pack

ENV_VAR = "BACKPROP_NINJA_COURSE"
PACKS_DIR = "packs"


@dataclass(frozen=True)
class InstalledPack:
    id: str
    title: str
    root: Path


def installed_packs() -> list[InstalledPack]:
    """The lecture's pack first, then those under packs/ by id."""
    root = course_root()
    roots = [root, *sorted(p for p in (root / PACKS_DIR).glob("*") if (p / "exercises").is_dir())]
    packs = []
    for folder in roots:
        pack, _ = load_pack(folder)
        packs.append(InstalledPack(pack.id, pack.title, folder))
    return packs


def pack_root(name: str | Path | None) -> Path:
    """The folder of the pack `name` names: an installed pack's id, or a folder holding exercises/ and
    solutions/; None: $BACKPROP_NINJA_COURSE's, else the lecture's pack."""
    if name is None or not str(name).strip():
        name = os.environ.get(ENV_VAR, "").strip() or None
        if name is None:
            return course_root()
    text = str(name).strip()
    packs = installed_packs()
    for pack in packs:
        if text.lower() == pack.id:
            return pack.root
    folder = Path(text).expanduser()
    if folder.is_dir():
        if not (folder / "exercises").is_dir():
            raise CourseError(folder, "is not a course pack: it should hold exercises/ (the TOML files and starters) and solutions/")
        return folder.resolve()
    ids = ", ".join(p.id for p in packs)
    raise CourseError(Path(text), f"is neither an installed pack ({ids}) nor a folder")


def pack_name(root: Path) -> str:
    """How a workspace remembers the pack at `root`: its id when it is installed, else its folder."""
    for pack in installed_packs():
        if pack.root.resolve() == root.resolve():
            return pack.id
    return str(root.resolve())
