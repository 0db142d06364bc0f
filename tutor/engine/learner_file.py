"""What the learner hands the checker, read before any start-up (no torch here): their file, refused at once
when it is no regular UTF-8 file of a sane size, and CheckerError, the refusal the learner fixes in how they
call the tutor. The command line reads the file here whether the check runs in this process or on the check
server."""

from __future__ import annotations

import stat
from pathlib import Path

from tutor.engine.bounds import MAX_LEARNER_BYTES


class CheckerError(Exception):
    """A problem the learner fixes by changing how they call the tutor (device, file, data)."""


def read_learner_file(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CheckerError(f"{path} does not exist") from None
    except OSError as exc:
        raise CheckerError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckerError(f"{path} is a folder, not a Python file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read, /dev/zero would never end
        raise CheckerError(f"{path} is not a regular file (a pipe or a device?); name a Python file")
    if info.st_size > MAX_LEARNER_BYTES:
        raise CheckerError(f"{path} is {info.st_size:,} bytes; a file to check may be at most {MAX_LEARNER_BYTES // 1024} KiB")
    try:
        text = path.read_text(encoding="utf-8")
        if len(text) > MAX_LEARNER_BYTES:  # it grew after the stat
            raise CheckerError(f"{path} is larger than {MAX_LEARNER_BYTES // 1024} KiB")
        return text
    except FileNotFoundError:
        raise CheckerError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise CheckerError(f"{path} is a folder, not a Python file") from None
    except UnicodeDecodeError:
        raise CheckerError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise CheckerError(f"{path} cannot be read: {exc.strerror or exc}") from None
