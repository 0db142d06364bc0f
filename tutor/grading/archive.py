"""Reading what an instructor downloads, without trusting it: a folder walked without leaving it (a link out
of it is a file with a reason, never followed), a zip read into memory entry by entry (never extracted) with
`..` and absolute names refused, and a size and count cap against zip bombs. Each file comes back as a
`Found`: its path inside PATH and its bytes, or the reason it cannot be read."""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tutor.learner.file import MAX_LEARNER_BYTES

# What one submitted file may weigh: a .py as `check` allows it; a notebook may carry its outputs (plots).
MAX_PY_BYTES = MAX_LEARNER_BYTES
MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024
# What a whole zip may unpack to, and hold: far above a class's code, far below what fills a disk.
MAX_ZIP_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
MAX_ZIP_ENTRIES = 50_000
# An entry that inflates more than this many times, past MAX_RATIO_FLOOR bytes, is a bomb, not code.
MAX_RATIO = 200
MAX_RATIO_FLOOR = 8 * 1024 * 1024
GRADED_SUFFIXES = (".py", ".ipynb")
METADATA_NAMES = ("submission_metadata.yml",)


class ArchiveError(Exception):
    """A folder or zip the grader refuses as a whole; said in one line."""


@dataclass(frozen=True)
class Found:
    """One file under PATH: its relative path (posix), its bytes, or why it cannot be graded."""

    path: str
    data: bytes | None = None
    problem: str | None = None


def cap_for(name: str) -> int:
    return MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_PY_BYTES


def wanted(name: str) -> bool:
    """Files the grader reads: code, notebooks and the exports' metadata (hidden files and __MACOSX are not)."""
    parts = PurePosixPath(name).parts
    if any(part.startswith(".") or part == "__MACOSX" or part == "__pycache__" for part in parts):
        return False
    return name.endswith(GRADED_SUFFIXES) or PurePosixPath(name).name in METADATA_NAMES


def too_big(name: str, size: int) -> str | None:
    cap = cap_for(name)
    if size > cap:
        return f"{size:,} bytes; a submitted file may be at most {cap // 1024:,} KiB"
    return None


# ---- a folder ------------------------------------------------------------------------------------------------


def read_folder(root: Path) -> Iterator[Found]:
    """Every wanted file under `root`, links included as files with a reason when they lead out of it."""
    base = root.resolve()
    for folder, dirs, files in os.walk(base, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            full = Path(folder) / name
            rel = full.relative_to(base).as_posix()
            if wanted(rel):
                yield read_one(base, full, rel)


def read_one(base: Path, full: Path, rel: str) -> Found:
    try:
        if full.is_symlink():
            target = full.resolve()
            if base != target and base not in target.parents:
                return Found(rel, problem="a link to a file outside the submissions folder (not followed)")
        info = full.stat()
        if not stat.S_ISREG(info.st_mode):
            return Found(rel, problem="not a regular file (a pipe or a device?)")
        big = too_big(rel, info.st_size)
        if big:
            return Found(rel, problem=big)
        with full.open("rb") as handle:
            data = handle.read(cap_for(rel) + 1)
        return Found(rel, problem=too_big(rel, len(data))) if len(data) > cap_for(rel) else Found(rel, data)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop
        return Found(rel, problem=f"cannot be read: {getattr(exc, 'strerror', None) or exc}")


# ---- a zip ---------------------------------------------------------------------------------------------------


def unsafe_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def read_zip(path: Path) -> tuple[list[Found], list[str]]:
    """The wanted files of the zip at `path`, and warnings (duplicate names). Raises ArchiveError for a zip
    that is refused whole: not a zip, a name leading out of it, too many entries, or a bomb."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{path} is not a readable zip ({exc})") from None
    with archive:
        infos = archive.infolist()
        check_entries(path, infos)
        found: dict[str, Found] = {}
        warnings: list[str] = []
        for info in infos:
            name = info.filename.replace("\\", "/")
            if info.is_dir() or not wanted(name):
                continue
            if name in found:
                warnings.append(f"{path.name} holds {name} twice: the last one is graded")
            found[name] = read_entry(archive, info, name)
        return list(found.values()), warnings


def check_entries(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ArchiveError(f"{path.name} holds {len(infos):,} entries (at most {MAX_ZIP_ENTRIES:,}): refused")
    total = 0
    for info in infos:
        if unsafe_name(info.filename):
            raise ArchiveError(f"{path.name} holds an entry named {info.filename!r}, which leads out of it: refused")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_RATIO_FLOOR and ratio > MAX_RATIO:
            raise ArchiveError(
                f"{path.name} looks like a zip bomb: {info.filename!r} inflates {ratio:,.0f} times "
                f"to {info.file_size:,} bytes: refused"
            )
    if total > MAX_ZIP_TOTAL_BYTES:
        raise ArchiveError(f"{path.name} unpacks to {total:,} bytes (at most {MAX_ZIP_TOTAL_BYTES:,}): refused")


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Found:
    if stat.S_ISLNK(info.external_attr >> 16):
        return Found(name, problem="a link inside the zip (not followed)")
    big = too_big(name, info.file_size)
    if big:
        return Found(name, problem=big)
    try:
        with archive.open(info) as handle:
            data = handle.read(cap_for(name) + 1)  # the declared size may lie: never read past the cap
    # zipfile's own refusals: a damaged entry (BadZipFile, EOFError, a CRC mismatch as OSError), an encrypted
    # one (RuntimeError) and a compression method it cannot read (NotImplementedError): that file's row says so
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
        return Found(name, problem=f"cannot be unpacked: {exc}")
    return Found(name, problem=too_big(name, len(data))) if len(data) > cap_for(name) else Found(name, data)


def read_path(path: Path) -> tuple[list[Found], list[str]]:
    """The files of a folder or a zip."""
    if path.is_dir():
        return list(read_folder(path)), []
    if path.is_file() and zipfile.is_zipfile(path):
        return read_zip(path)
    if path.is_file():
        raise ArchiveError(f"{path} is neither a folder nor a zip")
    raise ArchiveError(f"{path} does not exist")
