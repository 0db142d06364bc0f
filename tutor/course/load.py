"""Read the course's TOML files into frozen dataclasses, with errors that name file, exercise and key."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from tutor.course.model import ContextSpec, Course, Exercise, Mistake, Model, Step, Training


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
    """Typed access to one TOML table, raising CourseError with the full key path."""

    def __init__(self, path: Path, exercise: str | None, table: dict[str, Any], prefix: str = ""):
        self.path, self.exercise, self.table, self.prefix = path, exercise, table, prefix

    def error(self, key: str, message: str) -> CourseError:
        return CourseError(self.path, message, self.exercise, self.prefix + key)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.table:
            if default is ...:
                raise self.error(key, "is missing")
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind is int or not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(key, f"should be {expected}, not {type(value).__name__}")
        return value

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

    def sub(self, key: str, default: Any = ...) -> _Reader:
        return _Reader(self.path, self.exercise, self.get(key, dict, default), f"{self.prefix}{key}.")

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


def _timestamp(reader: _Reader, key: str) -> str:
    """A moment in the lecture as H:MM:SS."""
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


def load_exercise(path: Path, root: Path) -> Exercise:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(path, f"is not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(path, f"cannot be read ({exc})") from None
    ident = data.get("id") if isinstance(data.get("id"), str) else None
    top = _Reader(path, ident, data)
    ident = top.text("id")
    kind = top.text("kind", "check")
    if kind not in ("check", "training"):
        raise top.error("kind", f"should be 'check' or 'training', not {kind!r}")

    m = top.sub("model")
    model = Model(
        n_embd=m.get("n_embd", int),
        n_hidden=m.get("n_hidden", int),
        block_size=m.get("block_size", int),
        parameters=m.strings("parameters"),
        init=_compiles(m, "init", m.text("init")),
        batch=_compiles(m, "batch", m.text("batch")),
        forward=_compiles(m, "forward", m.text("forward")),
        loss=m.text("loss"),
    )
    context = _context(top.sub("context"))

    steps: list[Step] = []
    support: list[Step] = []
    for s in top.items("steps"):
        if s.get("support", bool, False):
            # a supporting row: judged when the learner's file assigns it; no hints of its own
            support.append(Step(name=s.text("name"), of=s.text("of"), line=s.text("line"), hints=s.strings("hints", ()), support=True))
            continue
        mistakes = tuple(
            Mistake(
                code=mk.text("code", "course"),
                expr=_compiles(mk, "expr", mk.text("expr"), "eval"),
                message=mk.text("message"),
            )
            for mk in s.items("mistakes")
        )
        hints = s.strings("hints")
        if len(hints) < 3:
            raise s.error("hints", f"needs at least 3 hints, has {len(hints)}")
        steps.append(Step(
            name=s.text("name"), of=s.text("of"), line=s.text("line"), hints=hints, mistakes=mistakes,
            why=s.text("why"), why_at=_timestamp(s, "why_at"),
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

    training = None
    if kind == "training":
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
        )
        if training.grad_check_steps < 1 or training.default_steps < 1 or training.max_steps < training.default_steps:
            raise t.error("default_steps", "needs 1 <= default_steps <= max_steps and grad_check_steps >= 1")
        if not 0.0 <= training.lr_decay_at <= 1.0:
            raise t.error("lr_decay_at", "is a fraction of the run, between 0 and 1")

    starter = root / "exercises" / top.text("starter")
    solution = root / "solutions" / top.text("solution")
    for key, file in (("starter", starter), ("solution", solution)):
        if not file.is_file():
            raise top.error(key, f"names {file}, which does not exist")
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
        chapter_at=_timestamp(top, "chapter_at"),
        training=training,
        forbid_autograd=top.get("forbid_autograd", bool, False),
        support=tuple(support),
        chain=top.strings("chain", ()),
        chain_message=top.text("chain_message", ""),
        row_order=_row_order(top, [*steps, *support]),
    )


def load_course(root: Path | None = None) -> Course:
    root = root or course_root()
    folder = root / "exercises"
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise CourseError(folder, "holds no exercise (*.toml) files")
    exercises = sorted((load_exercise(f, root) for f in files), key=lambda e: e.order)
    ids: dict[str, Path] = {}
    orders: dict[int, Path] = {}
    for e in exercises:
        if e.id in ids:
            raise CourseError(e.source, f"id {e.id!r} is also used by {ids[e.id]}", e.id, "id")
        if e.order in orders:
            raise CourseError(e.source, f"order {e.order} is also used by {orders[e.order]}", e.id, "order")
        ids[e.id] = orders[e.order] = e.source
    return Course(root=root, exercises=tuple(exercises))
