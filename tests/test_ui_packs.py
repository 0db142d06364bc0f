"""The tutor on another pack: snapshots at 80×24 of the transformer pack's attention exercise, a failing step
with its diagnosis in English and in Chinese, and a passed step's why (a pack without a lecture: no moment
to point at). Update with --snapshot-update only after looking at the report."""

from __future__ import annotations

import pytest

from tests.test_ui_snapshots_teaching import exercise_app, home  # noqa: F401 - a fixture
from tests.test_ui_zh import in_chinese
from tests.ui_helpers import settle
from tutor.course import load_course
from tutor.course.packs import pack_root


@pytest.fixture(scope="module")
def transformer():
    return load_course(pack_root("transformer"))


# the rows above dscores pass; dscores is wrong: its diagnosis is the pack's dropped-mask mistake
ABOVE = ("dout", "dWo", "dy", "datt", "dv", "dwsum_inv", "dwsum", "dwexp", "dwn", "dwmax", "dwei")
ANSWERS = {**dict.fromkeys(ABOVE, "X"), "dscores": "WRONG"}


def test_snapshot_transformer_exercise_with_a_failing_step(snap_compare, transformer, home):  # noqa: F811
    app = exercise_app(transformer, home, "attention", "dscores", ANSWERS)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_snapshot_transformer_exercise_in_chinese(snap_compare, transformer, home):  # noqa: F811
    app = in_chinese(exercise_app(transformer, home, "attention", "dscores", ANSWERS))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_snapshot_transformer_passed_step_with_its_why(snap_compare, transformer, home):  # noqa: F811
    app = exercise_app(transformer, home, "softmax", "dwei", {"dwei": "X"})
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
