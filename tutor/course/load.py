"""Read the course's TOML files into frozen dataclasses, with errors that name file, exercise and key.

Learner-facing text (an exercise's title, summary and chain_message; a step's hints and why; a mistake's
message) may carry translations beside it, the same key with the language as suffix: `why_zh`, `hints_zh`
(as many rungs as `hints`). A translation that is there must be well-formed and have its English key; one
that is missing is allowed, and the English text stands in, so that courses written before a translation
keep loading. The shipped course's own test (tests/test_course_zh.py) requires every one of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tutor.course.model import (
    DATA_NAMES,
    DATA_NONE,
    TRANSLATIONS,
    ContextSpec,
    Course,
    Exercise,
    Mistake,
    Model,
    Origin,
    Pack,
    Step,
    Training,
    Translations,
)
from tutor.messages import toml

# A pack's own settings: exercises/pack.toml (its id, title, lecture, languages, and the shared model file it
# names, if any). A pack takes nothing from any file it does not name.
PACK_FILE = "pack.toml"
PACK_KEYS = ("id", "title", "lecture", "lecture_length", "languages", "min_hints", "min_why", "model", "first_batch")
# The model and batch the exercises share, when pack.toml names such a file (`model = "model.toml"`); an
# exercise's own [model] and [context] set only what differs (any key again, `sizes` merged key by key, and
# `forward_extra`: lines appended to the shared forward pass).
SHARED_TABLES = ("model", "context")
SHARED_MODEL_KEYS = (
    "sizes", "keep", "data", "window", "inputs", "private", "parameters", "init", "batch", "forward", "loss",
)
# The first format's three sizes, still read: each becomes a size; block_size is kept and is the window.
LEGACY_SIZES = ("n_embd", "n_hidden", "block_size")
MODEL_KEYS = (*SHARED_MODEL_KEYS, *LEGACY_SIZES, "forward_extra")
CONTEXT_KEYS = ("seed", "batch_size")


class CourseError(Exception):
    """A course file that is missing, malformed or inconsistent."""

    def __init__(self, path: Path, message: str, exercise: str | None = None, key: str | None = None):
        self.path, self.exercise, self.key = path, exercise, key
        where = str(path)
        if exercise:
            where += f": exercise {exercise!r}"
        if key:
            where += f": key {key!r}"
        super().__init__(f"{where}: {message}")


def course_root() -> Path:
    """The folder holding exercises/ and solutions/: inside the installed package, or the repository."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_course", package.parent):
        if (candidate / "exercises").is_dir():
            return candidate
    raise CourseError(package, "the course folders (exercises/, solutions/) are not installed")


class _Reader:
    """Typed access to one TOML table, raising CourseError with the full key path. A key the table lacks
    is read from `base` (the shared file's table) when that sets it, and errors about it name that file."""

    def __init__(self, path: Path, exercise: str | None, table: dict[str, Any], prefix: str = "",
                 base: _Reader | None = None):
        self.path, self.exercise, self.table, self.prefix, self.base = path, exercise, table, prefix, base

    def holder(self, key: str) -> _Reader:
        """The reader whose table sets `key` (this one unless only the base does)."""
        root = key.split("[", 1)[0]
        if root not in self.table and self.base is not None and root in self.base.table:
            return self.base
        return self

    def error(self, key: str, message: str) -> CourseError:
        holder = self.holder(key)
        return CourseError(holder.path, message, holder.exercise, holder.prefix + key)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        table = self.holder(key).table
        if key not in table:
            if default is ...:
                also = f" (neither here nor in {self.base.path.name})" if self.base is not None else ""
                raise self.error(key, "is missing" + also)
            return default
        value = table[key]
        if isinstance(value, bool) and kind is int or not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(key, f"should be {expected}, not {type(value).__name__}")
        return value

    def only(self, keys: tuple[str, ...]) -> None:
        """Refuse a key of this table that is not one of `keys` (a misspelt key would be silently ignored)."""
        for key in self.table:
            if key not in keys:
                raise self.error(key, f"is not a key of [{self.prefix.rstrip('.')}] (its keys: {', '.join(keys)})")

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip() and default is ...:
            raise self.error(key, "is empty")
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, default)
        for i, item in enumerate(values):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{key}[{i}]", "should be a non-empty string")
        return tuple(values)

    def sub(self, key: str, default: Any = ..., base: _Reader | None = None) -> _Reader:
        table = self.get(key, dict, {} if base is not None else default)
        return _Reader(self.path, self.exercise, table, f"{self.prefix}{key}.", base)

    def items(self, key: str) -> list[_Reader]:
        values = self.get(key, list, [])
        readers = []
        for i, item in enumerate(values):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", "should be a table")
            readers.append(_Reader(self.path, self.exercise, item, f"{self.prefix}{key}[{i}]."))
        return readers


