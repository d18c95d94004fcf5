"""Paired bootstrap over the test examples: the test-sample part of a comparison's uncertainty.

Every model of a profile is evaluated on the same fixed test examples, so the spread of a metric
over seeds says nothing about which examples were drawn. A paired bootstrap resamples the
examples once per draw and scores every model on the same resample; the spread of a difference
of seed means over the draws is its test-sample standard error. A claim's interval combines it
with the seed standard error (the two are independent sources, so their variances add).
"""
from __future__ import annotations

import numpy as np

from ..compute.outcome import EvalRecord
from ..method.dro import chi2_dro_curve

DRAWS = 1000
DRO_DRAWS = 200  # the χ² worst-case loss needs one exact solve per resample: the first 200 draws


def resample_indices(n: int, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """Return ``draws`` bootstrap resamples of ``range(n)`` as an int array [draws, n]."""
    if n < 1 or draws < 1:
        raise ValueError(f"need n ≥ 1 and draws ≥ 1, got n={n}, draws={draws}")
    return np.random.default_rng(seed).integers(0, n, size=(draws, n))


def resampled_accuracy(correct: np.ndarray, idx: np.ndarray, margins: np.ndarray | None = None,
                       alpha: float = 0.0) -> np.ndarray:
    """Return the accuracy in % on each resample (rows of ``idx``); with ``margins``, weighted by
    exp(-alpha·margin) normalised within each resample (A_sa / A_tr)."""
    c = np.asarray(correct, dtype=np.float64)[idx]
    if margins is None or alpha == 0:
        return 100 * c.mean(axis=1)
    m = np.asarray(margins, dtype=np.float64)
    w = np.exp(-alpha * (m - m.min()))[idx]  # the shift cancels in the ratio and cannot overflow
    return 100 * (w * c).sum(axis=1) / w.sum(axis=1)


def resampled_metric(record: EvalRecord, name: str, alpha_test: float | None,
                     idx: np.ndarray) -> np.ndarray:
    """Return one model's ``a_nat`` / ``a_rob`` / ``a_sa`` / ``a_tr`` (in %) on each resample."""
    if name == "a_nat":
        return resampled_accuracy(record.clean.correct, idx)
    if name == "a_rob":
        return resampled_accuracy(record.uniform.correct, idx)
    if name == "a_sa":
        return resampled_accuracy(record.uniform.correct, idx, record.uniform.margin, alpha_test)
    if name == "a_tr":
        rec = record.weighted[float(alpha_test)]
        return resampled_accuracy(rec.correct, idx, rec.margin, alpha_test)
    raise ValueError(f"unknown metric {name!r}; choose a_nat, a_rob, a_sa or a_tr")


def paired_difference_se(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Return the bootstrap standard error of mean(a) − mean(b), each a list of per-seed draws
    (arrays [draws] scored on the same resamples)."""
    diff = np.mean(a, axis=0) - np.mean(b, axis=0)
    return float(np.std(diff, ddof=1))


def resampled_dro_loss(losses: np.ndarray, rhos, idx: np.ndarray,
                       draws: int = DRO_DRAWS) -> np.ndarray:
    """Return the χ² worst-case loss at each ρ on each of the first ``draws`` resamples (rows of
    ``idx``), an array [draws, len(rhos)]; at ρ 0 it is the resample's mean loss.

    Example:
        >>> idx = resample_indices(3, draws=2, seed=0)
        >>> resampled_dro_loss(np.array([0.0, 1.0, 2.0]), [0.0], idx).shape
        (2, 1)
    """
    losses = np.asarray(losses, dtype=np.float64)
    if idx.shape[1] != losses.size:
        raise ValueError(f"the resamples index {idx.shape[1]} examples but there are "
                         f"{losses.size} losses: resample the same evaluated examples")
    return np.array([chi2_dro_curve(losses[row], rhos)["loss"] for row in idx[:draws]])


def resampled_weight_spread(margins: np.ndarray, alpha: float, idx: np.ndarray) -> np.ndarray:
    """Return the standard deviation of N·s̃ (the weights exp(-alpha·margin) over their mean)
    on each resample (rows of ``idx``), the histograms' spread (claim C7); 0 = uniform weights.

    Example:
        >>> resampled_weight_spread(np.array([0.0, np.log(2)]), 1.0, np.array([[0, 0], [0, 1]]))
        array([0.        , 0.33333333])
    """
    m = np.asarray(margins, dtype=np.float64)
    if idx.shape[1] != m.size:
        raise ValueError(f"the resamples index {idx.shape[1]} examples but there are "
                         f"{m.size} margins: resample the same evaluated examples")
    w = np.exp(-alpha * (m - m.min()))[idx]  # the shift cancels in the ratio and cannot overflow
    return np.std(w / w.mean(axis=1, keepdims=True), axis=1)
