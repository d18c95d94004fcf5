"""Learning curves read from the store, and the gain of the weighted model over its baseline.

Two kinds exist. A run trained with a validation split (``RunConfig.val_size`` > 0) records its
validation A_nat and A_rob after each quarter epoch (:func:`validation_curves`): the curves the
collapse detector reads. The earlier runs recorded A_nat, A_rob, A_sa and A_tr after every epoch
on a fixed subset of the *test* set, for the headline models (:func:`learning_curves`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment.profiles import DatasetPlan
from ..experiment.registry import family_name
from ..workflow.store import Store

CURVE_METRICS = ("a_nat", "a_rob", "a_sa", "a_tr")


def learning_curves(store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Return the stored learning curves of the headline models: one row per model and epoch."""
    rows = []
    for config in plan.models():
        if not plan.has_curve(config) or not store.has_run(config):
            continue
        history = store.get_or_train(config, need_model=False).provenance.get("history") or []
        for entry in history:
            if "curve_a_rob" not in entry:
                continue
            rows.append({"defense": config.defense, "alpha_train": config.alpha_train,
                         "seed": config.seed, "epoch": entry["epoch"], "n": entry["curve_n"],
                         "alpha_test": entry["curve_alpha_test"],
                         **{m: entry[f"curve_{m}"] for m in CURVE_METRICS}})
    return pd.DataFrame(rows, columns=["defense", "alpha_train", "seed", "epoch", "n",
                                       "alpha_test", *CURVE_METRICS])


def validation_curves(store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Return the stored validation curves of every model of ``plan``: one row per model and
    quarter epoch (A_nat and A_rob on the validation split, in %; :mod:`wmrlib.compute.train`)."""
    rows = []
    for config in plan.models():
        if not store.has_run(config):
            continue
        info = store.get_or_train(config, need_model=False).provenance
        for point in info.get("validation_curve") or []:
            rows.append({"defense": config.defense, "alpha_train": config.alpha_train,
                         "seed": config.seed, "epoch": point["epoch"], "n": point["val_n"],
                         "a_nat": point["val_a_nat"], "a_rob": point["val_a_rob"],
                         "lr": point["lr"]})
    return pd.DataFrame(rows, columns=["defense", "alpha_train", "seed", "epoch", "n", "a_nat",
                                       "a_rob", "lr"])


def seed_epoch_pairs(frame: pd.DataFrame, defense: str, alpha: float
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """Return a family's baseline and weighted (alpha) rows of ``frame`` (columns defense,
    alpha_train, seed, epoch), each indexed by (seed, epoch), and the (seed, epoch) both have."""
    fam = frame[frame["defense"] == defense]
    base = fam[fam["alpha_train"] == 0.0].set_index(["seed", "epoch"])
    ours = fam[fam["alpha_train"] == alpha].set_index(["seed", "epoch"])
    return base, ours, base.index.intersection(ours.index)


def curve_gains(curves: pd.DataFrame, plan: DatasetPlan) -> pd.DataFrame:
    """Return, per defense family and epoch, the gain ours − baseline of each metric (pp): the
    mean over the seeds both models have, its seed std, and the number of seed pairs."""
    rows = []
    for defense, alpha in plan.headline_pairs():
        base, ours, both = seed_epoch_pairs(curves, defense, alpha)
        if both.empty:
            continue
        diff = (ours.loc[both, list(CURVE_METRICS)] - base.loc[both, list(CURVE_METRICS)])
        for epoch, part in diff.groupby(level="epoch"):
            row = {"family": family_name(defense), "alpha_train": alpha,
                   "epoch": epoch, "seed pairs": len(part)}
            for m in CURVE_METRICS:
                row[f"gain_{m}"] = part[m].mean()
                row[f"gain_{m}_std"] = part[m].std(ddof=1) if len(part) > 1 else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def curve_examples(curves: pd.DataFrame) -> int | None:
    """Return the number of test images the learning curves were measured on (the largest when
    runs differ; None without curves)."""
    return int(curves["n"].max()) if len(curves) else None


def band_range(gains: pd.DataFrame) -> tuple[float, float]:
    """Return the lowest and the highest edge (pp) of the ±1 seed-SD bands of
    :func:`curve_gains` over every metric, family and epoch: how far apart the seeds' gains
    lie."""
    edges = []
    for m in CURVE_METRICS:
        mean = gains[f"gain_{m}"].to_numpy(float)
        std = np.nan_to_num(gains[f"gain_{m}_std"].to_numpy(float))
        edges += [mean - std, mean + std]
    stacked = np.concatenate(edges)
    return float(np.nanmin(stacked)), float(np.nanmax(stacked))