def _compiles(reader: _Reader, key: str, code: str, mode: str = "exec") -> str:
    try:
        compile(code, f"<{key}>", mode)
    except SyntaxError as exc:
        raise reader.error(key, f"is not valid Python (line {exc.lineno}: {exc.msg})") from None
    return code


TIMESTAMP = re.compile(r"^\d:[0-5]\d:[0-5]\d$")


def _timestamp(reader: _Reader, key: str, pack: Pack) -> str:
    """A moment in the lecture as H:MM:SS; a pack that follows no lecture has none (a moment it gives would be
    shown as one of a lecture that does not exist): its pack.toml may give none, and a folder without one (the
    first format) has its moments left unread."""
    if not pack.lecture:
        if key in reader.table and pack.source is not None:
            raise reader.error(key, "is a moment of the pack's lecture, and this pack follows none (lecture = false): remove it")
        return ""
    return _clock(reader, key)


def _clock(reader: _Reader, key: str) -> str:
    """A moment as H:MM:SS."""
    value = reader.text(key)
    if not TIMESTAMP.match(value):
        raise reader.error(key, f"should be a lecture timestamp H:MM:SS, not {value!r}")
    return value


def _context(reader: _Reader) -> ContextSpec:
    seed, batch = reader.get("seed", int), reader.get("batch_size", int)
    if batch < 2:
        raise reader.error("batch_size", "should be at least 2 (BatchNorm needs n - 1 > 0)")
    if not 0 <= seed < 2**63:  # torch's generators take a 64-bit seed; a larger one fails only at check time
        raise reader.error("seed", f"{seed} is out of range (0 to 2**63 - 1)")
    return ContextSpec(seed=seed, batch_size=batch)


def _row_order(top: _Reader, rows: list[Step]) -> tuple[str, ...]:
    """`rows` (every step and supporting row, each once) when given, else the steps' order in the file."""
    names = [row.name for row in rows]
    order = top.strings("rows", ())
    if not order:
        return tuple(names)
    if sorted(order) != sorted(names):
        raise top.error("rows", f"should name every step and supporting row once: {', '.join(names)}")
    return order


def _read_toml(path: Path) -> dict[str, Any]:
    tomllib = toml()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(path, f"is not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(path, f"cannot be read ({exc})") from None


def load_pack(root: Path) -> tuple[Pack, _Reader | None]:
    """exercises/pack.toml (a folder without one is a pack named after the folder, with no lecture), and the
    shared model file it names (None when it names none)."""
    path = root / "exercises" / PACK_FILE
    if not path.is_file():
        return Pack(id=root.name), None
    top = _Reader(path, None, _read_toml(path))
    top.only((*PACK_KEYS, *(f"{key}_{lang}" for key in Pack.TEXT_KEYS for lang in TRANSLATIONS)))
    lecture = top.get("lecture", (str, bool))
    if lecture is True or (isinstance(lecture, str) and not lecture.strip()):
        raise top.error("lecture", "is the lecture's title, or false for a pack that follows no lecture")
    languages = top.strings("languages", ())
    for i, lang in enumerate(languages):
        if lang not in TRANSLATIONS:
            raise top.error(f"languages[{i}]", f"{lang!r} is not a language the tutor speaks ({', '.join(TRANSLATIONS)})")
    ident = top.text("id")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", ident):
        raise top.error("id", f"{ident!r} should be lower-case letters, digits, - and _ (it is typed after --course)")
    pack = Pack(
        id=ident, title=top.text("title", ""), lecture=lecture or "", languages=languages,
        lecture_length=_clock(top, "lecture_length") if "lecture_length" in top.table else "",
        min_hints=top.get("min_hints", int, 1), min_why=top.get("min_why", int, 40),
        first_batch=top.text("first_batch", ""), source=path, translations=_translations(top, Pack.TEXT_KEYS),
    )
    if pack.min_hints < 1:
        raise top.error("min_hints", "should be at least 1")
    return pack, _shared_file(top, "model", root)


def _shared_file(top: _Reader, key: str, root: Path) -> _Reader | None:
    """The shared model file that `key` names (relative to exercises/), read and checked; None without one."""
    name = top.text(key, "")
    if not name:
        return None
    path = root / "exercises" / name
    if not path.is_file():
        raise top.error(key, f"names {path}, which does not exist")
    shared = _Reader(path, None, _read_toml(path))
    shared.only(SHARED_TABLES)
    shared.sub("model", {}).only((*SHARED_MODEL_KEYS, *LEGACY_SIZES))
    shared.sub("context", {}).only(CONTEXT_KEYS)
    return shared


def _code(m: _Reader, key: str) -> str:
    return _compiles(m, key, m.text(key))


def _assigned_twice(code: str) -> tuple[str, int, int] | None:
    """The first name that the code's top level binds twice (the name, and the lines of both bindings)."""
    import ast

    seen: dict[str, int] = {}
    for node in ast.parse(code).body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            # names this statement binds: `x[i] = ...` changes x in place and binds neither x nor i
            for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)):
                if name in seen:
                    return name, seen[name], node.lineno
                seen[name] = node.lineno
    return None


