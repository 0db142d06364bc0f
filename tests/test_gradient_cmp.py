"""The drop-in cmp: the lecture's line, a shape check that never broadcasts, and the likely mistake."""

from __future__ import annotations

import pytest
import torch

from tutor.notebook.cmp import cmp, compare_lines


@pytest.fixture
def graph():
    """A small graph like the lecture's: logits (32, 27), their row maxes (32, 1), a gain (1, 27)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 27, generator=g, requires_grad=True)
    gain = torch.randn(1, 27, generator=g, requires_grad=True)
    logit_maxes = logits.max(1, keepdim=True).values
    logit_maxes.retain_grad()
    w = torch.randn(27, 5, generator=g)
    loss = (((logits - logit_maxes) * gain) @ w).tanh().mean()
    loss.backward()
    return logits, logit_maxes, gain


def test_right_gradient_prints_the_lectures_line(graph, capsys):
    logits, _, _ = graph
    cmp("logits", logits.grad.clone(), logits)
    assert capsys.readouterr().out == f"{'logits':15s} | exact: True  | approximate: True  | maxdiff: 0.0\n"


def test_a_shape_that_would_broadcast_is_not_compared(graph):
    _, logit_maxes, _ = graph
    wrong = logit_maxes.grad.view(32)  # (32,) against (32, 1): == would compare a (32, 32) grid
    lines = compare_lines("logit_maxes", wrong, logit_maxes)
    assert lines[0].startswith(f"{'logit_maxes':15s} | exact: False | approximate: False | maxdiff: —")
    assert "yours is (32,), logit_maxes.grad is (32, 1): not compared" in lines[1]
    assert lines[2].startswith("  likely mistake (keepdim): right values, but shape (32,) drops a dimension of (32, 1)")


def test_leading_ones_pass_with_a_note(graph):
    _, _, gain = graph
    lines = compare_lines("bngain", gain.grad.view(27), gain)
    assert "exact: True" in lines[0] and len(lines) == 2
    assert "differs from (1, 27) only by leading 1s" in lines[1]


@pytest.mark.parametrize("mistake, code, words", [
    (lambda g: -g, "sign", "a sign is flipped"),
    (lambda g: g * 32, "scale", "off by a factor of 32"),
    (lambda g: g * 31 / 32, "scale", "31/32: Bessel's correction"),
    (lambda g: g.T.contiguous(), "transpose", "the transpose of the right answer"),
])
def test_likely_mistake_of_a_wrong_gradient(graph, mistake, code, words):
    logits, _, _ = graph
    lines = compare_lines("logits", mistake(logits.grad), logits)
    assert "approximate: False" in lines[0]
    assert lines[-1].startswith(f"  likely mistake ({code}):") and words in lines[-1]


def test_an_unreduced_gradient_names_the_sum_and_the_forward_line(graph):
    logits, _, gain = graph
    unreduced = gain.grad.expand(32, 27) / 32  # one row per example: summing over axis 0 gives the answer
    lines = compare_lines("bngain", unreduced, gain)
    assert lines[-1].startswith("  likely mistake (reduce): not summed over axis 0")
    assert "`hpreact = bngain * bnraw + bnbias`" in lines[-1]


def test_an_unexplained_wrong_gradient_says_only_the_line(graph):
    logits, _, _ = graph
    noise = torch.randn(32, 27, generator=torch.Generator().manual_seed(1))
    assert len(compare_lines("logits", logits.grad + noise, logits)) == 1


def test_missing_grad_and_non_tensors_are_one_line(graph):
    logits, _, _ = graph
    assert "has no .grad" in compare_lines("probs", logits.grad, logits.detach() * 2)[0]
    assert "is a NoneType, not a tensor" in compare_lines("logits", None, logits)[0]
