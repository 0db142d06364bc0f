"""The package layering, read from the code: the import contracts in pyproject.toml ([tool.importlinter]).

One run of import-linter checks every module's imports, lazy ones included, against the contracts: the
layers (course and reports < engine < training < ui < cli), no textual or rich below the UI, no torch in
the TUI, the report types, the course or the progress store, and an engine that never touches progress.
What actually loads at run time is checked once, in a real process, by
tests/test_report_types.py::test_the_report_types_and_the_tui_load_no_torch.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

LINT = "import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = 'lint-imports'; lint_imports_command()"


def test_the_import_contracts_hold():
    result = subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    report = (result.stdout + result.stderr).strip()
    assert "Contracts:" in report, f"import-linter did not run:\n{report}"
    assert result.returncode == 0, (
        "an import breaks a contract in pyproject.toml [tool.importlinter]. The report below names the contract\n"
        "and the chain of imports (module -> module, with line numbers) that breaks it. Move the import, make\n"
        "it lazy in a module the contract allows, or, if the layering itself has changed, change the contract\n"
        f"and say why in its name.\n\n{report}"
    )