def _forward(m: _Reader) -> tuple[str, list[Origin]]:
    """The forward pass: the shared one or the exercise's own, then the exercise's `forward_extra` lines. A
    name bound twice is refused: the tutor keeps one value per name, and a step could name only the last."""
    forward, origins = _code(m, "forward"), []
    if m.holder("forward") is not m:
        origins.append(Origin("model.forward", m.holder("forward").path, "model.forward"))
    extra = m.text("forward_extra", "")
    if extra.strip():
        joined = forward if forward.endswith("\n") else forward + "\n"
        origins.append(Origin("model.forward", m.path, "model.forward_extra", joined.count("\n") + 1))
        forward = joined + _compiles(m, "forward_extra", extra)
    twice = _assigned_twice(forward)
    if twice:
        name, first, second = twice
        raise m.error("forward", f"assigns {name!r} twice (lines {first} and {second} of the forward code): the "
                      f"tutor keeps one value per name, so a step could name only the last; give each value its "
                      f"own name ({name}_1 = ..., then {name} = ...)")
    return forward, origins


def _sizes(m: _Reader) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...], str]:
    """The model's sizes (the shared file's, updated key by key by the exercise's), the ones the second batch
    keeps, and the window size; the first format's n_embd, n_hidden and block_size are sizes too."""
    sizes: dict[str, int] = {}
    legacy_keep: list[str] = []
    for reader in (m.base, m) if m.base is not None else (m,):
        for key in LEGACY_SIZES:
            if key in reader.table:
                sizes[key] = reader.get(key, int)
                if key == "block_size":
                    legacy_keep.append(key)
        table = reader.get("sizes", dict, {})
        for key, value in table.items():
            if not key.isidentifier():
                raise reader.error(f"sizes.{key}", "should be a Python name: the code and the learner read it")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise reader.error(f"sizes.{key}", f"should be a positive int, not {value!r}")
            sizes[key] = value
    for key in sizes:
        if key in ("n", "batch_size", "vocab_size", "seed"):
            raise m.error(f"sizes.{key}", f"{key!r} is set by the tutor (n and batch_size by [context], vocab_size by the data)")
    keep = m.strings("keep", tuple(dict.fromkeys(legacy_keep)))
    window = m.text("window", "block_size" if "block_size" in legacy_keep else "")
    for i, key in enumerate(keep):
        if key not in sizes:
            raise m.error(f"keep[{i}]", f"names no size (the sizes: {', '.join(sizes) or 'none'})")
    if window and window not in sizes:
        raise m.error("window", f"names no size (the sizes: {', '.join(sizes) or 'none'})")
    if window and window not in keep:
        raise m.error("window", f"{window!r} is the names windows' length, the same in every batch: add it to keep")
    return tuple(sizes.items()), tuple(keep), window


def _model(top: _Reader, shared: _Reader | None) -> tuple[Model, ContextSpec, list[Origin]]:
    """[model] and [context], each key from the exercise's file or else from the shared file."""
    m = top.sub("model", base=shared.sub("model", {}) if shared else None)
    c = top.sub("context", base=shared.sub("context", {}) if shared else None)
    m.only(MODEL_KEYS)
    c.only(CONTEXT_KEYS)
    forward, origins = _forward(m)
    sizes, keep, window = _sizes(m)
    data = m.text("data", DATA_NAMES)
    if data not in (DATA_NAMES, DATA_NONE):
        file = m.holder("data").path.parent / data
        if not file.is_file():
            raise m.error("data", f"is 'names', 'none' or a text file beside the TOML file; {file} does not exist")
        data = str(file)
    inputs = m.strings("inputs", ("Xb", "Yb") if data != DATA_NONE else ())
    model = Model(
        sizes=sizes,
        parameters=m.strings("parameters"),
        init=_code(m, "init"),
        batch=_compiles(m, "batch", m.text("batch", "")),
        forward=forward,
        loss=m.text("loss"),
        keep=keep,
        data=data,
        window=window,
        inputs=inputs,
        private=m.strings("private", ()),
    )
    context = _context(c)
    for reader, keys in ((m, MODEL_KEYS), (c, CONTEXT_KEYS)):
        for key in keys:
            holder = reader.holder(key)
            if holder is not reader and key != "forward":
                origins.append(Origin(holder.prefix + key, holder.path, holder.prefix + key))
    return model, context, origins


