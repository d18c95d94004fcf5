"""The paper's claims C1-C7 as comparisons computed from the store, each with a verdict.

Every claim is a set of comparisons ``estimate (op) threshold``. An estimate is a difference of
seed means (percentage points unless stated). Its standard error combines the standard error over
seeds with a paired bootstrap over the test examples (:mod:`wmrlib.analysis.bootstrap`; every model
is scored on the same resamples); intervals, verdicts and how a claim's verdict follows from its
comparisons' are the rules of :mod:`wmrlib.analysis.stats`. Models trained with one seed borrow
the seed standard deviation of the same quantity pooled over the models that have several seeds
(``se_from`` says which).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment.config import RunConfig
from ..experiment.profiles import FAMILIES, DatasetPlan
from ..experiment.registry import FAMILY_NAMES, Defense
from ..method.dro import RHO_GRID, chi2_dro_curve
from ..method.risk import normalized_weights
from ..workflow.store import Store
from .bootstrap import (resample_indices, resampled_dro_loss, resampled_metric,
                        resampled_weight_spread)
from . import stats
from .collapse import healthy_exclusions
from .stats import METRIC_NAMES, combine, family_name, judge
from .tables import model_groups, model_metrics

# FAMILY_NAMES (from the registry): "PGD", "TRADES"

CLAIMS = {
    "C1": "Baselines lose much more under non-uniform attacks: A_sa and A_tr of PGD-AT and TRADES "
          "fall far below their A_rob (by more than {c1_gap:g} pp) at every α_test.",
    "C2": "Ours beats the baseline on A_sa and A_tr at every α_test (headline α_train).",
    "C3": "A_nat and A_rob of ours stay within about {c3_tol:g} pp of the baseline.",
    "C4": "A_tr ≤ A_sa ≤ A_rob for every model and α_test.",
    "C5": "A larger α_train gives a larger A_sa and A_tr (positive slope over α_train, "
          "baseline = α_train 0, at every α_test).",
    "C6": "Ours has a lower worst-case χ² adversarial loss than the baseline at every ρ.",
    "C7": "The weight histograms spread out as α_test grows and concentrate as α_train grows "
          "(spread = standard deviation of N·s̃ over the test set).",
}
C1_GAP = 5.0   # pp: what "lose much more" means here
C3_TOL = 1.0   # pp: "within about 1 pp"
RHOS = RHO_GRID  # shared with the Figure 4 page
# C5 is a trend over an α_train sweep: with only the baseline and one weighted model its slope
# is C2's comparison again, so a plan needs three α_train values (baseline included) to judge it.
C5_MIN_ALPHAS = 3


def _groups(plan: DatasetPlan) -> dict[tuple[str, float], list[RunConfig]]:
    return {(g[0].defense, g[0].alpha_train): g for g in model_groups(plan)}


class _Quantity:
    """Per-seed values of one quantity for every group (seed → value), its seed standard
    deviation pooled over the groups' healthy seeds, and (when given) its value on each paired
    bootstrap resample of the test examples (seed → array of draws)."""

    def __init__(self, values: dict[tuple[str, float], dict[int, float]],
                 draws: dict[tuple[str, float], dict[int, np.ndarray]] | None = None,
                 healthy=lambda group, seed: True):
        self.values = values
        self.draws = draws or {}
        self.pooled = stats.pooled([stats.paired({s: v for s, v in vals.items() if healthy(g, s)})
                                    for g, vals in values.items()])

    def mean_se(self, group) -> tuple[float, float, float, int]:
        """Return the seed mean, its seed standard error, the error's degrees of freedom, seeds."""
        v = stats.paired(self.values[group])
        se, df = stats.seed_error(v, self.pooled)
        return float(np.mean(v)), se, df, len(v)

    def seed_mean_draws(self, group, seeds=None) -> np.ndarray | None:
        """Return the mean over ``seeds`` (default: all) on each resample, or None without draws."""
        d = self.draws.get(group)
        if d is None:
            return None
        return np.mean([d[s] for s in (sorted(d) if seeds is None else seeds)], axis=0)


