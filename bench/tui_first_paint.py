"""Time from process start to the tutor's first painted screen, and from a save to the updated table.

    python bench/tui_first_paint.py            # spawns itself fresh, so the interpreter start is counted

Uses the real check service for the save-to-table latency (a real torch process, the atomic exercise)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def measure(start: float) -> None:
    from tutor.course import load_course
    from tutor.ui.app import make_app
    from tutor.ui.screens.exercise import ExerciseScreen
    from tutor.ui.widgets.step_table import StepTable

    root = Path(tempfile.mkdtemp()) / "ws"
    app = make_app(load_course(), root)  # the real progress store and check service
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        print(f"first paint: {time.time() - start:.3f} s after process start")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, ExerciseScreen)
        table = screen.query_one(StepTable)
        t0 = time.monotonic()
        while "missing" not in str(table.get_cell("dlogprobs", "status")):
            await pilot.pause(0.01)
        print(f"first check (starts torch in the service): {time.monotonic() - t0:.2f} s")
        path = root / "atomic.py"
        times = []
        for i in range(5):
            want = "exact" if i % 2 == 0 else "missing"
            text = path.read_text()
            new = (text.replace("dlogprobs = None", "dlogprobs = torch.zeros_like(logprobs); dlogprobs[range(n), Yb] = -1.0/n")
                   if want == "exact" else text.replace(
                       "dlogprobs = torch.zeros_like(logprobs); dlogprobs[range(n), Yb] = -1.0/n", "dlogprobs = None"))
            tmp = path.with_name(".atomic.py.swp")
            tmp.write_text(new)
            t0 = time.monotonic()
            tmp.replace(path)
            while want not in str(table.get_cell("dlogprobs", "status")):
                await pilot.pause(0.005)
            times.append(time.monotonic() - t0)
        print("save -> table updated: " + ", ".join(f"{t * 1000:.0f} ms" for t in times))


def main() -> None:
    if os.environ.get("_BENCH_CHILD"):
        asyncio.run(measure(float(os.environ["_BENCH_CHILD"])))
        return
    env = {**os.environ, "_BENCH_CHILD": repr(time.time()), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, __file__], env=env, check=True)


if __name__ == "__main__":
    main()
