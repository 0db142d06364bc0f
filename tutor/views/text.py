"""A check's verdict as text, with rich: the cmp()-style table, the notes under it and the closing line.

The CLI's `check` and `train` print it (colour only on a terminal); a notebook shows it where its HTML view
(tutor/verdict_html.py) is not displayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tutor.messages import catalogue, render, speaker
from tutor.reports.check import STATUS_STYLE, CheckReport, LearnerError, TensorVerdict, fmt_shape

if TYPE_CHECKING:  # rich is imported where text is drawn: `say` alone (every command's words) needs none of it
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from tutor.views.quick_table import QuickTable

say = speaker("cli")


def kind_words(kind: str, lang: str = "en") -> str:
    """What stopped the learner's code (syntax, exception, timeout, ...) in `lang`, in the engine's words for it
    (kind-*); a kind no catalogue knows as it is."""
    return render(f"kind-{kind}", None, lang) if f"kind-{kind}" in catalogue() else kind


def _tick(flag: bool, relevant: bool, lang: str) -> str:
    return say("yes" if flag else "no", lang) if relevant else "—"


# The table's columns: (catalogue code of the heading, how its cells are justified).
COLUMNS = (
    ("col-gradient", "left"),
    ("col-expected", "right"),
    ("col-yours", "right"),
    ("col-exact", "center"),
    ("col-close", "center"),
    ("col-diff", "right"),
    ("col-own-line", "center"),
    ("col-status", "left"),
)


def check_table(
    report: CheckReport, lang: str = "en", fit: Console | None = None, quick: bool = True
) -> Table | QuickTable:
    """The cmp()-style table of a check, its headings and words in `lang`. Given the console it is `fit` to,
    a table that cannot fit that console however its status cells wrap (80 columns; a Chinese character
    takes two) is made compact: no exact and close columns (the status word says them again), the status
    word alone (the own-line column and the lines under the table say the rest), headings that wrap.
    The table is a QuickTable: rich's Table as it prints, drawn without rich's layout where its cells are
    ones it reads (the time of a check again, otherwise); `quick=False`: rich's Table."""
    table = _table(report, lang, compact=False)
    # the width with every cell on one line is cheap to count: only a table wider than the console is measured
    if fit is not None and table.widest() > fit.width and table.narrowest(fit) > fit.width:
        table = _table(report, lang, compact=True)
    return table if quick else table.table()


def _table(report: CheckReport, lang: str, compact: bool) -> QuickTable:
    from rich.text import Text

    from tutor.views.quick_table import QuickTable

    title = say("table-title", lang, exercise=report.exercise, device=report.device, loss=report.loss)
    wraps = ("col-diff", "col-own-line", "col-status") if compact else ("col-status",)
    columns = [(say(code, lang), justify, code not in wraps)
               for code, justify in COLUMNS if not (compact and code in NARROW_OUT)]
    rows = []
    for t in report.tensors:
        compared = t.max_abs_diff is not None
        diff = f"{t.max_abs_diff:.2e}" if compared else "—"
        status = status_cell(t, lang, compact)
        name = Text(t.name)
        if t.support:  # " (supporting)" after the name, or on a line of its own in a compact table
            supporting = say("supporting", lang)
            name.append("\n" + supporting.strip() if compact else supporting, style="dim")
        own_line = say(f"own-line-{t.local}", lang) if t.local in OWN_LINE else "—"
        ticks = [] if compact else [_tick(t.exact, compared, lang), _tick(t.close, compared, lang)]
        rows.append((name, fmt_shape(t.expected_shape), fmt_shape(t.shape), *ticks, diff, own_line, status))
    return QuickTable(title, columns, rows)  # type: ignore[arg-type]


def status_cell(t: TensorVerdict, lang: str, compact: bool) -> Text:
    """A row's status: its word, then where its error comes from (or that its own line is wrong); a row this
    check did not recheck says so, dim, after its last verdict (or "not checked" when it has none)."""
    from rich.text import Text

    if t.not_checked:
        return Text(say("status-not-checked", lang), style="dim")
    status = Text(say(f"status-{t.status}", lang), style=STATUS_STYLE[t.status])
    if not t.rechecked:
        status.stylize("dim")
        status.append(say("status-not-rechecked", lang), style="dim")
    elif t.inherits_from and not compact:
            status.append(say("status-from", lang, root=t.inherits_from), style="dim")
    elif t.local == "fail" and not compact:
        status.append(say("status-own-line", lang), style="dim")
    return status


