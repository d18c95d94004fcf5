"""Training collapse: a model whose robustness under the evaluation attack falls away during
training while its clean accuracy and its accuracy against the (weaker) training attack rise.

This is how TRADES pilots and campaign seeds broke at lr 10⁻³ with a 5-step training attack: the
model learns to defeat the short attack instead of resisting attacks. A run with a validation
split is judged on its validation curve (A_rob after each quarter epoch) with the schedule
pilot's rule (``VALIDATION_RULE``: a fall of 10 pp or more below the running maximum); no test
image is read. The 5-epoch runs, which have no validation split, are judged on the test-subset
curves they recorded after every epoch, with their own rule (``TEST_SUBSET_RULE``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..experiment.config import DEFENSE_NAMES
from ..experiment.profiles import DatasetPlan
from ..workflow.store import Store
from .curves import learning_curves, validation_curves


@dataclass(frozen=True)
class CollapseRule:
    """How far a curve's A_rob may fall below its running maximum before the run counts as
    collapsed: ``drop_pp`` or more (``inclusive``), or more than ``drop_pp``."""

    drop_pp: float
    inclusive: bool

    def breaks(self, fall: float) -> bool:
        """Return whether a fall of ``fall`` pp below the running maximum breaks the rule."""
        return fall >= self.drop_pp if self.inclusive else fall > self.drop_pp

    def words(self) -> str:
        """Return the rule's threshold in words, e.g. "10 pp or more"."""
        return f"{self.drop_pp:g} pp or more" if self.inclusive else f"more than {self.drop_pp:g} pp"


# the 5-epoch runs' test-subset curves (one point per epoch), judged after the fact
TEST_SUBSET_RULE = CollapseRule(drop_pp=20.0, inclusive=False)
# validation curves (a point per quarter epoch): the schedule pilot's PROTOCOL.md, for every run
VALIDATION_RULE = CollapseRule(drop_pp=10.0, inclusive=True)


def falls(values) -> list[float]:
    """Return how far (pp) each point of a curve lies below the curve's maximum up to it.

    Example:
        >>> falls([70.0, 85.0, 80.0, 90.0, 60.0])
        [0.0, 0.0, 5.0, 0.0, 30.0]
    """
    best, out = float("-inf"), []
    for value in values:
        best = max(best, float(value))
        out.append(best - float(value))
    return out


def largest_drop(values) -> float:
    """Return how far (pp) a curve falls at most below its running maximum (0 for a curve
    that never falls).

    Example:
        >>> largest_drop([70.0, 85.0, 80.0, 90.0, 60.0])
        30.0
    """
    return max(falls(values), default=0.0)


def collapses(curves: pd.DataFrame, rule: CollapseRule = TEST_SUBSET_RULE) -> pd.DataFrame:
    """Return one row per run of ``curves`` (:func:`wmrlib.analysis.curves.learning_curves` or
    :func:`~wmrlib.analysis.curves.validation_curves`): its best and final curve A_rob, its
    largest fall below the running maximum, the epoch it first broke ``rule`` (a quarter epoch
    rounds up) and ``collapsed`` (bool).

    Example:
        >>> curves = pd.DataFrame({"defense": "trades", "alpha_train": 0.0, "seed": 1,
        ...                        "epoch": [1, 2, 3], "a_rob": [73.2, 40.6, 18.6]})
        >>> collapses(curves)[["best_a_rob", "final_a_rob", "collapse_epoch", "collapsed"]].values.tolist()
        [[73.2, 18.6, 2, True]]
    """
    columns = ["defense", "alpha_train", "seed", "best_a_rob", "final_a_rob", "largest_fall",
               "collapse_epoch", "collapsed"]
    rows = []
    for (defense, alpha, seed), run in curves.groupby(["defense", "alpha_train", "seed"], sort=False):
        run = run.sort_values("epoch")
        fall = falls(run["a_rob"])
        broke = [math.ceil(e) for e, f in zip(run["epoch"], fall) if rule.breaks(f)]
        rows.append({"defense": defense, "alpha_train": float(alpha), "seed": int(seed),
                     "best_a_rob": float(run["a_rob"].max()),
                     "final_a_rob": float(run["a_rob"].iloc[-1]), "largest_fall": max(fall),
                     "collapse_epoch": broke[0] if broke else None, "collapsed": bool(broke)})
    return pd.DataFrame(rows, columns=columns).astype({"collapse_epoch": "Int64", "collapsed": bool})


def rule_for(plan: DatasetPlan) -> CollapseRule:
    """Return the rule that judges ``plan``'s runs: on validation curves where it holds out a
    validation split, else on its test-subset curves."""
    return VALIDATION_RULE if uses_validation(plan) else TEST_SUBSET_RULE


def uses_validation(plan: DatasetPlan) -> bool:
    """Return whether ``plan``'s runs hold out a validation split (and are judged on it)."""
    return plan.base.val_size > 0


def describe_rule(plan: DatasetPlan) -> str:
    """Return the detector's rule for ``plan`` in words, e.g. "validation A_rob fell 10 pp or
    more below its best so far"."""
    if uses_validation(plan):
        return f"validation A_rob fell {VALIDATION_RULE.words()} below its best so far"
    return f"test-subset {plan.attack.name} A_rob fell by {TEST_SUBSET_RULE.words()}"


def healthy_exclusions(store: Store, plan: DatasetPlan) -> dict[tuple[str, float, int], int]:
    """Return the runs a pooled seed std leaves out: the collapsed ones, when the detector reads
    validation curves; none otherwise (a flag read on test images must not shape the primary
    analysis)."""
    return collapse_epochs(store, plan) if uses_validation(plan) else {}


def collapse_epochs(store: Store, plan: DatasetPlan) -> dict[tuple[str, float, int], int]:
    """Return each stored run of ``plan`` that collapsed in training, (defense, alpha_train,
    seed) → the epoch (of the first curve point past the rule; a quarter epoch rounds up)."""
    curves = validation_curves(store, plan) if uses_validation(plan) else learning_curves(store, plan)
    found = collapses(curves, rule_for(plan))
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
