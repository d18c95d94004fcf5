"""Exact χ²-ball distributionally robust loss (eq. 28 of the paper, appendix A.4).

Problem.  Given losses ``l ∈ R^N`` and a budget ``ρ ≥ 0``, solve

    max_w  Σ_i w_i l_i   s.t.  Σ_i w_i = 1,  w ≥ 0,  ½‖w − 𝟙/N‖² ≤ ρ/N.

The paper writes the objective as ``(1/N) Σ w_i l_i``; since ``Σ w = 1`` that is the
weighted mean divided by N, so we return the (more useful) weighted mean ``Σ w_i l_i``.
The maximiser is the same either way.

Relation to Namkoong & Duchi (NeurIPS 2016; NeurIPS 2017).  Their set is
``{p ∈ Δ_N : D_φ(p‖𝟙/N) ≤ ρ_ND/N}`` with ``φ(t) = ½(t − 1)²``, i.e.
``½‖N·p − 𝟙‖² ≤ ρ_ND``.  Since ``½‖N·w − 𝟙‖² = N²·½‖w − 𝟙/N‖² ≤ N²·ρ/N = N·ρ``,
**their ρ_ND equals N times this ρ**.  Equivalently, our constraint is
``D_φ(w‖𝟙/N) = (N/2)‖w − 𝟙/N‖² ≤ ρ`` with the same ``φ`` (or ``≤ 2ρ`` for the
unhalved χ² divergence ``φ(t) = (t − 1)²``).

Derivation (the closed form implemented below).  Write ``B = (2ρ + 1)/N``; because
``Σ w = 1`` the ball constraint is ``Σ w_i² ≤ B``.

* ``ρ = 0`` forces ``w = 𝟙/N``.
* Let ``S`` be the set of maximal losses.  The objective never exceeds ``max l``; the
  points attaining it are the distributions on ``S``, and the one closest to uniform is
  ``𝟙_S/|S|`` with ``½‖𝟙_S/|S| − 𝟙/N‖² = ½(1/|S| − 1/N)``.  If that is ``≤ ρ/N``
  (i.e. ``|S|·B ≥ 1``) it is the answer.  This covers ``N = 1`` and all-equal losses.
* Otherwise the ball constraint is tight.  KKT stationarity
  ``l − λ(w − 𝟙/N) − ν𝟙 + μ = 0`` with ``λ > 0`` gives ``w_i = a·(l_i − η)₊`` with
  ``a = 1/λ > 0`` and ``η = ν − λ/N``: the support is the top-k losses for some k.
  On a top-k support with mean ``m_k`` and (population) std ``s_k``, the two equalities
  ``Σ w = 1`` and ``Σ w² = B`` give, with ``r_k = k·B − 1``,

      w_i = (1 + √r_k · (l_i − m_k)/s_k) / k,     value_k = m_k + s_k·√r_k.

  (Full support k = N gives the familiar ``mean + √(2ρ·var)``.)  The candidate is a
  feasible point whenever ``r_k ≥ 0`` and its smallest weight is ≥ 0; the optimum is one
  of these candidates, so the answer is the feasible candidate with the largest value.
  All k are scored at once from cumulative sums of the sorted losses: O(N log N).

Numerics: the scan runs in long double on the losses rescaled to [-1, 0], the chosen
support is recomputed with a corrected two-pass mean/std, and "uniform on the top k"
points (also feasible) are scored too, so degenerate rounding can never leave no candidate.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[float]]


# The one rho grid: claim C6 and the Figure 4 page both use it (0 is the plain mean loss).
RHO_GRID: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def _to_numpy(losses: ArrayLike) -> np.ndarray:
    """Validate ``losses`` and return them as a 1-D float64 numpy array."""
    if torch.is_tensor(losses):
        arr = losses.detach().to(device="cpu", dtype=torch.float64).numpy()
    else:
        arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"losses must be a 1-D vector, got shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise ValueError("losses are empty (need at least one loss)")
    if not np.all(np.isfinite(arr)):
        raise ValueError("losses contain NaN/inf; pass finite per-example losses "
                         "(check the model outputs that produced them)")
    return arr


def _check_rho(rho: float) -> float:
    """Return ``rho`` as a float if it is finite and ≥ 0, else raise ValueError."""
    rho = float(rho)
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"rho must be a finite number ≥ 0, got {rho:g}")
    return rho


def _solve(l: np.ndarray, rho: float) -> np.ndarray:
    """Return the optimal weights for validated float64 losses ``l`` and budget ``rho``."""
    n = l.size
    if rho == 0.0:
        return np.full(n, 1.0 / n)
    at_max = l == l.max()
    n_max = int(at_max.sum())
    if n_max * (2.0 * rho + 1.0) >= n:                    # uniform-over-argmax vertex fits
        return at_max / n_max

    order = np.argsort(-l, kind="stable")
    x = l[order].astype(np.longdouble)                     # long double: no overflow/underflow
    x = (x - x[0]) / (x[0] - x[-1])                        # sorted, rescaled into [-1, 0]
    k = np.arange(1, n + 1, dtype=np.longdouble)
    mean = np.cumsum(x) / k
    std = np.sqrt(np.maximum(np.cumsum(x * x) / k - mean * mean, 0.0))
    r = ((k - n) + 2.0 * rho * k) / n                      # k·B − 1, computed without cancellation
    fits = r >= 0                                          # uniform on the top k lies in the ball
    root = np.sqrt(np.where(fits, r, 0.0))
    tight = fits & (std > 0)
    min_w = 1.0 + root * (x - mean) / np.where(tight, std, 1.0)   # k·(weight of k-th largest)
    tight &= min_w >= -1e-9
    # Every candidate below is a feasible point and the optimum is a tight one, so the best
    # candidate is optimal; the uniform ones only guard against degenerate rounding.
    v_tight = np.where(tight, mean + std * root, -np.inf)
    v_unif = np.where(fits, mean, -np.inf)
    kt, ku = int(np.argmax(v_tight)), int(np.argmax(v_unif))
    w = np.zeros(n)
    if v_tight[kt] < v_unif[ku]:
        w[order[:ku + 1]] = 1.0 / (ku + 1)
        return w
    c = x[:kt + 1] - x[:kt + 1].mean()                     # recompute z accurately: corrected
    c -= c.mean()                                          # two-pass, so Σz = 0 and Σz² = k
    c /= np.abs(c).max()
    z = c / np.sqrt(np.mean(c * c))
    w_top = np.maximum((1.0 + root[kt] * z) / (kt + 1), 0.0)
    w[order[:kt + 1]] = (w_top / w_top.sum()).astype(np.float64)
    return w


def _weighted_mean(l: np.ndarray, w: np.ndarray) -> float:
    """Return Σ w_i l_i, summed relative to max(l) (in long double) to avoid rounding and overflow."""
    top = np.longdouble(l.max())
    return float(top + np.sum(w * (l.astype(np.longdouble) - top)))


def chi2_dro(losses: ArrayLike, rho: float) -> tuple[float, Union[torch.Tensor, np.ndarray]]:
    """Exact worst-case weighted mean loss over the χ² ball of eq. 28; returns (value, weights)."""
    rho = _check_rho(rho)
    l = _to_numpy(losses)
    w = _solve(l, rho)
    value = _weighted_mean(l, w)
    if torch.is_tensor(losses):
        return value, torch.as_tensor(w, dtype=torch.float64, device=losses.device)
    return value, w


def chi2_dro_curve(losses: ArrayLike, rhos: Sequence[float],
                   correct: ArrayLike | None = None) -> dict[str, np.ndarray]:
    """Per ρ: worst-case loss and Σ w_i·correct_i under those weights (NaN if no ``correct``); Fig. 4."""
    l = _to_numpy(losses)
    rho_arr = np.array([_check_rho(r) for r in rhos], dtype=np.float64)
    c = None
    if correct is not None:
        c = (correct.detach().cpu().numpy() if torch.is_tensor(correct) else np.asarray(correct))
        c = c.astype(np.float64)
        if c.shape != l.shape:
            raise ValueError(f"correct must have the same shape as losses {l.shape}, got {c.shape}")
    loss = np.empty(rho_arr.size)
    acc = np.full(rho_arr.size, np.nan)
    for i, rho in enumerate(rho_arr):
        w = _solve(l, rho)
        loss[i] = _weighted_mean(l, w)
        if c is not None:
            acc[i] = w @ c
    return {"rho": rho_arr, "loss": loss, "accuracy": acc}