def _row(claim, what, a: _Quantity, ga, b: _Quantity | None = None, gb=None, op=">",
         threshold=0.0, unit="pp") -> dict:
    """One comparison: the mean of a[ga] (or of the per-seed paired differences a[ga] − b[gb]
    over the seeds both have) against a threshold.

    Its standard error combines the seed standard error (own seeds, or the pooled healthy seed
    std when one seed is left) with the paired bootstrap over the test examples (when the
    quantity has bootstrap draws); the verdict is set later, with Holm's correction
    (:func:`wmrlib.analysis.stats.judge`).
    """
    if b is None:
        seeds = sorted(a.values[ga])
        diffs = stats.paired(a.values[ga])
        pooled = a.pooled
        draws = a.seed_mean_draws(ga)
        label = f"{len(seeds)}"
    else:
        seeds = sorted(set(a.values[ga]) & set(b.values[gb]))
        diffs = stats.paired(a.values[ga], b.values[gb])
        # one seed left: the difference of two independent draws of the pooled spread
        pooled = (a.pooled[0] * np.sqrt(2), a.pooled[1])
        da, db = a.seed_mean_draws(ga, seeds), b.seed_mean_draws(gb, seeds)
        draws = None if da is None or db is None else da - db
        label = f"{len(seeds)} paired"
    se_seed, df = stats.seed_error(diffs, pooled if len(seeds) == 1 else (np.nan, 0.0))
    se_test = float(np.std(draws, ddof=1)) if draws is not None else np.nan
    se, half = stats.half_width(se_seed, df, se_test)
    estimate = float(np.mean(diffs))
    low, high = stats.interval(estimate, half)
    return {"claim": claim, "family": _family(ga), "comparison": what, "estimate": estimate,
            # df is 0 when the seed error is unknown (one seed, nothing to pool): stats judges
            # nothing then, since the spread between seeds is usually the larger part
            "se_seed": se_seed, "se_test": se_test, "se": se, "df": df,
            "interval_low": low, "interval_high": high, "op": op, "threshold": threshold,
            "test": f"{op} {threshold:g}" if op != "within" else f"within ±{threshold:g}",
            "unit": unit, "seeds": label,
            "se_from": ("pooled seed std" if len(seeds) == 1 and np.isfinite(se_seed) else
                        "own seeds" if np.isfinite(se_seed) else "test sample only")
            + (" + paired bootstrap" if draws is not None else "")}


def _family(group) -> str:
    return family_name(group[0])


def _label(defense: str, alpha: float) -> str:
    name = family_name(defense)
    return f"{name}+ours α={alpha:g}" if alpha else name


_MEMO: dict = {}  # read-only stores only: (root, plan, claims) -> comparisons


def comparisons(store: Store, plan: DatasetPlan, only: tuple[str, ...] | None = None
                ) -> pd.DataFrame:
    """Return :func:`compute_comparisons`, computed once per process for a read-only store
    (a book page's kernel asks for the same comparisons from several sections)."""
    if not store.readonly:
        return compute_comparisons(store, plan, only)
    key = (str(store.root.resolve()), plan, None if only is None else tuple(sorted(only)))
    if key not in _MEMO:
        _MEMO[key] = compute_comparisons(store, plan, only)
    return _MEMO[key].copy()