# A step's texts that a translation may carry: its hint ladder (a list of rungs) and its why.
STEP_TEXT_KEYS = ("hints", *Step.TEXT_KEYS)


def _translations(r: _Reader, keys: tuple[str, ...], where: str = "") -> Translations:
    """The table's `KEY_LANG` translations of its text `keys`; `where` ends each error (" (step 'dh')")."""
    for key in r.table:
        english, _, lang = key.rpartition("_")
        if lang in TRANSLATIONS and english not in keys:
            raise r.error(key, f"translates no text of this table (its texts: {', '.join(keys)}){where}")
    entries: list[tuple[str, str, str | tuple[str, ...]]] = []
    for key in keys:
        for lang in (lang for lang in TRANSLATIONS if f"{key}_{lang}" in r.table):
            if not r.table.get(key):
                raise r.error(f"{key}_{lang}", f"translates {key!r}, which is missing or empty{where}")
            if key != "hints":
                entries.append((lang, key, r.text(f"{key}_{lang}")))
                continue
            rungs = r.strings(f"{key}_{lang}")
            if len(rungs) != len(r.table[key]):
                raise r.error(f"{key}_{lang}", f"has {len(rungs)} rungs, hints has {len(r.table[key])}{where}")
            entries.append((lang, key, rungs))
    return Translations(tuple(entries))


def _mistakes(s: _Reader, step: str) -> tuple[Mistake, ...]:
    return tuple(
        Mistake(
            code=mk.text("code", "course"), expr=_compiles(mk, "expr", mk.text("expr"), "eval"),
            message=mk.text("message"), local_only=mk.get("local_only", bool, False),
            translations=_translations(mk, Mistake.TEXT_KEYS, f" (mistake {i + 1} of step {step!r})"),
        )
        for i, mk in enumerate(s.items("mistakes"))
    )


def _steps(top: _Reader, pack: Pack) -> tuple[list[Step], list[Step]]:
    """The steps, and the supporting rows (judged when the learner's file assigns them; no hints of their own,
    a why optional)."""
    steps: list[Step] = []
    support: list[Step] = []
    for s in top.items("steps"):
        name = s.text("name")
        if s.get("support", bool, False):
            # its why, when it has one, is where the lecture explains it: a why_at comes with it
            why = s.text("why", "")
            support.append(Step(
                name=name, of=s.text("of"), line=s.text("line"), hints=s.strings("hints", ()), support=True,
                why=why, why_at=_timestamp(s, "why_at", pack) if why.strip() else "",
                mistakes=_mistakes(s, name),
                translations=_translations(s, STEP_TEXT_KEYS, f" (step {name!r})"),
            ))
            continue
        mistakes = _mistakes(s, name)
        hints = s.strings("hints")
        if len(hints) < pack.min_hints:
            raise s.error("hints", f"needs at least {pack.min_hints} hint{'s' if pack.min_hints > 1 else ''}, has {len(hints)}")
        steps.append(Step(
            name=name, of=s.text("of"), line=s.text("line"), hints=hints, mistakes=mistakes,
            why=s.text("why"), why_at=_timestamp(s, "why_at", pack),
            translations=_translations(s, STEP_TEXT_KEYS, f" (step {name!r})"),
        ))
    if not steps:
        raise top.error("steps", "needs at least one step")
    seen: set[str] = set()
    for i, step in enumerate([*steps, *support]):
        if not step.name.isidentifier():
            raise top.error(f"steps[{i}].name", f"{step.name!r} is not a Python name")
        if step.name in seen:
            raise top.error(f"steps[{i}].name", f"{step.name!r} appears twice")
        seen.add(step.name)
    return steps, support


