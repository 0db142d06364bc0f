"""The streaming entry point the TUI trains through: real runs of the reference solution, cancel, crashes."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REFERENCE_STEPS, ROOT
from tests.ui_fakes import FakeRun, FakeStore, FakeTrainer
from tests.ui_helpers import plain, settle, tutor_app, wait_for
from tutor.training.client import TrainingClient
from tutor.ui.widgets.training import TrainingPanel

SOLUTION = ROOT / "solutions" / "training.py"


@pytest.fixture
def reference_lines(reference_stream):
    return reference_stream


@pytest.mark.slow
@pytest.mark.xdist_group("reference-training")  # one worker trains, once
def test_stream_of_the_reference_solution_reports_every_stage(reference_lines):
    lines = reference_lines
    kinds = [line["type"] for line in lines]
    assert kinds[-1] == "result" and kinds.count("result") == 1
    phases = [(line["phase"], line["who"]) for line in lines if line["type"] == "phase"]
    assert phases == [("grad-check", "learner"), ("train", "learner"), ("evaluate", "learner"),
                      ("reference", "reference"), ("evaluate", "reference")]
    checks = [line for line in lines if line["type"] == "grad-check"]
    assert [c["step"] for c in checks] == [0, 1, 2, 3, 4] and all(c["passed"] for c in checks)
    progress = [line for line in lines if line["type"] == "progress" and line["who"] == "learner"]
    assert progress[-1]["step"] == REFERENCE_STEPS and sum(len(p["lossi"]) for p in progress) == REFERENCE_STEPS
    result = lines[-1]["result"]
    assert result["passed"] and not lines[-1]["cancelled"]
    assert result["train"]["difference"]["val"] < 0.01
    assert len(result["samples"]["learner"]) == 20 == len(result["samples"]["reference"])
    assert lines[-1]["reference_seconds"] > 0



@pytest.mark.slow
@pytest.mark.xdist_group("reference-training")  # one worker trains, once
async def test_the_real_lines_show_in_the_app(course, tmp_path, reference_lines):
    result = reference_lines[-1]["result"]
    store = FakeStore()
    store.set_current("training", None)
    trainer = FakeTrainer(FakeRun(reference_lines))
    app = tutor_app(course, tmp_path, store=store, trainer=trainer, watch=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        panel = app.screen.query_one(TrainingPanel)
        assert await wait_for(pilot, lambda: panel.last is not None)
        text = " ".join(plain(app.screen.query_one("#train-results").content).split())
        assert f"your gradients {REFERENCE_STEPS:,} {result['train']['learner']['train']:.4f}" in text
        shortest = min(result["samples"]["learner"], key=len)  # long ones are cut with … to fit
        assert f" {shortest} " in plain(app.screen.query_one("#train-samples").content)


@pytest.mark.slow
def test_cancelling_a_real_run_keeps_the_model_so_far(tmp_path):
    run = TrainingClient().start("training", SOLUTION)  # the default, longer run
    lines = []
    for line in run.events():
        lines.append(line)
        if line["type"] == "progress":
            run.cancel()
    final = lines[-1]
    assert final["type"] == "result" and final["cancelled"], final
    train = final["result"]["train"]
    assert 0 < train["steps"] < train["requested_steps"]
    assert train["learner"]["val"] > 0 and train["reference"] is None
    assert len(final["result"]["samples"]["learner"]) == 20


@pytest.mark.slow
def test_a_bad_file_or_a_dead_process_ends_with_one_clear_line(tmp_path):
    missing = list(TrainingClient().start("training", tmp_path / "gone.py").events())
    assert [line["type"] for line in missing] == ["error"] and "does not exist" in missing[0]["message"]
    dying = TrainingClient(command=[sys.executable, "-c", "print('{\"type\": \"phase\", \"phase\": \"train\"}'); exit(3)"])
    lines = list(dying.start("training", SOLUTION).events())
    assert lines[0]["type"] == "phase"
    assert lines[-1]["type"] == "crashed" and "exit code 3" in lines[-1]["message"]


def test_each_stream_line_is_one_json_object_and_a_closed_reader_is_no_error():
    # the fast tier's cover of the stream and the worker, in this process (the tests above start them)
    import io
    import json

    from tutor.training.stream import LineWriter
    from tutor.training.worker import recheck_due

    out = io.StringIO()
    LineWriter(out)({"type": "progress", "lossi": [float("nan"), 0.5]})
    assert out.getvalue().count("\n") == 1 and json.loads(out.getvalue())["lossi"][1] == 0.5
    closed = io.StringIO()
    closed.close()
    LineWriter(closed)({"type": "phase"})  # the reader went away: nothing to tell, nothing raised
    assert [step for step in range(3000) if recheck_due(step, 3000)] == [1000, 2000, 2999]

