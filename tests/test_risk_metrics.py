"""Margin, importance weights and the accuracies against hand-computed values."""
import math

import numpy as np
import pytest
import torch

from wmrlib.method import metrics
from wmrlib.method.risk import importance_weights, margin, normalized_weights


def logits_from_probs(p):
    return torch.log(torch.tensor(p, dtype=torch.float64))


def test_margin_hand_computed():
    logits = logits_from_probs([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
    y = torch.tensor([0, 1, 2])
    # 0.7 - 0.2, 0.2 - 0.7, 0.5 - 0.25
    assert torch.allclose(margin(logits, y), torch.tensor([0.5, -0.5, 0.25]), atol=1e-6)


def test_margin_is_shift_invariant_and_bounded():
    torch.manual_seed(0)
    logits = torch.randn(50, 10) * 5
    y = torch.randint(0, 10, (50,))
    m = margin(logits, y)
    assert torch.allclose(m, margin(logits + 3.0, y), atol=1e-6)
    assert (m >= -1).all() and (m <= 1).all()
    assert ((m > 0) == (logits.argmax(1) == y)).all()


def test_importance_weights_hand_computed_and_differentiable():
    logits = logits_from_probs([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]]).requires_grad_(True)
    y = torch.tensor([0, 1])
    w = importance_weights(logits, y, alpha=2.0)
    assert torch.allclose(w.detach(), torch.tensor([math.exp(-1.0), math.exp(1.0)], dtype=w.dtype), atol=1e-6)
    (g,) = torch.autograd.grad(w.sum(), logits)
    assert g.abs().sum() > 0


def test_alpha_zero_gives_uniform_weights():
    logits = torch.randn(7, 10)
    y = torch.randint(0, 10, (7,))
    w = importance_weights(logits, y, 0.0)
    assert torch.equal(w, torch.ones(7))
    m = margin(logits, y)
    assert torch.allclose(normalized_weights(m, 0.0), torch.full((7,), 1 / 7))


def test_negative_alpha_rejected():
    with pytest.raises(ValueError, match="alpha"):
        importance_weights(torch.randn(2, 3), torch.tensor([0, 1]), -0.1)


def test_normalized_weights_hand_computed_and_overflow_safe():
    # margins 0, -ln 3 / 2, -ln 4 / 2 at alpha 2 give weights 1, 3, 4: probabilities 1/8, 3/8, 4/8.
    m = torch.tensor([0.0, -np.log(3) / 2, -np.log(4) / 2], dtype=torch.float32)
    assert torch.allclose(normalized_weights(m, 2.0), torch.tensor([0.125, 0.375, 0.5]))
    assert np.allclose(normalized_weights(m.numpy(), 2.0), [0.125, 0.375, 0.5])
    # A huge alpha overflows exp(-alpha m) but not the normalised weights.
    big = normalized_weights(np.array([-1.0, -1.0, 1.0]), 1e4)
    assert np.allclose(big, [0.5, 0.5, 0.0]) and np.isfinite(big).all()


def test_weighted_accuracy_hand_computed():
    assert metrics.weighted_accuracy([1, 0, 1], [1.0, 2.0, 1.0]) == pytest.approx(0.5)
    assert metrics.weighted_accuracy(np.array([True, False]), np.array([3.0, 1.0])) == pytest.approx(0.75)


def test_weighted_accuracy_rejects_bad_weights():
    with pytest.raises(ValueError):
        metrics.weighted_accuracy([1, 0], [-1.0, 2.0])
    with pytest.raises(ValueError):
        metrics.weighted_accuracy([1, 0], [0.0, 0.0])
    with pytest.raises(ValueError):
        metrics.weighted_accuracy([1, 0, 1], [1.0, 2.0])


def test_a_sa_equals_a_rob_with_uniform_weights():
    rng = np.random.default_rng(0)
    correct = rng.random(1000) < 0.6
    margins = rng.uniform(-1, 1, 1000)
    assert metrics.a_sa(correct, margins, 0.0) == pytest.approx(metrics.a_rob(correct))


def test_a_sa_hand_computed():
    correct = np.array([1, 0])
    margins = np.array([0.5, -0.5])
    w = np.exp(-1.0 * margins)
    assert metrics.a_sa(correct, margins, 1.0) == pytest.approx(w[0] / w.sum())
    # A_tr is the same formula on the weighted attack's record.
    assert metrics.a_tr(correct, margins, 1.0) == pytest.approx(w[0] / w.sum())


def test_a_sa_not_above_a_rob_when_errors_have_lower_margins():
    # Misclassified examples have negative margins, so they get more weight: A_sa <= A_rob.
    rng = np.random.default_rng(1)
    margins = rng.uniform(-1, 1, 500)
    correct = margins > 0
    assert metrics.a_sa(correct, margins, 2.0) < metrics.a_rob(correct)
    assert metrics.a_sa(correct, margins, 2.0) < metrics.a_sa(correct, margins, 1.0)


def test_large_alpha_does_not_overflow():
    # exp(1000) overflows float64; the shifted weights give the limit: all mass on the error.
    assert metrics.a_sa([1, 0], [1.0, -1.0], 1000.0) == 0.0
