"""Benchmark (not a test): `backprop-ninja check` from the shell, served by the warm check server vs in-process.

Runs `backprop-ninja check atomic --file solutions/atomic.py` (the table, as a learner sees it; stdout to a
pipe) as a new process each time: first once to start a server (untimed: its start-up pays torch's import and
the contexts), then --runs times in a row against it, then --in-process-runs times with
BACKPROP_NINJA_SERVER=0 (every process imports torch and builds its Checker). The server lives in a runtime
folder of its own and is stopped at the end. Prints one JSON line: the medians, their ratio, the spread, the
machine's load, and the served commands' own CPU time (user + system; less bent by other jobs than the wall
time, it leaves out only the server's part of a check). Targets on 2 cores: server p50 <= 0.2 s and ratio >= 15.

    python bench/cli_latency.py [--runs 10] [--in-process-runs 3] [--pause 0.5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(env: dict[str, str], device: str, cpu: list[float] | None = None) -> float:
    """One command's wall time; its CPU time (user + system, the command's own process) appended to `cpu`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tutor", "check", "atomic", "--file", "solutions/atomic.py", "--device", device],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if result.returncode != 0 or "checked in this process" in result.stderr:
        raise SystemExit(f"the check failed or was not served: {result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--in-process-runs", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between checks (not timed: the learner typing)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bpn-bench-", dir="/tmp") as runtime:
        env = {**os.environ, "NO_COLOR": "1", "BACKPROP_NINJA_SERVER": "1", "XDG_RUNTIME_DIR": runtime}
        try:
            first = timed(env, args.device)  # starts the server
            served: list[float] = []
            served_cpu: list[float] = []
            for _ in range(args.runs):
                time.sleep(args.pause)
                served.append(timed(env, args.device, served_cpu))
        finally:
            subprocess.run([sys.executable, "-m", "tutor", "server", "stop"], cwd=ROOT, env=env, capture_output=True)
        own_env = {**env, "BACKPROP_NINJA_SERVER": "0"}
        in_process = [timed(own_env, args.device) for _ in range(args.in_process_runs)]
    server_p50, own_p50 = statistics.median(served), statistics.median(in_process)
    print(json.dumps({
        "server_p50_s": round(server_p50, 3),
        "in_process_p50_s": round(own_p50, 3),
        "ratio": round(own_p50 / server_p50, 1),
        "server_min_max_s": [round(min(served), 3), round(max(served), 3)],
        # the command's own CPU time (the server's few ms aside): what a served check costs on an idle machine
        "server_client_cpu_p50_s": round(statistics.median(served_cpu), 3),
        "in_process_min_max_s": [round(min(in_process), 3), round(max(in_process), 3)],
        "first_check_with_start_s": round(first, 2),
        "runs": args.runs,
        "in_process_runs": args.in_process_runs,
        "device": args.device,
        "cores": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
