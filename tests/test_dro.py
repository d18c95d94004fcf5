"""Tests for wmrlib.method.dro: closed form vs SLSQP, properties, input checks, curve."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize

from wmrlib.method.dro import chi2_dro, chi2_dro_curve


def slsqp_value(l: np.ndarray, rho: float) -> float:
    """Reference optimum of eq. 28 from a generic solver."""
    n = l.size
    # SLSQP can stop ~1e-8 outside the ball, so its value may exceed the true optimum slightly.
    cons = [{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)},
            {"type": "ineq", "fun": lambda w: rho / n - 0.5 * np.sum((w - 1.0 / n) ** 2),
             "jac": lambda w: -(w - 1.0 / n)}]
    res = minimize(lambda w: -(w @ l), np.full(n, 1.0 / n), jac=lambda w: -l, method="SLSQP",
                   bounds=[(0.0, 1.0)] * n, constraints=cons,
                   options={"ftol": 1e-14, "maxiter": 2000})
    return float(res.x @ l)


def vertex_fits(l: np.ndarray, rho: float) -> bool:
    """True if the uniform distribution over the argmax set lies in the ball."""
    n, s = l.size, int(np.sum(l == l.max()))
    return 0.5 * (1.0 / s - 1.0 / n) <= rho / n


def check_feasible(l: np.ndarray, rho: float, w: np.ndarray) -> None:
    n = l.size
    dist = 0.5 * np.sum((w - 1.0 / n) ** 2)
    assert abs(w.sum() - 1.0) <= 1e-9
    assert np.all(w >= 0)
    assert dist <= rho / n + 1e-12
    if not vertex_fits(l, rho) and np.ptp(l) > 0:
        assert abs(dist - rho / n) <= 1e-9


def instances():
    rng = np.random.default_rng(0)
    cases = []
    # SLSQP is slow for larger N (more so on a busy machine with threaded BLAS): lighter grid.
    for n in [2, 3, 5, 9, 17, 40]:
        big = n > 9
        for rho in ([1e-3, 0.3, 5.0] if big else [1e-6, 1e-3, 0.05, 0.3, 1.0, 5.0, 100.0]):
            cases.append((rng.normal(size=n), rho))                       # generic
        for rho in ([0.3] if big else [1e-3, 0.3, 5.0]):
            cases.append((rng.integers(0, 3, size=n).astype(float), rho))  # many ties
        for rho in ([0.05] if big else [1e-3, 0.3, 5.0]):
            cases.append((rng.normal(size=n) - 10.0, rho))                 # negative losses
        if n <= 5:      # ρ = 0 is a single feasible point, where SLSQP is slow and degenerate
            cases.append((rng.normal(size=n), 0.0))
    cases.append((np.array([2.0, 2.0, 1.0, 0.0]), 0.5))    # tied maxima, vertex 1/2 fits
    cases.append((np.array([2.0, 2.0, 1.0, 0.0]), 0.49))   # tied maxima, just too small
    cases.append((np.full(7, 3.0), 0.2))                   # all equal
    cases.append((np.array([1.5]), 0.7))                   # N = 1
    cases.append((np.array([0.0, 1.0]), 0.5))             # vertex exactly on the sphere
    return cases


@pytest.mark.parametrize("l,rho", instances())
def test_matches_slsqp_and_feasible(l, rho):
    value, w = chi2_dro(l, rho)
    assert isinstance(value, float) and isinstance(w, np.ndarray)
    check_feasible(l, rho, w)
    assert value == pytest.approx(float(w @ l), abs=1e-12)
    ref = slsqp_value(l, rho)
    assert value >= ref - 1e-7
    assert abs(value - ref) <= 1e-5


@pytest.mark.parametrize("n", [1, 2, 7, 40, 1000])
def test_rho_zero_is_uniform(n):
    l = np.random.default_rng(n).normal(size=n)
    v, w = chi2_dro(l, 0.0)
    assert v == pytest.approx(l.mean(), rel=1e-12, abs=1e-12) and np.allclose(w, 1.0 / n)


def test_special_cases():
    v, w = chi2_dro(np.full(5, 4.0), 10.0)
    assert v == 4.0 and np.allclose(w, 0.2)
    v, w = chi2_dro([7.0], 3.0)
    assert v == 7.0 and np.allclose(w, [1.0])
    v, w = chi2_dro([5.0, 5.0, 1.0, 0.0], 1.0)             # ½(1/2 − 1/4) = 1/8 ≤ 1/4
    assert v == 5.0 and np.allclose(w, [0.5, 0.5, 0.0, 0.0])


def test_two_point_closed_form():
    # N = 2, l = (1, 0): w = (1/2 + t, 1/2 − t) with t² = ρ/2, value = 1/2 + √(ρ/2).
    for rho in [0.01, 0.1, 0.4]:
        v, w = chi2_dro([1.0, 0.0], rho)
        assert v == pytest.approx(0.5 + np.sqrt(rho / 2), rel=1e-12)


def test_full_support_is_mean_plus_std():
    l = np.array([0.0, 1.0, 2.0, 3.0])
    rho = 0.01                                              # small: full support
    v, _ = chi2_dro(l, rho)
    assert v == pytest.approx(l.mean() + np.sqrt(2 * rho * l.var()), rel=1e-12)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
fast = settings(deadline=None, database=None)              # no .hypothesis/ directory left behind
loss_lists = st.lists(finite, min_size=1, max_size=30)
rhos = st.floats(0.0, 50.0, allow_nan=False)


@settings(fast, max_examples=150)
@given(loss_lists, rhos, rhos)
def test_monotone_in_rho(l, r1, r2):
    lo, hi = sorted([r1, r2])
    assert chi2_dro(l, lo)[0] <= chi2_dro(l, hi)[0] + 1e-9 * (1 + max(map(abs, l)))


@settings(fast, max_examples=150)
@given(loss_lists, rhos)
def test_between_mean_and_max(l, rho):
    arr = np.array(l)
    v, w = chi2_dro(arr, rho)
    tol = 1e-9 * (1 + np.abs(arr).max())
    assert arr.mean() - tol <= v <= arr.max() + tol
    check_feasible(arr, rho, w)


@settings(fast, max_examples=100)
@given(loss_lists, rhos, st.randoms(use_true_random=False))
def test_permutation_invariance(l, rho, rnd):
    arr = np.array(l)
    perm = np.array(rnd.sample(range(arr.size), arr.size))
    v, w = chi2_dro(arr, rho)
    vp, wp = chi2_dro(arr[perm], rho)
    assert vp == pytest.approx(v, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(wp, w[perm], atol=1e-9)


# Multiples of 1/8 keep the shift exact in floating point (for general floats it is not).
eighths = st.integers(-8000, 8000).map(lambda i: i / 8)


@settings(fast, max_examples=100)
@given(st.lists(eighths, min_size=1, max_size=30), rhos, eighths)
def test_shift_equivariance(l, rho, c):
    arr = np.array(l)
    v, w = chi2_dro(arr, rho)
    vs, ws = chi2_dro(arr + c, rho)
    assert vs == pytest.approx(v + c, rel=1e-9, abs=1e-7)
    np.testing.assert_allclose(ws, w, atol=1e-7)


@pytest.mark.parametrize("losses,rho,match", [
    ([1.0, 2.0], -0.1, "rho"),
    ([1.0, float("nan")], 0.1, "NaN/inf"),
    ([1.0, float("inf")], 0.1, "NaN/inf"),
    ([[1.0, 2.0], [3.0, 4.0]], 0.1, "1-D"),
    ([], 0.1, "empty"),
])
def test_bad_input(losses, rho, match):
    with pytest.raises(ValueError, match=match):
        chi2_dro(losses, rho)
    with pytest.raises(ValueError, match=match):
        chi2_dro_curve(losses, [rho])


def test_torch_in_torch_out():
    l = torch.tensor([0.3, 2.0, 1.0, 0.5], dtype=torch.float32)
    v, w = chi2_dro(l, 0.2)
    assert isinstance(v, float) and torch.is_tensor(w)
    assert w.device == l.device and w.dtype == torch.float64 and w.shape == l.shape
    v_np, w_np = chi2_dro(l.numpy(), 0.2)
    assert isinstance(w_np, np.ndarray) and v == pytest.approx(v_np)
    np.testing.assert_allclose(w.numpy(), w_np)


def test_curve_hand_computed():
    # l = (1, 0), correct = (False, True).  ρ=0: uniform.  ρ=0.02: w = (0.6, 0.4).
    # ρ=0.5: ½(1 − ½) = ¼ ≤ ρ/N = ¼, so the vertex w = (1, 0) is feasible.
    out = chi2_dro_curve(np.array([1.0, 0.0]), [0.0, 0.02, 0.5], correct=[False, True])
    assert set(out) == {"rho", "loss", "accuracy"}
    np.testing.assert_allclose(out["rho"], [0.0, 0.02, 0.5])
    np.testing.assert_allclose(out["loss"], [0.5, 0.6, 1.0], atol=1e-12)
    np.testing.assert_allclose(out["accuracy"], [0.5, 0.4, 0.0], atol=1e-12)
    no_acc = chi2_dro_curve([1.0, 0.0], [0.02])
    assert np.isnan(no_acc["accuracy"]).all() and no_acc["loss"][0] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="correct"):
        chi2_dro_curve([1.0, 0.0], [0.1], correct=[True])
