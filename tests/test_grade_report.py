"""report.html: the class map as one self-contained page (no script, nothing fetched), its per-step bars
with the course's words and the students behind each; and opened in headless Chromium when installed."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tutor.grading.classmap import build
from tutor.grading.report_html import page


def row(name: str, status: str = "exact", code: str | None = None, message: str = "", inherits: str | None = None) -> dict:
    diagnosis = {"code": code, "message": message} if code else None
    return {"name": name, "status": status, "diagnosis": diagnosis, "inherits_from": inherits, "support": False}


def a_class(course) -> list[dict]:
    """Five students on exercise 2 (one passes, three share a sign mistake, one forgot dlogits) and two on
    exercise 3 (one stopped with a timeout)."""
    sign = "the sign of your dlogits is flipped"
    results = [{"student": "ada", "exercise": "cross-entropy", "passed": True, "tensors": [row("dlogits", "close")]}]
    for student in ("bob", "cy", "dee"):
        results.append({"student": student, "exercise": "cross-entropy", "passed": False,
                        "tensors": [row("dlogits", "wrong", "sign", sign)]})
    results.append({"student": "eve", "exercise": "cross-entropy", "passed": False, "tensors": [row("dlogits", "missing")]})
    results.append({"student": "fay", "exercise": "batchnorm", "passed": True, "tensors": [row("dhprebn", "close")]})
    results.append({"student": "gus", "exercise": "batchnorm", "passed": False, "tensors": [],
                    "error": {"kind": "timeout", "message": "your code ran longer than 10 s", "line": 3}})
    results.append({"student": "hal", "exercise": "", "passed": False, "tensors": [], "file": "hal/notes.py",
                    "error": {"kind": "refused", "message": "assigns no exercise's gradients"}})
    return results


def test_the_map_has_a_bar_per_diagnosis_with_its_students(course):
    classmap = build(a_class(course), course)
    step = classmap.exercise("cross-entropy").steps[0]
    assert (step.passing, step.graded) == (1, 5)
    assert [(b.code, b.count, sorted(b.students)) for b in step.bars] == [("sign", 3, ["bob", "cy", "dee"]), ("missing", 1, ["eve"])]
    assert classmap.exercise("cross-entropy").first_to_fix.most_common(1) == [("dlogits", 4)]
    stopped = classmap.exercise("batchnorm").stopped
    assert [(b.code, b.students) for b in stopped] == [("timeout", ["gus"])]
    assert classmap.unmatched == [("hal", "hal/notes.py", "assigns no exercise's gradients")]


def test_the_page_is_self_contained_and_in_the_learners_language(course):
    html = page(build(a_class(course), course))
    assert "<script" not in html and "src=" not in html and "href=" not in html and "@import" not in html
    assert html.count('class="diagnosis"') == 3  # sign, missing, timeout
    assert "the sign of your dlogits is flipped" in html and "bob, cy, dee" in html
    assert "1/5 (20%)" in html and "most often first to fix: dlogits (4)" in html
    zh = page(build(a_class(course), course, "zh"), "zh")
    assert "全班的错误分布" in zh and "最常需要先改的" in zh


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)")
def test_headless_chromium_shows_the_bars_without_a_script_error(course, tmp_path):
    report = tmp_path / "report.html"
    report.write_text(page(build(a_class(course), course)), encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0", "--window-size=1200,1400"]
    shot_run = subprocess.run([*flags, f"--screenshot={shot}", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000, shot_run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run([*flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.stdout.count('class="diagnosis"') == 3 and 'id="step-dlogits"' in dom.stdout
    for log in (shot_run.stderr, dom.stderr):
        console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        assert console == [], console


def summary_text(course, lang: str) -> str:
    from rich.console import Console

    from tutor.cli.grade_view import print_summary
    from tutor.grading.run import Graded

    results = a_class(course)
    graded = Graded(results, build(results, course, lang), [], judged=len(results), seconds=1.5)
    console = Console(record=True, width=120, file=io.StringIO(), no_color=True)
    print_summary(graded, console, lang, Path("grades"))
    return console.export_text()


def test_the_terminal_summary_names_each_steps_most_common_mistake(course):
    text = summary_text(course, "en")
    assert "cross-entropy: 1 of 5 pass (20%) · most often first to fix: dlogits (4)" in text
    assert "1/5 20%" in text and "sign ×3: the sign of your dlogits is flipped" in text
    assert "(timeout)" in text and "1 file matched no exercise" in text
    zh = summary_text(course, "zh")
    assert "5 份中通过 1 份" in zh and "最常见的错误" in zh and "sign（3 人）" in zh


def test_the_progress_line_is_plain_without_a_terminal():
    from tutor.cli.grade_view import ProgressLine
    from tutor.grading.run import Progress

    stream = io.StringIO()
    line = ProgressLine(stream)
    progress = Progress(total=4, done=2, passed=1)
    line.update(progress)
    progress.done = 4
    line.finish()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert stream.getvalue().splitlines() == ["2/4 graded · 1 pass · ETA –:––", "4/4 graded · 1 pass · ETA –:––"]


def test_the_map_as_json_carries_the_bars_and_their_students(course):
    import json

    data = json.loads(json.dumps(build(a_class(course), course).to_json()))
    ce = next(e for e in data["exercises"] if e["id"] == "cross-entropy")
    assert ce["first_to_fix"] == {"dlogits": 4} and ce["steps"][0]["bars"][0]["students"] == ["bob", "cy", "dee"]
    assert data["unmatched"][0]["student"] == "hal"
