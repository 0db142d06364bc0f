"""The names dataset: reading a one-name-per-line file, its vocabulary, and the lecture's 80/10/10 split."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "names.txt"
SPLIT_SEED = 42
MAX_BYTES = 64 * 1024 * 1024


class DataError(Exception):
    """A names file the tutor cannot use; the message is one line meant for the learner."""


@dataclass(frozen=True)
class Dataset:
    path: Path
    words: tuple[str, ...]
    stoi: dict[str, int]
    itos: dict[int, str]

    @property
    def vocab_size(self) -> int:
        return len(self.itos)


def _problem(word: str) -> str | None:
    for ch in word:
        if ch == ".":
            return "'.' (reserved for the start/end token)"
        if ch.isspace():
            return "white space inside a name"
        if unicodedata.category(ch).startswith("C"):
            return f"the control character {ch!r}"
    return None


def load_names(path: Path | None = None) -> Dataset:
    """Read names; raise DataError with one clear line for a missing, empty or unusable file."""
    path = Path(path) if path is not None else BUNDLED
    try:
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a names file")
        if path.stat().st_size > MAX_BYTES:
            raise DataError(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MB; expected one name per line")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except OSError as exc:
        raise DataError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise DataError(f"{path} is not a text file (it holds NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from None
    words = [line.strip() for line in text.splitlines()]
    for number, word in enumerate(words, start=1):
        problem = _problem(word) if word else None
        if problem:
            raise DataError(f"{path}:{number}: the name {word!r} holds {problem}; expected one name per line")
    words = [w for w in words if w]
    if len(words) < 10:
        raise DataError(f"{path} holds {len(words)} names; at least 10 are needed for the 80/10/10 split")
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    return Dataset(path=path, words=tuple(words), stoi=stoi, itos=itos)


def split_words(dataset: Dataset) -> tuple[list[str], list[str], list[str]]:
    """The lecture's shuffle (random.seed(42)) and 80/10/10 split."""
    words = list(dataset.words)
    random.Random(SPLIT_SEED).shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]


def build_examples(words: list[str], stoi: dict[str, int], block_size: int):
    """Context windows and next-character targets, as the lecture's build_dataset makes them."""
    import torch

    xs: list[list[int]] = []
    ys: list[int] = []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            xs.append(context)
            ys.append(ix)
            context = context[1:] + [ix]
    X = torch.tensor(xs, dtype=torch.long).reshape(len(xs), block_size)
    return X, torch.tensor(ys, dtype=torch.long)
