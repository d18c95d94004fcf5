"""The method's gain: ours − baseline per defense family, beside the paper's gain.

The paper's absolute accuracies come from 100-epoch models; ours from far shorter schedules, so
ours − paper on an accuracy mostly measures the training length. What the paper claims is a
*gain* of the weighting over its baseline, and a gain can be compared across scales. Each of our
gains is a difference of seed means with a standard error that combines the seed spread and a
paired bootstrap over the test examples (:mod:`wmrlib.analysis.bootstrap`).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..experiment.profiles import DatasetPlan
from ..experiment.registry import FAMILY_NAMES
from ..workflow.store import Store
from . import claims, paper, stats
from .bootstrap import resample_indices, resampled_metric
from .collapse import healthy_exclusions
from .stats import METRIC_NAMES, agreement, format_interval, size_agreement
from .tables import SPECS, SWEEP_ALPHA_TEST, model_groups


def our_gains(store: Store, plan: DatasetPlan, pairs, alpha_tests, metrics) -> pd.DataFrame:
    """Return ours − baseline for each (defense, alpha_train) of ``pairs``, alpha_test and metric.

    The gain is the mean of per-seed paired differences over the seeds both models have (a model
    with fewer seeds than its baseline is compared with it at the same seeds). Its seed error
    comes from those differences, or, with one common seed, from the seed std of the differences
    pooled over the multi-seed pairs whose runs did not collapse (judged on validation curves only,
    :func:`.collapse.healthy_exclusions`); its
    test-sample error from the paired bootstrap. Columns: family, alpha_train, alpha_test,
    metric, ours, baseline (means over the common seeds, %), gain, se, half (the 95 %
    half-width), df, se_seed, se_test, seed_error, seeds.
    """
    needed = {(d, float(a)) for d, alpha in pairs for a in (0.0, alpha)}  # load no other model
    groups = {(g[0].defense, g[0].alpha_train): {c.seed: c for c in g} for g in model_groups(plan)
              if (g[0].defense, g[0].alpha_train) in needed}
    broken = healthy_exclusions(store, plan)
    alphas = tuple(a for a in alpha_tests if a is not None)
    records = {}
    for group in groups.values():
        for config in group.values():
            records[config.key()] = store.get_or_evaluate(
                config, plan.attack, alphas, eval_size=plan.eval_size, eval_seed=plan.eval_seed)
    n = len(next(iter(records.values())).labels)
    idx = resample_indices(n, seed=plan.eval_seed)
    full = np.arange(n)[None, :]
    cache: dict = {}

    def value(config, metric, alpha):
        key = (config.key(), metric, alpha)
        if key not in cache:
            rec = records[config.key()]
            cache[key] = (float(resampled_metric(rec, metric, alpha, full)[0]),
                          resampled_metric(rec, metric, alpha, idx))
        return cache[key]

    def healthy(config) -> bool:
        return (config.defense, config.alpha_train, config.seed) not in broken

    def differences(ours, base, metric, alpha, only_healthy=False):
        seeds = sorted(s for s in set(ours) & set(base)
                       if not only_healthy or (healthy(ours[s]) and healthy(base[s])))
        diffs = np.array([value(ours[s], metric, alpha)[0] - value(base[s], metric, alpha)[0]
                          for s in seeds])
        return seeds, diffs

    def lent(metric, alpha):
        # One common seed borrows the std of paired differences pooled over the healthy seeds of
        # the pairs of ``pairs`` that have several.
        diffs = [differences(groups[(d, a)], groups[(d, 0.0)], metric, alpha, True)[1]
                 for d, a in pairs if (d, a) in groups and (d, 0.0) in groups]
        return stats.pooled(diffs)

    rows = []
    for defense, alpha_train in pairs:
        if (defense, alpha_train) not in groups or (defense, 0.0) not in groups:
            continue
        ours_g, base_g = groups[(defense, alpha_train)], groups[(defense, 0.0)]
        for alpha in alpha_tests:
            for metric in metrics:
                if alpha is None and metric in ("a_sa", "a_tr"):
                    continue
                seeds, diffs = differences(ours_g, base_g, metric, alpha)
                if not seeds:
                    continue
                se_seed, df = stats.seed_error(diffs, lent(metric, alpha) if len(seeds) == 1
                                               else (np.nan, 0.0))
                draws = np.mean([value(ours_g[s], metric, alpha)[1] - value(base_g[s], metric, alpha)[1]
                                 for s in seeds], axis=0)
                se_test = float(np.std(draws, ddof=1))
                se, half = stats.half_width(se_seed, df, se_test)
                rows.append({"family": stats.family_name(defense), "alpha_train": alpha_train,
                             "seed_error": ("test sample only (one seed, nothing to pool)"
                                            if not np.isfinite(se_seed) else
                                            "pooled seed std" if len(seeds) == 1 else
                                            "paired seeds and test sample"),
                             "alpha_test": alpha, "metric": stats.METRIC_NAMES[metric],
                             "ours": np.mean([value(ours_g[s], metric, alpha)[0] for s in seeds]),
                             "baseline": np.mean([value(base_g[s], metric, alpha)[0] for s in seeds]),
                             "gain": float(diffs.mean()), "se": se, "half": half, "df": df,
                             "se_seed": se_seed, "se_test": se_test,
                             "seeds": f"{len(seeds)} paired" + (
                                 f" (of {len(ours_g)} vs {len(base_g)})"
                                 if len(seeds) < max(len(ours_g), len(base_g)) else "")})
    return pd.DataFrame(rows)


def paper_gains(number: int) -> pd.DataFrame:
    """Return the paper's ours − baseline in Table ``number``: family, alpha_train, alpha_test, metric, gain."""
    t = paper.table(number)
    t["alpha_train"] = t["alpha_train"].fillna(0.0)
    keys = [k for k in ("alpha_test",) if k in t]
    rows = []
    for family in FAMILY_NAMES:
        base = t[t["defense"] == family]
        ours = t[t["defense"] == family + "+ours"]
        for _, row in ours.iterrows():
            match = base
            for k in keys:
                match = match[match[k] == row[k]]
            if len(match) != 1:
                continue
            for metric in METRIC_NAMES:
                if metric in t and np.isfinite(row[metric]) and np.isfinite(match[metric].iloc[0]):
                    rows.append({"family": family, "alpha_train": row["alpha_train"],
                                 "alpha_test": row["alpha_test"] if "alpha_test" in t else None,
                                 "metric": METRIC_NAMES[metric],
                                 "paper gain": float(row[metric] - match[metric].iloc[0])})
    return pd.DataFrame(rows)


