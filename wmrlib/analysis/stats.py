"""The one home of the book's statistics: defense families, metric names, seed errors, intervals
and verdicts. Gains (:mod:`.gains`), claims (:mod:`.claims`) and the robustness check
(:mod:`.robustness`) all judge with these functions, so a change of rule is made here once.

Rules (the interval of an estimate with standard error ``se`` is ``estimate ± Z·se``):

* ``>`` / ``>=`` (``<``): *holds* if the whole interval is above (below) the threshold, *does
  not hold* if it lies entirely on the other side, *inconclusive* otherwise;
* ``within``: *holds* if the interval lies inside ±threshold, *does not hold* if it lies
  entirely outside, *inconclusive* otherwise.

A claim holds if all of its comparisons hold, does not hold if any does not, and is
inconclusive otherwise (:func:`combine`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment.config import DEFENSE_NAMES

Z = 2.0  # interval half-width in standard errors
INTERVAL = f"± {Z:g} SE"  # how the book names the interval
METRIC_NAMES = {"a_nat": "A_nat", "a_rob": "A_rob", "a_sa": "A_sa", "a_tr": "A_tr"}
VERDICTS = ("holds", "does not hold", "inconclusive")


def family_name(defense: str) -> str:
    """Return the defense family's name in the book ("PGD", "TRADES")."""
    return DEFENSE_NAMES[defense]


def pooled_std(groups) -> float:
    """Return the seed standard deviation pooled over the groups (arrays of per-seed values)
    with at least two seeds; NaN when none has two.

    Example:
        >>> round(pooled_std([np.array([1.0, 3.0]), np.array([2.0, 2.0, 5.0]), np.array([7.0])]), 4)
        1.633
    """
    multi = [np.asarray(v, dtype=float) for v in groups if len(v) > 1]
    dof = sum(len(v) - 1 for v in multi)
    if not dof:
        return float("nan")
    return float(np.sqrt(sum(np.var(v, ddof=1) * (len(v) - 1) for v in multi) / dof))


def seed_sem(values, pooled: float = float("nan")) -> float:
    """Return the standard error of the seed mean; with one seed, ``pooled`` stands in for the std."""
    values = np.asarray(values, dtype=float)
    std = np.std(values, ddof=1) if len(values) > 1 else pooled
    return float(std / np.sqrt(len(values)))


def combined_se(se_seed: float, se_test: float) -> float:
    """Return the standard error of seeds and test sample together (either may be NaN: the other
    alone, NaN when both are)."""
    if np.isfinite(se_seed) and np.isfinite(se_test):
        return float(np.hypot(se_seed, se_test))
    return float(se_seed if np.isfinite(se_seed) else se_test)


def interval(estimate: float, se: float) -> tuple[float, float]:
    """Return the interval ``estimate ± Z·se``."""
    return estimate - Z * se, estimate + Z * se


def format_interval(estimate: float, se: float) -> str:
    """Return the interval as text, e.g. ``[+1.20, +3.40]``."""
    low, high = interval(estimate, se)
    return f"[{low:+.2f}, {high:+.2f}]"


def verdict(estimate: float, se: float, op: str, threshold: float) -> str:
    """Return "holds", "does not hold" or "inconclusive" for ``estimate (op) threshold``."""
    if np.isnan(se):
        return "inconclusive"
    low, high = interval(estimate, se)
    if op in (">", ">="):
        return "holds" if low >= threshold else "does not hold" if high < threshold else "inconclusive"
    if op == "<":
        return "holds" if high <= threshold else "does not hold" if low > threshold else "inconclusive"
    if op == "within":
        inside = -threshold <= low and high <= threshold
        outside = high < -threshold or low > threshold
        return "holds" if inside else "does not hold" if outside else "inconclusive"
    raise ValueError(f"unknown comparison {op!r}: use '>', '>=', '<' or 'within'")


def agreement(paper_gain: float, gain: float, se: float) -> str:
    """Return whether our gain's interval lies on the paper's side of 0 ("yes"), on the other
    side ("no") or contains 0 ("inconclusive"); "–" without a paper gain or an error."""
    if not np.isfinite(paper_gain) or not np.isfinite(se):
        return "–"
    low, high = interval(gain, se)
    if low <= 0 <= high:
        return "inconclusive"
    return "yes" if (low > 0) == (paper_gain > 0) else "no"


def combine(verdicts: pd.Series) -> str:
    """Return a claim's verdict from its comparisons' ("not evaluated" when it has none)."""
    if verdicts.empty:
        return "not evaluated"
    if (verdicts == "does not hold").any():
        return "does not hold"
    return "holds" if (verdicts == "holds").all() else "inconclusive"
