"""The tutor in a real Jupyter kernel: nbclient runs a notebook that loads the extension, checks cells with
`%%ninja`, asks for a hint and progress, and uses the drop-in cmp; the outputs and the workspace are read back."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat (pip install '.[jupyter]')")
pytest.importorskip("nbclient", reason="needs nbclient to run a notebook in a kernel")
pytest.importorskip("ipykernel", reason="needs ipykernel to run a notebook in a kernel")

from tutor.course import load_course  # noqa: E402
from tutor.workspace.progress import ProgressStore  # noqa: E402

WRONG_BATCHNORM = (
    "dhprebn = -bngain*bnvar_inv/n * (n*dhpreact - dhpreact.sum(0) - n/(n-1)*bnraw*(dhpreact*bnraw).sum(0))\n"
    "cmp('hprebn', dhprebn, hprebn)"
)
RIGHT_CROSS_ENTROPY = "dlogits = F.softmax(logits, 1)\ndlogits[range(n), Yb] -= 1\ndlogits /= n\nran_here = tuple(dlogits.shape)"
# The learner's own small graph: logit_maxes (4, 1), and a keepdim mistake in their gradient of it.
OWN_GRAPH = """\
import torch
import torch.nn.functional as F
from tutor.jupyter import cmp
g = torch.Generator().manual_seed(0)
logits = torch.randn(4, 27, generator=g, requires_grad=True)
Yb = torch.tensor([1, 2, 3, 4]); n = 4
logit_maxes = logits.max(1, keepdim=True).values
logit_maxes.retain_grad()
loss = F.cross_entropy(logits - logit_maxes, Yb) + (logit_maxes ** 2).sum()
loss.backward()
cmp('logit_maxes', logit_maxes.grad.clone(), logit_maxes)
cmp('logit_maxes', logit_maxes.grad.sum(1), logit_maxes)"""


def outputs_text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "".join(parts)


def test_line_magic_commands_without_a_kernel(tmp_path, capsys):
    # the fast tier's cover of the extension: `%ninja` line commands in this process (the tests below that
    # run a real kernel are slow)
    from tutor.notebook.magics import NinjaSession

    ninja = NinjaSession(tmp_path / "elsewhere")
    said = ninja.command(f"workspace {tmp_path / 'ws'}")
    assert said == f"workspace: {tmp_path / 'ws'} (created 4 starter files)", said
    assert (tmp_path / "ws" / "atomic.py").is_file() and ninja.command("workspace") == f"workspace: {tmp_path / 'ws'}"
    assert ninja.command("nonsense").startswith("backprop-ninja: no command 'nonsense' here")
    assert ninja.command("list") is None and "dcounts_sum_inv" in capsys.readouterr().out


def test_a_hint_in_a_notebook_names_the_notebook_command_and_its_workspace(tmp_path, capsys):
    # `%ninja hint` runs the CLI's hint on the workspace set by `%ninja workspace`; what it says next is the
    # notebook's `%ninja hint ...`, never a shell command that would look in another workspace
    from tutor.notebook.magics import NinjaSession

    ninja = NinjaSession(tmp_path / "elsewhere")
    ninja.command(f"workspace {tmp_path / 'ws'}")
    capsys.readouterr()
    assert ninja.command("hint batchnorm dhprebn") is None
    out = capsys.readouterr().out
    assert "`%ninja hint batchnorm dhprebn`" in out and "backprop-ninja hint" not in out, out
    assert ProgressStore(tmp_path / "ws").hints_revealed("batchnorm", "dhprebn") == 1
    ninja.command("solution batchnorm")
    err = capsys.readouterr().err
    assert "`%%ninja batchnorm`" in err and "`%ninja solution batchnorm --reveal`" in err and "backprop-ninja check" not in err
    bare = NinjaSession(tmp_path / "none")
    bare.command("progress")
    err = capsys.readouterr().err
    assert f"`%ninja workspace {tmp_path / 'none'}`" in err and "backprop-ninja init" not in err, err


@pytest.fixture
def shell(tmp_path, checker):
    """An IPython shell in this process with the extension loaded, its session on the tests' warm Checker."""
    from IPython.core.interactiveshell import InteractiveShell

    import tutor.jupyter

    ipython = InteractiveShell.instance()
    ipython.run_cell("%load_ext tutor.jupyter")
    tutor.notebook.magics._session = tutor.notebook.magics.NinjaSession()
    tutor.notebook.magics._session.set_workspace(str(tmp_path / "ws"))
    tutor.notebook.magics._session._checker = checker
    yield ipython
    tutor.notebook.magics._session._checker = None  # the warm Checker is the session's to close, not the extension's
    ipython.run_cell("%unload_ext tutor.jupyter")
    InteractiveShell.clear_instance()


