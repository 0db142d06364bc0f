"""The check server behind `backprop-ninja check`: started on first use and reused, replaced when stale or of
another tutor version, surviving a killed client, serving two clients at once, refusing a place that is not
ours, falling back to an in-process check when it dies mid-check, and leaving no process behind.

Each test starting processes is `slow`, and works in a runtime folder of its own (never the user's server);
every server a test started is stopped at its end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tutor.checkd import place
from tutor.sandbox.reaper import descendants

SOLUTION = ROOT / "solutions" / "atomic.py"
STARTER = ROOT / "exercises" / "atomic.py"


def alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent's wait counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, wait_s: float = 20.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# Every runtime folder a test made: at the module's end no server listening in one of them may be left running.
HOMES: list[Path] = []


def servers_in(folders: list[Path]) -> list[int]:
    """The pids of check servers whose socket lies in one of `folders` (from their command lines)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tutor.checkd.server" in words and b"--socket" in words:
            socket_path = words[words.index(b"--socket") + 1].decode(errors="replace")
            if any(socket_path.startswith(f"{folder}/") for folder in folders):
                found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True, scope="module")
def no_server_left():
    yield
    for pid in servers_in(HOMES):  # a test that failed half-way: its server goes now
        os.kill(pid, signal.SIGKILL)


class Home:
    """A runtime folder of its own (short: a socket path has ~100 bytes), the environment that turns the
    server on there, and the commands run against it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bpn-", dir="/tmp"))
        HOMES.append(self.dir)
        self.env = {"BACKPROP_NINJA_SERVER": "1", "XDG_RUNTIME_DIR": str(self.dir)}
        self.socket = self.dir / "backprop-ninja" / place.SOCKET_NAME

    def cli(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return run_cli(*args, env={**self.env, **kw.pop("env", {})}, **kw)

    def popen(self, *args: str) -> subprocess.Popen:
        env = {**os.environ, "NO_COLOR": "1", **self.env}
        return subprocess.Popen([sys.executable, "-m", "tutor", *args], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def status(self) -> dict:
        ran = self.cli("server", "status", "--json")
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    def pid(self) -> int | None:
        status = self.status()
        return status["pid"] if status["running"] else None

    def close(self) -> None:
        """Stop the server this home's tests started, if any (a refused place has none); remove the folder."""
        if not stat.S_ISSOCK(os.lstat(self.socket).st_mode if self.socket.exists() else 0):
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        pid = self.pid()
        self.cli("server", "stop")
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)
        assert not servers_in([self.dir]), "a server was left running"
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def home():
    made = Home()
    yield made
    made.close()


def check(home: Home, file: Path = SOLUTION, *extra: str) -> subprocess.CompletedProcess:
    return home.cli("check", "atomic", "--file", str(file), "--json", *extra)


def verdict(ran: subprocess.CompletedProcess) -> bool:
    assert ran.returncode in (0, 1), ran.stderr
    report = json.loads(ran.stdout)
    assert len(report["tensors"]) == 26
    return report["passed"]


def slow_solution(tmp_path: Path, seconds: float) -> Path:
    path = tmp_path / "slow_atomic.py"
    path.write_text(f"import time\ntime.sleep({seconds})\n" + SOLUTION.read_text())
    return path


# -- the place: no process needed ------------------------------------------------------------------------


def test_socket_place_is_ours_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = place.socket_path()
    assert path == tmp_path / "backprop-ninja" / "check.sock"
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_a_socket_path_that_is_not_a_socket_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = place.socket_path()
    path.write_text("")
    with pytest.raises(place.UnsafePlace, match="not a socket"):
        place.socket_path()


def a_stale_socket(mode: int) -> Path:
    """A socket left at the server's path (nobody listens on it), with `mode`."""
    path = place.socket_path()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    os.chmod(path, mode)
    return path


