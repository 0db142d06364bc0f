"""The engine and course layers run without a UI: importing them pulls in neither textual nor rich."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

CORE_MODULES = [
    "tutor.course",
    "tutor.engine.check",
    "tutor.engine.context",
    "tutor.engine.compare",
    "tutor.sandbox.client",
    "tutor.sandbox.zygote",
    "tutor.sandbox.spare",
    "tutor.service.server",
    "tutor.service.client",
    "tutor.engine.grids",
    "tutor.watch",
    "tutor.sandbox.isolate",
    "tutor.engine.branches",
    "tutor.engine.diagnose",
    "tutor.engine.judge",
    "tutor.engine.autograd_use",
    "tutor.engine.local",
    "tutor.sandbox.guard",
    "tutor.sandbox.privacy",
    "tutor.training",
    "tutor.training.worker",
    "tutor.training.stream",
    "tutor.training.client",
    "tutor.workspace",
    "tutor.reports.check",
    "tutor.reports.training",
    "tutor.progress",
    "tutor.progress_state",
    "tutor.journal",
    "tutor.notebook",
    "tutor.cell_source",
    "tutor.gradient_cmp",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_ui(module):
    code = f"import sys, {module}; bad = [m for m in ('textual', 'rich') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_client_does_not_import_torch():
    # The TUI holds a CheckClient and a TrainingClient; torch must load in their processes, or the first
    # paint waits for it.
    code = ("import sys, tutor.service.client, tutor.training.client, tutor.ui.app, tutor.ui.widgets.training; "
            "sys.exit('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
