"""The tutor's screen in Chinese: snapshots of the exercise screen (a failing step's diagnosis, a revealed
hint) and of the home screen at 80×24 and 120×40, switching the language from the command palette, and the
language a start of the tutor speaks (update snapshots with --snapshot-update only after reading them)."""

from __future__ import annotations

import pytest

from tests.test_ui_snapshots_teaching import (  # noqa: F401 - home is a fixture
    SECOND_BATCH,
    SIZES,
    DiagnosingChecker,
    SecondBatchChecker,
    exercise_app,
    home,
)
from tests.ui_fakes import FakeChecker, FakeStore, FakeTrainer
from tests.ui_helpers import settle, tutor_app, wait_for
from tutor.lang import chosen as language_chosen
from tutor.ui.app import TutorApp, make_app
from tutor.ui.screens.exercise import ExerciseScreen
from tutor.ui.words import relabel_keys, starting_language


class CourseDiagnosingChecker(DiagnosingChecker):
    """The diagnosis as the real checker sends a course mistake: a message with the course's words in both
    languages (the screen shows the one it speaks)."""

    def check(self, exercise_id, path):
        reply = super().check(exercise_id, path)
        exercise = self.course.find(exercise_id)
        for t in reply["tensors"]:
            if t.get("diagnosis"):
                mistake = exercise.step(t["name"]).mistakes[0]
                t["diagnosis"].update(message_code="course",
                                      params={"text": mistake.message, "text_zh": mistake.text("message", "zh")})
        return reply


def in_chinese(app: TutorApp) -> TutorApp:
    """The app as `backprop-ninja --lang zh` starts it (before it runs, nothing is shown yet), with the real
    checker's course diagnoses."""
    app.lang = "zh"
    relabel_keys(app, "zh")
    app.checker = CourseDiagnosingChecker(app.course)
    return app


FAILING = {"dlogprobs": "X", "dprobs": "WRONG"}


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_chinese_failing_step_with_its_diagnosis(snap_compare, course, home, size):  # noqa: F811
    app = in_chinese(exercise_app(course, home, "atomic", None, FAILING))
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_snapshot_chinese_failing_table_at_80x24_shows_whole_statuses(snap_compare, course, home):  # noqa: F811
    app = in_chinese(exercise_app(course, home, "atomic", None, SECOND_BATCH, checker=SecondBatchChecker))
    app.checker = SecondBatchChecker(course)  # its hard-coded-size diagnosis is the engine's, in both languages
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def pressing(*keys: str):
    """What to do before the picture: let the first check finish, then press `keys`, each settling."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_chinese_revealed_hint(snap_compare, course, home, size):  # noqa: F811
    app = in_chinese(exercise_app(course, home, "atomic", None, FAILING))
    assert snap_compare(app, terminal_size=size, run_before=pressing("h"))


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_chinese_home(snap_compare, course, home, size):  # noqa: F811
    app = in_chinese(tutor_app(course, home, watch=False))
    assert snap_compare(app, terminal_size=size, run_before=settle)


async def test_switching_language_from_the_palette_is_shown_and_remembered(course, tmp_path, monkeypatch):
    for name in ("BACKPROP_NINJA_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C")
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExerciseScreen) and screen.title.startswith("1. Backprop")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Language")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: app.lang == "zh")
        await settle(pilot)
        assert app.screen is screen and screen.title == "练习 1：" + course.find("atomic").text("title", "zh")
        assert str(screen.query_one("#steps").columns["status"].label) == "状态"
        assert app.watch_state == "未监视保存：按 c 重新检查"
        assert "重新检查" in [b.binding.description for b in screen.active_bindings.values()]
        await pilot.press("escape")  # the home screen beneath was switched too
        await settle(pilot)
        table = app.screen.query_one("#exercises")
        assert app.screen.sub_title == "主页" and str(table.columns["progress"].label) == "进度"
        assert str(table.get_cell("atomic", "exercise")) == course.find("atomic").text("title", "zh")
    assert app.workspace.setting("lang") == "zh"

    # The next start speaks Chinese, unless --lang (or BACKPROP_NINJA_LANG) says otherwise.
    fakes = {"store": FakeStore(), "checker": FakeChecker(course), "trainer": FakeTrainer()}
    assert make_app(course, tmp_path, **fakes).lang == "zh"
    assert make_app(course, tmp_path, lang="en", **fakes).lang == "en"


def test_the_language_a_start_speaks():
    assert starting_language("en", "zh", {"LANG": "zh_CN.UTF-8"}) == "en"  # --lang / BACKPROP_NINJA_LANG first
    assert starting_language(None, "zh", {"LANG": "en_US.UTF-8"}) == "zh"  # then the workspace's
    assert starting_language(None, None, {"LANG": "zh_CN.UTF-8"}) == "zh"  # then the locale
    assert starting_language(None, "klingon", {}) == "en"  # a remembered language it does not speak: English
    assert language_chosen("zh", {}) and language_chosen("en", {"LANG": "zh_CN.UTF-8"})
    assert language_chosen(None, {"BACKPROP_NINJA_LANG": "zh"})
    assert not language_chosen(None, {"LANG": "zh_CN.UTF-8"})


def chinese_app(course, tmp_path) -> TutorApp:
    """The tutor started in Chinese on exercise 1."""
    from tests.ui_helpers import workspace

    store = FakeStore()
    store.set_current("atomic", None)
    return TutorApp(course, workspace(course, tmp_path), store, FakeChecker(course), trainer=FakeTrainer(), watch=False,
                    lang="zh")


async def test_lang_in_the_palette_finds_the_language_command_in_chinese_too(course, tmp_path):
    # in English "lang" matches "Language: English / 中文" (test_switching_language_... types "Language")
    app = chinese_app(course, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"lang")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: app.lang == "en")


async def test_the_palette_and_the_keys_in_chinese_have_no_english_words(course, tmp_path):
    from textual.command import CommandInput

    from tests.test_zh_no_english import hits
    from tests.ui_helpers import plain
    from tutor.ui.widgets.keys_panel import KeysTable

    app = chinese_app(course, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shown = [c for c in app.get_system_commands(app.screen) if c.discover]  # what the palette lists
        texts = {c.title: f"{c.title} {c.help}" for c in shown}
        await pilot.press("question_mark")
        await settle(pilot)
        texts["keys"] = plain(app.screen.query_one(KeysTable).render())
        assert "到底部 (ctrl+end)" in texts and "主题" in texts and "到底部" in texts["keys"], sorted(texts)
        await pilot.press("ctrl+p")
        await pilot.pause()
        texts["placeholder"] = app.screen.query_one(CommandInput).placeholder
    assert texts["placeholder"] == "搜索命令…" and hits(texts) == {}
