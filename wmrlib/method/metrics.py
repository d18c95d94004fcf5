"""Accuracies A_nat, A_rob, A_sa(alpha) and A_tr(alpha) of Section 5.1.

The paper's eqs. 18-19 print a factor 1/N in front of weights that are already normalised.
Read literally, A_sa would be about 1/N times an accuracy. The text calls the normalised weights
the probability of attacking each example, and the official code computes
sum_i s~_i * 1[correct_i]; this module implements that: a weighted accuracy.
"""
from __future__ import annotations

import numpy as np
import torch

from .risk import normalized_weights



def _as_numpy(a) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def weighted_accuracy(correct, weights) -> float:
    """Return sum_i w_i c_i / sum_i w_i for 0/1 correctness c and nonnegative weights w."""
    c, w = _as_numpy(correct), _as_numpy(weights)
    if c.shape != w.shape or c.ndim != 1 or c.size == 0:
        raise ValueError(f"correct and weights must be equal-length 1-D arrays, got {c.shape}, {w.shape}")
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be finite, nonnegative and not all zero")
    return float((w * c).sum() / w.sum())


def margin_weighted_accuracy(correct, margins, alpha: float) -> float:
    """Return the accuracy under sampling probabilities s~ proportional to exp(-alpha * margin)."""
    return weighted_accuracy(correct, normalized_weights(_as_numpy(margins), alpha))


def a_nat(clean_correct) -> float:
    """Natural accuracy: the fraction of clean test examples classified correctly."""
    return float(_as_numpy(clean_correct).mean())


def a_rob(adv_correct) -> float:
    """Robust accuracy (eq. 17): uniform accuracy on unweighted-PGD adversarial examples."""
    return float(_as_numpy(adv_correct).mean())


def a_sa(adv_correct, adv_margins, alpha_test: float) -> float:
    """A_sa (eq. 18): unweighted-PGD examples, sampled by their normalised importance weights."""
    return margin_weighted_accuracy(adv_correct, adv_margins, alpha_test)


def a_tr(weighted_adv_correct, weighted_adv_margins, alpha_test: float) -> float:
    """A_tr (eq. 19): weighted-PGD (alpha_test) examples, sampled by their normalised weights."""
    return margin_weighted_accuracy(weighted_adv_correct, weighted_adv_margins, alpha_test)
