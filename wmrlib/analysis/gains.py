"""The method's gain: ours − baseline per defense family, beside the paper's gain.

The paper's absolute accuracies come from 100-epoch models; ours from far shorter schedules, so
ours − paper on an accuracy mostly measures the training length. What the paper claims is a
*gain* of the weighting over its baseline, and a gain can be compared across scales. Each of our
gains is a difference of seed means with a standard error that combines the seed spread and a
paired bootstrap over the test examples (:mod:`wmrlib.analysis.bootstrap`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment.profiles import DatasetPlan
from ..workflow.store import Store
from . import paper
from .bootstrap import resample_indices, resampled_metric
from .stats import (METRIC_NAMES, agreement, combined_se, family_name, format_interval,
                    pooled_std, seed_sem)
from .tables import SPECS, SWEEP_ALPHA_TEST, model_groups


def our_gains(store: Store, plan: DatasetPlan, pairs, alpha_tests, metrics) -> pd.DataFrame:
    """Return ours − baseline for each (defense, alpha_train) of ``pairs``, alpha_test and metric.

    Columns: family, alpha_train, alpha_test, metric, ours, baseline (seed means, %), gain, se
    (seed and paired-bootstrap errors combined), se_seed, se_test, seeds.
    """
    needed = {(d, float(a)) for d, alpha in pairs for a in (0.0, alpha)}  # load no other model
    groups = {(g[0].defense, g[0].alpha_train): g for g in model_groups(plan)
              if (g[0].defense, g[0].alpha_train) in needed}
    alphas = tuple(a for a in alpha_tests if a is not None)
    records = {}
    for group in groups.values():
        for config in group:
            records[config.key()] = store.get_or_evaluate(
                config, plan.attack, alphas, eval_size=plan.eval_size, eval_seed=plan.eval_seed)
    n = len(next(iter(records.values())).labels)
    idx = resample_indices(n, seed=plan.eval_seed)
    full = np.arange(n)[None, :]

    def values(group, metric, alpha):
        point = np.array([resampled_metric(records[c.key()], metric, alpha, full)[0] for c in group])
        draws = np.stack([resampled_metric(records[c.key()], metric, alpha, idx) for c in group])
        return point, draws

    def pooled(metric, alpha):
        # A one-seed model borrows the seed std pooled over the models with several seeds.
        return pooled_std(values(g, metric, alpha)[0] for g in groups.values() if len(g) > 1)

    rows = []
    for defense, alpha_train in pairs:
        if (defense, alpha_train) not in groups or (defense, 0.0) not in groups:
            continue
        ours_g, base_g = groups[(defense, alpha_train)], groups[(defense, 0.0)]
        for alpha in alpha_tests:
            for metric in metrics:
                if alpha is None and metric in ("a_sa", "a_tr"):
                    continue
                (po, do), (pb, db) = values(ours_g, metric, alpha), values(base_g, metric, alpha)
                shared = pooled(metric, alpha) if min(len(po), len(pb)) == 1 else np.nan
                se_seed = float(np.hypot(seed_sem(po, shared), seed_sem(pb, shared)))
                se_test = float(np.std(do.mean(0) - db.mean(0), ddof=1))
                se = combined_se(se_seed, se_test)
                se_test_only = not np.isfinite(se_seed)
                rows.append({"family": family_name(defense), "alpha_train": alpha_train,
                             "seed_error": "test sample only (one seed)" if se_test_only else "seeds and test sample",
                             "alpha_test": alpha, "metric": METRIC_NAMES[metric], "ours": po.mean(),
                             "baseline": pb.mean(), "gain": po.mean() - pb.mean(), "se": se,
                             "se_seed": se_seed, "se_test": se_test,
                             "seeds": f"{len(po)} vs {len(pb)}"})
    return pd.DataFrame(rows)


def paper_gains(number: int) -> pd.DataFrame:
    """Return the paper's ours − baseline in Table ``number``: family, alpha_train, alpha_test, metric, gain."""
    t = paper.table(number)
    t["alpha_train"] = t["alpha_train"].fillna(0.0)
    keys = [k for k in ("alpha_test",) if k in t]
    rows = []
    for family in ("PGD", "TRADES"):
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


def gain_table(store: Store, plan: DatasetPlan, number: int) -> pd.DataFrame:
    """Return paper Table ``number`` as gains: the paper's gain beside ours, with our interval.

    ``agrees`` says whether our interval lies on the paper's side of 0 (``yes``), on the other
    side (``no``), or contains 0 (``inconclusive``). A_nat and A_rob do not depend on alpha_test:
    they get one row per model pair (alpha_test shown as –).
    """
    spec = SPECS[number]
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
    out["interval"] = [format_interval(g, s) for g, s in zip(out["gain"], out["se"])]
    out["agrees"] = [agreement(p, g, s) + ("" if e == "seeds and test sample" else " (1 seed)")
                     for p, g, s, e in zip(out["paper gain"], out["gain"], out["se"], out["seed_error"])]
    out = out.sort_values(["family", "alpha_train"], kind="stable")
    columns = ["family", "alpha_train", "alpha_test", "metric", "paper gain", "gain", "interval",
               "agrees", "ours", "baseline", "seeds"]
    return out[columns].rename(columns={"gain": "our gain"}).reset_index(drop=True)
