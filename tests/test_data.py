"""The names dataset: the bundled list, the lecture's split, and clear errors for unusable files."""

from __future__ import annotations

import pytest

from tests.conftest import LECTURE_NAMES
from tutor.engine.data import DataError, build_examples, load_names, split_words


def test_bundled_names():
    data = load_names()
    assert len(data.words) == 5163
    assert data.vocab_size == 27 and data.stoi["."] == 0 and data.itos[1] == "a" and data.itos[26] == "z"
    assert all(w.isalpha() and w.islower() and w.isascii() for w in data.words)


def test_split_is_80_10_10_and_deterministic():
    data = load_names()
    train, dev, test = split_words(data)
    assert (len(train), len(dev), len(test)) == (4130, 516, 517)
    assert split_words(data) == (train, dev, test)


def test_examples_follow_the_lecture():
    data = load_names()
    X, Y = build_examples(["emma"], data.stoi, 3)
    assert X.tolist() == [[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1]]
    assert Y.tolist() == [5, 13, 13, 1, 0]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "at least 10"),
        (b"\x00\x00", "not a text file"),
        (b"\xff\xfe bad", "not UTF-8"),
        (b"anna\nmary ann\n", "white space"),
        (b"anna\nbob.\n", "'.'"),
    ],
)
def test_unusable_files(tmp_path, content, message):
    path = tmp_path / "names.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_names(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_names(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="is a folder"):
        load_names(tmp_path)


def test_file_defines_its_own_vocabulary(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("\n".join(["zoë", "éva", "ana"] * 5) + "\n")
    data = load_names(path)
    assert data.vocab_size == len(set("zoëévaana")) + 1


@pytest.mark.lecture
def test_lecture_split_shapes():
    data = load_names(LECTURE_NAMES)
    assert len(data.words) == 32033 and data.vocab_size == 27
    splits = [build_examples(words, data.stoi, 3)[0] for words in split_words(data)]
    assert [tuple(x.shape) for x in splits] == [(182625, 3), (22655, 3), (22866, 3)]
