"""Writing the progress file safely: atomic replacement, and the journal, a signed copy of the last state the
tutor wrote, kept outside the workspace (see tutor.workspace.progress for why)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

JOURNAL_APP = "backprop-ninja"
KEY_NAME = "progress.key"
KEY_BYTES = 32


def new_temporary(folder: Path, prefix: str) -> tuple[int, str]:
    """A new file in `folder` (mode 0600, opened for writing) named `prefix` + a random part + ".tmp", as
    tempfile.mkstemp makes one, without importing tempfile (and the compression modules it brings) into
    every command that saves progress."""
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def write_atomically(path: Path, text: str, durable: bool = True) -> None:
    """Replace path's content with text so that a crash at any moment leaves the old or the new file.

    `durable` False skips the fsyncs: still whole after a kill -9, but not promised to survive a power cut."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    fd, tmp_name = new_temporary(path.parent, f".{path.name}.")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600; keep the file's own permissions
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    if not durable:
        return
    try:
        # Make the rename itself durable; some file systems cannot fsync a folder, and the data is safe anyway.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def state_home() -> Path | None:
    """$XDG_STATE_HOME/backprop-ninja (~/.local/state/backprop-ninja by default); None when there is no home."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and must be ignored
        try:
            base = str(Path.home() / ".local" / "state")
        except (RuntimeError, KeyError, OSError):
            return None
    return Path(base) / JOURNAL_APP


class Journal:
    """The last progress a store wrote for one workspace, kept outside it and signed (see the module's doc).

    Every failure here (no home, a read-only state folder, a journal of another folder or with a bad
    signature) makes the journal absent: the store then relies on progress.json.bak alone."""

    _save = staticmethod(write_atomically)

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.workspace = os.path.realpath(state_dir)
        self.home = state_home()
        name = hashlib.sha256(os.fsencode(self.workspace)).hexdigest()[:32]
        self.path = self.home / "journal" / f"{name}.json" if self.home else None

    def _identity(self) -> list[int] | None:
        """The workspace's .backprop-ninja folder itself: a journal never applies to a new folder at the same path."""
        try:
            info = os.stat(self.state_dir)
        except OSError:
            return None
        return [info.st_dev, info.st_ino]

    def _key(self, create: bool) -> bytes | None:
        if self.home is None:
            return None
        key_path = self.home / KEY_NAME
        try:
            key = key_path.read_bytes()
            return key if len(key) == KEY_BYTES else None
        except FileNotFoundError:
            if not create:
                return None
        except OSError:
            return None
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp_name = new_temporary(self.home, f".{KEY_NAME}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(os.urandom(KEY_BYTES))
                    handle.flush()
                    os.fsync(handle.fileno())
                try:
                    os.link(tmp_name, key_path)  # whole or absent; another tutor's key, if first, wins
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp_name)
            key = key_path.read_bytes()
        except OSError:
            return None
        return key if len(key) == KEY_BYTES else None

    @staticmethod
    def _sign(key: bytes, record: dict[str, Any]) -> str:
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    def read(self) -> dict[str, Any] | None:
        """{"text": the last progress written, "pending": digest of a write under way or None}, when usable."""
        if self.path is None:
            return None
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        key = self._key(create=False)
        if key is None or not isinstance(record, dict):
            return None
        mac = record.pop("mac", None)
        if not isinstance(mac, str) or not hmac.compare_digest(mac, self._sign(key, record)):
            return None
        if record.get("workspace") != self.workspace or record.get("folder") != self._identity():
            return None
        if not isinstance(record.get("text"), str):
            return None
        return record

    def write(self, text: str | None, pending: str | None) -> bool:
        identity = self._identity()
        key = self._key(create=True) if identity is not None else None
        if key is None or self.path is None:
            return False
        record: dict[str, Any] = {"workspace": self.workspace, "folder": identity, "text": text, "pending": pending}
        record["mac"] = self._sign(key, record)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Not fsynced: it is written twice per change under the lock. After a power cut it may be a
            # change behind; the newer progress.json is then kept aside as foreign, not lost.
            self._save(self.path, json.dumps(record) + "\n", durable=False)
        except OSError:
            return False
        return True

    def forget(self) -> None:
        """Drop a journal that could not be brought up to date, so that it never undoes a newer write."""
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
