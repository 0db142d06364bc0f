"""The parsed course kept between commands: the same pack comes back from the cache, a changed file is parsed
again, and a cache folder that is not the user's alone is never read."""

from __future__ import annotations

import os
import shutil

import pytest

from tutor.course import cache as course_cache
from tutor.course import load_course
from tutor.course.load import course_root


@pytest.fixture
def pack(tmp_path, monkeypatch):
    """A copy of the lecture's pack, and a cache of its own."""
    root = tmp_path / "pack"
    for part in ("exercises", "solutions"):
        shutil.copytree(course_root() / part, root / part)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(course_cache.ENV_VAR, raising=False)
    return root


def count_parses(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = course_cache.load_course

    def counting(root):
        calls.append(1)
        return real(root)

    monkeypatch.setattr(course_cache, "load_course", counting)
    return calls


def test_the_second_command_reads_the_course_from_the_cache(pack, monkeypatch):
    parses = count_parses(monkeypatch)
    first = course_cache.cached_course(pack)
    second = course_cache.cached_course(pack)
    assert len(parses) == 1
    assert second == first == load_course(pack)
    assert [e.id for e in second.exercises] == [e.id for e in load_course(pack).exercises]


def test_a_changed_exercise_file_is_parsed_again(pack, monkeypatch):
    parses = count_parses(monkeypatch)
    course_cache.cached_course(pack)
    toml = pack / "exercises" / "atomic.toml"
    text = toml.read_text(encoding="utf-8")
    title = load_course(pack).find("atomic").title
    toml.write_text(text.replace(title, title + " (edited)", 1), encoding="utf-8")
    assert course_cache.cached_course(pack).find("atomic").title == title + " (edited)"
    assert len(parses) == 2


def test_a_cache_folder_open_to_others_is_not_read(pack, monkeypatch):
    course_cache.cached_course(pack)
    folder = course_cache.cache_folder()
    (path,) = folder.glob("*.pickle")
    path.write_bytes(b"not a course")
    os.chmod(folder, 0o777)
    parses = count_parses(monkeypatch)
    assert course_cache.cached_course(pack) == load_course(pack)  # parsed, not unpickled
    assert len(parses) == 1 and path.read_bytes() == b"not a course"  # and nothing is written there either


def test_a_broken_cache_file_costs_only_a_parse(pack, monkeypatch):
    course_cache.cached_course(pack)
    (path,) = course_cache.cache_folder().glob("*.pickle")
    path.write_bytes(b"\x80\x04truncated")
    assert course_cache.cached_course(pack) == load_course(pack)


def test_the_cache_can_be_switched_off(pack, monkeypatch):
    monkeypatch.setenv(course_cache.ENV_VAR, "0")
    parses = count_parses(monkeypatch)
    course_cache.cached_course(pack)
    course_cache.cached_course(pack)
    assert len(parses) == 2 and not (course_cache.cache_folder() or pack).exists()
