"""What `grade` shows on the terminal: a progress line on stderr (a redrawn bar with ETA and passes on a
terminal; a plain line every few seconds elsewhere, as in CI logs) and the class map as a table."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TextIO

from tutor.cli.common import say
from tutor.grading.run import Graded, Progress


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–:––"
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProgressLine:
    """The progress of a grading run on `stream`."""

    PLAIN_EVERY_S = 5.0

    def __init__(self, stream: TextIO, lang: str = "en") -> None:
        self.stream, self.lang = stream, lang
        self.live = stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        self.last = 0.0
        self.shown = False
        self.progress: Progress | None = None
        self.last_text = ""

    def text(self, p: Progress) -> str:
        return say("grade-progress", self.lang, done=p.done, total=p.total, passed=p.passed, eta=clock(p.eta_s))

    def update(self, progress: Progress) -> None:
        self.progress = progress
        now = time.monotonic()
        if self.live:
            if now - self.last < 0.1 and progress.done < progress.total:
                return
            width = 28
            filled = round(width * progress.done / progress.total) if progress.total else width
            self.stream.write(f"\r\x1b[2K[{'█' * filled}{'·' * (width - filled)}] {self.text(progress)}")
            self.stream.flush()
            self.shown, self.last = True, now
        elif now - self.last >= self.PLAIN_EVERY_S and progress.done:
            self.last_text = self.text(progress)
            print(self.last_text, file=self.stream, flush=True)
            self.last = now

    def finish(self) -> None:
        if self.live and self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        elif not self.live and self.progress is not None and self.progress.total and self.last_text != self.text(self.progress):
            print(self.text(self.progress), file=self.stream, flush=True)


def print_summary(graded: Graded, out, lang: str, folder: Path) -> None:
    """Per exercise: who passes and what to fix first; per step where someone is wrong: the share passing and
    the most common mistake, with its count."""
    from rich.table import Table

    judged = say("grade-done", lang, count=len(graded.results), judged=graded.judged, seconds=graded.seconds)
    out.print(judged, markup=False)
    for ex in graded.classmap.exercises:
        share = ex.passed / ex.submissions if ex.submissions else 0.0
        title = say("grade-exercise-title", lang, exercise=ex.id, passed=ex.passed, submissions=ex.submissions, share=share)
        if ex.first_to_fix:
            name, count = ex.first_to_fix.most_common(1)[0]
            title += " · " + say("grade-first-to-fix", lang, name=name, count=count)
        out.print()
        out.print(title, markup=False, style="bold")
        if all(step.passing == step.graded for step in ex.steps) and not ex.stopped:
            continue
        table = Table(show_edge=False, pad_edge=False)
        table.add_column(say("grade-col-step", lang), no_wrap=True)
        table.add_column(say("grade-col-passing", lang), justify="right", no_wrap=True)
        table.add_column(say("grade-col-mistake", lang), overflow="fold")
        for step in ex.steps:
            if step.passing == step.graded:
                continue
            top = step.bars[0] if step.bars else None
            mistake = say("grade-mistake", lang, code=top.code, count=top.count, words=top.words) if top else ""
            if step.inherited and not top:
                mistake = say("grade-inherited", lang, count=step.inherited)
            table.add_row(step.name, f"{step.passing}/{step.graded} {step.share:.0%}", mistake)
        for bar in ex.stopped:
            table.add_row(f"({bar.code})", str(bar.count), bar.words)
        out.print(table)
    if graded.classmap.unmatched:
        out.print()
        out.print(say("grade-unmatched", lang, count=len(graded.classmap.unmatched)), markup=False)
    out.print()
    out.print(say("grade-files", lang, out=str(folder)), markup=False)
