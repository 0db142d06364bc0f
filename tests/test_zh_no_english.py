"""Chinese without English seams: every course mistake, checked and shown in Chinese as the command line prints
it (the check table, its notes and diagnoses, the closing line) and as the tutor's screen shows it (the row's
status and the detail pane), and the command line's other outputs (list, progress, hint, why, solution), hold
no English word outside what stays Latin on purpose: code (in backticks, or the course's own identifiers),
tensor and variable names, numbers and shapes, units, key names, command names, and the few terms the
glossary (docs/glossary-zh.md) keeps untranslated."""

from __future__ import annotations

import ast
import io
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console, Group
from rich.text import Text

from tutor.cli import main
from tutor.cli.course import with_mistake
from tutor.course import load_course
from tutor.views.text import print_report

COURSE = load_course()
ROOT = Path(COURSE.root)

# What stays Latin in Chinese text besides the course's identifiers (read from its code below): the product, the
# tools and formats it names, the glossary's untranslated terms, the lecture's maths symbols, units, keys.
KEPT = {
    "backprop-ninja", "ninja", "PyTorch", "torch", "autograd", "Python", "Jupyter", "NumPy", "JSON", "SVG", "TOML",
    "NaN", "inf", "cpu", "cuda", "GPU", "CPU", "MLP", "None", "True", "False", "dtype", "imshow",
    "list", "tuple", "dict", "int", "float", "str", "bool",  # Python's types, as a value's type is named
    # the glossary's untranslated terms (| logits | logits | 不译 |, ...)
    "logits", "logit", "softmax", "log-sum-exp", "tanh", "keepdim", "keepdims", "BatchNorm", "argmax", "exp", "log",
    "max", "sum", "mean", "clone", "view", "lr", "dim", "grad",
    # maths in the lecture's notation (x_hat_i, mu, gamma, beta, eps, dL/dx)
    "mu", "gamma", "beta", "eps", "epsilon", "dL", "dx", "dy", "ds", "dmu",
    # the graders a course plugs into, and the image they run on
    "Gradescope", "Canvas", "Ubuntu",
    # units and keys
    "ms", "ctrl", "shift", "super", "tab", "enter", "esc", "escape", "up", "down", "left", "right", "pgup", "pgdn", "home",
    "end", "pageup", "pagedown",
    # the language command names both languages, so that a learner who cannot read the one on screen finds it
    "English", "Language",
}
# An ASCII word of two letters or more, not part of a longer identifier (snake_case, digits, dotted, a call).
WORD = re.compile(r"(?<![\w.\-/\\=])[A-Za-z][A-Za-z'\-]*[A-Za-z](?![\w(\-=])", re.ASCII)
CODE_SPAN = re.compile(r"`[^`\n]*`|\$[A-Z_]+")  # code, and environment variables ($EDITOR)
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\([^)\n]*\))?", re.ASCII)