def test_a_socket_others_may_open_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = a_stale_socket(0o666)
    with pytest.raises(place.UnsafePlace, match="mode 0666"):
        place.socket_path()
    os.chmod(path, 0o600)
    assert place.socket_path() == path  # a stale socket of ours is fine: the server replaces it


def test_a_folder_open_to_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "backprop-ninja").mkdir(mode=0o755)
    os.chmod(tmp_path / "backprop-ninja", 0o755)
    with pytest.raises(place.UnsafePlace, match="mode 0755"):
        place.socket_path()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_socket_of_another_user_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = a_stale_socket(0o600)
    os.chown(path, 4242, -1)
    with pytest.raises(place.UnsafePlace, match="another user"):
        place.socket_path()


def test_without_a_runtime_folder_the_state_folder_holds_it(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert place.socket_path() == tmp_path / "backprop-ninja" / "run" / "check.sock"
    assert stat.S_IMODE(os.stat(tmp_path / "backprop-ninja" / "run").st_mode) == 0o700


def test_the_fingerprint_follows_the_code(tmp_path, monkeypatch):
    (tmp_path / "tutor").mkdir()
    (tmp_path / "tutor" / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(place, "PACKAGE", tmp_path / "tutor")
    before = place.fingerprint()
    assert place.fingerprint() == before
    (tmp_path / "tutor" / "a.py").write_text("x = 22\n")
    assert place.fingerprint() != before


def test_no_server_option_and_environment(monkeypatch):
    from tutor.checkd.client import wanted

    monkeypatch.setenv("BACKPROP_NINJA_SERVER", "1")
    assert wanted() and not wanted(no_server=True)
    monkeypatch.setenv("BACKPROP_NINJA_SERVER", "0")
    assert not wanted()


# -- the server: processes ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_started_on_first_use_then_reused(home):
    assert home.pid() is None
    assert verdict(check(home))
    first = home.pid()
    assert first is not None and alive(first)
    assert stat.S_IMODE(os.lstat(home.socket).st_mode) == 0o600
    assert not verdict(check(home, STARTER))
    assert home.pid() == first
    assert home.status()["checks"] == 2


@pytest.mark.slow
def test_the_client_imports_no_torch(home):
    assert verdict(check(home))
    # the table too is drawn by the server: the command imports neither torch nor rich
    code = ("import sys, tutor.cli; code = tutor.cli.main(['check', 'atomic', '--file', sys.argv[1]]); "
            "print('torch' in sys.modules, 'rich' in sys.modules, code)")
    ran = subprocess.run([sys.executable, "-c", code, str(SOLUTION)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **home.env}, timeout=120)
    assert "all 26 gradients match" in ran.stdout
    assert ran.stdout.split()[-3:] == ["False", "False", "0"], ran.stderr


@pytest.mark.slow
def test_no_server_checks_in_process(home):
    assert verdict(check(home, SOLUTION, "--no-server"))
    assert home.pid() is None
    assert verdict(home.cli("check", "atomic", "--file", str(SOLUTION), "--json", env={"BACKPROP_NINJA_SERVER": "0"}))
    assert home.pid() is None


@pytest.mark.slow
def test_a_stale_socket_is_replaced(home):
    home.socket.parent.mkdir(mode=0o700)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(home.socket))  # bound, never listening, left behind: what a killed server leaves
    sock.close()
    os.chmod(home.socket, 0o600)
    assert verdict(check(home))
    assert home.pid() is not None


@pytest.mark.slow
def test_a_server_of_another_version_is_replaced(home):
    home.socket.parent.mkdir(mode=0o700)
    subprocess.run([sys.executable, "-m", "tutor.checkd.server", "--detach", "--socket", str(home.socket),
                    "--fingerprint", "another-version"], check=True, timeout=60, cwd=ROOT)
    old = home.pid()
    assert old is not None
    ran = check(home)
    assert verdict(ran)
    assert "in this process" not in ran.stderr
    new = home.pid()
    assert new is not None and new != old
    assert wait_for(lambda: not alive(old))


@pytest.mark.slow
def test_two_clients_at_once_each_get_their_verdict(home):
    # both start with no server: one starts it, the other waits its turn on the lock and uses it
    one, two = home.popen("check", "atomic", "--file", str(SOLUTION), "--json"), \
        home.popen("check", "atomic", "--file", str(STARTER), "--json")
    out_one, out_two = one.communicate(timeout=180), two.communicate(timeout=180)
    assert json.loads(out_one[0])["passed"] and not json.loads(out_two[0])["passed"], (out_one[1], out_two[1])
    assert "in this process" not in out_one[1] + out_two[1]
    assert home.status()["checks"] == 2


@pytest.mark.slow
def test_a_client_killed_mid_check_leaves_the_server_serving(home, tmp_path):
    assert verdict(check(home))
    pid = home.pid()
    client = home.popen("check", "atomic", "--file", str(slow_solution(tmp_path, 2.0)), "--json")
    assert wait_for(lambda: home.status()["busy"] > 0)
    client.kill()
    client.communicate()
    assert verdict(check(home))
    assert home.pid() == pid


@pytest.mark.slow
def test_a_server_killed_mid_check_leaves_the_check_to_the_client(home, tmp_path):
    assert verdict(check(home))
    pid = home.pid()
    below = descendants(pid)
    assert below  # its checker's zygote, at least
    client = home.popen("check", "atomic", "--file", str(slow_solution(tmp_path, 2.0)), "--json")
    assert wait_for(lambda: home.status()["busy"] > 0)
    os.kill(pid, signal.SIGKILL)
    out, err = client.communicate(timeout=180)
    assert client.returncode == 0 and json.loads(out)["passed"], err
    assert "checked in this process" in err
    assert wait_for(lambda: not any(alive(p) for p in [pid, *below]))  # its zygote and children went with it
    assert verdict(check(home))  # the next check starts a new server
    assert home.pid() not in (None, pid)


@pytest.mark.slow
def test_server_stop_leaves_no_process(home):
    assert verdict(check(home))
    pid = home.pid()
    tree = [pid, *descendants(pid)]
    assert len(tree) > 1
    ran = home.cli("server", "stop")
    assert ran.returncode == 0 and f"stopped the check server {pid}" in ran.stdout
    assert wait_for(lambda: not any(alive(p) for p in tree))
    assert not home.socket.exists()
    assert home.pid() is None


@pytest.mark.slow
def test_an_idle_server_leaves_by_itself(home):
    ran = home.cli("check", "atomic", "--file", str(SOLUTION), "--json", env={"BACKPROP_NINJA_SERVER_IDLE": "1"})
    assert verdict(ran)
    pid = home.pid()
    tree = [pid, *descendants(pid)]
    assert wait_for(lambda: not any(alive(p) for p in tree), 30)
    assert not home.socket.exists()


@pytest.mark.slow
def test_a_refused_place_checks_in_process(home):
    home.socket.parent.mkdir(mode=0o700)
    home.socket.write_text("not a socket")
    ran = check(home)
    assert verdict(ran)
    assert "not a socket" in ran.stderr and "checked in this process" in ran.stderr


@pytest.mark.slow
def test_the_server_answers_as_the_command_would(home):
    served = check(home, STARTER)
    own = check(home, STARTER, "--no-server")
    assert json.loads(served.stdout) == json.loads(own.stdout)
    assert served.returncode == own.returncode == 1
    for lang in ("en", "zh"):  # the table the server draws is the one this process draws
        drawn = home.cli("--lang", lang, "check", "atomic", "--file", str(STARTER))
        own = home.cli("--lang", lang, "check", "atomic", "--file", str(STARTER), "--no-server")
        assert drawn.stdout == own.stdout and drawn.returncode == own.returncode == 1
        assert "in this process" not in drawn.stderr
