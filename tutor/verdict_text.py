"""A check's verdict as text, with rich: the cmp()-style table, the notes under it and the closing line.

The CLI's `check` and `train` print it (colour only on a terminal); a notebook shows it where its HTML view
(tutor/verdict_html.py) is not displayed."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tutor.reports.check import STATUS_STYLE, CheckReport, fmt_shape


def _tick(flag: bool, relevant: bool) -> str:
    return ("yes" if flag else "no") if relevant else "—"


def check_table(report: CheckReport) -> Table:
    table = Table(title=f"{report.exercise} · {report.device} · loss {report.loss:.4f}", title_justify="left")
    for column, justify in (
        ("gradient", "left"),
        ("expected", "right"),
        ("yours", "right"),
        ("exact", "center"),
        ("close", "center"),
        ("max abs diff", "right"),
        ("own line", "center"),
        ("status", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=column != "status")  # type: ignore[arg-type]
    for t in report.tensors:
        compared = t.max_abs_diff is not None
        diff = f"{t.max_abs_diff:.2e}" if compared else "—"
        status = Text(t.status, style=STATUS_STYLE[t.status])
        if t.inherits_from:
            status.append(f" (from {t.inherits_from})", style="dim")
        elif t.local == "fail":
            status.append(" (its own line)", style="dim")
        name = Text(t.name) + (Text(" (supporting)", style="dim") if t.support else Text(""))
        table.add_row(
            name, fmt_shape(t.expected_shape), fmt_shape(t.shape),
            _tick(t.exact, compared), _tick(t.close, compared), diff, OWN_LINE.get(t.local or "", "—"), status,
        )
    return table


# The "own line" column: the row's line under its local rule (random gradients injected from above).
OWN_LINE = {"pass": "right", "fail": "wrong"}


def inherited_lines(report: CheckReport) -> list[str]:
    """One sentence per root: which failing tensors are right given correct upstream gradients."""
    by_root: dict[str, list[str]] = {}
    for t in report.tensors:
        if t.inherits_from:
            by_root.setdefault(t.inherits_from, []).append(t.name)
    lines = []
    for root, names in by_root.items():
        if len(names) == 1:
            lines.append(f"{names[0]}'s own line is right; its error comes from {root}.")
        else:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            lines.append(f"The own lines of {shown} are right; their error comes from {root}.")
    return lines


def print_report(
    report: CheckReport, console: Console, where: Callable[[int | None], str] | None = None, lang: str = "en"
) -> None:
    """`where` names an error's place (a notebook's cell and line) instead of "line N"; `lang`: the language
    of the notes and diagnoses."""
    console.print(check_table(report))
    if report.error:
        e = report.error
        place = where(e.line) if where else f"line {e.line}" if e.line else ""
        console.print(Text(f"error ({e.kind}){' at ' + place if place else ''}: {e.message}", style="bold red"))
        if e.source:
            console.print(Text(f"  {e.line} | {e.source.strip()}", style="red"))
    for t in report.tensors:
        note = t.note_text(lang)
        notes = [note] if note and t.status != "missing" else []
        if t.diagnosis:
            notes.append(f"likely mistake ({t.diagnosis['code']}): {t.diagnosis.text(lang)}")
        for note in notes:
            console.print(Text(f"{t.name}: {note}", style="dim" if t.passed else ""))
    for line in inherited_lines(report):
        console.print(Text(line, style="dim"))
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    if report.output.strip():
        console.print(Text("your code printed:", style="dim"))
        console.print(Text(report.output.rstrip()[-2000:]), markup=False, highlight=False)
    required = [t for t in report.tensors if not t.support]
    passed = sum(t.passed for t in required)
    total = len(required)
    if report.passed:
        what = f"{required[0].name} matches" if total == 1 else f"all {total} gradients match"
        console.print(Text(f"✔ {report.exercise}: {what} autograd.", style="bold green"))
    else:
        first = report.first_failure
        tail = f"; first to fix: {first.name}" if first else ""
        if total:
            console.print(Text(f"✘ {report.exercise}: {passed}/{total} gradients pass{tail}.", style="bold red"))
        else:
            console.print(Text(f"✘ {report.exercise}: nothing was checked; fix the error above first.", style="bold red"))
