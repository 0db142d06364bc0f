"""Where the check server listens, and whether that place is this user's alone; which tutor it runs.

The socket is `$XDG_RUNTIME_DIR/backprop-ninja/check.sock` (a per-user folder the system keeps), else
`$XDG_STATE_HOME/backprop-ninja/run/check.sock`. Its folder is made 0700 and the socket 0600; a folder or a
socket that another user owns, or that others may open, is refused (the client then checks in its own
process). The tutor's fingerprint (its version, the Python environment, and the size and time of every file of the
package) tells a client whether the server runs the code it would run itself. Imports no torch, and little.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

SOCKET_NAME = "check.sock"
LOG_NAME = "server.log"
LOCK_NAME = "start.lock"
PACKAGE = Path(__file__).resolve().parent.parent
# The files whose change replaces a running server: the package's code and its words (messages, courses).
FINGERPRINTED = (".py", ".toml")


class UnsafePlace(Exception):
    """The server's folder or socket is not this user's alone; the message says which and why."""


def folder() -> Path:
    """The folder of the socket, its lock and its log (not created here)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime) and os.path.isdir(runtime):
        return Path(runtime) / "backprop-ninja"
    from tutor.workspace.journal import state_home

    home = state_home()
    if home is None:
        raise UnsafePlace("there is no $XDG_RUNTIME_DIR and no home folder to keep the server's socket in")
    return home / "run"


def own_folder() -> Path:
    """The folder, made 0700 if new; refused when it is a link, not ours, or open to others."""
    place = folder()
    try:
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(place)
    except OSError as exc:
        raise UnsafePlace(f"{place} cannot be made: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePlace(f"{place} is not a folder")
    refuse_foreign(place, info, 0o077)
    return place


def refuse_foreign(path: Path, info: os.stat_result, forbidden_bits: int) -> None:
    """Raise UnsafePlace unless `path` is ours and none of `forbidden_bits` is set in its mode."""
    if info.st_uid != os.geteuid():
        raise UnsafePlace(f"{path} belongs to another user (uid {info.st_uid})")
    mode = stat.S_IMODE(info.st_mode)
    if mode & forbidden_bits:
        raise UnsafePlace(f"{path} has mode {mode:04o}: others may use it")


def socket_path() -> Path:
    """The socket's path in our own folder; an existing entry there must be our socket, mode 0600 or less."""
    path = own_folder() / SOCKET_NAME
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise UnsafePlace(f"{path} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafePlace(f"{path} is not a socket")
    refuse_foreign(path, info, 0o177)
    return path


def fingerprint() -> str:
    """The running tutor's fingerprint: its version, interpreter and files (sizes and times, not contents)."""
    from tutor import __version__

    digest = hashlib.blake2b(f"{__version__}\0{sys.prefix}\0{sys.version}\0{PACKAGE}".encode(), digest_size=12)
    for top, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(FINGERPRINTED):
                try:
                    info = os.stat(os.path.join(top, name))
                except OSError:
                    continue
                digest.update(f"{top}/{name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()
