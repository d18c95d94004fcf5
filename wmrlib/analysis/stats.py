"""The one home of the book's statistics: defense families, metric names, seed errors, intervals
and verdicts. Gains (:mod:`.gains`), claims (:mod:`.claims`) and the robustness check
(:mod:`.robustness`) all judge with these functions, so a change of rule is made here once.

An estimate is a mean over seeds of per-seed **paired** differences (both arms of a comparison
share the seed's initialisation, data order and attack noise). Its standard error adds the seed
part, std(differences)/√n, to the test-sample part from the paired bootstrap; a comparison with
one seed borrows the seed standard deviation pooled over the healthy multi-seed comparisons of
the same quantity. Its 95 % interval is ``estimate ± t·se`` with Student's t at the seed part's
degrees of freedom (n − 1, or the pooled ones). With one seed and nothing to pool, the seed error
is unknown (0 degrees of freedom): the interval shown covers the test sample only (normal
quantile) and the comparison is not judged: it is *inconclusive*.

The rules are the analysis plan's (``book/analysis_plan.md``, section 1, 2026-12-07):

* one comparison is a one-sided test at ``LEVEL / 2`` (its 95 % interval wholly on the claimed
  side): ``>`` / ``<`` and ``>=`` / ``<=`` (which, with no uncertainty at all, hold on an exact
  tie), and ``within`` (equivalence: two one-sided tests, each at ``LEVEL / 2``);
* a claim is judged per defense family. It *holds* for a family when every comparison of that
  family holds on its own (an intersection-union test: no correction); it *does not hold* when
  Holm's procedure over that family's wrong-side p-values rejects one of them; otherwise it is
  *inconclusive* (:func:`judge`, :func:`combine`);
* rows marked ``in_claim`` False (C6 at ρ = 0) are shown but not judged (:data:`OUTSIDE`).

The rule used until 2026-12-07 (Holm on "holds" and "does not hold" alike, over both families of
a claim, every row judged) stays available as ``judge(frame, rule="holm-both")``, so the pages
can show the verdicts it gave beside the current ones.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _dist

from ..experiment.config import DEFENSE_NAMES

LEVEL = 0.05  # two-sided: 95 % intervals; each one-sided test at LEVEL / 2
INTERVAL = "95 % interval (Student's t over seeds, plus the test-sample variance)"
# The verdict rules, by name: the current one first (book/analysis_plan.md).
RULES = {
    "iut": "from 2026-12-07: each comparison at its own one-sided 2.5 % level; a claim holds for a "
           "family when all of its comparisons hold (intersection-union test); Holm over the "
           "family's comparisons for \"does not hold\"; C6 at ρ > 0 only",
    "holm-both": "until 2026-12-07: Holm's procedure within each claim, over both families, for "
                 "\"holds\" and \"does not hold\" alike; C6 at ρ = 0 as well",
}
RULE = "iut"
OUTSIDE = "outside the claim"  # the verdict of a row shown but not judged (C6 at ρ = 0)
METRIC_NAMES = {"a_nat": "A_nat", "a_rob": "A_rob", "a_sa": "A_sa", "a_tr": "A_tr"}
VERDICTS = ("holds", "does not hold", "inconclusive")
NOT_EVALUATED = "not evaluated"  # a claim's verdict when it has no comparison
NOT_JUDGED = "not judged (one seed)"  # a gain's direction or size when its seed error is unknown


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


def multiplier(df: float) -> float:
    """Return the 95 % two-sided quantile: Student's t at ``df`` degrees of freedom, the normal
    quantile for infinite ``df`` (only the test sample varies); NaN without any (df 0).

    Example:
        >>> round(multiplier(4), 3), round(multiplier(float("inf")), 3)
        (2.776, 1.96)
    """
    if not df > 0:
        return float("nan")
    return float(_dist.t.ppf(1 - LEVEL / 2, df)) if np.isfinite(df) else float(_dist.norm.ppf(1 - LEVEL / 2))


def paired(a: dict[int, float], b: dict[int, float] | None = None) -> np.ndarray:
    """Return the per-seed values of ``a`` (seed → value), or the paired differences a − b over
    the seeds both have, in seed order."""
    if b is None:
        return np.array([a[s] for s in sorted(a)], dtype=float)
    return np.array([a[s] - b[s] for s in sorted(set(a) & set(b))], dtype=float)


def seed_error(differences: np.ndarray, pooled: tuple[float, float] = (np.nan, 0.0)
               ) -> tuple[float, float]:
    """Return (seed standard error, its degrees of freedom) of the mean of ``differences``: from
    their own spread with two seeds or more, else from ``pooled`` = (std, degrees of freedom)."""
    n = len(differences)
    if n >= 2:
        return float(np.std(differences, ddof=1) / np.sqrt(n)), float(n - 1)
    std, dof = pooled
    return (float(std / np.sqrt(n)), float(dof)) if n and np.isfinite(std) and dof else (np.nan, 0.0)


def pooled(groups) -> tuple[float, float]:
    """Return (pooled standard deviation, degrees of freedom) over the groups (arrays of
    per-seed values or differences) with at least two seeds; (NaN, 0) when none has two."""
    return pooled_std(groups), float(sum(len(v) - 1 for v in groups if len(v) > 1))


def half_width(se_seed: float, df: float, se_test: float) -> tuple[float, float]:
    """Return (combined standard error, 95 % half-width): t at the seed part's ``df`` when it is
    known, the normal quantile when only the test sample varies."""
    se = combined_se(se_seed, se_test)
    df = df if np.isfinite(se_seed) else float("inf")
    return se, multiplier(df) * se


def interval(estimate: float, half: float) -> tuple[float, float]:
    """Return the interval ``estimate ± half``."""
    return estimate - half, estimate + half


def format_interval(estimate: float, half: float) -> str:
    """Return the interval as text, e.g. ``[+1.20, +3.40]``."""
    low, high = interval(estimate, half)
    return f"[{low:+.2f}, {high:+.2f}]"


def _cdf(x: float, df: float) -> float:
    return float(_dist.t.cdf(x, df) if np.isfinite(df) else _dist.norm.cdf(x))


def p_values(estimate: float, se: float, df: float, op: str, threshold: float) -> tuple[float, float]:
    """Return the one-sided p-values (for "holds", for "does not hold") of ``estimate (op)
    threshold`` with standard error ``se`` at ``df`` degrees of freedom (inf: normal)."""
    if not (np.isfinite(se) and df > 0):
        return 1.0, 1.0
    if se == 0:  # no uncertainty at all: the comparison is decided by the estimate itself
        return _exact(estimate, op, threshold)
    if op in (">", ">="):
        z = (estimate - threshold) / se
        return 1 - _cdf(z, df), _cdf(z, df)
    if op in ("<", "<="):
        z = (estimate - threshold) / se
        return _cdf(z, df), 1 - _cdf(z, df)
    if op == "within":  # two one-sided tests for "inside"; either side for "outside"
        above_low = 1 - _cdf((estimate + threshold) / se, df)
        below_high = _cdf((estimate - threshold) / se, df)
        outside = min(1 - _cdf((estimate - threshold) / se, df), _cdf((estimate + threshold) / se, df))
        return max(above_low, below_high), min(1.0, 2 * outside)
    raise ValueError(f"unknown comparison {op!r}: use {', '.join(map(repr, OPS))}")


OPS = (">", ">=", "<", "<=", "within")


def _exact(estimate: float, op: str, threshold: float) -> tuple[float, float]:
    """Return the p-values of a comparison without uncertainty: 0 for the side it is on, 1 for
    the other; an exact tie holds for ``>=`` and ``<=`` and fails for the strict tests."""
    shown = {">": estimate > threshold, ">=": estimate >= threshold,
             "<": estimate < threshold, "<=": estimate <= threshold,
             "within": abs(estimate) <= threshold}
    if op not in shown:
        raise ValueError(f"unknown comparison {op!r}: use {', '.join(map(repr, OPS))}")
    return (0.0, 1.0) if shown[op] else (1.0, 0.0)


def holm(p: np.ndarray, level: float = LEVEL / 2) -> np.ndarray:
    """Return which hypotheses Holm's step-down procedure rejects at family-wise ``level``.

    Example:
        >>> holm(np.array([0.001, 0.02, 0.012]), 0.025).tolist()
        [True, False, True]
    """
    p = np.asarray(p, dtype=float)
    reject = np.zeros(len(p), dtype=bool)
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > level / (len(p) - rank):
            break
        reject[i] = True
    return reject


def verdict(estimate: float, se: float, df: float, op: str, threshold: float) -> str:
    """Return the verdict of one comparison on its own (no multiplicity correction)."""
    p_hold, p_not = p_values(estimate, se, df, op, threshold)
    return "holds" if p_hold <= LEVEL / 2 else "does not hold" if p_not <= LEVEL / 2 else "inconclusive"


def judge(frame: pd.DataFrame, rule: str = RULE) -> pd.Series:
    """Return the verdict of each comparison of ``frame`` (columns claim, family, estimate, se,
    df, op, threshold; optional in_claim) under ``rule`` (a key of :data:`RULES`).

    ``"iut"`` (the analysis plan's): a comparison holds when its own one-sided test passes; it
    does not hold when Holm's procedure over the wrong-side p-values of its claim and family
    rejects it; rows with ``in_claim`` False are :data:`OUTSIDE`. ``"holm-both"`` (until
    2026-12-07): Holm within each claim, both families together, for both directions, every row.
    """
    if rule not in RULES:
        raise ValueError(f"unknown verdict rule {rule!r}: use one of {', '.join(RULES)}")
    out = pd.Series("inconclusive", index=frame.index, dtype=object)
    if frame.empty:
        return out
    inside = (frame["in_claim"].astype(bool) if "in_claim" in frame and rule == "iut"
              else pd.Series(True, index=frame.index))
    out[~inside] = OUTSIDE
    by = ["claim", "family"] if rule == "iut" else ["claim"]
    for _, part in frame[inside].groupby(by, sort=False):
        p = np.array([p_values(r.estimate, r.se, r.df, r.op, r.threshold)
                      for r in part.itertuples()]).reshape(-1, 2)
        holds = p[:, 0] <= LEVEL / 2 if rule == "iut" else holm(p[:, 0])
        fails = holm(p[:, 1])
        out.loc[part.index[holds]] = "holds"
        out.loc[part.index[fails & ~holds]] = "does not hold"
    return out


def agreement(paper_gain: float, gain: float, half: float, df: float = np.inf) -> str:
    """Return whether our gain's interval lies on the paper's side of 0 ("yes"), on the other
    side ("no") or contains 0 ("inconclusive"); "–" without a paper gain or an error;
    :data:`NOT_JUDGED` when the seed error is unknown (``df`` 0: one seed, nothing to pool)."""
    if not np.isfinite(paper_gain) or not np.isfinite(half):
        return "–"
    if not df > 0:
        return NOT_JUDGED
    low, high = interval(gain, half)
    if low <= 0 <= high:
        return "inconclusive"
    return "yes" if (low > 0) == (paper_gain > 0) else "no"


def size_agreement(paper_gain: float, gain: float, half: float, df: float = np.inf) -> str:
    """Return how the paper's gain sits against our interval: "consistent with the paper's
    size" (inside it), "smaller than the paper's" or "larger than the paper's"; "–" without one;
    :data:`NOT_JUDGED` when the seed error is unknown (``df`` 0)."""
    if not np.isfinite(paper_gain) or not np.isfinite(half):
        return "–"
    if not df > 0:
        return NOT_JUDGED
    low, high = interval(gain, half)
    if low <= paper_gain <= high:
        return "consistent with the paper's size"
    return "smaller than the paper's" if high < paper_gain else "larger than the paper's"


def combine(verdicts: pd.Series) -> str:
    """Return a claim's verdict from its comparisons' ("not evaluated" when it has none; rows
    :data:`OUTSIDE` the claim take no part): does not hold if any does not, holds if all hold."""
    verdicts = verdicts[verdicts != OUTSIDE]
    if verdicts.empty:
        return NOT_EVALUATED
    if (verdicts == "does not hold").any():
        return "does not hold"
    return "holds" if (verdicts == "holds").all() else "inconclusive"
