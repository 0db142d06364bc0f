"""The course in Chinese: every learner-facing text of the shipped course has its `_zh` translation beside it
in the TOML (and no translation lacks its English), each one real Chinese that keeps the English's code,
shapes, numbers and placeholders and uses the glossary's terms; the accessors return it; the loader refuses a
malformed translation and lets a course without any load in English."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_teaching import answer_fragments, answer_lines
from tutor.course import CourseError, load_course
from tutor.course.load import STEP_TEXT_KEYS
from tutor.course.model import Exercise, Mistake, Pack, Training
from tutor.course.packs import installed_packs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

COURSE = load_course()
ROOT = Path(COURSE.root)
# Every installed pack whose pack.toml asks for Chinese: its exercise files and pack.toml (not model files).
ZH_PACKS = [course for course in (load_course(pack.root) for pack in installed_packs()) if "zh" in course.pack.languages]
FILES = sorted(p for course in ZH_PACKS for p in (course.root / "exercises").glob("*.toml") if p.name != "model.toml")
GLOSSARY = ROOT / "docs" / "glossary-zh.md"

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER_LIKE = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|待译|待翻译|未翻译|^\W*$", re.IGNORECASE)
PARAMETER = re.compile(r"\{\w+\}")
BACKTICKS = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
SHAPE = re.compile(r"\(\d+(?:, \d+)*,?\)")
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![A-Za-z0-9_])", re.ASCII)
KWARG = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_]\w*=[\w\[\]]+(?:\.[\w\[\]]+)*", re.ASCII)
NAME = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", re.ASCII)
# The course's tensors by their code names: a plain word of the English that is one of them is code.
def _names(course) -> set[str]:
    return {name for e in course.exercises for s in e.rows for name in (s.name, s.of)} | {
        name for e in course.exercises for name in (*e.model.parameters, *e.given)
    }


COURSE_NAMES = _names(COURSE)
# Each file's code names are its own pack's (a one-letter tensor of one pack is a word in another's prose).
NAMES_OF_FILE = {path.name: _names(course) for course in ZH_PACKS for path in (course.root / "exercises").glob("*.toml")}


def _tables(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Each table of an exercise file that holds learner-facing text: where it is, the table, its text keys."""
    yield "", data, Exercise.TEXT_KEYS
    for step in data.get("steps", []):
        where = f"step {step.get('name')!r}: "
        yield where, step, STEP_TEXT_KEYS
        for j, mistake in enumerate(step.get("mistakes", [])):
            yield f"{where}mistake {j + 1}: ", mistake, Mistake.TEXT_KEYS


def _files() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in FILES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        yield f"{path.name}: exercise {data.get('id')!r}: ", data


def _pairs() -> Iterator[tuple[str, str, str]]:
    """(where, English, Chinese) for every translated text of the course, a hint ladder rung by rung."""
    for at, data in _files():
        for where, table, keys in _tables(data):
            for key in keys:
                english, chinese = table.get(key), table.get(f"{key}_zh")
                if isinstance(english, list) and isinstance(chinese, list):
                    yield from ((f"{at}{where}{key}_zh[{i}]", e, z) for i, (e, z) in enumerate(zip(english, chinese)))
                elif isinstance(english, str) and isinstance(chinese, str):
                    yield f"{at}{where}{key}_zh", english, chinese


PAIRS = list(_pairs())


def is_code(text: str) -> bool:
    """A text that is Python as it stands (an answer rung), not prose."""
    try:
        compile(text, "<rung>", "exec")
    except SyntaxError:
        return False
    return True


def code_of(text: str, names: set[str] = COURSE_NAMES) -> set[str]:
    """What a translation keeps as written: code spans, placeholders, shapes, numbers, keyword arguments and
    the code names (a tensor's name, a name with `_`, `.` or a digit: `dlogprobs`, `W2.T`, `x_hat_i`)."""
    kept = {*BACKTICKS.findall(text), *PARAMETER.findall(text), *SHAPE.findall(text), *KWARG.findall(text)}
    kept |= set(NUMBER.findall(SHAPE.sub(" ", text)))
    kept |= {n for n in NAME.findall(text) if n in names or re.search(r"[_.\d]", n)}
    return kept


# ---- completeness ----------------------------------------------------------------------------------------------


def test_every_english_text_has_its_chinese():
    missing = [
        f"{at}{where}key {key + '_zh'!r} is missing"
        for at, data in _files() for where, table, keys in _tables(data) for key in keys
        if table.get(key) and f"{key}_zh" not in table
    ]
    assert not missing, "\n".join(missing)


