"""Warm check latency: p50/p90 of Checker.check on the atomic solution and on a wrong file.

The wrong file (one sign flipped early) fails chained, so it also pays for the isolated re-run and the
diagnosis. Target: warm p50 <= 50 ms for the solution on a 2-core machine.

    python bench/check_latency.py [--runs 25] [FILE ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")

from tutor.course import load_course  # noqa: E402
from tutor.engine.check import Checker  # noqa: E402


def measure(checker: Checker, exercise, path: Path, runs: int) -> list[float]:
    source = path.read_text(encoding="utf-8")
    for _ in range(3):  # warm: contexts built, caches filled
        checker.check(exercise, path, source)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        checker.check(exercise, path, source)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    course = load_course()
    atomic = course.find("atomic")
    with tempfile.TemporaryDirectory() as tmp:
        wrong = Path(tmp) / "wrong_sign.py"
        solution = atomic.solution.read_text(encoding="utf-8")
        wrong.write_text(solution.replace("dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs"))
        files = args.files or [atomic.solution, wrong]
        with Checker(course) as checker:
            for path in files:
                times = measure(checker, atomic, path, args.runs)
                q = statistics.quantiles(times, n=10)
                print(f"{path.name:24s} p50 {1000 * statistics.median(times):6.1f} ms   p90 {1000 * q[8]:6.1f} ms   ({args.runs} runs)")


if __name__ == "__main__":
    main()
