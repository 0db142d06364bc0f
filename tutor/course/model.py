"""The course as frozen data: exercises, their model set-up, steps, hints and known mistakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from tutor.lang import LANGUAGES
from tutor.messages import Message, message

ExerciseKind = Literal["check", "training"]

# The learner-facing text's translations (tutor.lang.LANGUAGES: English, the course's own, first). A
# translation sits in the TOML beside each English key, with the language as suffix (`why_zh`, `hints_zh`).
TRANSLATIONS = LANGUAGES[1:]


@dataclass(frozen=True)
class Translations:
    """One record's text in the languages besides English: (language, English key, text), the text of a hint
    ladder being a tuple of rungs. A tuple, not a dict, so that the records holding it stay hashable."""

    entries: tuple[tuple[str, str, str | tuple[str, ...]], ...] = ()

    def get(self, lang: str, key: str) -> str | tuple[str, ...] | None:
        return next((text for language, k, text in self.entries if (language, k) == (lang, key)), None)


class Localized:
    """`text(key, lang)` for the records with learner-facing text; the English fields stay as they are.
    Where the course has no translation of a text, the English one stands in."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ()
    translations: Translations

    def text(self, key: str, lang: str = "en") -> str:
        """The text field `key` (one of TEXT_KEYS) in `lang`: `exercise.text("title", "zh")`."""
        if key not in self.TEXT_KEYS:
            raise KeyError(f"{key!r} is not a text of {type(self).__name__} (its texts: {', '.join(self.TEXT_KEYS)})")
        return self._in(key, lang)  # type: ignore[return-value]

    def _in(self, key: str, lang: str) -> str | tuple[str, ...]:
        if lang not in LANGUAGES:
            raise ValueError(f"no course text in {lang!r} (languages: {', '.join(LANGUAGES)})")
        english = getattr(self, key)
        if lang == "en":
            return english
        return self.translations.get(lang, key) or english


@dataclass(frozen=True)
class Mistake(Localized):
    """A typical wrong answer: an expression over the context and the correct gradients."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("message",)

    code: str
    expr: str
    message: str
    translations: Translations = field(default=Translations(), repr=False)
    # Right on every batch, wrong only under the local rule (a term that is ~0 on the batches): `course
    # check` holds it to that, and the report says the mistake's own words when the local rule catches it.
    local_only: bool = False


@dataclass(frozen=True)
class Step(Localized):
    """One gradient the learner writes: `name` is their variable, `of` the forward tensor."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("why",)

    name: str
    of: str
    line: str
    hints: tuple[str, ...]
    mistakes: tuple[Mistake, ...] = ()
    # A supporting row (exercise 4's dlogits, dh, ...): judged only when the learner's file assigns it, so
    # that a wrong intermediate is named as the root; it never counts towards passing the exercise.
    support: bool = False
    # Shown once the step passes: the lecture's insight behind the answer, and where the lecture explains it.
    why: str = ""
    why_at: str = ""
    translations: Translations = field(default=Translations(), repr=False)

    def hints_in(self, lang: str = "en") -> tuple[str, ...]:
        """The hint ladder in `lang` (as many rungs in every language; the last is usually code)."""
        return self._in("hints", lang)  # type: ignore[return-value]

    def hint(self, index: int, lang: str = "en") -> str:
        """Rung `index` (0-based, like `hints`) of the ladder in `lang`: `step.hint(0, "zh")`."""
        return self.hints_in(lang)[index]


@dataclass(frozen=True)
class ContextSpec:
    """Which batch a context holds; sizes not in `sizes` are the model's own (and the dataset's vocabulary)."""

    seed: int
    batch_size: int
    sizes: tuple[tuple[str, int], ...] = ()
    vocab_size: int | None = None

    def size(self, name: str) -> int | None:
        return next((value for key, value in self.sizes if key == name), None)


# What a model's data may be: a names file cut into windows (the bundled one, or --data), or nothing (the
# init or batch code draws its own inputs); any other value is a text file beside the pack's TOML files.
DATA_NAMES, DATA_NONE = "names", "none"


@dataclass(frozen=True)
class Model:
    """How to build the network and run its forward pass; all code strings come from the TOML."""

    # The pack's sizes (any names), each an int the init, batch and forward code and the learner read.
    sizes: tuple[tuple[str, int], ...]
    parameters: tuple[str, ...]
    init: str
    batch: str
    forward: str
    loss: str
    # Sizes the second batch keeps; every other size, and the batch size, is drawn afresh there.
    keep: tuple[str, ...] = ()
    data: str = DATA_NAMES
    # The size that is a names window's length (the characters of context); names data only.
    window: str = ""
    # Tensors the batch code must define (moved to the check's device with the parameters).
    inputs: tuple[str, ...] = ("Xb", "Yb")
    # Names the init or batch code makes that the forward code uses but the learner's file never sees.
    private: tuple[str, ...] = ()

    def size(self, name: str) -> int:
        return dict(self.sizes)[name]

    @property
    def window_size(self) -> int:
        """The names windows' length (1 without a window size)."""
        return dict(self.sizes).get(self.window, 1)


@dataclass(frozen=True)
class Training(Localized):
    """Settings of a training exercise (exercise 4)."""

    # What happens to the trained model before its losses are measured, when anything does: the heading of
    # the results ("After calibrating BatchNorm on the training set") and the phase while it runs
    # ("Calibrating BatchNorm"). A model with nothing to calibrate gives neither, and no such line is shown.
    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("calibrated", "calibrating")

    max_steps: int
    default_steps: int
    lr: float
    lr_decay_at: float
    lr_after: float
    grad_check_steps: int
    sample_count: int
    sample_seed: int
    # Code strings: `calibrate` sets the BatchNorm statistics from all of Xtr; `infer` computes `logits`
    # from `X` with them (used for the split losses and for sampling).
    calibrate: str = ""
    infer: str = ""
    max_name_length: int = 50
    calibrated: str = ""
    calibrating: str = ""
    translations: Translations = field(default=Translations(), repr=False)

    def lr_at(self, step: int, steps: int) -> float:
        """The lecture's schedule: lr until lr_decay_at of the run, then lr_after."""
        return self.lr if step < int(steps * self.lr_decay_at) else self.lr_after