def _identifiers(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return names


def course_identifiers() -> set[str]:
    """Every name the course's code uses: its starters, solutions, model, forward lines, mistakes, answer lines."""
    names = {e.id for e in COURSE.exercises}
    for path in [*(ROOT / "exercises").glob("*.py"), *(ROOT / "solutions").glob("*.py")]:
        names |= _identifiers(path.read_text(encoding="utf-8"))
    for exercise in COURSE.exercises:
        model = exercise.model
        for code in (getattr(model, key, "") for key in ("init", "batch", "forward", "forward_extra")):
            names |= _identifiers(code or "")
        names |= set(model.parameters)
        for step in exercise.rows:
            names |= {step.name, step.of} | _identifiers(step.line) | _identifiers(step.hints[-1] if step.hints else "")
            for mistake in step.mistakes:
                names |= _identifiers(mistake.expr)
    return names


ALLOWED = KEPT | course_identifiers()


def english_words(text: str) -> list[str]:
    """The English words of `text` outside code spans, dotted code, identifiers and what stays Latin."""
    text = DOTTED.sub(" ", CODE_SPAN.sub(" ", text))
    return [word for word in WORD.findall(text) if word not in ALLOWED and word.lower() not in ALLOWED]


def hits(texts: dict[str, str]) -> dict[str, list[str]]:
    found = {where: english_words(text) for where, text in texts.items()}
    return {where: words for where, words in found.items() if words}


def plain(renderable, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), no_color=True, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


def test_the_check_itself_finds_english_and_lets_code_through():
    assert english_words("不对（wrong：最大绝对误差 1.04e-02）") == ["wrong"]
    assert english_words("前向传播：probs = counts * counts_sum_inv and counts_sum = …") == ["and"]
    assert english_words("可能的错误（sign）：正确答案的相反数") == ["sign"]
    kept = "用 `backprop-ninja hint 1 dcounts`；dlogits 沿 dim 1 求和，keepdim=True，F.softmax(logits, 1)，(32, 27)，12 ms，ctrl+p"
    assert english_words(kept) == []


# ---- every course mistake, as the command line and the tutor's screen show it ----------------------------------

MISTAKES = [(e, s, i) for e in COURSE.exercises for s in e.steps for i in range(len(s.mistakes))]


LEARNER_FILES = Path(__file__).parent / "learner_files"
# The generic mistakes besides the course's own, as files (or edits of the solution): the second batch, a hard-coded
# size, odd values, a stop, a copy that aliases, a typo, autograd's .grad, exercise 1's chain in exercise 2.
GENERIC = {
    "hard-coded batch": ("atomic", [(LEARNER_FILES / "wrong" / "hard_coded_batch.py", None)]),
    "hard-coded range": ("atomic", [(LEARNER_FILES / "wrong" / "hard_coded_range.py", None)]),
    "odd values": ("atomic", [(LEARNER_FILES / "odd_values.py", None)]),
    "syntax error": ("atomic", [(LEARNER_FILES / "syntax_error.py", None)]),
    "raises halfway": ("atomic", [(LEARNER_FILES / "raises_halfway.py", None)]),
    "keepdim": ("atomic", [("dbnmeani = (-dbndiff).sum(0, keepdim=True)", "dbnmeani = (-dbndiff).sum(0)")]),
    "sign": ("atomic", [("dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs")]),
    "alias": ("atomic", [("dhprebn = dbndiff.clone()", "dhprebn = dbndiff")]),
    "typo": ("atomic", [("dlogit_maxes = ", "dlogits_maxes = "), ("* dlogit_maxes", "* dlogits_maxes")]),
    "grad": ("cross-entropy", [(None, "dlogits = logits.grad\n")]),
    "chain": ("cross-entropy", [(None, (ROOT / "solutions" / "atomic.py").read_text(encoding="utf-8"))]),
}


def generic_source(exercise, edits) -> str:
    source = exercise.solution.read_text(encoding="utf-8")
    for old, new in edits:
        if isinstance(old, Path):
            return old.read_text(encoding="utf-8")
        if old is None:
            return new
        assert old in source, old
        source = source.replace(old, new, 1)
    return source


@pytest.fixture(scope="module")
def mistake_reports(checker) -> list[tuple[str, object, object, object]]:
    """(label, exercise, step, report) of each course mistake written into its solution, and of each generic
    mistake, on one warm Checker; the step is the mistaken one (a generic mistake's: its first failing row)."""
    reports = []
    for exercise, step, index in MISTAKES:
        source = with_mistake(exercise.solution.read_text(encoding="utf-8"), step, step.mistakes[index])
        assert source is not None, (exercise.id, step.name)
        reports.append((f"{exercise.id}/{step.name}#{index + 1}", exercise, step, checker.check(exercise, exercise.solution, source=source)))
    for label, (exercise_id, edits) in GENERIC.items():
        exercise = COURSE.find(exercise_id)
        report = checker.check(exercise, exercise.solution, source=generic_source(exercise, edits))
        failing = next((t for t in report.tensors if not t.passed), report.tensors[0])
        reports.append((label, exercise, exercise.row(failing.name), report))
    return reports


def shown_in_chinese(exercise, step, report) -> Iterator[tuple[str, str]]:
    """What a learner reads of one checked file in Chinese: the CLI's report, each row's status in the step
    table, the detail pane of the mistaken step (every hint revealed) and the verdict of every other failing row."""
    from tutor.ui.widgets.detail import detail_parts, verdict_lines
    from tutor.ui.widgets.step_table import status_text

    console = Console(width=100, file=io.StringIO(), no_color=True, highlight=False)
    print_report(report, console, lang="zh")
    yield "cli", quoted_out(console.file.getvalue(), report)
    for tensor in report.tensors:
        yield f"row {tensor.name}", status_text(tensor, "zh").plain
        if tensor.name == step.name:
            upper, lower = detail_parts(step, tensor, None, len(step.hints), "zh")
            yield f"detail {tensor.name}", quoted_out(plain(Group(*upper, *lower)), report)
        elif not tensor.passed or tensor.notes:
            yield f"detail {tensor.name}", quoted_out(plain(Group(*verdict_lines(tensor, "zh"))), report)


def quoted_out(text: str, report) -> str:
    """`text` without what it quotes of the learner's runs, which Python said in English: an error's message
    (of the lecture's batch, or of another run in a note or a warning) and source line, the printed output."""
    from tests.test_messages import walk

    quoted = [report.output]
    if report.error:
        quoted += [report.error.message, report.error.source or ""]
    messages = [*walk(report.warnings)] + [m for t in report.tensors for m in walk([*t.notes, *([t.diagnosis.message] if t.diagnosis else [])])]
    quoted += [str(m["params"]["error"]) for m in messages if "error" in m["params"]]
    text = " ".join(text.split())
    for words in sorted(quoted, key=len, reverse=True):
        for line in words.splitlines():
            if line.strip():
                text = text.replace(" ".join(line.split()), " ")
    return text


# Each mistake is a real check in the sandbox (47 of them, on one warm Checker): slow.
@pytest.mark.slow
@pytest.mark.xdist_group("zh-mistakes")
def test_every_course_mistake_is_shown_in_chinese_without_english_words(mistake_reports):
    assert len(mistake_reports) == len(MISTAKES) + len(GENERIC) and len(MISTAKES) > 40
    found = {}
    for label, exercise, step, report in mistake_reports:
        for where, text in shown_in_chinese(exercise, step, report):
            words = english_words(text)
            if words:
                found[f"{label} {where}"] = sorted(set(words))
    assert found == {}


def test_every_chinese_template_has_no_english_words():
    # the fast tier's cover: each catalogue entry (engine, screen, command line, mistake names) with its
    # parameters filled by a tensor's name or a number, as the reports fill them
    from tutor.messages import PARTS, catalogue, part, placeholders, render

    entries = dict(catalogue("zh"))
    for name in PARTS:
        entries |= part(name, "zh")
    texts = {}
    for code, entry in entries.items():
        for form in entry.values() if isinstance(entry, dict) else [entry]:
            # a field with a format spec ({share:.0%}) is a number whatever its name
            formatted = {f.split(".")[0].split("[")[0] for _, f, spec, _ in string.Formatter().parse(form) if f and spec}
            values = {p: 1.5 if p in NUMERIC or p in formatted else "dprobs" for p in placeholders(form)}
            words = render(code, values | {"count": 2}, "zh")
            texts[code] = Text.from_markup(words).plain if code.startswith("ui-") else words  # the screen's [bold]
    assert len(texts) > 300 and hits(texts) == {}


# Parameters that a template formats as a number ({diff:.2e}, {seconds:.2f}, ...).
NUMERIC = {"diff", "done", "k", "loss", "rate", "seconds", "step", "steps", "top", "worst"}


# ---- the command line's other outputs -------------------------------------------------------------------------


def run_zh(capsys, *args: str) -> str:
    try:
        main(["--lang", "zh", *args])
    except SystemExit:
        pass
    out, err = capsys.readouterr()
    return out + err


def test_the_command_lines_other_outputs_in_chinese_have_no_english_words(tmp_path, capsys):
    from tutor.cli.hint import print_hints
    from tutor.views.text import say

    workspace = str(tmp_path / "ws")
    texts = {"init": run_zh(capsys, "init", workspace), "list": run_zh(capsys, "list")}
    texts["progress (new)"] = run_zh(capsys, "progress", "--workspace", workspace)
    for exercise in COURSE.exercises:
        step = exercise.steps[-1]
        name = f"{exercise.id}/{step.name}"
        texts[f"solution {exercise.id}"] = run_zh(capsys, "solution", exercise.id, "--workspace", workspace)
        texts[f"why {name} (locked)"] = run_zh(capsys, "why", exercise.id, step.name, "--workspace", workspace)
        if exercise.id == "atomic":  # the ladder climbed once, through the question before the answer
            texts[f"hint {name}"] = run_zh(capsys, "hint", exercise.id, step.name, "--workspace", workspace)
            for rung in range(2, len(step.hints)):
                texts[f"hint {name} #{rung}"] = run_zh(capsys, "hint", exercise.id, step.name, "--workspace", workspace)
            texts[f"hint {name} (the answer)"] = run_zh(capsys, "hint", exercise.id, step.name, "--yes", "--workspace", workspace)
            texts[f"hint {name} (all shown)"] = run_zh(capsys, "hint", exercise.id, step.name, "--workspace", workspace)
        for step in exercise.steps:  # its forward line and every rung of its ladder, as `hint` prints them
            print(say("forward", "zh", line=step.line))
            print_hints(step, 1, len(step.hints), "zh")
            texts[f"hints {exercise.id}/{step.name}"] = capsys.readouterr().out
    texts["progress (hints)"] = run_zh(capsys, "progress", "--workspace", workspace)
    texts["usage"] = run_zh(capsys, "hint", "atomic", "99", "--workspace", workspace)
    assert hits(texts) == {}


def test_the_why_of_every_step_in_chinese_has_no_english_words():
    from tutor.cli.common import why_lines

    texts = {f"{e.id}/{s.name}": "\n".join(why_lines(e, s, "zh")) for e in COURSE.exercises for s in e.steps}
    assert hits(texts) == {}
