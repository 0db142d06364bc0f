"""A check's verdicts: the status words, one TensorVerdict per row, the learner's error, the CheckReport of a
file, and the check service's reply to the TUI. Plain data (no torch, no UI): `to_json()` is what the CLI's
`check --json` prints and the check service sends, and `from_json()` reads it back exactly.

A row's notes and its diagnosis are messages (a code and parameters, tutor.messages), put into words only
when they are shown: `note` and `diagnosis["message"]` read English, `note_text(lang)` and
`to_json(lang)` any language with a catalogue."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tutor.messages import DEFAULT_LANG, Message, is_message, message, render, render_list, render_message, templates

Status = Literal["exact", "close", "wrong", "shape", "missing", "invalid"]
PASSING: tuple[Status, ...] = ("exact", "close")

# Rich style strings per status, for the CLI table and the TUI alike.
STATUS_STYLE: dict[str, str] = {
    "exact": "bold green",
    "close": "green",
    "wrong": "bold red",
    "shape": "bold magenta",
    "missing": "dim",
    "invalid": "bold yellow",
}

ErrorKind = Literal["syntax", "exception", "timeout", "crash", "memory", "output", "forbidden"]
# A row's line under one more run: the local rule (random gradients injected from above) or a second batch.
RunVerdict = Literal["pass", "fail"]
# One heatmap of a tensor (see tutor.engine.grids): shape, rows, cols, downsampled, max, cells.
Grid = dict[str, Any]


def fmt_shape(shape: Sequence[int] | None) -> str:
    """A shape as Python prints a tuple: (32, 27), (27,), or — when there is none."""
    if shape is None:
        return "—"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Diagnosis(Mapping[str, str]):
    """The likely mistake behind a wrong row: its code (the kind of mistake: sign, reduce, a course's own
    code...) and the message that explains it. Read as {"code": ..., "message": ...}, the message in English."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: Message) -> None:
        self.code = code
        self.message = message

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Diagnosis:
        """A diagnosis from its JSON (or a plain {"code", "message"} whose message is its words as they are)."""
        if isinstance(data, Diagnosis):
            return data
        if "message_code" in data:
            return cls(data["code"], message(data["message_code"], **dict(data.get("params") or {})))
        return cls(data["code"], message("text", text=data["message"]))

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The message in words."""
        return render_message(self.message, lang)

    def label(self, lang: str = DEFAULT_LANG) -> str:
        """The kind of mistake in words (codes.LANG.toml): the code itself in English, "符号反了" for sign in
        Chinese; a code no catalogue names is shown as it is."""
        key = f"code-{self.code}"
        return render(key, {}, lang) if key in templates(DEFAULT_LANG) else self.code

    def to_json(self, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        return {"code": self.code, "message": self.text(lang), "message_code": self.message["code"],
                "params": self.message["params"]}

    def __getitem__(self, key: str) -> str:
        if key == "code":
            return self.code
        if key == "message":
            return self.text()
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("code", "message"))

    def __len__(self) -> int:
        return 2

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Diagnosis):
            return (self.code, self.message) == (other.code, other.message)
        if isinstance(other, Mapping):
            return dict(self) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Diagnosis({self.code!r}, {self.message!r})"


# Errors that stop the learner's file before any of its lines runs: a check after one rechecks no row.
NOT_RUN: tuple[ErrorKind, ...] = ("syntax",)


@dataclass(frozen=True)
class LearnerError:
    """Why the learner's code stopped (or was refused): its kind, message, and line with its source. A syntax
    error also says where in the line, as Python's caret does: `column` (1-based, the first character
    marked) and `end_column` (one past the last marked; None when only `column` is marked)."""

    kind: ErrorKind
    message: str
    line: int | None = None
    source: str | None = None
    column: int | None = None
    end_column: int | None = None

    def to_json(self, with_source: bool = False) -> dict[str, Any]:
        """The error as JSON; its source line when asked (a notebook's line, which no file holds) or when the
        error points into it (`column`, `end_column` and the line the caret marks)."""
        out: dict[str, Any] = {"kind": self.kind, "message": self.message, "line": self.line}
        if self.column is not None:
            out.update(column=self.column, end_column=self.end_column)
        if with_source or self.column is not None:
            out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LearnerError:
        return cls(data["kind"], data["message"], data.get("line"), data.get("source"), data.get("column"),
                   data.get("end_column"))

    def caret(self) -> tuple[str, str] | None:
        """(the error's line as it is shown, without its indentation; the caret line under it, ^ under each
        marked character), or None for an error that points nowhere in a line."""
        if self.column is None or self.source is None:
            return None
        text = self.source.rstrip()
        shown = text.lstrip()
        indent = len(text) - len(shown)
        start = min(max(self.column - 1 - indent, 0), len(shown))
        end = self.end_column - 1 - indent if self.end_column is not None else start + 1
        width = max(1, min(end, len(shown) + 1) - start)
        pad = "".join(ch if ch == "\t" else " " for ch in shown[:start])
        return shown, pad + "^" * width


@dataclass
class TensorVerdict:
    """The verdict on one row: the learner's gradient against autograd's."""

    name: str
    of: str
    status: Status
    expected_shape: tuple[int, ...]
    shape: tuple[int, ...] | None
    max_abs_diff: float | None = None
    notes: list[Message] = field(default_factory=list)
    exact: bool = False
    close: bool = False
    # Filled by judging; None where it does not apply. `local`: the verdict on the row's own line, given right
    # gradients flowing in from above: the local-rule run's (random gradients injected from above), or "fail"
    # where a second batch finds the line wrong with nothing above it wrong there (a size written as a number);
    # `second`: the file on a second batch with other sizes.
    local: RunVerdict | None = None
    second: RunVerdict | None = None
    inherits_from: str | None = None
    diagnosis: Diagnosis | None = None
    upstream: tuple[str, ...] = ()  # the injected gradients this row's line reads in the local-rule run
    support: bool = False  # a supporting row: judged when assigned, never required
    # False: this check did not run the learner's file (a syntax error), so it did not recheck the row: its
    # status is the last check's verdict (keep_last), or "missing" with no notes where none is known.
    rechecked: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.diagnosis is not None and not isinstance(self.diagnosis, Diagnosis):
            self.diagnosis = Diagnosis.of(self.diagnosis)

    @property
    def passed(self) -> bool:
        return self.status in PASSING

    @property
    def note(self) -> str | None:
        """The row's notes in English, one text (None when it has none)."""
        return self.note_text()

    def note_text(self, lang: str = DEFAULT_LANG) -> str | None:
        """The row's notes in `lang`, one text (None when it has none)."""
        return render_list(self.notes, lang) if self.notes else None

    def to_json(self, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        return {
            "name": self.name,
            "of": self.of,
            "status": self.status,
            "expected_shape": list(self.expected_shape),
            "shape": list(self.shape) if self.shape is not None else None,
            "max_abs_diff": self.max_abs_diff,
            "note": self.note_text(lang),
            "notes": [dict(note) for note in self.notes],
            "local": self.local,
            "second": self.second,
            "upstream": list(self.upstream),
            "inherits_from": self.inherits_from,
            "diagnosis": self.diagnosis.to_json(lang) if self.diagnosis is not None else None,
            "support": self.support,
            "rechecked": self.rechecked,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TensorVerdict:
        """The verdict as to_json() wrote it; `exact` and `close` follow from the status (as judging leaves them)."""
        status = data["status"]
        shape = data["shape"]
        return cls(
            name=data["name"],
            of=data["of"],
            status=status,
            expected_shape=tuple(data["expected_shape"]),
            shape=tuple(shape) if shape is not None else None,
            max_abs_diff=data.get("max_abs_diff"),
            notes=_notes(data),
            exact=status == "exact",
            close=status in PASSING,
            local=data.get("local"),
            second=data.get("second"),
            upstream=tuple(data.get("upstream") or ()),
            inherits_from=data.get("inherits_from"),
            diagnosis=Diagnosis.of(data["diagnosis"]) if data.get("diagnosis") else None,
            support=bool(data.get("support", False)),
            rechecked=bool(data.get("rechecked", True)),
        )

    @property
    def not_checked(self) -> bool:
        """Not rechecked, and no verdict from before to show (shown as "not checked")."""
        return not self.rechecked and self.status == "missing"


def _notes(data: Mapping[str, Any]) -> list[Message]:
    """A row's notes from its JSON: its messages, or (JSON that carries no codes) its note's words as they are."""
    notes = data.get("notes")
    if notes is not None:
        return [message(n["code"], **dict(n["params"])) for n in notes if is_message(n)]
    return [message("text", text=data["note"])] if data.get("note") else []


@dataclass
class CheckReport:
    """The result of checking one learner file: plain data that the CLI, the TUI and JSON all read."""

    exercise: str
    device: str
    loss: float
    tensors: list[TensorVerdict]
    error: LearnerError | None = None
    output: str = ""
    warnings: list[str | Message] = field(default_factory=list)  # the engine's as messages; others' as text
    file: str | None = None
    elapsed: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(t.passed for t in self.tensors if not t.support)

    @property
    def required(self) -> list[TensorVerdict]:
        """The rows that count as the exercise's steps (not its supporting rows)."""
        return [t for t in self.tensors if not t.support]

    @property
    def rechecked(self) -> bool:
        """Every row was judged by this check (False after a file that did not run: see TensorVerdict)."""
        return all(t.rechecked for t in self.tensors)

    @property
    def first_failure(self) -> TensorVerdict | None:
        """The row to fix first: the first failing one whose own line is at fault, else the first failing
        (None when no row was rechecked: the error comes first)."""
        failing = [t for t in self.tensors if not t.passed and t.rechecked]
        return next((t for t in failing if not t.inherits_from), failing[0] if failing else None)

    def to_json(self, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        """The report as JSON, its notes and diagnoses in `lang` beside their codes and parameters."""
        return {
            "exercise": self.exercise,
            "passed": self.passed,
            "device": self.device,
            "loss": self.loss,
            "error": self.error.to_json() if self.error else None,
            "tensors": [t.to_json(lang) for t in self.tensors],
            "file": self.file,
            "output": self.output,
            "warnings": self.warning_texts(lang),
        }

    def warning_texts(self, lang: str = DEFAULT_LANG) -> list[str]:
        """The warnings in words, in `lang`."""
        return [render_message(w, lang) if is_message(w) else str(w) for w in self.warnings]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckReport:
        """The report as to_json() wrote it (`passed` follows from the rows and the error); `elapsed` when the
        JSON carries it, as the check service's reply does."""
        error = data.get("error")
        return cls(
            exercise=data["exercise"],
            device=data["device"],
            loss=data["loss"],
            tensors=[TensorVerdict.from_json(t) for t in data["tensors"]],
            error=LearnerError.from_json(error) if error else None,
            output=data.get("output", ""),
            warnings=list(data.get("warnings") or ()),
            file=data.get("file"),
            elapsed=data.get("elapsed", 0.0),
        )


def keep_last(report: CheckReport, last: Mapping[str, TensorVerdict | Status]) -> CheckReport:
    """`report` with each row it did not recheck replaced by its last verdict, still marked not rechecked:
    `last` maps a row's name to the verdict shown before (the TUI keeps the last report) or to its status
    alone (the command line keeps the last status of each step in the progress file). Rows with no last
    verdict stay as they are: "missing", not rechecked."""
    rows = []
    for t in report.tensors:
        before = last.get(t.name) if not t.rechecked else None
        if isinstance(before, TensorVerdict):
            t = replace(before, rechecked=False, extra={})
        elif isinstance(before, str) and before in STATUS_STYLE:
            t = replace(t, status=before, exact=before == "exact", close=before in PASSING, notes=[],
                        rechecked=False, extra={})
        rows.append(t)
    return replace(report, tensors=rows)


@dataclass
class CheckReply:
    """The check service's answer to one request: a report with its heatmaps, or the message of a request it
    could not serve; `notes` say when the TUI's client restarted the service on the way."""

    report: CheckReport | None = None
    message: str = ""
    grids: dict[str, dict[str, Grid]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # The error carries its source line: a notebook's, which the tutor cannot read from the file itself.
    error_source: bool = False

    def to_json(self, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        report = self.report
        if report is None:
            out: dict[str, Any] = {"type": "error", "message": self.message}
        else:
            out = {"type": "report", **report.to_json(lang), "elapsed": report.elapsed, "grids": self.grids}
            if self.error_source and report.error is not None:
                out["error"] = report.error.to_json(with_source=True)
        if self.notes:
            out["service_notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckReply:
        notes = list(data.get("service_notes") or ())
        if data.get("type") != "report":
            return cls(message=str(data.get("message", "")), notes=notes)
        error = data.get("error")
        return cls(
            report=CheckReport.from_json(data),
            grids=dict(data.get("grids") or {}),
            notes=notes,
            error_source=isinstance(error, Mapping) and "source" in error,
        )
