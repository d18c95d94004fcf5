"""Training collapse: a model whose robustness under the evaluation attack falls away during
training while its clean accuracy and its accuracy against the (weaker) training attack rise.

This is how TRADES pilots and campaign seeds broke at lr 10⁻³ with a 5-step training attack: the
model learns to defeat the short attack instead of resisting attacks. A run with a validation
split is judged on its validation curve (A_rob after each quarter epoch) with the schedule
pilot's rule, a fall of ``VALIDATION_DROP_PP`` or more below the running maximum; no test image
is read. The 5-epoch runs, which have no validation split, are judged on the test-subset curves
they recorded after every epoch, with their own rule (``DROP_PP``).
"""
from __future__ import annotations

import math

import pandas as pd

from ..experiment.config import DEFENSE_NAMES
from ..experiment.profiles import DatasetPlan
from ..workflow.store import Store
from .curves import learning_curves, validation_curves

DROP_PP = 20.0  # test-subset curves (5-epoch runs): A_rob this many pp below its best earlier epoch
VALIDATION_DROP_PP = 10.0  # validation curves: a fall this large below the running maximum


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
                epoch_fell = math.ceil(epoch)
            best = max(best, float(rob))
        rows.append({"defense": defense, "alpha_train": float(alpha), "seed": int(seed),
                     "best_a_rob": best, "final_a_rob": float(run["a_rob"].iloc[-1]),
                     "collapse_epoch": epoch_fell, "collapsed": epoch_fell is not None})
    out = pd.DataFrame(rows, columns=["defense", "alpha_train", "seed", "best_a_rob",
                                      "final_a_rob", "collapse_epoch", "collapsed"])
    return out.astype({"collapse_epoch": "Int64", "collapsed": bool})


def uses_validation(plan: DatasetPlan) -> bool:
    """Return whether ``plan``'s runs hold out a validation split (and are judged on it)."""
    return plan.base.val_size > 0


def describe_rule(plan: DatasetPlan) -> str:
    """Return the detector's rule for ``plan`` in words, e.g. "validation A_rob fell 10 pp or
    more below its best so far"."""
    if uses_validation(plan):
        return f"validation A_rob fell {VALIDATION_DROP_PP:g} pp or more below its best so far"
    return f"test-subset {plan.attack.name} A_rob fell by more than {DROP_PP:g} pp"


def healthy_exclusions(store: Store, plan: DatasetPlan) -> dict[tuple[str, float, int], int]:
    """Return the runs a pooled seed std leaves out: the collapsed ones, when the detector reads
    validation curves; none otherwise (a flag read on test images must not shape the primary
    analysis)."""
    return collapse_epochs(store, plan) if uses_validation(plan) else {}


def collapse_epochs(store: Store, plan: DatasetPlan) -> dict[tuple[str, float, int], int]:
    """Return each stored run of ``plan`` that collapsed in training, (defense, alpha_train,
    seed) → the epoch (of the first curve point past the rule; a quarter epoch rounds up)."""
    if uses_validation(plan):
        # "fell VALIDATION_DROP_PP or more": a strict test a hair below the threshold
        found = collapses(validation_curves(store, plan), VALIDATION_DROP_PP - 1e-9)
    else:
        found = collapses(learning_curves(store, plan))
    return {(r.defense, float(r.alpha_train), int(r.seed)): int(r.collapse_epoch)
            for r in found[found["collapsed"]].itertuples()}


def run_label(defense: str, alpha: float, seed: int) -> str:
    """Return the book's name of one run, e.g. ``TRADES+ours α 2 seed 1``."""
    return DEFENSE_NAMES[defense] + (f"+ours α {alpha:g}" if alpha else "") + f" seed {seed}"


def collapsed_models(store: Store, plan: DatasetPlan) -> dict[str, int]:
    """Return each stored run of ``plan`` that collapsed in training: its label → the epoch."""
    return {run_label(*run): epoch for run, epoch in collapse_epochs(store, plan).items()}


def collapsed_by_family(store: Store, plan: DatasetPlan) -> dict[str, list[str]]:
    """Return the labels of the collapsed runs of ``plan`` per defense family ("PGD", "TRADES")."""
    out: dict[str, list[str]] = {}
    for defense, alpha, seed in collapse_epochs(store, plan):
        out.setdefault(DEFENSE_NAMES[defense], []).append(run_label(defense, alpha, seed))
    return out