# The columns a narrow table leaves out: the status word says whether a gradient is exact or close.
NARROW_OUT = ("col-exact", "col-close")


# The "own line" column: the row's line under its local rule (random gradients injected from above).
OWN_LINE = {"pass": "right", "fail": "wrong"}


def inherited_lines(report: CheckReport, lang: str = "en") -> list[str]:
    """One sentence per root: which failing tensors are right given correct upstream gradients."""
    by_root: dict[str, list[str]] = {}
    for t in report.tensors:
        if t.inherits_from:
            by_root.setdefault(t.inherits_from, []).append(t.name)
    lines = []
    for root, names in by_root.items():
        if len(names) == 1:
            lines.append(say("inherited-one", lang, name=names[0], root=root))
        else:
            shown = ", ".join(names[:4])
            if len(names) > 4:
                shown = say("names-and-more", lang, names=shown, more=len(names) - 4)
            lines.append(say("inherited-many", lang, names=shown, root=root))
    return lines


def print_report(
    report: CheckReport, console: Console, where: Callable[[int | None], str] | None = None, lang: str = "en"
) -> None:
    """`where` names an error's place (a notebook's cell and line) instead of "line N"; `lang`: the language
    of the notes and diagnoses."""
    from rich.text import Text

    console.print(check_table(report, lang, fit=console))
    if not report.rechecked:
        console.print(Text(say("not-rechecked", lang), style="dim"))
    elif any(t.local is not None and not t.passed for t in report.tensors):
        console.print(Text(say("own-line-key", lang), style="dim"))
    if report.error:
        print_error(report.error, console, where, lang)
    for t in report.tensors:
        note = t.note_text(lang)
        notes = [note] if note and t.status != "missing" else []
        if t.diagnosis:
            notes.append(say("likely-mistake", lang, code=t.diagnosis.label(lang), text=t.diagnosis.text(lang)))
        for note in notes:
            console.print(Text(f"{t.name}: {note}", style="dim" if t.passed else ""))
    for line in inherited_lines(report, lang):
        console.print(Text(line, style="dim"))
    for warning in report.warning_texts(lang):
        console.print(Text(say("warning", lang, warning=warning), style="yellow"))
    if report.output.strip():
        console.print(Text(say("printed", lang), style="dim"))
        console.print(Text(report.output.rstrip()[-2000:]), markup=False, highlight=False)
    console.print(closing_line(report, lang))


def print_error(e: LearnerError, console: Console, where: Callable[[int | None], str] | None, lang: str) -> None:
    """What stopped the learner's code and where; an error that points into its line (a syntax error) as
    Python shows it: the line, a caret under the place, then the message."""
    from rich.text import Text

    place = where(e.line) if where else say("line", lang, line=e.line) if e.line else ""
    caret = e.caret()
    if caret is not None and place:
        console.print(Text(say("error-at-caret", lang, kind=kind_words(e.kind, lang), place=place), style="bold red"))
        gutter = f"  {e.line} | "
        console.print(Text(gutter + caret[0], style="red"), markup=False, highlight=False)
        console.print(Text(" " * (len(gutter) - 2) + "| " + caret[1], style="bold red"), markup=False, highlight=False)
        console.print(Text(e.message, style="bold red"), markup=False, highlight=False)
        return
    kind = kind_words(e.kind, lang)
    error = say("error-at", lang, kind=kind, place=place, message=e.message) if place else say(
        "error", lang, kind=kind, message=e.message
    )
    console.print(Text(error, style="bold red"))
    if e.source:
        console.print(Text(f"  {e.line} | {e.source.strip()}", style="red"))


def closing_line(report: CheckReport, lang: str = "en") -> Text:
    """The verdict in one line: all pass, how many pass and the first to fix, or nothing checked."""
    from rich.text import Text

    required = [t for t in report.tensors if not t.support]
    passed = sum(t.passed for t in required)
    total = len(required)
    if report.passed:
        if total == 1:
            return Text(say("passed-one", lang, exercise=report.exercise, name=required[0].name), style="bold green")
        return Text(say("passed-all", lang, exercise=report.exercise, total=total), style="bold green")
    first = report.first_failure
    if not total or not report.rechecked:
        words = say("nothing-checked", lang, exercise=report.exercise)
    elif first:
        words = say("failed-first", lang, exercise=report.exercise, passed=passed, total=total, first=first.name)
    else:
        words = say("failed", lang, exercise=report.exercise, passed=passed, total=total)
    return Text(words, style="bold red")
