"""A course pack as parsed before, kept between commands: a command from the shell (`check` served by the warm
check server) would otherwise spend a third of its own time reading the same TOML files again.

The cache is a pickle of the Course in the user's own cache folder ($XDG_CACHE_HOME/backprop-ninja, else
~/.cache/backprop-ninja, made 0700), named by a digest of everything the parse depends on: the tutor's version,
Python's, the course loader's own source files, and every TOML and Python file under the pack's exercises/ and solutions/ (path, size, mtime).
A pack whose files change is parsed again; a cache that cannot be read or written only costs the parse.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

from tutor.course.load import load_course
from tutor.course.model import Course

# Set to 0 to parse the pack on every command (the tests of the loader do).
ENV_VAR = "BACKPROP_NINJA_COURSE_CACHE"


def cache_folder() -> Path | None:
    """$XDG_CACHE_HOME/backprop-ninja (~/.cache/backprop-ninja by default); None when there is no home."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "backprop-ninja" / "courses"


def _stamp(path: Path) -> str:
    info = path.stat()
    return f"{path}\0{info.st_size}\0{info.st_mtime_ns}"


def course_digest(root: Path) -> str:
    """What the parse of the pack at `root` depends on, as one digest."""
    from tutor import __version__

    here = Path(__file__).resolve().parent
    # what load_course reads: the pack's exercises/ folder (its TOML, the starters it takes words from) and the
    # answers in solutions/ that it checks are there
    pack = sorted(p for part in ("exercises", "solutions") for p in (root / part).rglob("*") if p.suffix in (".toml", ".py"))
    files = [*sorted(here.glob("*.py")), *pack]
    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{root.resolve()}".encode())
    for path in files:
        digest.update(_stamp(path).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def cached_course(root: Path) -> Course:
    """The pack at `root`, from the cache when nothing it was parsed from has changed since; else parsed (and
    kept for the next command). Errors in the pack are raised as load_course raises them, never cached."""
    folder = cache_folder() if os.environ.get(ENV_VAR, "1") != "0" else None
    if folder is None:
        return load_course(root)
    try:
        path = folder / f"{course_digest(root)}.pickle"
    except OSError:  # a file vanished while it was stamped: read it as it is now
        return load_course(root)
    try:
        if _ours(folder):
            course = pickle.loads(path.read_bytes())
            if isinstance(course, Course):
                return course
    except Exception:  # noqa: BLE001 - missing, stale, truncated or from another build: parsed again below
        pass
    course = load_course(root)
    _keep(folder, path, course)
    return course


def _ours(folder: Path) -> bool:
    """The folder is ours alone: only then is what it holds read back (a pickle runs what it names)."""
    info = folder.stat()
    return info.st_uid == os.getuid() and not info.st_mode & 0o077


def _keep(folder: Path, path: Path, course: Course) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _ours(folder):
            return
        # older parses of a pack are no use any more: keep the newest few files
        for old in sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)[15:]:
            old.unlink(missing_ok=True)
        import tempfile  # only when a parse is kept: a command that reads the cache never needs it

        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            handle.write(pickle.dumps(course, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(handle.name, path)
    except Exception:  # noqa: BLE001 - a cache that cannot be written costs only the next command's parse
        pass


__all__ = ["ENV_VAR", "cache_folder", "cached_course", "course_digest"]