def _zh_keys(value: Any, path: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every `*_zh` key anywhere in a file's tables: its path, its key, its table."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_zh"):
                yield path, key, value
            yield from _zh_keys(item, f"{path}{key}.")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _zh_keys(item, f"{path[:-1]}[{i}].")


def test_no_chinese_without_its_english():
    orphans = [
        f"{at}key {path + key!r} has no English {key[:-3]!r} beside it"
        for at, data in _files() for path, key, table in _zh_keys(data) if not table.get(key[:-3])
    ]
    assert not orphans, "\n".join(orphans)


def test_every_text_key_of_the_course_is_translated_and_nothing_else():
    """The test reads the loader's text keys: they cover every learner-facing text of the course."""
    assert set(Exercise.TEXT_KEYS) == {"title", "summary", "chain_message"}
    assert set(STEP_TEXT_KEYS) == {"hints", "why"} and Mistake.TEXT_KEYS == ("message",)
    assert set(Pack.TEXT_KEYS) == {"title", "first_batch"} and set(Training.TEXT_KEYS) == {"calibrated", "calibrating"}
    translated = {key for _, data in _files() for _, key, _ in _zh_keys(data)}
    keys = (*Exercise.TEXT_KEYS, *STEP_TEXT_KEYS, *Mistake.TEXT_KEYS, *Pack.TEXT_KEYS, *Training.TEXT_KEYS)
    assert translated == {f"{key}_zh" for key in keys}


def test_hint_ladders_have_as_many_rungs_in_chinese():
    for at, data in _files():
        for where, table, _ in _tables(data):
            if "hints_zh" in table:
                assert len(table["hints_zh"]) == len(table["hints"]), f"{at}{where}hints_zh"


def test_the_course_has_its_chinese_texts():
    assert len(PAIRS) >= 230  # every title, summary, rung, why and message of the four exercises


# ---- each translation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where, english, chinese", PAIRS, ids=[p[0].split(": ", 1)[1] for p in PAIRS])
def test_the_chinese_is_a_real_translation(where, english, chinese):
    assert chinese.strip(), f"{where} is empty"
    assert not PLACEHOLDER_LIKE.search(chinese), f"{where} is a placeholder: {chinese!r}"
    if is_code(english):
        assert chinese == english, f"{where}: an answer rung is code and stays exactly as the English"
        return
    assert chinese != english, f"{where} is the English again"
    assert CJK.search(chinese), f"{where} has no Chinese in it: {chinese!r}"


@pytest.mark.parametrize("where, english, chinese", PAIRS, ids=[p[0].split(": ", 1)[1] for p in PAIRS])
def test_the_chinese_keeps_the_englishs_code(where, english, chinese):
    names = NAMES_OF_FILE[where.split(":", 1)[0]]
    lost = sorted(code_of(english, names) - code_of(chinese, names))
    assert not lost, f"{where} lost {lost} of the English"


# ---- one terminology ---------------------------------------------------------------------------------------------


def glossary_terms() -> list[tuple[list[str], str]]:
    """The glossary's rows marked ✓: (English spellings, Chinese term) that every translation must follow."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[-1] == "✓":
            rows.append(([spelling.strip() for spelling in cells[0].split("/")], cells[1]))
    return rows


def test_the_glossary_has_the_lectures_terms():
    terms = {chinese for _, chinese in glossary_terms()}
    text = GLOSSARY.read_text(encoding="utf-8")
    for chinese in ("梯度", "反向传播", "局部导数", "链式法则", "广播", "贝塞尔校正", "交叉熵", "对数概率", "转置"):
        assert chinese in terms, chinese
    for word in ("求和", "批归一化", "嵌入", "隐藏层", "小批量", "keepdim", "logits", "softmax", "原地"):
        assert word in text, word


def test_every_translation_uses_the_glossarys_terms():
    off = []
    for english_terms, chinese in glossary_terms():
        words = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in english_terms) + r")\b", re.IGNORECASE)
        for where, english, text in PAIRS:
            prose = NAME.sub(lambda m: " " if re.search(r"[_.]", m.group()) else m.group(), english)
            if words.search(prose) and chinese not in text:
                off.append(f"{where}: says {words.search(prose).group()!r} but not {chinese!r}")
    assert not off, "\n".join(off)


# ---- the ladder in Chinese teaches like the English one ----------------------------------------------------------


@pytest.mark.parametrize("exercise, step", [(e, s) for e in COURSE.exercises for s in e.steps],
                         ids=[f"{e.id}-{s.name}" for e in COURSE.exercises for s in e.steps])
def test_no_chinese_rung_before_the_last_gives_the_answer(exercise, step):
    rungs = step.hints_in("zh")
    assert rungs[-1] == step.hints[-1]
    for rung in rungs[:-1]:
        assert not [line for line in answer_lines(step) if line in rung]
    for rung in rungs[:-2]:
        assert not [fragment for fragment in answer_fragments(step) if fragment in rung]
    assert step.text("why", "zh") not in rungs


# ---- the accessors -------------------------------------------------------------------------------------------------


def test_accessors_give_chinese_for_zh_and_english_by_default():
    data = tomllib.loads((ROOT / "exercises" / "cross_entropy.toml").read_text(encoding="utf-8"))
    exercise = COURSE.find("cross-entropy")
    step = exercise.step("dlogits")
    raw = data["steps"][0]
    for key in Exercise.TEXT_KEYS:
        assert exercise.text(key, "zh") == data[f"{key}_zh"]
        assert exercise.text(key) == exercise.text(key, "en") == getattr(exercise, key) == data[key]
    assert step.hints_in("zh") == tuple(raw["hints_zh"]) and step.hints_in() == step.hints == tuple(raw["hints"])
    assert step.hint(0, "zh") == raw["hints_zh"][0] and step.hint(0) == raw["hints"][0]
    assert step.hint(-1, "zh") == step.hint(-1) == step.hints[-1]
    assert step.text("why", "zh") == raw["why_zh"] and step.text("why") == step.why == raw["why"]
    for mistake, table in zip(step.mistakes, raw["mistakes"]):
        assert mistake.text("message", "zh") == table["message_zh"]
        assert mistake.text("message") == mistake.message == table["message"]


def test_every_record_of_the_shipped_course_is_translated():
    for exercise in COURSE.exercises:
        texts = [exercise.text(k, "zh") != exercise.text(k) for k in Exercise.TEXT_KEYS if exercise.text(k)]
        for step in exercise.steps:
            texts += [step.text("why", "zh") != step.why, step.hints_in("zh")[:-1] != step.hints[:-1]]
            texts += [m.text("message", "zh") != m.message for m in step.mistakes]
        assert all(texts), exercise.id


def test_every_step_and_supporting_row_has_a_why_in_both_languages():
    """Exercise 4's supporting rows (dlogits, dh, ...) included: each says why, in English and in Chinese,
    with the lecture's moment."""
    rows = [(exercise.id, step) for exercise in COURSE.exercises for step in exercise.rows]
    assert sum(step.support for _, step in rows) == 6
    missing = [
        f"{exercise_id}.{step.name}" for exercise_id, step in rows
        if not (step.why.strip() and step.why_at and CJK.search(step.text("why", "zh")))
    ]
    assert not missing, f"no why in both languages: {', '.join(missing)}"




def test_unknown_keys_and_languages_are_refused(atomic):
    with pytest.raises(KeyError, match="not a text of Exercise"):
        atomic.text("why", "zh")
    with pytest.raises(ValueError, match="no course text in 'fr'"):
        atomic.steps[0].hints_in("fr")


# ---- the loader ---------------------------------------------------------------------------------------------------


def _copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    for folder in ("exercises", "solutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    path = tmp_path / "exercises" / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "old, new, key, words",
    [
        ('hints_zh = [\n  "log 对每个元素', 'hints_zh = [\n  "多余的一级",\n  "log 对每个元素', "steps[1].hints_zh",
         "has 5 rungs, hints has 4 (step 'dprobs')"),
        ('why_zh = "除以 probs', 'why_zh = "  "\nwhy_zzh = "除以 probs', "steps[1].why_zh", "is empty"),
        ('why_zh = "除以 probs', 'whyy_zh = "除以 probs', "steps[1].whyy_zh", "translates no text of this table"),
        ('message_zh = "这只是 log', 'message_zh = 1\nmessage_z = "这只是 log', "steps[1].mistakes[0].message_zh",
         "should be str"),
        ('title_zh = "逐个', 'title_zh = ["逐个"]\ntitle_zz = "逐个', "title_zh", "should be str"),
    ],
)
def test_a_malformed_translation_is_one_clear_course_error(tmp_path, old, new, key, words):
    path = _copy(tmp_path, "atomic.toml", old, new)
    with pytest.raises(CourseError) as info:
        load_course(tmp_path)
    message = str(info.value)
    assert info.value.path == path and info.value.exercise == "atomic" and info.value.key == key, message
    assert words in message and "\n" not in message


def test_a_translation_of_a_missing_english_text_is_refused(tmp_path):
    _copy(tmp_path, "batchnorm.toml", 'summary = "Given dhpreact', 'summery = "Given dhpreact')
    with pytest.raises(CourseError, match="key 'summary_zh': translates 'summary', which is missing or empty"):
        load_course(tmp_path)


def test_a_course_without_translations_loads_and_speaks_english(tmp_path):
    for folder in ("exercises", "solutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for path in (tmp_path / "exercises").glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^\w+_zh = \[\n.*?^\]\n", "", text, flags=re.MULTILINE | re.DOTALL)
        path.write_text(re.sub(r"^\w+_zh = .*\n", "", text, flags=re.MULTILINE), encoding="utf-8")
        assert "_zh" not in path.read_text(encoding="utf-8")
    english = load_course(tmp_path)
    for exercise, shipped in zip(english.exercises, COURSE.exercises):
        assert exercise.text("title", "zh") == shipped.title
        for step, same in zip(exercise.steps, shipped.steps):
            assert step.hints_in("zh") == same.hints and step.text("why", "zh") == same.why
            assert [m.text("message", "zh") for m in step.mistakes] == [m.message for m in same.mistakes]


def test_a_supporting_rows_why_needs_its_moment_in_the_lecture(tmp_path):
    path = _copy(tmp_path, "training.toml", 'why_at = "0:51:26"\n', "")
    with pytest.raises(CourseError) as info:
        load_course(tmp_path)
    assert info.value.path == path and info.value.key == "steps[8].why_at" and "is missing" in str(info.value)