def _training(top: _Reader) -> Training:
    t = top.sub("training")
    training = Training(
        max_steps=t.get("max_steps", int),
        default_steps=t.get("default_steps", int),
        lr=t.get("lr", float),
        lr_decay_at=t.get("lr_decay_at", float),
        lr_after=t.get("lr_after", float),
        grad_check_steps=t.get("grad_check_steps", int),
        sample_count=t.get("sample_count", int),
        sample_seed=t.get("sample_seed", int),
        calibrate=_compiles(t, "calibrate", t.text("calibrate")),
        infer=_compiles(t, "infer", t.text("infer")),
        max_name_length=t.get("max_name_length", int, 50),
        calibrated=t.text("calibrated", ""),
        calibrating=t.text("calibrating", ""),
        translations=_translations(t, Training.TEXT_KEYS),
    )
    if bool(training.calibrated) != bool(training.calibrating):
        raise t.error("calibrated" if training.calibrating else "calibrating",
                      "is missing: calibrated (the results' heading) and calibrating (the phase) come together")
    if training.grad_check_steps < 1 or training.default_steps < 1 or training.max_steps < training.default_steps:
        raise t.error("default_steps", "needs 1 <= default_steps <= max_steps and grad_check_steps >= 1")
    if not 0.0 <= training.lr_decay_at <= 1.0:
        raise t.error("lr_decay_at", "is a fraction of the run, between 0 and 1")
    return training


def _course_file(top: _Reader, root: Path, key: str, folder: str) -> Path:
    file = root / folder / top.text(key)
    if not file.is_file():
        raise top.error(key, f"names {file}, which does not exist")
    return file


def load_exercise(path: Path, root: Path) -> Exercise:
    """One exercise's TOML file, with the shared model file its pack names."""
    pack, shared = load_pack(root)
    return _load_exercise(path, root, shared, pack)


def _load_exercise(path: Path, root: Path, shared: _Reader | None, pack: Pack) -> Exercise:
    """Keys that the exercise's [model] and [context] leave out come from `shared`."""
    data = _read_toml(path)
    ident = data.get("id") if isinstance(data.get("id"), str) else None
    top = _Reader(path, ident, data)
    ident = top.text("id")
    if "model_file" in data:  # the exercise names its own shared model file instead of the pack's
        shared = _shared_file(top, "model_file", root)
    kind = top.text("kind", "check")
    if kind not in ("check", "training"):
        raise top.error("kind", f"should be 'check' or 'training', not {kind!r}")
    model, context, origins = _model(top, shared)
    steps, support = _steps(top, pack)
    training = _training(top) if kind == "training" else None
    starter = _course_file(top, root, "starter", "exercises")
    solution = _course_file(top, root, "solution", "solutions")
    return Exercise(
        id=ident,
        order=top.get("order", int),
        title=top.text("title"),
        summary=top.text("summary", ""),
        kind=kind,  # type: ignore[arg-type]
        starter=starter,
        solution=solution,
        source=path,
        model=model,
        context=context,
        steps=tuple(steps),
        given=top.strings("given", ()),
        chapter_at=_timestamp(top, "chapter_at", pack),
        training=training,
        forbid_autograd=top.get("forbid_autograd", bool, False),
        support=tuple(support),
        chain=top.strings("chain", ()),
        chain_message=top.text("chain_message", ""),
        row_order=_row_order(top, [*steps, *support]),
        origins=tuple(origins),
        translations=_translations(top, Exercise.TEXT_KEYS),
        pack=pack,
    )


def load_course(root: Path | None = None) -> Course:
    """Every exercises/*.toml under `root` (by default the pack that $BACKPROP_NINJA_COURSE names, else the
    lecture's), besides pack.toml and the shared model file it names."""
    if root is None:
        from tutor.course.packs import pack_root

        root = pack_root(None)
    folder = root / "exercises"
    pack, shared = load_pack(root)
    skip = {PACK_FILE, *((shared.path.name,) if shared is not None else ())}
    files = sorted(f for f in folder.glob("*.toml") if f.name not in skip)
    if not files:
        raise CourseError(folder, "holds no exercise (*.toml) files")
    exercises = sorted((_load_exercise(f, root, shared, pack) for f in files), key=lambda e: e.order)
    ids: dict[str, Path] = {}
    orders: dict[int, Path] = {}
    for e in exercises:
        if e.id in ids:
            raise CourseError(e.source, f"id {e.id!r} is also used by {ids[e.id]}", e.id, "id")
        if e.order in orders:
            raise CourseError(e.source, f"order {e.order} is also used by {orders[e.order]}", e.id, "order")
        ids[e.id] = orders[e.order] = e.source
    return Course(root=root, exercises=tuple(exercises), pack=pack)
