"""How confident the baselines are under attack: the adversarial margins and weight spreads of the
PGD-AT and TRADES baselines, beside their A_rob and A_sa and the paper's.

The weighting can only help where the weights differ between examples. Under the main (uniform)
attack, an example's weight at α_test is s = exp(−α_test·margin) on its adversarial margin; a
baseline whose correctly classified examples sit close to the decision boundary (small positive
margins) gives them weights close to those of the misclassified ones, so the sampling attacker
(A_sa) gains little over the uniform one (A_rob), and so does training against it.
:func:`baseline_confidence` reads, per profile (training budget), family and seed, the margins
of the correctly classified test examples under the main attack, their median, and the spread
of the normalised weights N·s̃ at α_test (:func:`wmrlib.analysis.claims.weight_spread`, over all
evaluated examples, as claim C7 measures it). :mod:`wmrlib.book.finding` draws and words it.

Example::

    >>> data = baseline_confidence("results", profiles=("cpu", "cpu-20epoch"))
    >>> data.summary[["profile", "family", "median_margin", "weight_spread"]]
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..experiment.registry import FAMILIES, family_name
from ..method import metrics
from ..workflow.store import MissingResult
from . import paper
from .claims import weight_spread
from .results import results_for


@dataclass(frozen=True, eq=False)
class BaselineConfidence:
    """The margins and weight spreads of the baselines, per profile (training budget).

    ``per_seed``: one row per profile, family and seed: epochs, a_rob, a_sa (at ``alpha_test``,
    %), median_margin (of the correctly classified examples), weight_spread (std of N·s̃ at
    ``alpha_test``), correct (how many examples are correctly classified), examples.
    ``summary``: per profile and family, the seed means of those, their range over seeds
    (``*_low``, ``*_high``), the number of seeds, and the paper's A_rob and A_sa at
    ``alpha_test`` (Table 1). ``margins``: profile, family, seed, margin: every correctly
    classified example's adversarial margin. ``missing``: the profiles asked for whose baselines
    are not stored."""

    dataset: str
    alpha_test: float
    per_seed: pd.DataFrame
    summary: pd.DataFrame
    margins: pd.DataFrame
    missing: tuple[str, ...]

    @property
    def profiles(self) -> tuple[str, ...]:
        """Return the profiles with stored baselines, in the order asked for."""
        return tuple(dict.fromkeys(self.summary["profile"])) if len(self.summary) else ()

    def row(self, family: str, profile: str | None = None) -> pd.Series | None:
        """Return the summary row of ``family`` ("PGD" or "TRADES") for ``profile`` (default:
        the first profile stored), or None."""
        profile = profile or (self.profiles[0] if self.profiles else None)
        part = self.summary[(self.summary["profile"] == profile) & (self.summary["family"] == family)]
        return None if part.empty else part.iloc[0]


def baseline_confidence(results: str | Path | None = None, profiles=("cpu",),
                        dataset: str = "mnist", alpha_test: float | None = None
                        ) -> BaselineConfidence:
    """Return the :class:`BaselineConfidence` of the PGD-AT and TRADES baselines of each of
    ``profiles`` (say ``("cpu", "cpu-20epoch")`` to set two training budgets side by side): every
    seed whose main-attack evaluation is stored; a profile with none is listed in ``missing``.
    ``alpha_test`` defaults to the largest of the first profile's plan (the headline's)."""
    rows, margins, missing = [], [], []
    profiles = tuple(dict.fromkeys(profiles))
    if alpha_test is None:
        alpha_test = results_for(profiles[0], results).profile.plan(dataset).alpha_tests[-1]
    for name in profiles:
        stored = results_for(name, results)
        if dataset not in stored.profile.plans:
            missing.append(name)
            continue
        plan = stored.profile.plan(dataset)
        found = False
        for defense in FAMILIES:
            for seed in plan.seeds_of(defense):
                config = plan.run(defense, 0.0, seed=seed)
                try:
                    rec = stored.store.get_or_attack(config, plan.attack, 0.0,
                                                     eval_size=plan.eval_size,
                                                     eval_seed=plan.eval_seed)
                except MissingResult:
                    continue
                found = True
                correct = np.asarray(rec.correct, dtype=bool)
                kept = np.asarray(rec.margin, dtype=float)[correct]
                family = family_name(defense)
                rows.append({"profile": name, "family": family, "seed": seed,
                             "epochs": plan.base.epochs, "examples": len(correct),
                             "correct": int(correct.sum()),
                             "a_rob": 100 * metrics.a_rob(correct),
                             "a_sa": 100 * metrics.a_sa(correct, rec.margin, alpha_test),
                             "median_margin": float(np.median(kept)) if len(kept) else np.nan,
                             "weight_spread": weight_spread(rec.margin, alpha_test)})
                margins.append(pd.DataFrame({"profile": name, "family": family, "seed": seed,
                                             "margin": kept}))
        if not found:
            missing.append(name)
    per_seed = pd.DataFrame(rows, columns=["profile", "family", "seed", "epochs", "examples",
                                           "correct", "a_rob", "a_sa", "median_margin",
                                           "weight_spread"])
    return BaselineConfidence(
        dataset=dataset, alpha_test=alpha_test, per_seed=per_seed,
        summary=_summary(per_seed, alpha_test),
        margins=(pd.concat(margins, ignore_index=True) if margins else
                 pd.DataFrame(columns=["profile", "family", "seed", "margin"])),
        missing=tuple(missing))


def _summary(per_seed: pd.DataFrame, alpha_test: float) -> pd.DataFrame:
    """Return the seed means (and ranges) per profile and family, with the paper's values."""
    printed = paper.table(1)
    columns = ["a_rob", "a_sa", "median_margin", "weight_spread"]
    out = []
    for (profile, family), part in per_seed.groupby(["profile", "family"], sort=False):
        row = {"profile": profile, "family": family, "epochs": int(part["epochs"].iloc[0]),
               "seeds": len(part), "examples": int(part["examples"].iloc[0])}
        for c in columns:
            row[c] = float(part[c].mean())
            row[f"{c}_low"], row[f"{c}_high"] = float(part[c].min()), float(part[c].max())
        theirs = printed[(printed["defense"] == family) & np.isclose(printed["alpha_test"], alpha_test)]
        row["paper_a_rob"] = float(theirs["a_rob"].iloc[0]) if len(theirs) else np.nan
        row["paper_a_sa"] = float(theirs["a_sa"].iloc[0]) if len(theirs) else np.nan
        out.append(row)
    return pd.DataFrame(out)