def compute_comparisons(store: Store, plan: DatasetPlan, only: tuple[str, ...] | None = None
                        ) -> pd.DataFrame:
    """Return every comparison behind claims C1-C7 (or the claims ``only`` names) with its
    estimate, interval, verdict under the analysis plan (``verdict``) and under the rule used
    until 2026-12-07 (``verdict_before``). C6's rows name their radius (``rho``); C7's say
    whether they follow the spread over α_test or over α_train (``trend``) and at which α_test
    (the larger of a step's two) and, for a step, which model (``alpha_train``).

    A claim's verdicts depend only on its own comparisons, so ``only`` changes no verdict.
    """
    wanted = set(CLAIMS) if only is None else set(only)
    unknown = wanted - set(CLAIMS)
    if unknown:
        raise ValueError(f"unknown claims {sorted(unknown)}: use some of {', '.join(CLAIMS)}")
    groups = _groups(plan)
    defenses = [d for d in FAMILIES if (d, 0.0) in groups]
    headline = dict(plan.headline_pairs(defenses))

    broken = healthy_exclusions(store, plan)

    def healthy(group, seed) -> bool:
        return (*group, seed) not in broken

    def quantity(fn, only=None, draws_fn=None) -> _Quantity:
        chosen = {g: cs for g, cs in groups.items() if only is None or g in only}
        draws = None if draws_fn is None else {
            g: {c.seed: draws_fn(c) for c in cs} for g, cs in chosen.items()}
        return _Quantity({g: {c.seed: float(fn(c)) for c in cs} for g, cs in chosen.items()},
                         draws, healthy)

    cache: dict = {}
    alphas = plan.alpha_tests
    kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)

    def metric(config, alpha_test, name):
        key = (config.key(), alpha_test)
        if key not in cache:
            cache[key] = model_metrics(store, plan, config, plan.attack, alpha_test)
        return cache[key][name]

    records: dict = {}

    def record(config):
        if config.key() not in records:
            records[config.key()] = store.get_or_evaluate(config, plan.attack, alphas, **kw)
        return records[config.key()]

    first = next(iter(groups.values()))[0]
    idx = resample_indices(len(record(first).labels), seed=plan.eval_seed)

    def draws(name, a):
        return lambda c: resampled_metric(record(c), name, a, idx)

    rows = []
    base_metrics = {(m, a): quantity(lambda c, m=m, a=a: metric(c, a, m), draws_fn=draws(m, a))
                    for m in ("a_nat", "a_rob", "a_sa", "a_tr") for a in alphas}

    def gap(top, bottom, a):
        return quantity(lambda c: metric(c, a, top) - metric(c, a, bottom),
                        draws_fn=lambda c: draws(top, a)(c) - draws(bottom, a)(c))

    for a in alphas if "C1" in wanted else ():
        for d in defenses:
            for m in ("a_sa", "a_tr"):
                rows.append(_row("C1", f"{_label(d, 0)}: A_rob − {METRIC_NAMES[m]} "
                                 f"at α_test {a:g}", gap("a_rob", m, a), (d, 0.0),
                                 op=">", threshold=C1_GAP))
    for a in alphas if "C2" in wanted else ():
        for d in defenses:
            for m in ("a_sa", "a_tr"):
                q = base_metrics[(m, a)]
                rows.append(_row("C2", f"{_label(d, headline[d])} − {_label(d, 0)}: {METRIC_NAMES[m]} at "
                                 f"α_test {a:g}", q, (d, headline[d]), q, (d, 0.0), op=">")
                            | _gain_key(d, headline[d], a, m))
    for d in defenses if "C3" in wanted else ():
        for m in ("a_nat", "a_rob"):
            q = base_metrics[(m, alphas[0])]
            rows.append(_row("C3", f"{_label(d, headline[d])} − {_label(d, 0)}: {METRIC_NAMES[m]}", q,
                             (d, headline[d]), q, (d, 0.0), op="within", threshold=C3_TOL)
                        | _gain_key(d, headline[d], None, m))
    for a in alphas if "C4" in wanted else ():
        for g in groups:
            rows.append(_row("C4", f"{_label(*g)}: A_sa − A_tr at α_test {a:g}",
                             gap("a_sa", "a_tr", a), g, op=">=", threshold=0.0))
            rows.append(_row("C4", f"{_label(*g)}: A_rob − A_sa at α_test {a:g}",
                             gap("a_rob", "a_sa", a), g, op=">=", threshold=0.0))
    for d in defenses if "C5" in wanted else ():
        trained = sorted(a for (dd, a) in groups if dd == d)
        if len(trained) < C5_MIN_ALPHAS:
            continue
        for a in alphas:
            for m in ("a_sa", "a_tr"):
                rows.append(_slope_row("C5", base_metrics[(m, a)], d, trained,
                                       f"{_label(d, 0)} family: slope of {METRIC_NAMES[m]} over "
                                       f"α_train {trained} at α_test {a:g}",
                                       "pp per unit α_train"))
    for d in defenses if "C6" in wanted else ():
        losses, loss_draws = {}, {}
        for g in ((d, 0.0), (d, headline[d])):
            for config in groups[g]:
                rec = store.get_or_attack(config, plan.attack, 0.0, eval_size=plan.eval_size,
                                          eval_seed=plan.eval_seed)
                losses[config.key()] = chi2_dro_curve(rec.loss, RHOS)["loss"]
                loss_draws[config.key()] = resampled_dro_loss(rec.loss, RHOS, idx)
        for i, rho in enumerate(RHOS):
            q = quantity(lambda c, i=i: losses[c.key()][i], only=((d, 0.0), (d, headline[d])),
                         draws_fn=lambda c, i=i: loss_draws[c.key()][:, i])
            # eq. 28 states ρ > 0: at ρ = 0 the ball is one point and the "worst case" is the
            # mean adversarial loss, shown but outside the claim (analysis plan, 1.3)
            rows.append(_row("C6", f"{_label(d, 0)} − {_label(d, headline[d])}: worst-case "
                             f"loss at ρ {rho:g}" + ("" if rho > 0 else " (mean 40-PGD loss)"),
                             q, (d, 0.0), q, (d, headline[d]), op=">", unit="loss")
                        | {"in_claim": bool(rho > 0), "rho": float(rho)})
    if "C7" in wanted:
        rows += _histogram_rows(store, plan, groups, idx)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["in_claim"] = frame["in_claim"].fillna(True).astype(bool) if "in_claim" in frame \
            else True
        frame["verdict"] = judge(frame)
        frame["verdict_before"] = judge(frame, rule="holm-both")
    return frame


