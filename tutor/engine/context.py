"""Build what a check needs: the forward pass under the lecture's names, and autograd's reference gradients."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F

from tutor.course.model import ContextSpec, Exercise
from tutor.engine.data import Dataset, build_examples, split_words
from tutor.messages import Message, message


@lru_cache(maxsize=64)
def course_code_object(source: str, filename: str):
    """The course's own code (a model's init, batch or forward) compiled once: every check builds a second
    context from the same code. (Its file name, `<exercise: key>`, is how course_code names a failure.)"""
    return compile(source, filename, "exec")

# The sizes every context has besides the pack's own (vocab_size too, when the model has data).
BASE_SCALARS = ("n", "batch_size")
# What the tutor gives the init code that the learner has no use for (and Xtr is large); a model adds its own.
PRIVATE = ("Xtr", "Ytr", "seed")


class ContextError(Exception):
    """The course's model code does not produce what its steps name."""


@dataclass
class Context:
    exercise: str
    device: str
    spec: ContextSpec
    inputs: dict[str, torch.Tensor]
    scalars: dict[str, int]
    reference: dict[str, torch.Tensor]
    loss: float
    # What the diagnosis layer derives from this context on first need (branch contributions, mistakes).
    derived: dict[str, Any] = field(default_factory=dict, repr=False)
    tag: str = ""  # tells apart contexts of one spec, e.g. the batches of a training loop
    # The sizes a second batch draws afresh (n, the vocabulary, the model's sizes it does not keep), and the
    # sizes it keeps: what a hard-coded size can be caught on, and what it cannot.
    varied: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    # What the notes call the check's first batch (the pack's name for it: "the lecture's batch").
    first_name: Message = field(default_factory=lambda: message("first-batch"))

    @property
    def key(self) -> str:
        spec = self.spec
        sizes = "".join(f"/{k}{v}" for k, v in (*spec.sizes, ("v", spec.vocab_size)) if v)
        return f"{self.exercise}/{self.device}/{spec.seed}/{spec.batch_size}{sizes}" + (f"/{self.tag}" if self.tag else "")


class TrainingSplits:
    """The dataset's examples, built once per block size."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._cache: dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}

    def fold(self, vocab_size: int) -> torch.Tensor:
        """Character index -> index in a smaller vocabulary: i > 0 becomes 1 + (i - 1) % (vocab_size - 1), so
        every size that depends on the vocabulary changes while the data keeps its shape."""
        index = torch.arange(self.dataset.vocab_size)
        return torch.where(index > 0, 1 + (index - 1) % (vocab_size - 1), index)

    def get(self, block_size: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if block_size not in self._cache:
            train, dev, test = split_words(self.dataset)
            stoi = self.dataset.stoi
            self._cache[block_size] = {
                "train": build_examples(train, stoi, block_size),
                "val": build_examples(dev, stoi, block_size),
                "test": build_examples(test, stoi, block_size),
            }
        return self._cache[block_size]


def model_sizes(exercise: Exercise, spec: ContextSpec) -> dict[str, int]:
    """The model's sizes in `spec`'s batch: the spec's where it draws them, else the model's own."""
    drawn = dict(spec.sizes)
    return {name: drawn.get(name, value) for name, value in exercise.model.sizes}


def run_model_code(exercise: Exercise, splits: TrainingSplits | None, spec: ContextSpec) -> dict[str, Any]:
    """Run the exercise's init and batch code on the CPU, as the lecture does, and return its names. `splits`:
    the model's data (None for a model without data, whose init or batch code draws its own inputs)."""
    model = exercise.model
    ns: dict[str, Any] = {"torch": torch, "F": F, "seed": spec.seed, "batch_size": spec.batch_size, "n": spec.batch_size}
    ns.update(model_sizes(exercise, spec))
    folded = False
    if splits is not None:
        Xtr, Ytr = splits.get(model.window_size)["train"]
        vocab_size = splits.dataset.vocab_size
        folded = spec.vocab_size is not None and spec.vocab_size < vocab_size
        if folded:
            vocab_size = spec.vocab_size
        ns.update(vocab_size=vocab_size, Xtr=Xtr, Ytr=Ytr)
    exec(course_code_object(model.init, f"<{exercise.id}: model.init>"), ns)
    if model.batch.strip():
        exec(course_code_object(model.batch, f"<{exercise.id}: model.batch>"), ns)
    if folded:  # the batch drawn from the training split, then spelt in the smaller vocabulary
        fold = splits.fold(ns["vocab_size"])  # type: ignore[union-attr]
        ns["Xb"], ns["Yb"] = fold[ns["Xb"]], fold[ns["Yb"]]
    for name in (*model.parameters, *model.inputs):
        if not isinstance(ns.get(name), torch.Tensor):
            raise ContextError(f"{exercise.source}: model code does not define the tensor {name!r}")
    return ns


