"""The numbers behind the analog figures, read from the store: the χ² DRO curves (Figure 4) and
the normalised importance weights of the weight histograms (Figures 5-7).

:mod:`wmrlib.book.figures` draws them and computes nothing.

Example::

    >>> curves = dro_curves(store, plan)                 # one row per model, seed and ρ
    >>> dro_summary(curves)                               # the seed means the page shows
    >>> weights = weight_histograms(store, plan, 0.3)     # N·s̃ per (α_train row, α_test column)
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..experiment.profiles import DatasetPlan
from ..experiment.registry import FAMILIES, Defense, family_name
from ..method.dro import RHO_GRID, chi2_dro_curve
from ..method.risk import normalized_weights
from ..workflow.store import Store

DRO_COLUMNS = ("worst_case_loss", "worst_case_accuracy")


def dro_curves(store: Store, plan: DatasetPlan, rhos=None, defenses=FAMILIES) -> pd.DataFrame:
    """Return the chi-square worst-case adversarial loss and accuracy (%) against rho (Figure 4)
    of each family's baseline and headline model, every seed, on the main attack's unweighted
    unit; ``rhos`` defaults to the grid claim C6 uses (:data:`wmrlib.method.dro.RHO_GRID`).

    Columns: family ("PGD", "TRADES"), defense (the model's label), alpha_train, seed, rho,
    worst_case_loss, worst_case_accuracy. A missing unit raises MissingResult.
    """
    rhos = RHO_GRID if rhos is None else rhos
    rows = []
    for config in plan.models():
        if config.defense not in defenses or not plan.is_headline(config):
            continue
        rec = store.get_or_attack(config, plan.attack, 0.0, eval_size=plan.eval_size,
                                  eval_seed=plan.eval_seed)
        curve = chi2_dro_curve(rec.loss, rhos, correct=rec.correct)
        for rho, loss, acc in zip(curve["rho"], curve["loss"], curve["accuracy"]):
            rows.append({"family": family_name(config.defense),
                         "defense": config.label, "alpha_train": config.alpha_train,
                         "seed": config.seed, "rho": rho, "worst_case_loss": loss,
                         "worst_case_accuracy": 100 * acc})
    return pd.DataFrame(rows)


def dro_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`dro_curves` as the mean over seeds per model and rho (the page's table)."""
    return curves.groupby(["defense", "alpha_train", "rho"])[list(DRO_COLUMNS)].mean().reset_index()


@dataclass(frozen=True)
class WeightHistograms:
    """The normalised importance weights behind one histogram figure (Figures 5-7): for each
    model (``alpha_trains``, a row) and α_test (``alpha_tests``, a column), N·s̃ of the N test
    points under the attack at ``eps_test`` (1 = uniform weight)."""

    dataset: str
    defense: str
    eps_test: float
    alpha_trains: tuple[float, ...]       # the rows, ascending (0: the baseline)
    alpha_tests: tuple[float, ...]        # the columns
    scaled: dict[tuple[int, int], np.ndarray]  # (row, column) -> N·s̃ per test point

    @property
    def n(self) -> int | None:
        """Return the number of test points (None when there is no panel)."""
        return next((len(w) for w in self.scaled.values()), None)


def weight_histograms(store: Store, plan: DatasetPlan, eps_test: float,
                      defense: str = Defense.TRADES) -> WeightHistograms:
    """Return N·s̃ = N·normalised exp(−α_test·margin) of the first seed's ``defense`` models
    (every α_train, ascending) at each of the plan's α_test, under the main attack at
    ``eps_test`` (Figures 5-7). Every record is read here, so a missing one raises
    MissingResult before anything is drawn."""
    attack = replace(plan.attack, eps=eps_test)
    models = [c for c in plan.models() if c.defense == defense and c.seed == plan.seeds[0]]
    models.sort(key=lambda c: c.alpha_train)
    scaled = {}
    for r, config in enumerate(models):
        for c, alpha in enumerate(plan.alpha_tests):
            margin = store.get_or_attack(config, attack, alpha, eval_size=plan.eval_size_for(attack),
                                         eval_seed=plan.eval_seed).margin
            w = normalized_weights(margin, alpha)
            scaled[(r, c)] = w * len(w)
    return WeightHistograms(plan.dataset, defense, float(eps_test),
                            tuple(c.alpha_train for c in models), tuple(plan.alpha_tests), scaled)
