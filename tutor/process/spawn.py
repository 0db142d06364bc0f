"""Starting and stopping the tutor's helper processes: the sandbox's zygote, the TUI's check service, a
training stream and a trainer.

Each helper is a fresh `python -m tutor...` with pipes on stdin and stdout, this checkout of the tutor first
on its PYTHONPATH, and its stderr in a log file (or nowhere). Imports no torch: the TUI starts helpers
before torch has loaded anywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import IO

# The folder that holds the `tutor` package: a helper imports this checkout, whatever is installed.
PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a tutor child process: this checkout of the package first on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))}
    env.update(overrides)
    return env


def open_log(path: Path | None) -> IO[bytes] | int:
    """The child's stderr: the log file opened for appending (spawn closes it after the start), else DEVNULL."""
    if path is not None:
        try:
            return open(path, "ab")  # noqa: SIM115 - handed to the child, closed by spawn
        except OSError:
            pass
    return subprocess.DEVNULL


def debug_stderr() -> int | None:
    """The child's stderr when no log is kept: the tutor's own when BACKPROP_NINJA_DEBUG is set, else nowhere."""
    return None if os.environ.get("BACKPROP_NINJA_DEBUG") else subprocess.DEVNULL


def spawn(
    command: list[str],
    *,
    stderr: IO[bytes] | int | None,
    env: dict[str, str] | None = None,
    new_session: bool = False,
    bufsize: int = -1,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start `command` with pipes on stdin and stdout. A log file given as `stderr` is closed here once the
    child holds it. `new_session`: the terminal's Ctrl-C reaches the tutor, which decides how to stop it."""
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=child_env() if env is None else env,
            start_new_session=new_session,
            bufsize=bufsize,
            pass_fds=pass_fds,
        )
    finally:
        if stderr is not None and not isinstance(stderr, int):
            stderr.close()


def describe_exit(code: int | None) -> str:
    """How a helper ended, in words: its exit code, the signal that killed it, or None: it stopped answering."""
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def send_signal(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the helper; one that has already gone is left alone."""
    try:
        proc.send_signal(signum)
    except (ProcessLookupError, OSError):
        pass


def end_input(proc: subprocess.Popen[bytes], wait_s: float) -> None:
    """Close the helper's stdin (a tutor helper ends at EOF, closing what it holds) and give it `wait_s` to exit."""
    if proc.stdin is None:
        return
    try:
        proc.stdin.close()
        proc.wait(timeout=wait_s)
    except (OSError, subprocess.TimeoutExpired):
        pass


def kill(proc: subprocess.Popen[bytes], wait_s: float = 5.0) -> int | None:
    """SIGKILL the helper if it still runs and reap it; its exit code, or None if it outlasted `wait_s`."""
    try:
        if proc.poll() is None:
            proc.kill()
        return proc.wait(timeout=wait_s)
    except (OSError, subprocess.TimeoutExpired):
        return None


def terminate(proc: subprocess.Popen[bytes], wait_s: float) -> None:
    """Stop the helper now: SIGTERM, then SIGKILL if it lingers past `wait_s`."""
    if proc.poll() is not None:
        return
    send_signal(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        send_signal(proc, signal.SIGKILL)
        proc.wait()


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the helper's whole process group (it leads its own session) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