@dataclass(frozen=True)
class Origin:
    """Where part of an exercise's model or context was written when not in the exercise's own file: the
    shared exercises/model.toml, or, for a forward pass assembled from two files, the lines from `first_line` on."""

    key: str  # as the exercise reads it: "model.forward"
    path: Path  # the TOML file that sets it
    written_as: str  # the key in that file: "model.forward_extra"
    first_line: int = 1  # the assembled code's line where this piece starts


@dataclass(frozen=True)
class Pack(Localized):
    """What a pack says of itself (exercises/pack.toml): its id and title, the lecture it follows (empty for
    a pack without one: then its steps have no timestamps), the languages its text must be complete in, how
    many hints each step needs at least, and what the notes call the first batch of a check."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("title", "first_batch")

    id: str
    title: str = ""
    lecture: str = ""
    lecture_length: str = ""  # H:MM:SS, when given: every moment of the pack lies before it
    languages: tuple[str, ...] = ()
    min_hints: int = 1
    # A why shorter than this many characters is too short to teach anything (course check).
    min_why: int = 40
    # What the notes call the batch whose numbers the learner sees ("the lecture's batch"); empty: the
    # tutor's own words for it ("the first batch").
    first_batch: str = ""
    # The pack.toml it was read from (None: a folder without one, the first format's, which follows no lecture).
    source: Path | None = field(default=None, compare=False)
    translations: Translations = field(default=Translations(), repr=False)

    def first_batch_words(self) -> Message:
        """The first batch's name as a message parameter: the pack's words for it, else the tutor's."""
        if not self.first_batch:
            return message("first-batch")
        return message("course", text=self.first_batch, text_zh=self.text("first_batch", "zh"))


@dataclass(frozen=True)
class Exercise(Localized):
    """One exercise of the course; `text("title", lang)` (or summary, chain_message) in another language."""

    TEXT_KEYS: ClassVar[tuple[str, ...]] = ("title", "summary", "chain_message")

    id: str
    order: int
    title: str
    summary: str
    kind: ExerciseKind
    starter: Path
    solution: Path
    source: Path
    model: Model
    context: ContextSpec
    steps: tuple[Step, ...]
    given: tuple[str, ...] = ()
    # Where the lecture's chapter on this exercise starts ("H:MM:SS").
    chapter_at: str = ""
    training: Training | None = None
    # Refuse files that use autograd in any form (`.backward()`, `.grad`, torch.autograd, ...).
    forbid_autograd: bool = False
    # Exercise 4's optional intermediate rows, in the order the report shows them among the steps.
    support: tuple[Step, ...] = ()
    # Names of another exercise's chain of intermediate gradients: a file that assigns any of them reaches
    # the answer the long way round, which is not what this exercise asks (exercises 2 and 3).
    chain: tuple[str, ...] = ()
    chain_message: str = ""

    # Every step and supporting row by name, in the TOML's order (the order of a backward pass).
    row_order: tuple[str, ...] = ()
    # Keys of the model and context that another file wrote (the shared model file); not part of equality.
    origins: tuple[Origin, ...] = field(default=(), compare=False)
    translations: Translations = field(default=Translations(), repr=False)
    # The pack the exercise belongs to (its words for the first batch, whether it follows a lecture).
    pack: Pack = field(default=Pack(id=""), compare=False, repr=False)

    @property
    def rows(self) -> tuple[Step, ...]:
        """Steps and supporting rows in the course's order."""
        rows = (*self.steps, *self.support)
        if not self.row_order:
            return rows
        return tuple(sorted(rows, key=lambda s: self.row_order.index(s.name)))

    def starter_words(self, lang: str) -> Path:
        """Where the starter's words in `lang` live: exercises/zh/atomic.toml for exercises/atomic.py."""
        return self.starter.parent / lang / f"{self.starter.stem}.toml"

    @property
    def file_name(self) -> str:
        """Name of the learner's file in a workspace."""
        return self.starter.name

    def origin(self, key: str | None, line: int | None = None) -> tuple[Path, str | None, int | None]:
        """The TOML file and key an author fixes for `key` (and the line there, given a line of its code;
        without one, where its first line was written)."""
        pieces = [o for o in self.origins if o.key == key and o.first_line <= (line or 1)]
        if not pieces:
            return self.source, key, line
        piece = pieces[-1]
        return piece.path, piece.written_as, None if line is None else line - piece.first_line + 1

    def step(self, name: str) -> Step | None:
        for step in self.steps:
            if name in (step.name, step.of):
                return step
        return None

    def row(self, name: str) -> Step | None:
        """A step or a supporting row, by its name."""
        return next((row for row in self.rows if row.name == name), None)


@dataclass(frozen=True)
class Course:
    root: Path
    exercises: tuple[Exercise, ...] = field(default_factory=tuple)
    pack: Pack = field(default_factory=lambda: Pack(id=""))

    @property
    def id(self) -> str:
        return self.pack.id

    def find(self, name: str) -> Exercise | None:
        """Look an exercise up by id or by its number (1-based order)."""
        key = name.strip().lower()
        for exercise in self.exercises:
            if key in (exercise.id, str(exercise.order)):
                return exercise
        return None

    def names(self) -> str:
        return ", ".join(f"{e.order}/{e.id}" for e in self.exercises)
