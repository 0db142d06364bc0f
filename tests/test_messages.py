"""Messages as data: every code the engine can say has a template, every template gets its parameters, no
template goes unused, and real reports read the same English words as before the words moved out."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import LEARNER_FILES, ROOT
from tests.test_diagnose import solution_with
from tutor import messages
from tutor.engine.branches import tensor_uses
from tutor.course.model import Pack
from tutor.engine.compare import compare
from tutor.engine.diagnose import diagnose
from tutor.engine.grids import row_grids
from tutor.engine.judge import RunView
from tutor.messages import catalogue, is_message, message, placeholders, render
from tutor.reports.check import CheckReport, Diagnosis, LearnerError, TensorVerdict
from tutor.sandbox.results import LearnerRun, LearnerValue

# the module's tests read one set of real reports (seconds of checks): under -n they share a worker
pytestmark = pytest.mark.xdist_group("message-reports")

WRONG = LEARNER_FILES / "wrong"
# The modules that say things: each call message("code", name=...) (or render("code", {...})) is one emitter.
EMITTERS = [
    ROOT / "tutor" / "engine" / name for name in ("compare.py", "diagnose.py", "judge.py", "naming.py", "grids.py")
] + [ROOT / "tutor" / "reports" / "check.py", ROOT / "tutor" / "messages" / "__init__.py", ROOT / "tutor" / "course" / "model.py"]
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# -- what the source says ------------------------------------------------------------------------------------------

def _constants(node: ast.AST | None, names: dict[str, list[ast.AST]]) -> list[str]:
    """The string codes an expression can be: a literal, either side of a conditional, or a name bound to one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body, names) + _constants(node.orelse, names)
    if isinstance(node, ast.Name):
        return [code for value in names.get(node.id, []) for code in _constants(value, names)]
    return []


def _keys(node: ast.AST | None) -> set[str]:
    return {k.value for k in node.keys if isinstance(k, ast.Constant)} if isinstance(node, ast.Dict) else set()


def emitted() -> dict[str, set[str]]:
    """Code -> the parameter names its emitters give, read from the source of every emitting module."""
    found: dict[str, set[str]] = {}
    for path in EMITTERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: dict[str, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, []).append(node.value)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
                continue
            if node.func.id == "message":
                given = {k.arg for k in node.keywords if k.arg}
                for k in node.keywords:
                    if k.arg is None:  # message(code, **where): the keys of the dicts `where` is bound to
                        bound = names.get(k.value.id, []) if isinstance(k.value, ast.Name) else [k.value]
                        given |= set().union(*(_keys(value) for value in bound))
            elif node.func.id == "render" and len(node.args) > 1:
                given = _keys(node.args[1])
            else:
                continue
            for code in _constants(node.args[0], names):
                found.setdefault(code, set()).update(given)
    return found


def test_every_code_the_engine_says_has_a_template_with_the_parameters_it_gives():
    codes, entries = emitted(), catalogue("en")
    assert len(codes) > 40, sorted(codes)
    for code, given in codes.items():
        assert KEBAB.match(code), code
        assert code in entries, f"{code} has no template in en.toml"
        for template in _forms(entries[code]):
            assert placeholders(template) <= given, (code, placeholders(template) - given)


def test_no_template_goes_unused():
    assert set(catalogue("en")) - set(emitted()) == set()


def _forms(entry: Any) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def test_every_template_renders_with_values_of_each_kind():
    for code, entry in catalogue("en").items():
        for template in _forms(entry):
            words = render(code, {name: 1.5 for name in placeholders(template)} | {"count": 2})
            assert "{" not in words.replace("{}", ""), code


# -- what the engine says in real reports -------------------------------------------------------------------------

