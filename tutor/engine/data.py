"""The names dataset: reading a one-name-per-line file, its vocabulary, and the lecture's 80/10/10 split."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "names.txt"
SPLIT_SEED = 42
# 16 MB (70 times the lecture's names.txt) builds its examples in well under 30 s on 2 cores; the
# examples take about 32 bytes per character of the file as int64 tensors, so larger files cost gigabytes.
MAX_BYTES = 16 * 1024 * 1024


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


# A name that is plain printable ASCII without '.' or white space needs no character-by-character look.
_PLAIN_ASCII = re.compile(r"[!-\-/-~]*")
BOM = "\ufeff"
# Lines of such names and nothing else (no CR, no spaces): the common case, checked in one pass.
_CLEAN_CHUNK = re.compile(r"[!-\-/-~\n]*")
CHUNK = 4 * 1024 * 1024


def _problem(word: str) -> str | None:
    if _PLAIN_ASCII.fullmatch(word):
        return None
    for ch in word:
        if ch == ".":
            return "'.' (reserved for the start/end token)"
        if ch.isspace():
            return "white space inside a name"
        if unicodedata.category(ch).startswith("C"):
            return f"the control character {ch!r}"
    return None


def _chunk_words(text: str, path: Path, first_line: int) -> list[str]:
    """The names in whole lines of text; plain ASCII chunks are checked by one regex, others line by line."""
    if _CLEAN_CHUNK.fullmatch(text):
        return [word for word in text.split("\n") if word]
    words = []
    for number, line in enumerate(text.splitlines(), start=first_line):
        word = line.strip()
        if not word:
            continue
        problem = _problem(word)
        if problem:
            raise DataError(f"{path}:{number}: the name {word!r} holds {problem}; expected one name per line")
        words.append(word)
    return words


def load_names(path: Path | None = None) -> Dataset:
    """Read names in chunks (the whole file is never held twice); raise DataError with one clear line for a
    missing, empty or unusable file. A UTF-8 byte-order mark at the start is allowed."""
    path = Path(path) if path is not None else BUNDLED
    words: list[str] = []
    try:
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a names file")
        if not path.is_file() and path.exists():
            raise DataError(f"{path} is not a regular file; expected one name per line")
        if path.stat().st_size > MAX_BYTES:
            raise DataError(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MB; expected one name per line")
        with path.open("rb") as handle:
            offset, first_line, rest = 0, 1, b""
            while True:
                block = handle.read(CHUNK)
                data = rest + block
                # whole lines only (the last, unfinished one waits for the next block)
                cut = data.rfind(b"\n") + 1 if block else len(data)
                if not data:
                    break
                chunk, rest = data[:cut], data[cut:]
                if b"\x00" in chunk:
                    raise DataError(f"{path} is not a text file (it holds NUL bytes)")
                try:
                    text = chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(f"{path} is not UTF-8 text (bad byte at offset {offset + exc.start})") from None
                if offset == 0:
                    text = text.removeprefix(BOM)
                words.extend(_chunk_words(text, path, first_line))
                offset += len(chunk)
                first_line += text.count("\n")
                if not block:
                    break
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except OSError as exc:
        raise DataError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(words) < 10:
        raise DataError(f"{path} holds {len(words)} name{'' if len(words) == 1 else 's'}; at least 10 are needed for the 80/10/10 split")
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    return Dataset(path=path, words=tuple(words), stoi=stoi, itos=itos)


def split_words(dataset: Dataset) -> tuple[list[str], list[str], list[str]]:
    """The lecture's shuffle (random.seed(42)) and 80/10/10 split."""
    words = list(dataset.words)
    import random  # here: the command line reads this module for DataError alone

    random.Random(SPLIT_SEED).shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]


def build_examples(words: list[str], stoi: dict[str, int], block_size: int):
    """Context windows and next-character targets, as the lecture's build_dataset makes them.

    Built with tensor operations over all words at once (no Python list per example: a large names file
    would take gigabytes that way): the words are laid end to end, each after block_size start tokens and
    before one end token, and every position that is not a leading start token is one example."""
    import torch

    if not words:
        return torch.empty((0, block_size), dtype=torch.long), torch.empty((0,), dtype=torch.long)
    # every character's id; "." (never in a name) stands for the start and end tokens, id 0
    pad = "." * block_size
    text = pad + ("." + pad).join(words) + "."  # the same as "".join(pad + w + "." for w in words), in C
    points = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32).to(torch.long)
    del text
    chars = sorted(stoi, key=ord)
    table = torch.tensor([ord(ch) for ch in chars], dtype=torch.long)
    ids = torch.tensor([stoi[ch] for ch in chars], dtype=torch.long)[torch.searchsorted(table, points)]
    del points
    lengths = torch.tensor(list(map(len, words)), dtype=torch.long) + (block_size + 1)
    starts = torch.cumsum(lengths, 0) - lengths
    within = torch.arange(ids.numel(), dtype=torch.long) - torch.repeat_interleave(starts, lengths)
    targets = torch.nonzero(within >= block_size).squeeze(1)
    del within
    X = torch.stack([ids[targets - block_size + j] for j in range(block_size)], dim=1)
    return X, ids[targets]
