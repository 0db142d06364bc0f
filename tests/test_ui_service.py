"""The check service answers real checks (one torch process), draws grids, and reports usage problems."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tutor.service.client import CheckClient

# a real check service: a process that loads torch and builds the contexts (seconds); the module's tests share
# one, and under -n a worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("check-service")]


@pytest.fixture(scope="module")
def client():
    c = CheckClient(timeout=10.0)
    c.start()
    yield c
    c.close()


def test_service_passes_the_atomic_reference_solution(client):
    reply = client.check("atomic", ROOT / "solutions" / "atomic.py")
    assert reply["type"] == "report", reply
    assert reply["passed"] is True
    assert [t["name"] for t in reply["tensors"]][:2] == ["dlogprobs", "dprobs"]
    grid = reply["grids"]["dlogits"]
    assert (grid["value"]["rows"], grid["value"]["cols"]) == (32, 27)
    # dlogits rows sum to zero: the picture of the gradient carries real values, not placeholders.
    assert all(abs(sum(row)) < 1e-3 for row in grid["value"]["cells"])


def test_service_draws_a_wrong_column_as_a_column(client, tmp_path):
    wrong = tmp_path / "cross_entropy.py"
    # Correct except column 5, which is doubled: the difference grid must light up that column only.
    wrong.write_text("dlogits = F.softmax(logits, 1)\ndlogits[range(n), Yb] -= 1\ndlogits /= n\ndlogits[:, 5] *= 2\n")
    reply = client.check("cross-entropy", wrong)
    assert reply["tensors"][0]["status"] == "wrong"
    cells = reply["grids"]["dlogits"]["diff"]["cells"]
    assert all(row[5] > 1e-4 for row in cells)
    assert all(v < 1e-6 for row in cells for j, v in enumerate(row) if j != 5)  # float noise only


def test_service_draws_a_size_root_on_the_batch_where_it_fails(client, tmp_path):
    wrong = tmp_path / "atomic.py"
    solution = (ROOT / "solutions" / "atomic.py").read_text(encoding="utf-8")
    wrong.write_text(solution.replace("dlogprobs[range(n), Yb] = -1.0 / n", "dlogprobs[range(n), Yb] = -1.0/32"))
    reply = client.check("atomic", wrong)
    diff = reply["grids"]["dlogprobs"]["diff"]
    # on the lecture's batch the line is right (nothing to draw): the picture is the second batch's, named
    assert diff["max"] > 0 and diff["shape"][0] != 32
    sizes = diff["batch"]["params"]["sizes"]["params"]["sizes"]  # "n=17, vocab_size=…": the batch's own sizes
    assert diff["batch"]["code"] == "grid-second-batch" and sizes.startswith(f"n={diff['shape'][0]},")
    assert reply["grids"]["dlogprobs"]["value"]["rows"] == 32  # the gradient itself stays the lecture's


def test_service_answers_usage_problems_with_an_error_reply(client, tmp_path):
    unknown = client.check("nope", tmp_path / "x.py")
    assert unknown["type"] == "error" and "no exercise" in unknown["message"]
    missing = client.check("atomic", tmp_path / "gone.py")
    assert missing["type"] == "error" and "does not exist" in missing["message"]


def test_service_survives_garbage_lines():
    proc = subprocess.run([sys.executable, "-m", "tutor.service.server"], input='not json\n{"exercise": "9"}\n',
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = proc.stdout.splitlines()
    assert '"type": "ready"' in lines[0]
    assert "not JSON" in lines[1] and "no exercise '9'" in lines[2]
    assert proc.returncode == 0