def _gain_key(defense: str, alpha_train: float, alpha_test: float | None, metric: str) -> dict:
    """The columns that match a comparison with its row of a gain table
    (:func:`wmrlib.analysis.gains.gain_table`)."""
    return {"defense": defense, "alpha_train": float(alpha_train), "alpha_test": alpha_test,
            "metric": METRIC_NAMES[metric]}


def _slope_row(claim: str, q: _Quantity, defense: str, trained: list[float], what: str,
               unit: str, op: str = ">") -> dict:
    """Least-squares slope over alpha_train (analysis plan, 1.3).

    Where every alpha_train group shares at least two seeds, the slope is paired over seeds: one
    slope per shared seed, their mean the estimate, their spread the seed error (n − 1 degrees of
    freedom). Otherwise it is the slope of the seed means, its seed error combining the groups'
    (own seeds or pooled), with the smallest of their degrees of freedom. The test-sample part is
    the paired bootstrap of the same estimate (when the quantity has draws).
    """
    x = np.array(trained, dtype=float)
    xc = x - x.mean()
    coef = xc / np.sum(xc ** 2)
    shared = sorted(set.intersection(*(set(q.values[(defense, a)]) for a in trained)))
    if len(shared) >= 2:
        per_seed = np.array([np.sum(coef * [q.values[(defense, a)][s] for a in trained])
                             for s in shared])
        slope = float(per_seed.mean())
        se_seed, df = stats.seed_error(per_seed)
        means = np.array([np.mean([q.values[(defense, a)][s] for s in shared]) for a in trained])
        draws = [q.seed_mean_draws((defense, a), shared) for a in trained]
        seeds, se_from = f"{len(shared)} paired", "slopes paired over seeds"
    else:
        means, ses, dfs, _n = (np.array(v, dtype=float) for v in
                               zip(*[q.mean_se((defense, a)) for a in trained]))
        slope = float(np.sum(coef * means))
        se_seed = float(np.sqrt(np.sum(coef ** 2 * ses ** 2)))
        df = float(np.min(dfs))  # 0 when a group's seed error is unknown: not judged
        draws = [q.seed_mean_draws((defense, a)) for a in trained]
        seeds = "/".join(str(len(q.values[(defense, a)])) for a in trained)
        se_from = "own seeds and pooled seed std"
    se_test = (float(np.std(np.tensordot(coef, np.stack(draws), axes=1), ddof=1))
               if all(d is not None for d in draws) else np.nan)
    se, half = stats.half_width(se_seed, df, se_test)
    low, high = stats.interval(slope, half)
    steps = np.diff(means) if op == ">" else -np.diff(means)
    shape = "monotone" if np.all(steps > 0) else "not monotone"
    return {"claim": claim, "family": _family((defense,)), "comparison": f"{what} ({shape})",
            "estimate": slope, "se_seed": se_seed, "se_test": se_test, "se": se, "df": df,
            "interval_low": low, "interval_high": high, "op": op, "threshold": 0.0,
            "test": f"{op} 0", "unit": unit, "seeds": seeds,
            "se_from": se_from + (" + paired bootstrap" if np.isfinite(se_test) else "")}


def verdict_change(frame: pd.DataFrame) -> pd.DataFrame:
    """Return per claim and defense family its verdict under the rule used until 2026-12-07 and
    under the analysis plan, with the comparisons that hold under each (of how many)."""
    rows = []
    for claim in CLAIMS:
        for family in FAMILY_NAMES:
            part = frame[(frame["claim"] == claim) & (frame["family"] == family)] if len(frame) \
                else frame
            if part.empty:
                continue
            judged = part[part["verdict"] != stats.OUTSIDE]
            rows.append({"claim": claim, "family": family,
                         "until 2026-12-07": combine(part["verdict_before"]),
                         "analysis plan": combine(part["verdict"]),
                         "hold (before / now)": f"{int((part['verdict_before'] == 'holds').sum())}"
                                                f" / {int((judged['verdict'] == 'holds').sum())}"
                                                f" of {len(judged)}"})
    return pd.DataFrame(rows)