def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every message in a value, nested ones included."""
    if is_message(value):
        yield value
        for param in value["params"].values():
            yield from walk(param)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def said(report: CheckReport) -> Iterator[dict[str, Any]]:
    yield from walk(report.warnings)
    for t in report.tensors:
        yield from walk(t.notes)
        if t.diagnosis is not None:
            yield from walk(t.diagnosis.message)


@pytest.fixture(scope="module")
def reports(checker, course, atomic) -> dict[str, CheckReport]:
    """Real reports that between them say nearly every message the engine knows."""
    near_zero = "dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)"
    cross_entropy = course.find("cross-entropy")
    sources = {
        "odd": (atomic, (LEARNER_FILES / "odd_values.py").read_text()),
        "keepdim": (atomic, solution_with(atomic, "dbnmeani = (-dbndiff).sum(0, keepdim=True)", "dbnmeani = (-dbndiff).sum(0)")),
        "view": (atomic, solution_with(atomic, "db2 = dlogits.sum(0)", "db2 = dlogits.sum(0, keepdim=True)")),
        "batch": (atomic, (WRONG / "hard_coded_batch.py").read_text()),
        "range": (atomic, (WRONG / "hard_coded_range.py").read_text()),
        "mutates": (atomic, (LEARNER_FILES / "mutates_inputs.py").read_text()),
        "shape-batch": (atomic, solution_with(atomic, "dlogprobs = torch.zeros_like(logprobs)", "dlogprobs = torch.zeros(32, 27)")),
        "zero": (atomic, solution_with(atomic, near_zero, "dlogit_maxes = torch.zeros_like(logit_maxes)")),
        "branch": (atomic, solution_with(atomic, "dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes\n", "")),
        "other-shape": (atomic, solution_with(atomic, near_zero, near_zero.replace(
            "(-dnorm_logits).sum(1, keepdim=True)",
            "(-dnorm_logits).sum(1, keepdim=True) if dnorm_logits.sum(1).abs().max() < 1e-4 else torch.zeros(3)"))),
        "copy": (atomic, solution_with(atomic, "dlogits = dnorm_logits.clone()", "dlogits = dnorm_logits.clone(); x = dlogits",
                                       "dh = dlogits @ W2.T", "dh = x @ W2.T")),
        "alias": (atomic, solution_with(atomic, "dhprebn = dbndiff.clone()", "dhprebn = dbndiff")),
        "typo": (atomic, solution_with(atomic, "dlogit_maxes = ", "dlogits_maxes = ").replace("* dlogit_maxes", "* dlogits_maxes")),
        "stopped": (atomic, solution_with(atomic, "dcounts += torch.ones_like(counts) * dcounts_sum",
                                          "undefined_name + 1\ndcounts += torch.ones_like(counts) * dcounts_sum")),
        "grad": (cross_entropy, "dlogits = logits.grad\n"),
        "chain": (cross_entropy, atomic.solution.read_text()),
        "chain-words": (dataclasses.replace(cross_entropy, chain_message=""), atomic.solution.read_text()),
        "sign": (atomic, solution_with(atomic, "dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs")),
    }
    out = {name: checker.check(exercise, WRONG / f"{name}.py", source) for name, (exercise, source) in sources.items()}
    before, checker.timeout = checker.timeout, 1.0
    try:
        out["timeout"] = checker.check(atomic, WRONG / "timeout.py", "if n != 32:\n    while True:\n        pass\n" + atomic.solution.read_text())
    finally:
        checker.timeout = before
    return out


def direct(checker, atomic) -> list[dict[str, Any]]:
    """Messages of the emitters that a real file on the CPU reaches only by chance: each generic diagnosis
    of a made-up tensor, a tensor on another device or too large to travel, a run stopped with no line."""
    ctx = checker.context(atomic)
    n = ctx.scalars["n"]
    out: list[dict[str, Any]] = []

    def diagnosed(name: str, actual: torch.Tensor) -> None:
        found = diagnose(atomic, atomic.step(name), ctx, actual)
        assert found is not None, name
        out.append(found.message)

    truth = {name: ctx.reference[name].detach().cpu() for name in ("dprobs", "dW2", "db2", "dcounts_sum_inv", "dcounts")}
    dprobs = truth["dprobs"]
    for factor in (-1.0, n, 1 / n, -2.0, 0.5, (n - 1) / n, n / (n - 1), 3.0):
        diagnosed("dprobs", dprobs * factor)
    diagnosed("dW2", truth["dW2"].T.contiguous())
    diagnosed("dW2", torch.stack([truth["dW2"] / 2, truth["dW2"] / 2]))
    diagnosed("dcounts_sum_inv", truth["dcounts_sum_inv"].reshape(-1))
    use = next(u for u in tensor_uses(atomic, ctx)["b2"] if u.unreduced is not None)
    diagnosed("db2", use.unreduced.cpu())
    diagnosed("db2", use.unreduced.cpu().sum(1))
    diagnosed("dcounts", tensor_uses(atomic, ctx)["counts"][0].contribution.cpu())
    elsewhere = LearnerValue("tensor", torch.zeros(3), "float32", (3,), "cuda")
    out += compare("dx", "x", torch.zeros(3), elsewhere, "cpu").notes
    out += compare("dx", "x", torch.zeros(3), LearnerValue("tensor", None, "float32", (3,), "cpu"), "cpu").notes
    stopped = RunView(LearnerRun(LearnerError("exception", "boom")), message("local-rule-run"))
    out.append(stopped.unverified("dx", reached=False))
    for kind in ("syntax", "timeout", "crash", "memory", "output", "forbidden"):  # each way a run can end
        out.append(RunView(LearnerRun(LearnerError(kind, "boom")), message("local-rule-run")).unverified("dx", reached=True))
    for error in (None, LearnerError("exception", "boom")):  # a run skipped after another stopped
        out.append(RunView(LearnerRun(error, skipped=True), message("local-rule-run")).unverified("dx", reached=True))
    # a heatmap drawn on the second batch names it (the TUI's caption)
    report = checker.check(atomic, WRONG / "hard_coded_batch.py")
    out.append(row_grids("dlogprobs", checker.last_runs, report.tensors[0])["diff"]["batch"])
    out.append(Pack(id="unnamed").first_batch_words())  # a pack that gives its first batch no name: the tutor's
    return out


def test_the_engine_says_every_message_of_the_catalogue_with_its_parameters(checker, atomic, reports):
    seen = [m for report in reports.values() for m in said(report)] + [m for d in direct(checker, atomic) for m in walk(d)]
    seen += [Diagnosis.of({"code": "course", "message": "as written"}).message]  # a report's words read back as they are
    entries = catalogue("en")
    for said_one in seen:
        for template in _forms(entries[said_one["code"]]):
            assert placeholders(template) <= set(said_one["params"]), said_one
        json.dumps(said_one)  # plain data, as --json prints it
    # the one template no report holds: it joins a row's notes when they are shown (test_words_with_numbers...)
    assert set(entries) - {m["code"] for m in seen} == {messages.JOIN}


def by_name(report: CheckReport, name: str) -> TensorVerdict:
    return next(t for t in report.tensors if t.name == name)


# Words the tutor said before they moved into the catalogue, as the CLI printed them for these reports.
SAID_BEFORE = [
    ("odd", "dprobs", "note", "dprobs is a list, not a tensor"),
    ("odd", "dcounts_sum", "note", "shape (32,) differs from counts_sum's (32, 1)"),
    ("odd", "dlogits", "note", "dlogits is not assigned (or is None)"),
    ("keepdim", "dbnmeani", "note", "shape (64,) differs from (1, 64) only by leading 1s, so it broadcasts the same way "
                                    "and is accepted; keepdim=True would give the exact shape"),
    ("sign", "dprobs", "diagnosis", "the negative of the right answer: a sign is flipped in this line"),
    ("sign", "dlogit_maxes", "note", "matches autograd, but only by chance: the gradients it is computed from are wrong, from dprobs on"),
    ("zero", "dlogit_maxes", "note", "matches on the lecture's batch, but with other gradients flowing in from above your line does not give its local derivative times them"),
    ("copy", "dh", "diagnosis", "your dh does not read dlogits, the gradient flowing in: it computes from a copy made "
                                "before dlogits was finished. Read dlogits itself"),
    ("alias", "dbndiff", "diagnosis", "right when its line ran, but changed afterwards: a later in-place update (+=, "
                                      "x[...] = ...) went through another name that shares its memory; use .clone() "
                                      "when copying a gradient"),
    ("stopped", "dcounts", "diagnosis", "line 9, which finishes dcounts, never ran: your code stopped at line 8; fix that error first"),
    ("chain", "dlogits", "diagnosis", "right value, but your file goes through exercise 1's chain of intermediate "
                                      "gradients; the point here is to derive dlogits as one expression, on paper first"),
    ("chain", "dlogits", "note", "reached through dlogprobs, dprobs, dcounts_sum_inv, dcounts_sum, dcounts, dnorm_logits, dlogit_maxes"),
]


@pytest.mark.parametrize(("report", "row", "what", "words"), SAID_BEFORE, ids=[f"{r}-{n}-{w}" for r, n, w, _ in SAID_BEFORE])
def test_real_reports_read_the_words_they_read_before(reports, report, row, what, words):
    t = by_name(reports[report], row)
    assert (t.note if what == "note" else t.diagnosis["message"]) == words


def test_words_with_numbers_read_as_before(reports):
    t = by_name(reports["batch"], "dlogprobs")
    assert re.fullmatch(r"matches on the lecture's batch but not on a second one with n=\d+, vocab_size=\d+, n_embd=\d+, "
                        r"n_hidden=\d+ \(wrong: max abs diff \d\.\d\de-\d\d\)", t.note), t.note
    words = by_name(reports["zero"], "dlogit_maxes").diagnosis["message"]
    assert re.fullmatch(r"matches autograd on the lecture's batch only because the true gradient is ~0 there; with another "
                        r"gradient flowing in from above, your line gives values off by up to \d\.\d\de-\d\d", words), words
    timed_out = by_name(reports["timeout"], "dprobs").note
    assert "; the run with random gradients flowing in from above did not run (an earlier run ended with timeout)" in timed_out, timed_out


# -- at the edges: JSON, and another language ----------------------------------------------------------------------

def test_json_carries_the_words_and_their_codes(reports):
    data = reports["batch"].to_json()
    row = next(t for t in data["tensors"] if t["name"] == "dlogprobs")
    assert row["note"] == by_name(reports["batch"], "dlogprobs").note
    assert [n["code"] for n in row["notes"]] == ["second-batch-fails"]
    assert row["notes"][0]["params"]["sizes"]["code"] == "batch-sizes"
    diagnosis = row["diagnosis"]
    assert list(diagnosis) == ["code", "message", "message_code", "params"]
    assert (diagnosis["code"], diagnosis["message_code"], diagnosis["params"]["n"]) == ("hard-coded-size", "hard-coded-size", 32)
    back = CheckReport.from_json(json.loads(json.dumps(data)))
    assert back.to_json() == data and by_name(back, "dlogprobs").notes == by_name(reports["batch"], "dlogprobs").notes


def test_json_without_codes_reads_back_its_words():
    old = {"name": "dx", "of": "x", "status": "wrong", "expected_shape": [3], "shape": [3], "max_abs_diff": 0.5,
           "note": "some words", "diagnosis": {"code": "sign", "message": "other words"}}
    t = TensorVerdict.from_json(old)
    assert (t.note, t.diagnosis) == ("some words", {"code": "sign", "message": "other words"})
    assert TensorVerdict.from_json(t.to_json()) == t


def test_a_diagnosis_reads_as_a_code_and_words():
    d = Diagnosis("reduce", message("reduce-sum-yours", axis=1))
    assert d == {"code": "reduce", "message": "not summed over axis 1: the right answer sums your tensor over axis 1"}
    assert dict(d) == {"code": "reduce", "message": d.text()} and d.get("code") == "reduce" and d
    assert TensorVerdict("dx", "x", "wrong", (3,), (3,), diagnosis={"code": "c", "message": "w"}).diagnosis.code == "c"


def test_another_language_renders_its_own_words_and_falls_back_to_english(monkeypatch, reports):
    en = catalogue("en")
    xx = {"second-batch-fails": "[xx] {sizes} / {status} / {detail}", "notes-joined": "{before} | {after}"}
    monkeypatch.setattr(messages, "catalogue", lambda lang="en": xx if lang == "xx" else en)
    t = by_name(reports["batch"], "dlogprobs")
    assert t.note_text("xx").startswith("[xx] n=") and t.note_text("xx").endswith(" / wrong / max abs diff " + t.note.split()[-1][:-1])
    assert t.note_text() == t.note and not t.note.startswith("[xx]")
    timed_out = by_name(reports["timeout"], "dprobs")
    assert " | " in timed_out.note_text("xx") and " | " not in timed_out.note
    row = reports["batch"].to_json("xx")["tensors"][0]
    assert row["note"] == reports["batch"].tensors[0].note_text("xx") and row["notes"] == reports["batch"].to_json()["tensors"][0]["notes"]


def test_the_catalogue_loads_without_torch():
    import subprocess
    import sys

    code = "import sys, tutor.messages as m; m.render('sign'); sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_catalogue_file_is_shipped_beside_its_module():
    assert (Path(messages.__file__).parent / "en.toml").is_file()


# Words of the tutor's own machinery, which the lecture never uses: what a learner reads says it with the
# chain rule, the local derivative and the gradient flowing in from above.
UNMET_WORDS = {"en": ("inject", "local rule", "local-rule", "judged as written", "upstream"),
               "zh": ("注入", "局部规则", "按写出的样子")}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_what_a_learner_reads_about_a_line_uses_the_lectures_words(lang):
    import tomllib

    folder = Path(messages.__file__).parent
    found = []
    for name in (f"{lang}.toml", f"ui.{lang}.toml", f"cli.{lang}.toml"):
        entries = tomllib.loads((folder / name).read_text(encoding="utf-8"))
        for code, template in entries.items():
            texts = template.values() if isinstance(template, dict) else [template]
            words = [re.sub(r"\{[^}]*\}", "", text).lower() for text in texts]  # not the parameters' names
            found += [(name, code) for text in words for word in UNMET_WORDS[lang] if word in text]
    assert found == []
    en = messages.catalogue("en")
    assert "local derivative" in en["fails-local-rule"] and "chain rule" in messages.render("cli-own-line-key", {}, "en")