def gain_table(store: Store, plan: DatasetPlan, number: int,
               defenses: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Return paper Table ``number`` as gains: the paper's gain beside ours, with our interval;
    with ``defenses`` (e.g. ``("trades",)``), only those families' pairs, and no other model read.

    ``agrees`` says whether our interval lies on the paper's side of 0 (``yes``), on the other
    side (``no``), or contains 0 (``inconclusive``); ``size`` whether the paper's gain lies inside
    our interval (:func:`wmrlib.analysis.stats.size_agreement`). A_nat and A_rob do not depend on alpha_test:
    they get one row per model pair (alpha_test shown as –).
    """
    spec = SPECS[number]
    if defenses is not None:
        spec = dataclasses.replace(spec, defenses=tuple(d for d in spec.defenses if d in defenses))
    if spec.kind == "nonuniform":
        pairs = plan.headline_pairs(spec.defenses)
        alphas = plan.alpha_tests
    elif spec.kind in ("sweep", "uniform"):
        pairs = [(g[0].defense, g[0].alpha_train) for g in model_groups(plan, spec.defenses)
                 if g[0].alpha_train > 0]
        alphas = (SWEEP_ALPHA_TEST[plan.dataset],) if spec.kind == "sweep" else ()
    else:
        raise ValueError(f"Table {number} ({spec.kind}) has no gain view; tables of kind "
                         "nonuniform, sweep or uniform do")
    uniform_metrics = ("a_nat", "a_rob") if spec.kind == "uniform" else ("a_rob",)
    ours = pd.concat([our_gains(store, plan, pairs, (None,), uniform_metrics),
                      our_gains(store, plan, pairs, alphas, ("a_sa", "a_tr"))],
                     ignore_index=True)
    if ours.empty:
        return ours
    theirs = paper_gains(number)
    if not theirs.empty:
        flat = theirs["metric"].isin(["A_nat", "A_rob"])
        theirs.loc[flat, "alpha_test"] = None
        if spec.kind == "sweep":  # one alpha_test per table: its rows are ours at that alpha_test
            theirs.loc[~flat, "alpha_test"] = alphas[0]
        theirs = theirs.drop_duplicates(["family", "alpha_train", "metric", "alpha_test"])
        for frame in (ours, theirs):
            frame["alpha_test"] = frame["alpha_test"].astype(object)
        out = ours.merge(theirs, on=["family", "alpha_train", "metric", "alpha_test"], how="left")
    else:
        out = ours.assign(**{"paper gain": np.nan})
    out["interval"] = [format_interval(g, h) for g, h in zip(out["gain"], out["half"])]
    rows = list(zip(out["paper gain"], out["gain"], out["half"], out["df"]))
    out["agrees"] = [agreement(*row) for row in rows]
    out["size"] = [size_agreement(*row) for row in rows]
    out = _with_verdicts(out, store, plan)
    out = out.sort_values(["family", "alpha_train"], kind="stable")
    columns = ["family", "alpha_train", "alpha_test", "metric", "paper gain", "gain", "interval",
               "verdict", "claim", "agrees", "size", "ours", "baseline", "seeds"]
    return out[columns].rename(columns={"gain": "our gain"}).reset_index(drop=True)


NO_CLAIM = "– (no claim)"  # a gain that belongs to no claim carries no verdict (analysis plan, 1.4)


def _with_verdicts(gains: pd.DataFrame, store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Add to each gain the verdict of the claim comparison it is (C2's A_sa and A_tr, C3's
    A_nat and A_rob of the headline pairs), taken from :func:`wmrlib.analysis.claims.comparisons`
    so that no page judges a gain differently from the Claims page; :data:`NO_CLAIM` otherwise."""
    frame = claims.comparisons(store, plan, only=("C2", "C3"))
    keys = ["family", "alpha_train", "alpha_test", "metric"]
    if frame.empty:
        return gains.assign(verdict=NO_CLAIM, claim="")

    def key(row) -> tuple:
        alpha = row["alpha_test"]
        alpha = None if alpha is None or (isinstance(alpha, float) and np.isnan(alpha)) else float(alpha)
        return (row["family"], float(row["alpha_train"]), alpha, row["metric"])

    found = {key(r): (r["verdict"], r["claim"]) for _, r in frame[keys + ["verdict", "claim"]].iterrows()}
    matched = [found.get(key(r), (NO_CLAIM, "")) for _, r in gains.iterrows()]
    return gains.assign(verdict=[v for v, _ in matched], claim=[c for _, c in matched])


def seed_error_unknown(table: pd.DataFrame) -> bool:
    """Return whether no gain of ``table`` (a :func:`gain_table` or its rows) has a known seed
    error: every one is :data:`~wmrlib.analysis.stats.NOT_JUDGED` (one seed, nothing to pool)."""
    return bool(len(table)) and bool((table["agrees"] == stats.NOT_JUDGED).all())
