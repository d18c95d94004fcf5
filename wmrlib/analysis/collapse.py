"""Training collapse: a model whose robustness under the evaluation attack falls away during
training while its clean accuracy and its accuracy against the (weaker) training attack rise.

This is how TRADES pilots and campaign seeds broke at lr 10⁻³ with a 5-step training attack: the
model learns to defeat the short attack instead of resisting attacks. It is read from the
learning curves stored with each run (40-PGD on a fixed test subset after every epoch).
"""
from __future__ import annotations

import pandas as pd

from ..experiment.config import DEFENSE_NAMES
from .curves import learning_curves
from ..experiment.profiles import DatasetPlan
from ..workflow.store import Store

DROP_PP = 20.0  # A_rob this many pp below its best earlier epoch: the run collapsed


def largest_drop(values) -> float:
    """Return how far (pp) a curve falls at most below its running maximum (0 for a curve
    that never falls).

    Example:
        >>> largest_drop([70.0, 85.0, 80.0, 90.0, 60.0])
        30.0
    """
    best, drop = float("-inf"), 0.0
    for value in values:
        best = max(best, float(value))
        drop = max(drop, best - float(value))
    return drop


def collapses(curves: pd.DataFrame, drop_pp: float = DROP_PP) -> pd.DataFrame:
    """Return one row per run of ``curves`` (:func:`wmrlib.analysis.curves.learning_curves`): its best
    and final curve A_rob, the epoch it first fell ``drop_pp`` below its best so far, and
    ``collapsed`` (bool).

    Example:
        >>> curves = pd.DataFrame({"defense": "trades", "alpha_train": 0.0, "seed": 1,
        ...                        "epoch": [1, 2, 3], "a_rob": [73.2, 40.6, 18.6]})
        >>> collapses(curves)[["best_a_rob", "final_a_rob", "collapse_epoch", "collapsed"]].values.tolist()
        [[73.2, 18.6, 2, True]]
    """
    rows = []
    for (defense, alpha, seed), run in curves.groupby(["defense", "alpha_train", "seed"], sort=False):
        run = run.sort_values("epoch")
        best, epoch_fell = float("-inf"), None
        for epoch, rob in zip(run["epoch"], run["a_rob"]):
            if epoch_fell is None and rob < best - drop_pp:
                epoch_fell = int(epoch)
            best = max(best, float(rob))
        rows.append({"defense": defense, "alpha_train": float(alpha), "seed": int(seed),
                     "best_a_rob": best, "final_a_rob": float(run["a_rob"].iloc[-1]),
                     "collapse_epoch": epoch_fell, "collapsed": epoch_fell is not None})
    out = pd.DataFrame(rows, columns=["defense", "alpha_train", "seed", "best_a_rob",
                                      "final_a_rob", "collapse_epoch", "collapsed"])
    return out.astype({"collapse_epoch": "Int64", "collapsed": bool})


def collapsed_models(store: Store, plan: DatasetPlan) -> dict[str, int]:
    """Return each stored run of ``plan`` that collapsed in training: its label → the epoch."""
    found = collapses(learning_curves(store, plan))
    out = {}
    for _, r in found[found["collapsed"]].iterrows():
        label = DEFENSE_NAMES[r["defense"]]
        label += f"+ours α {r['alpha_train']:g}" if r["alpha_train"] else ""
        out[f"{label} seed {r['seed']}"] = int(r["collapse_epoch"])
    return out