def draw_second_spec(exercise: Exercise, vocab_size: int | None, rng: random.Random | None = None) -> ContextSpec:
    """A batch unlike the lecture's in every size: a fresh seed, and a batch size, each of the model's sizes
    but those it keeps, and the vocabulary (with data) each drawn between half and 1.5 times the checked one,
    never equal to any checked size nor to a product of two of them (so that a hard-coded 32, 27, 10, 30 or
    64 cannot match by chance)."""
    rng = rng or random.SystemRandom()
    model, first = exercise.model, exercise.context
    sizes = dict(model.sizes)
    varied = [name for name in sizes if name not in model.keep]
    checked = [first.batch_size, *sizes.values(), *([vocab_size] if vocab_size else [])]
    taken = set(checked) | {a * b for i, a in enumerate(checked) for b in checked[i + 1:]}
    taken -= {1}
    kept = [sizes[name] for name in model.keep]

    def draw(size: int, low: int, high: int, times: list[int] | None = None) -> int:
        """A size not taken, whose products with `times` (the kept sizes) are not taken either."""
        times = times or []
        choices = [v for v in range(max(low, size // 2), max(low, high) + 1)
                   if v not in taken and not any(v * k in taken for k in times)]
        value = rng.choice(choices) if choices else size + 1
        taken.update({value, *(value * k for k in times)})
        return value

    batch = draw(first.batch_size, 4, first.batch_size * 3 // 2)
    drawn = tuple((name, draw(sizes[name], 2, sizes[name] * 3 // 2, kept)) for name in varied)
    vocab = draw(vocab_size, 3, vocab_size - 1) if vocab_size and vocab_size > 4 else vocab_size
    return ContextSpec(seed=rng.randrange(1, 2**31 - 2), batch_size=batch, sizes=drawn, vocab_size=vocab)


def build_context(exercise: Exercise, splits: TrainingSplits, device: str, spec: ContextSpec) -> Context:
    return context_from_namespace(exercise, run_model_code(exercise, splits, spec), device, spec)


def context_from_namespace(exercise: Exercise, ns: dict[str, Any], device: str, spec: ContextSpec, tag: str = "") -> Context:
    """Run the forward pass with autograd on the parameters and batch in `ns` (which it changes)."""
    model = exercise.model
    for name in (*model.parameters, *model.inputs):
        ns[name] = ns[name].detach().to(device)
    for name, value in ns.items():  # what else init and batch made (a mask, fixed weights) goes with them
        if isinstance(value, torch.Tensor) and name not in PRIVATE and name not in (*model.parameters, *model.inputs):
            ns[name] = value.detach().to(device)
    for name in model.parameters:
        ns[name].requires_grad_(True)
    before = set(ns)
    with torch.enable_grad():
        exec(course_code_object(model.forward, f"<{exercise.id}: model.forward>"), ns)
        created = [k for k in ns if k not in before or k in model.parameters]
        for name in created:
            value = ns[name]
            if isinstance(value, torch.Tensor) and value.requires_grad and value.grad_fn is not None:
                value.retain_grad()
        loss = ns.get(model.loss)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ContextError(f"{exercise.source}: model.loss names {model.loss!r}, which is not a scalar tensor")
        loss.backward()

    def grad_of(of: str, what: str) -> torch.Tensor:
        tensor = ns.get(of)
        if not isinstance(tensor, torch.Tensor) or tensor.grad is None:
            raise ContextError(f"{exercise.source}: {what} names {of!r}, which gets no gradient from {model.loss!r}")
        return tensor.grad.detach().clone()

    reference = {step.name: grad_of(step.of, f"step {step.name}") for step in exercise.rows}
    inputs: dict[str, torch.Tensor] = {}
    for name, value in ns.items():
        if name in PRIVATE or name in model.private or name.startswith("_") or not isinstance(value, torch.Tensor):
            continue
        inputs[name] = value.detach().clone()
    for name in exercise.given:
        inputs[name] = grad_of(name.removeprefix("d"), f"given {name}")
    names = (*BASE_SCALARS, *(("vocab_size",) if "vocab_size" in ns else ()), *(name for name, _ in model.sizes))
    scalars = {k: int(ns[k]) for k in names}
    return Context(
        exercise=exercise.id,
        device=device,
        spec=spec,
        inputs=inputs,
        scalars=scalars,
        reference=reference,
        loss=float(loss.item()),
        tag=tag,
        varied=tuple(k for k in scalars if k != "batch_size" and k not in model.keep),
        kept=model.keep,
        first_name=exercise.pack.first_batch_words(),
    )