def weight_spread(margins: np.ndarray, alpha_test: float) -> float:
    """Return the standard deviation of N·s̃ over the test set (0 = uniform weights)."""
    return float(np.std(normalized_weights(margins, alpha_test) * len(margins)))


def _histogram_rows(store: Store, plan: DatasetPlan, groups, idx: np.ndarray) -> list[dict]:
    """C7 on the TRADES models at the main ε (the histograms' models), all seeds stored; the
    spreads' test-sample part comes from the paired bootstrap resamples ``idx``."""
    trades = {g: cs for g, cs in groups.items() if g[0] == Defense.TRADES}
    if not trades:
        return []
    alphas = plan.alpha_tests
    spread, spread_draws = {}, {}
    for cs in trades.values():
        for config in cs:
            for a in alphas:
                rec = store.get_or_attack(config, plan.attack, a, eval_size=plan.eval_size,
                                          eval_seed=plan.eval_seed)
                spread[(config.key(), a)] = weight_spread(rec.margin, a)
                spread_draws[(config.key(), a)] = resampled_weight_spread(rec.margin, a, idx)

    def quantity(fn, draws_fn) -> _Quantity:
        return _Quantity({g: {c.seed: float(fn(c)) for c in cs} for g, cs in trades.items()},
                         {g: {c.seed: draws_fn(c) for c in cs} for g, cs in trades.items()})

    rows = []
    for g in sorted(trades):
        for lo, hi in zip(alphas[:-1], alphas[1:]):
            q = quantity(lambda c, lo=lo, hi=hi: spread[(c.key(), hi)] - spread[(c.key(), lo)],
                         lambda c, lo=lo, hi=hi: (spread_draws[(c.key(), hi)]
                                                  - spread_draws[(c.key(), lo)]))
            row = _row("C7", f"{_label(*g)}: spread at α_test {hi:g} − at {lo:g}", q, g, op=">",
                       unit="std of N·s̃")
            rows.append(row | {"trend": "alpha_test", "alpha_train": float(g[1]),
                               "alpha_test": float(hi)})
    trained = sorted(a for (_, a) in trades)
    if len(trained) >= 2:
        for a in alphas:
            q = quantity(lambda c, a=a: spread[(c.key(), a)],
                         lambda c, a=a: spread_draws[(c.key(), a)])
            rows.append(_slope_row("C7", q, Defense.TRADES, trained, f"TRADES family: slope of the "
                                   f"spread over α_train {trained} at α_test {a:g}",
                                   "std of N·s̃ per unit α_train", op="<")
                        | {"trend": "alpha_train", "alpha_test": float(a)})
    return rows


def summary(frame: pd.DataFrame, column: str = "verdict") -> pd.DataFrame:
    """Return one row per claim: its statement, verdict overall and per defense family (from the
    comparisons' ``column``: ``verdict``, or ``verdict_before`` for the rule used until
    2026-12-07), and how many comparisons hold (rows outside the claim not counted)."""
    rows = []
    for claim, text in CLAIMS.items():
        part = frame[frame["claim"] == claim] if len(frame) else frame
        verdicts = part[column] if len(part) else pd.Series(dtype=str)
        part = part[verdicts != stats.OUTSIDE] if len(part) else part
        counts = part[column].value_counts() if len(part) else pd.Series(dtype=int)
        row = {"claim": claim, "statement": text.format(c1_gap=C1_GAP, c3_tol=C3_TOL),
               "verdict": combine(part[column] if len(part) else pd.Series(dtype=str))}
        for family in FAMILY_NAMES:
            fam = part[part["family"] == family] if len(part) else part
            row[f"{family} family"] = combine(fam[column] if len(fam) else pd.Series(dtype=str))
        row |= {"comparisons": len(part), "hold": int(counts.get("holds", 0)),
                "do not hold": int(counts.get("does not hold", 0)),
                "inconclusive": int(counts.get("inconclusive", 0))}
        rows.append(row)
    return pd.DataFrame(rows)
