"""A check's table drawn by QuickTable is what rich's Table prints, byte for byte: for every solution, starter
and authored mistake of the lecture's pack and a report whose rows were not rechecked, in English and Chinese,
at 80, 120 and 200 columns and at every width where exercise 1's table wraps its cells, with no colour, 16 colours,
true colour and NO_COLOR; the check server's drawing likewise; tables whose cells wrap unevenly or are cut short;
and every table rich lays out otherwise (a line break, a tab, a trailing space, a no_wrap column narrowed) is left
to rich's Table. The narrowest width a table is drawn in whole is rich's measurement with no_wrap cells whole."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from tests.conftest import LEARNER_FILES
from tutor.checkd.server import draw
from tutor.cli.course import with_mistake
from tutor.reports.check import keep_last
from tutor.views.quick_table import QuickTable
from tutor.views.text import _table, check_table

WIDTHS = (80, 120, 200)
# (color system, NO_COLOR): rich's colour systems, and colour asked for where NO_COLOR is set
COLOURS = ((None, False), ("standard", False), ("truecolor", False), ("truecolor", True))
# The tests of checked reports run on one worker: its reports are checked once.
CHECKED = pytest.mark.xdist_group("text-table-reports")


class Screen(io.StringIO):
    """A file of a given encoding, as rich reads one (ASCII only: rich draws boxes in ASCII)."""

    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def screen(width: int, colour: str | None = "truecolor", no_color: bool = False, **kwargs) -> Console:
    encoding = kwargs.pop("encoding", "utf-8")
    return Console(file=Screen(encoding), width=width, color_system=colour, no_color=no_color, highlight=False,
                   _environ={}, **kwargs)


def printed(console: Console, renderable) -> str:
    console.file.seek(0)
    console.file.truncate()
    console.print(renderable)
    return console.file.getvalue()


def same_as_rich(report, lang: str, console: Console) -> bool:
    """The report's table as the command prints it on `console` is the one rich's Table prints; True where the
    QuickTable drew it (False: the table went to rich's Table, wrapped or compact)."""
    table = check_table(report, lang, fit=console)
    if not isinstance(table, QuickTable):
        return False  # rich's Table whichever way: nothing to compare
    quick = printed(console, table)
    rich = printed(console, check_table(report, lang, fit=console, quick=False))
    assert quick == rich, (report.exercise, lang, console.width, console.color_system, console.no_color)
    return table.lines(console, console.options) is not None


@pytest.fixture(scope="module")
def few(course, checker) -> dict[str, object]:
    """Exercise 1's solution, starter and first authored mistake (a wrong row and the rows inheriting its error),
    its file that does not run, as is and with its rows' last verdicts kept; exercise 4's starter."""
    atomic, training = course.find("atomic"), course.find("training")
    step = atomic.steps[0]
    mistake = with_mistake(atomic.solution.read_text(encoding="utf-8"), step, step.mistakes[0])
    made = {
        "atomic solution": checker.check(atomic, atomic.solution),
        "atomic starter": checker.check(atomic, atomic.starter),
        f"atomic {step.name} mistake 1": checker.check(atomic, atomic.solution, mistake),
        "atomic not run": checker.check(atomic, LEARNER_FILES / "syntax_error.py"),
        "training starter": checker.check(training, training.starter),
    }
    assert not made["atomic not run"].rechecked
    last = made[f"atomic {step.name} mistake 1"].tensors
    kept = {t.name: t for t in last[::2]} | {t.name: "wrong" for t in last[1::4]}
    made["atomic not rechecked"] = keep_last(made["atomic not run"], kept)
    return made


@pytest.fixture(scope="module")
def reports(course, checker, few) -> dict[str, object]:
    """Besides `few`: every solution and starter of the pack and each authored mistake written into its
    solution, checked."""
    made = dict(few)
    for exercise in course.exercises:
        solution = exercise.solution.read_text(encoding="utf-8")
        for name, path in (("solution", exercise.solution), ("starter", exercise.starter)):
            if f"{exercise.id} {name}" not in made:
                made[f"{exercise.id} {name}"] = checker.check(exercise, path)
        for step in exercise.steps:
            for index, mistake in enumerate(step.mistakes):
                source = with_mistake(solution, step, mistake)
                name = f"{exercise.id} {step.name} mistake {index + 1}"
                if source is not None and name not in made:
                    made[name] = checker.check(exercise, exercise.solution, source)
    return made


# The reports the whole matrix of widths and colours draws; every other report is drawn at 120 columns.
MATRIX = ("atomic solution", "atomic starter", "atomic dlogprobs mistake 1", "atomic not rechecked",
          "cross-entropy solution", "batchnorm starter", "training solution")


@CHECKED
def test_every_report_of_the_pack_draws_as_rich_draws_it(reports):
    """One test (its reports are made once): English and Chinese."""
    assert set(MATRIX) <= set(reports) and len(reports) > 40
    quick = 0
    for lang in ("en", "zh"):
        for name, report in reports.items():
            widths = WIDTHS if name in MATRIX else (80, 120)
            colours = COLOURS if name in MATRIX else (("truecolor", False),)
            for width in widths:
                for colour, no_color in colours:
                    quick += same_as_rich(report, lang, screen(width, colour, no_color))
    assert quick > 2 * len(reports)  # the comparisons were QuickTable's drawing, not rich's twice


def wrapping_widths(report, lang: str) -> list[int]:
    """The widths at which the table check_table gives is wider than the console, its cells wrapped (a status, a
    heading) and cut short where a word is wider than its column: each from 76 to 94 columns (80 and where
    the tables of exercise 1 turn compact), every fourth from 60 to 130."""
    widths = sorted({*range(76, 95), *range(60, 131, 4)})
    return [width for width in widths if check_table(report, lang, fit=screen(width)).widest() > width]


def same_in_colours(console: Console, quick, rich, colours=(None, "standard", "truecolor")) -> None:
    """The segments of a QuickTable and of its rich Table, drawn on `console`, print the same in each colour
    system (the colour system is only how a console writes segments: each table is laid out once)."""
    from rich.segment import Segments

    quick, rich = list(console.render(quick)), list(console.render(rich))
    for colour in colours:
        writer = screen(console.width, colour)
        assert printed(writer, Segments(quick)) == printed(writer, Segments(rich)), (console.width, colour)


@CHECKED
def test_tables_whose_cells_wrap_draw_as_rich_draws_them(few):
    """Exercise 1's reports at every width where the status cells (or, compact, the headings) wrap: in
    English the mistake's rows "wrong (from ...)" and the rows not rechecked, compact at about 80 columns
    (the rows not rechecked with their words cut short: rich narrows the three wrapping columns alike)."""
    laid_out, drew = [], []
    for lang in ("en", "zh"):
        for name, report in few.items():
            if not name.startswith("atomic"):
                continue
            for width in wrapping_widths(report, lang):
                console = screen(width)
                table = check_table(report, lang, fit=console)
                same_in_colours(console, table, table.table())
                laid_out.append((lang, name, width))
                if table.lines(console, console.options) is not None:
                    drew.append((lang, name, width))
    assert drew == laid_out and len(drew) > 100  # every one drawn by QuickTable
    assert {("en", "atomic solution", 80), ("en", "atomic not run", 80), ("en", "atomic not rechecked", 100),
            ("en", "atomic dlogprobs mistake 1", 104), ("zh", "atomic dlogprobs mistake 1", 104),
            ("en", "atomic not rechecked", 80), ("zh", "atomic not rechecked", 80)} <= set(drew)


def solid(cell):
    """A cell with no break in it: its spaces made underscores."""
    if isinstance(cell, Text):
        return Text(cell.plain.replace(" ", "_"), style=cell.style, spans=cell.spans, end=cell.end)
    return cell.replace(" ", "_")


@CHECKED
def test_the_narrowest_width_is_rich_measurement_with_no_wrap_cells_whole(reports):
    """rich measures a table's narrowest as its columns' longest words, no_wrap or not; a no_wrap cell is
    not broken at its words, so QuickTable takes it whole: what rich measures of the same table whose no_wrap
    cells have no space to break at. Both the full table and the compact one (a cell of two lines, measured
    by rich)."""
    from rich.measure import Measurement

    console = screen(80)
    wide = console.options.update_width(10_000)
    for lang in ("en", "zh"):
        for name, report in reports.items():
            for compact in (False, True):
                table = _table(report, lang, compact)
                whole = QuickTable(table.title, [(solid(heading) if no_wrap else heading, justify, no_wrap)
                                                 for heading, justify, no_wrap in table.columns], [
                    [solid(cell) if no_wrap else cell for cell, (_, _, no_wrap) in zip(row, table.columns)]
                    for row in table.rows])
                assert table.narrowest(console) == Measurement.get(console, wide, whole.table()).minimum, name


@CHECKED
def test_at_its_narrowest_rich_draws_every_cell_whole_and_one_column_less_it_cuts_one_short(few):
    """What check_table asks of the narrowest: below it, the full table would lose words to an ellipsis."""
    for lang in ("en", "zh"):
        for name, report in few.items():
            table = _table(report, lang, compact=False)
            width = table.narrowest(screen(80))
            assert "…" not in printed(screen(width, None), table.table()), (name, lang)
            assert "…" in printed(screen(width - 1, None), table.table()), (name, lang)


@CHECKED
def test_the_comparison_sees_the_styles(few):
    """Colour is written (a difference in how segments are cut would show), and NO_COLOR keeps bold and dim."""
    report = few["atomic dlogprobs mistake 1"]
    assert any(not t.passed for t in report.tensors) and any(t.inherits_from for t in report.tensors)
    coloured = printed(screen(200), check_table(report))
    # the title, the headings, a wrong row and its dim "(from ...)"
    assert all(code in coloured for code in ("\x1b[3m", "\x1b[1m", "\x1b[1;31m", "\x1b[1;2;31m"))
    plain = printed(screen(200, no_color=True), check_table(report))
    assert "\x1b[1;2m" in plain and "31m" not in plain
    assert "\x1b" not in printed(screen(200, None), check_table(report))


VIEWS = [
    {"env": {"NO_COLOR": "1"}, "isatty": False, "encoding": "utf-8", "width": 120, "lang": "en"},
    {"env": {"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "isatty": True, "width": 200, "lang": "en"},
    {"env": {"TERM": "xterm"}, "isatty": True, "encoding": "utf-8", "width": 120, "lang": "zh"},
    {"env": {"TERM": "xterm-256color"}, "isatty": True, "encoding": "utf-8", "width": 80, "lang": "zh"},
    {"env": {"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "isatty": True, "width": 80, "lang": "en"},
    {"env": {"TERM": "xterm-256color"}, "isatty": True, "encoding": "utf-8", "width": 105, "lang": "en"},
    {"env": {"TERM": "xterm"}, "isatty": True, "encoding": "ascii", "width": 120, "lang": "en"},
]


@CHECKED
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: f"{v['lang']}-{v['width']}-{v.get('encoding', '')}")
def test_the_check_server_draws_a_verdict_as_rich_would(few, view, monkeypatch):
    quick = {name: draw(report, view) for name, report in few.items()}
    monkeypatch.setattr(QuickTable, "lines", lambda *_: None)  # every table through rich's Table
    for name, report in few.items():
        assert quick[name] == draw(report, view), name


# ---- QuickTable on cells of every kind ----------------------------------------------------------------------

COLUMNS = [("name", "left", True), ("shape", "right", True), ("tick", "center", True), ("status", "left", False)]


def quick_table(*rows, columns=COLUMNS, title: str | None = "a title · 3.5") -> QuickTable:
    return QuickTable(title, columns, [list(row) for row in rows])


def both(table: QuickTable, console: Console) -> tuple[str, str, bool]:
    """What the QuickTable prints, what its rich Table prints, and whether the QuickTable drew it itself."""
    return printed(console, table), printed(console, table.table()), table.lines(console, console.options) is not None


def overlapping() -> Text:
    text = Text("overlapping", style="italic")
    text.stylize("bold", 0, 7)
    text.stylize("red", 4, 11)
    text.stylize("dim", 2, 5)
    return text


EDGES = {
    "plain": quick_table(("dW1", "(30, 64)", "yes", Text("exact", style="bold green"))),
    "wide characters": quick_table(("梯度", "（32，27）", "对", Text("形状不对", style="red")),
                                   ("d", "(1,)", "对对", Text("错", style="red") + Text("（来自 dW1）", style="dim"))),
    "odd centring": quick_table(("a", "b", "xyz", "c"), ("a", "b", "中", "c"), ("a", "b", "", "c")),
    "empty cells": quick_table(("", "", "", ""), ("x", "", "", Text(""))),
    "spans": quick_table((Text.assemble("d", ("W", "bold"), ("1 (supporting)", "dim")), "1", "2",
                          Text.assemble(("wro", "red on white"), ("ng", "italic"), style="underline"))),
    "overlapping spans": quick_table((Text("abcdef", spans=[]), "1", "2", overlapping())),
    "markup and emoji": quick_table(("[bold]bold[/bold]", "a:b", ":smile: :x:", "[red]x[/]"),
                                    ("[not markup", "12:30", "x", "y")),
    "leading spaces": quick_table(("  indented", "  1", " c", Text("  s", style="red"))),
    "combining marks": quick_table(("e\u0301te\u0301", "n\u0303", "a\u0308", "o\u0301k\u0301\u0301\u0301")),
    "no rows": quick_table(),
    "no title": quick_table(("a", "b", "c", "d"), title=None),
    "a long title": quick_table(("a", "b", "c", "d"), title="a title much longer than the table that holds it, which wraps"),
    "markup title": quick_table(("a", "b", "c", "d"), title="[bold]title[/bold] :smile:"),
    # rich lays these out otherwise: the QuickTable leaves them to rich's Table
    "line break": quick_table(("a\nb", "b", "c", "d")),
    "text line break": quick_table((Text("a\nb"), "b", "c", "d")),
    "line separator": quick_table(("a\u2028b", "b", "c", "d")),
    "tab": quick_table(("a\tb", "b", "c", "d")),
    "trailing space": quick_table(("a ", "b  ", "c ", Text("d ", style="red"))),
    "control character": quick_table(("a\x1bb", "b\rc", "c", "d")),
    "zero width joiner": quick_table(("👩\u200d💻", "b", "c", "d")),
    "text justified": quick_table((Text("a", justify="right"), "b", "c", "d")),
    "short row": QuickTable("t", COLUMNS, [["a", "b"]]),
    "full justify": quick_table(("a", "b", "c", "d"), columns=[*COLUMNS[:3], ("status", "full", False)]),
    "a wrapped cell": quick_table(("a", "b", "c", ("a status much wider than any console here " * 5).strip())),
    "words too wide": quick_table(("a", "b", "c", ("antidisestablishmentarianism " * 4).strip()), ("a", "b", "c", "")),
}
FALLBACKS = {"line break", "text line break", "line separator", "tab", "trailing space", "control character",
             "zero width joiner", "text justified", "short row", "full justify"}


@pytest.mark.parametrize("name", list(EDGES))
def test_a_quick_table_prints_as_its_rich_table(name):
    table = EDGES[name]
    drew = set()
    for width in (20, 40, 80, 200):
        for colour, no_color in COLOURS:
            quick, rich, itself = both(table, screen(width, colour, no_color))
            assert quick == rich, (width, colour, no_color)
            drew.add(itself)
    assert drew == ({False} if name in FALLBACKS else {True, False})  # too wide at 20 columns


def spans_across() -> Text:
    text = Text.assemble(("styled", "bold"), " and ", ("spans across", "italic underline"), " a wrap", style="red")
    text.stylize("on white", 4, 30)
    return text


WRAPPING = [("name", "left", True), ("a heading in words", "right", False), ("centred words", "center", False),
            ("status", "left", False)]
# Tables whose cells wrap at some widths: several wrapping columns, justified each its way, of uneven lengths
WRAPS = {
    "uneven": QuickTable("a title long enough to wrap when the table narrows", WRAPPING, [
        ("dW1", "one two three", "a b c d e f g", Text.assemble(("wrong", "bold red"), (" (from dlogprobs)", "dim"))),
        ("x", "", "short", "ok"),
        ("a longer name", "a much longer cell of several words to wrap", "x", spans_across()),
        ("y", "1 22 333 4444 55555 666666", "7777777 88 9", Text("words  with  double  spaces", style="italic")),
    ]),
    "wide characters": QuickTable("梯度 · 检查", WRAPPING, [
        ("梯度", "形状 不对 （来自 dW1）", "对 对 对", Text("错 （来自 dlogprobs） 本行 有误", style="red")),
        ("d", "一 二 三 四 五 六", "七八九 十", Text.assemble(("对", "green"), " 精确 接近 ", ("缺失", "dim"))),
    ]),
    "markup": QuickTable(None, WRAPPING, [
        ("[bold]n[/]", "[bold]bold words[/bold] then [red]red ones that wrap[/red]", ":smile: :x: :smile:",
         "[dim]a dim status[/dim] [green]and green[/green]"),
        ("  indented", "  indented words that wrap", " c d", Text("  s t u v w", style="red")),
    ]),
    "headings alone": QuickTable("t", [("name", "left", True), ("max abs diff", "right", False),
                                       ("own line", "center", False), ("status", "left", False)],
                                 [("dlogprobs", "0.00e+00", "—", "exact"), ("dh", "—", "right", "missing")]),
    "a word cut short": QuickTable("t", WRAPPING, [("n", "antidisestablishmentarianism and more", "x", "y z")]),
    "no_wrap too wide": QuickTable("t", [("a long no_wrap column", "left", True), ("b", "left", False)],
                                   [("a long no_wrap cell of many words", "a b c d e f")]),
}


@pytest.mark.parametrize("name", list(WRAPS))
def test_a_quick_table_wraps_its_cells_as_its_rich_table(name):
    table = WRAPS[name]
    drew = set()
    for width in range(8, table.widest() + 2):
        console = screen(width)
        same_in_colours(console, table, table.table())
        if table.lines(console, console.options) is not None and width < table.widest():
            drew.add(width)
    quick, rich, _ = both(table, screen(40, "truecolor", no_color=True))
    assert quick == rich
    # drawn itself at every width where its cells wrap, words too wide given an ellipsis (under its narrowest),
    # down to where rich narrows a wrapping column to under 3 cells (its padding and one) or its no_wrap one
    assert drew == set(range(min(drew), table.widest())) and min(drew) <= table.narrowest(screen(80)), drew
    column = max(cell_len(str(cell)) for cell in (table.columns[0][0], *(row[0] for row in table.rows)))
    assert min(drew) > column + 2 + len(table.columns) + 1  # not where the wrapping columns come to nothing


@pytest.mark.parametrize("encoding, legacy_windows", [("ascii", False), ("utf-8", True), ("ascii", True), ("cp1252", False)])
def test_boxes_as_rich_substitutes_them(encoding, legacy_windows):
    """ASCII only: rich's ASCII box; a legacy Windows console: SQUARE, with no heavy lines."""
    table = EDGES["spans"]
    for colour, no_color in COLOURS:
        console = screen(80, colour, no_color, encoding=encoding, legacy_windows=legacy_windows)
        quick, rich, itself = both(table, console)
        assert quick == rich and itself
    assert ("+" in quick) == (encoding != "utf-8") and "┏" not in quick


def test_a_theme_of_its_own_styles_it_as_rich_would():
    from rich.theme import Theme

    theme = Theme({"table.header": "bold magenta on blue", "table.title": "underline red", "none": "on grey11"})
    for name in ("plain", "spans", "wide characters", "odd centring"):
        quick, rich, itself = both(EDGES[name], screen(80, theme=theme))
        assert quick == rich and itself, name
    for name, width in (("uneven", 60), ("headings alone", 44), ("wide characters", 50)):  # blank lines padding rows
        quick, rich, itself = both(WRAPS[name], screen(width, theme=theme))
        assert quick == rich and itself, name
    assert "\x1b[1;35;" in quick and "\x1b[4;31m" in quick  # the theme's heading and title


def test_a_table_as_wide_as_the_console_or_narrowed_by_its_wrapping_column_is_drawn_quick_and_no_narrower():
    table = EDGES["wide characters"]
    narrowest = table.narrowest(screen(80))
    status = 2 + max(cell_len(str(cell)) for cell in (table.columns[3][0], *(row[3] for row in table.rows)))
    assert narrowest < table.widest()  # its status wraps
    # as wide as it is; at its narrowest, its status wrapped; narrower, its words cut short; narrower still, its
    # status column three cells wide (its padding and one); narrower, rich's own layout
    for columns, drew in ((table.widest(), True), (narrowest, True), (narrowest - 1, True),
                          (table.widest() - status + 3, True), (table.widest() - status + 2, False),
                          (table.widest() - status - 1, False)):
        quick, rich, itself = both(table, screen(columns))
        assert quick == rich and itself is drew, columns


def test_nested_in_a_narrower_place_it_is_laid_out_by_rich():
    from rich.panel import Panel

    table = EDGES["plain"]
    for width in (table.widest() + 4, table.widest() + 3, 200):
        console = screen(width)
        assert printed(console, Panel(table)) == printed(console, Panel(table.table()))


@CHECKED
def test_check_table_gives_rich_table_when_asked(few):
    from rich.table import Table

    report = few["atomic solution"]
    assert isinstance(check_table(report), QuickTable)
    assert isinstance(check_table(report, quick=False), Table)
    compact = check_table(report, fit=screen(80))  # compact, its headings wrapped: still drawn by QuickTable
    assert isinstance(compact, QuickTable) and len(compact.columns) == 6
    assert compact.lines(screen(80), screen(80).options) is not None


def test_a_cell_that_must_not_wrap_is_left_to_rich():
    """A Text cell of its own no_wrap is cut short with an ellipsis by rich where it would wrap: rich draws it."""
    table = QuickTable("t", [("a", "left", True), ("b", "left", False)],
                       [("x", Text("several words that must stay on one line", no_wrap=True))])
    for width in (20, 30, 80):
        quick, rich, itself = both(table, screen(width))
        assert quick == rich and not itself