def test_a_cell_checked_in_a_kernel_without_the_lectures_tensors_says_so_in_one_line(shell, capfd):
    result = shell.run_cell("%%ninja cross-entropy\n" + RIGHT_CROSS_ENTROPY)
    out, err = capfd.readouterr()
    assert "dlogits matches autograd" in out, out  # the verdict, from the tutor's own context
    assert result.success and "Traceback" not in out + err and "NameError" not in out + err, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("backprop-ninja: the check above stands"), err
    assert "name 'F' is not defined" in lines[0] and "--no-run" in lines[0]


@pytest.mark.slow
def test_loading_the_extension_prints_nothing_even_without_numpy():
    # a kernel without NumPy: torch's "Failed to initialize NumPy" warning at import is not the learner's business
    import subprocess
    import sys

    code = "import sys; sys.modules['numpy'] = None; import tutor.jupyter"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and "NumPy" not in ran.stderr and ran.stdout == "", ran.stderr


def test_a_verdict_shows_as_html_and_as_text():
    # what a notebook displays for a check, without a kernel: an HTML table, and the CLI's text elsewhere
    from tests.conftest import report_of
    from tutor.views.html import VerdictView

    view = VerdictView(report_of({"dlogprobs": "exact", "dprobs": "wrong"}), heading="atomic")
    html = view._repr_html_()
    assert "<code>dlogprobs</code>" in html and "<code>dprobs</code>" in html and "wrong" in html
    assert repr(view).startswith("atomic") and "dprobs" in repr(view)


# the tests below read one notebook run in a real kernel: under -n they share a worker, which runs it once
KERNEL_RUN = pytest.mark.xdist_group("kernel-run")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from nbclient import NotebookClient
    from nbformat import v4

    folder = tmp_path_factory.mktemp("kernel")
    workspace = folder / "ws"
    sources = [
        f"%load_ext tutor.jupyter\n%ninja workspace {workspace}",
        OWN_GRAPH,
        "%%ninja batchnorm --no-run\n" + WRONG_BATCHNORM,
        "%%ninja cross-entropy\n" + RIGHT_CROSS_ENTROPY,
        "print('ran in the kernel:', ran_here)",
        "%ninja hint batchnorm dhprebn",
        "%ninja progress",
        "%%ninja nonsense\nx = 1",
    ]
    nb = v4.new_notebook(cells=[v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb.cells, workspace


@pytest.mark.slow
@KERNEL_RUN
def test_cell_magic_shows_the_engines_verdict_as_html_and_text(executed):
    cells, _ = executed
    shown = [o for o in cells[2].outputs if o.output_type == "display_data"]
    assert len(shown) == 1
    html, text = shown[0].data["text/html"], shown[0].data["text/plain"]
    assert "<table" in html and "color:#cf222e" in html and "likely mistake (sign)" in html and "(32, 64)" in html
    assert "dhprebn" in text and "wrong" in text and "likely mistake (sign)" in text
    assert "✘ batchnorm: 0/1 gradients pass" in text
    # --no-run: the cell's own cmp never ran in the kernel (it would have failed there: no hprebn)
    assert not [o for o in cells[2].outputs if o.output_type in ("stream", "error")]


@pytest.mark.slow
@KERNEL_RUN
def test_cell_magic_checks_in_the_tutors_context_then_runs_the_cell_here(executed):
    cells, _ = executed
    assert "✔ cross-entropy: dlogits matches autograd." in outputs_text(cells[3])
    assert "ran in the kernel: (4, 27)" in outputs_text(cells[4])  # the notebook's own small batch


@pytest.mark.slow
@KERNEL_RUN
def test_checks_are_recorded_in_the_workspace(executed):
    cells, workspace = executed
    state = ProgressStore(workspace).load()
    assert state["exercises"]["batchnorm"]["attempts"] == 1 and not state["exercises"]["batchnorm"]["passed"]
    assert state["exercises"]["cross-entropy"]["passed"]
    rungs = len(load_course().find("batchnorm").step("dhprebn").hints)
    assert f"hint 1 of {rungs}" in outputs_text(cells[5])
    assert "`%ninja hint batchnorm dhprebn`" in outputs_text(cells[5])  # the notebook's command, not the shell's
    assert state["exercises"]["batchnorm"]["steps"]["dhprebn"]["hints"] == 1
    progress = outputs_text(cells[6])
    assert "cross-entropy" in progress and "passed" in progress


@pytest.mark.slow
@KERNEL_RUN
def test_drop_in_cmp_in_the_learners_notebook(executed):
    cells, _ = executed
    lines = outputs_text(cells[1]).splitlines()
    assert lines[0] == f"{'logit_maxes':15s} | exact: True  | approximate: True  | maxdiff: 0.0"
    assert "yours is (4,), logit_maxes.grad is (4, 1): not compared" in lines[2]
    assert lines[3].startswith("  likely mistake (keepdim)")


@pytest.mark.slow
@KERNEL_RUN
def test_unknown_exercise_is_one_line_and_the_cell_does_not_run(executed):
    cells, _ = executed
    text = outputs_text(cells[7])
    assert text.startswith("backprop-ninja: no exercise 'nonsense'") and "Traceback" not in text
