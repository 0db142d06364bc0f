"""Benchmark (not a test): how long a check of the atomic reference solution takes, fresh vs warm.

(a) fresh: `python -m tutor check atomic --file solutions/atomic.py --json` as a new process each time, checking
    in its own process (BACKPROP_NINJA_SERVER=0: torch import, dataset, context and reference built from
    scratch; bench/cli_latency.py times the command served by the check server);
(b) warm: one Checker kept alive (as the TUI's worker keeps it), checking the same file again and again,
    with a pause between checks (untimed: the learner typing) in which the sandbox readies its spare
    children (on a GPU that takes about half a second) and lends one to the tutor, and the checker draws the
    next check's second batch and local-rule gradients and sends them to that child; also a wrong file (one
    sign flipped early), which pays for the diagnosis.
Every timed check is the full one: the lecture's batch, a second batch with other sizes, and the local-rule
run with random injected gradients, all in one child.
Prints one JSON line: the medians, their ratio, the run counts, and how many timed checks found their
last child set up and waiting. Targets on 2 cores: warm p50 <= 25 ms for the right file, <= 40 ms for the
wrong one, and >= 80x faster than a fresh process. BACKPROP_NINJA_SPARES=0 measures the sandbox without
spares (every child forked on demand).

    python bench/check_latency.py [--runs 20] [--fresh-runs N] [--device cpu] [--pause 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fresh_runs(runs: int, device: str, exercise: str, solution: Path) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "tutor", "check", exercise, "--file", str(solution), "--json", "--device", device],
            cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "BACKPROP_NINJA_SERVER": "0"},  # a fresh process's own check, not the server's
        )
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"fresh check failed: {result.stdout}{result.stderr}")
    return times


def warm_runs(runs: int, device: str, exercise_id: str, pause: float) -> tuple[list[float], float, list[float], int]:
    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    from tutor.course import load_course
    from tutor.engine.check import Checker

    course = load_course()
    exercise = course.find(exercise_id)
    started = time.perf_counter()
    with Checker(course, device=device) as checker:
        assert checker.check(exercise, exercise.solution).passed  # builds the context: not timed below
        first = time.perf_counter() - started
        times = []
        ready = 0
        solution = exercise.solution.read_text(encoding="utf-8")
        for i in range(runs):
            time.sleep(pause)
            t0 = time.perf_counter()
            # each save is new text (a comment that changes), so no cache of the last file helps
            report = checker.check(exercise, exercise.solution, f"{solution}# save {i}\n")
            times.append(time.perf_counter() - t0)
            assert report.passed
            ready += bool((checker.sandbox.last_child or {}).get("ready"))
        source = exercise.solution.read_text(encoding="utf-8")
        wrong = source.replace("dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs")
        wrong_times = []
        for i in range(runs if wrong != source else 0):
            time.sleep(pause)
            t0 = time.perf_counter()
            report = checker.check(exercise, Path("wrong_sign.py"), f"{wrong}# save {i}\n")
            wrong_times.append(time.perf_counter() - t0)
            assert not report.passed
            ready += bool((checker.sandbox.last_child or {}).get("ready"))
    return times, first, wrong_times, ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fresh-runs", type=int, default=None, help="fresh processes to time (default: --runs; 0: none)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--exercise", default="atomic")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between warm checks (not timed)")
    args = parser.parse_args()
    from tutor.course import load_course

    solution = load_course().find(args.exercise).solution
    warm, first, wrong, ready = warm_runs(args.runs, args.device, args.exercise, args.pause)
    fresh = fresh_runs(args.runs if args.fresh_runs is None else args.fresh_runs, args.device, args.exercise, solution)
    fresh_p50 = statistics.median(fresh) if fresh else None
    warm_p50 = statistics.median(warm)
    print(json.dumps({
        "exercise": args.exercise,
        "device": args.device,
        "runs": args.runs,
        "fresh_p50_s": round(fresh_p50, 3) if fresh_p50 else None,
        "warm_p50_ms": round(warm_p50 * 1000, 1),
        "warm_p90_ms": round(sorted(warm)[int(0.9 * len(warm)) - 1] * 1000, 1),
        "warm_first_check_s": round(first, 3),
        "warm_wrong_file_p50_ms": round(statistics.median(wrong) * 1000, 1) if wrong else None,
        "ratio_fresh_over_warm": round(fresh_p50 / warm_p50, 1) if fresh_p50 else None,
        "pause_s": args.pause,
        "spares": os.environ.get("BACKPROP_NINJA_SPARES", "default"),
        "checks_with_a_ready_last_child": f"{ready}/{len(warm) + len(wrong)}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
