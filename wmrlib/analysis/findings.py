"""What each analog page finds, as numbers: the one sentence that opens *Sensitivity*, *Other
attacks*, *Weight histograms* and *χ² DRO* is rendered by :mod:`wmrlib.book` from these frozen
results, so no number of those sentences is typed.

* :func:`sensitivity_finding`: the headline weighted model's A_tr minus its baseline's, per
  defense family, at every ε_test × α_test of the sweep (Tables 7-8, Figure 3);
* :func:`attacks_finding`: the same for A_sa at α_test 1 under every PGD variant (Table 9), and
  how much the strongest variant lowers A_rob against the main attack;
* :func:`dro_finding`: claim C6's comparisons, per family and radius ρ > 0 (Figure 4);
* :func:`histogram_finding`: claim C7's comparisons, the weights' spread over α_test and over
  α_train (Figures 5-7).

Every estimate carries its 95 % interval under the rules of :mod:`.stats`: per-seed paired
differences and a paired bootstrap over the test examples. Where a comparison has one seed (the
ε sweep and the other attacks run on the first seed's models), nothing is pooled for it here:
its interval covers the test sample only, and :attr:`AnalogFinding.single_seed` says so.

Example::

    >>> f = sensitivity_finding(store, plan)
    >>> f.families[0].gains.positive, len(f.families[0].gains)     # cells where ours is above
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..experiment.profiles import DatasetPlan
from ..experiment.registry import Defense
from ..workflow.store import MissingResult, Store
from . import claims, stats
from .bootstrap import resample_indices, resampled_metric
from .stats import METRIC_NAMES, family_name
from .tables import model_record


@dataclass(frozen=True)
class Estimates:
    """Several estimates of one quantity (one per cell of a grid), each with its 95 % interval;
    ``keys`` say where each was measured (an (ε_test, α_test) pair, an attack's name, a ρ)."""

    keys: tuple
    values: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def positive(self) -> int:
        """Return how many estimates are above 0."""
        return int(sum(v > 0 for v in self.values))

    @property
    def above(self) -> tuple:
        """Return the keys whose interval lies wholly above 0."""
        return tuple(k for k, low in zip(self.keys, self.lows) if low > 0)

    @property
    def below(self) -> tuple:
        """Return the keys whose interval lies wholly below 0."""
        return tuple(k for k, high in zip(self.keys, self.highs) if high < 0)

    @property
    def smallest(self) -> float:
        return float(min(self.values))

    @property
    def largest(self) -> float:
        return float(max(self.values))


def _estimates(rows: list[tuple]) -> Estimates:
    keys, values, lows, highs = zip(*rows) if rows else ((), (), (), ())
    return Estimates(tuple(keys), tuple(map(float, values)), tuple(map(float, lows)),
                     tuple(map(float, highs)))


@dataclass(frozen=True)
class FamilyGains:
    """One defense family's gain, its headline weighted model minus its baseline (pp), over the
    cells of a page's grid."""

    family: str          # "PGD", "TRADES"
    alpha_train: float   # the headline weighted model's
    metric: str          # "A_tr", "A_sa"
    gains: Estimates
    seeds: int           # paired seeds behind each gain


@dataclass(frozen=True)
class RobDrop:
    """How much the strongest other attack lowers A_rob against the main attack (pp), over the
    models of the page: the smallest and largest drop."""

    attack: str
    main: str
    smallest: float
    largest: float
    models: int


@dataclass(frozen=True)
class AnalogFinding:
    """What an analog page (``kind`` "sensitivity" or "attacks") finds on one dataset."""

    dataset: str
    kind: str
    examples: int                 # test images behind every number
    seeds: tuple[int, ...]        # seeds whose models the page evaluates
    cells: int                    # cells of the grid per family
    families: tuple[FamilyGains, ...]
    alpha_tests: tuple[float, ...]
    rob_drop: RobDrop | None = None

    @property
    def single_seed(self) -> bool:
        """Whether every gain rests on one seed (its interval covers the test sample only)."""
        return all(f.seeds == 1 for f in self.families)


def _pair(plan: DatasetPlan, defense: str, keep) -> tuple[float, dict, dict]:
    alpha = plan.headline_alpha(defense)
    ours = {c.seed: c for c in plan.models() if c.defense == defense and c.alpha_train == alpha
            and keep(c)}
    base = {c.seed: c for c in plan.models() if c.defense == defense and c.alpha_train == 0.0
            and keep(c)}
    return alpha, ours, base


def _gain(ours: list, base: list, metric: str, alpha: float, idx: np.ndarray) -> tuple:
    """Return (gain, low, high) in pp of the per-seed paired records ``ours`` − ``base``."""
    full = np.arange(idx.shape[1])[None, :]
    diffs = np.array([resampled_metric(o, metric, alpha, full)[0]
                      - resampled_metric(b, metric, alpha, full)[0] for o, b in zip(ours, base)])
    draws = np.mean([resampled_metric(o, metric, alpha, idx) - resampled_metric(b, metric, alpha, idx)
                     for o, b in zip(ours, base)], axis=0)
    se_seed, df = stats.seed_error(diffs)  # one seed: unknown, so the test sample only
    _se, half = stats.half_width(se_seed, df, float(np.std(draws, ddof=1)))
    low, high = stats.interval(float(diffs.mean()), half)
    return float(diffs.mean()), low, high


def _analog(store: Store, plan: DatasetPlan, kind: str, attacks, alpha_tests, metric: str,
            keep) -> AnalogFinding:
    families, seeds_seen, examples = [], set(), 0
    for defense, _alpha in plan.headline_pairs():
        alpha_train, ours, base = _pair(plan, defense, keep)
        seeds = sorted(set(ours) & set(base))
        if not seeds:
            continue
        seeds_seen |= set(seeds)
        rows = []
        for attack in attacks:
            weighted = tuple(alpha_tests) if metric == "a_tr" else ()
            o = [model_record(store, plan, ours[s], attack, weighted, on_side=True) for s in seeds]
            b = [model_record(store, plan, base[s], attack, weighted, on_side=True) for s in seeds]
            examples = len(o[0].labels)
            idx = resample_indices(examples, seed=plan.eval_seed)
            for a in alpha_tests:
                key = (attack.eps, float(a)) if kind == "sensitivity" else attack.name
                rows.append((key, *_gain(o, b, metric, float(a), idx)))
        families.append(FamilyGains(family_name(defense), float(alpha_train), METRIC_NAMES[metric],
                                    _estimates(rows), len(seeds)))
    if not families:
        raise MissingResult(f"no {kind} pair of the {plan.dataset} plan has a common seed")
    cells = len(attacks) * len(alpha_tests)
    return AnalogFinding(plan.dataset, kind, examples, tuple(sorted(seeds_seen)), cells,
                         tuple(families), tuple(float(a) for a in alpha_tests))


def sensitivity_finding(store: Store, plan: DatasetPlan) -> AnalogFinding:
    """Return the ε sweep's finding (Tables 7-8, Figure 3): per family, A_tr of the headline
    weighted model minus its baseline's at every ε_test × α_test, on the sweep's models (the
    first seed's when the plan sweeps one seed) and its test subset."""
    return _analog(store, plan, "sensitivity", plan.sensitivity_attacks(), plan.alpha_tests,
                   "a_tr", plan.in_sweep)


ATTACKS_ALPHA_TEST = 1.0  # Table 9 reports A_sa at α_test 1


def attacks_finding(store: Store, plan: DatasetPlan) -> AnalogFinding:
    """Return the other attacks' finding (Table 9): per family, A_sa at α_test 1 of the headline
    weighted model minus its baseline's under the main attack and every other PGD variant, and
    how much the strongest variant (the largest mean drop) lowers each model's A_rob."""
    attacks = (plan.attack, *plan.other_attacks)
    found = _analog(store, plan, "attacks", attacks, (ATTACKS_ALPHA_TEST,), "a_sa",
                    plan.in_other_attacks)
    models = [c for c in plan.models() if plan.in_other_attacks(c) and plan.is_headline(c)]
    if not plan.other_attacks or not models:
        return found
    rob = {a.name: np.array([100 * model_record(store, plan, c, a, (), on_side=True).a_rob()
                             for c in models]) for a in attacks}
    drops = {name: rob[plan.attack.name] - values for name, values in rob.items()
             if name != plan.attack.name}
    strongest = max(drops, key=lambda name: drops[name].mean())
    return replace(found, rob_drop=RobDrop(strongest, plan.attack.name,
                                           float(drops[strongest].min()),
                                           float(drops[strongest].max()), len(models)))


@dataclass(frozen=True)
class FamilyRisk:
    """Claim C6 for one family: the baseline's worst-case χ² loss minus its weighted model's at
    each radius ρ > 0 (positive: the weighting lowers the worst case)."""

    family: str
    alpha_train: float
    reduction: Estimates   # keys: ρ
    seeds: str             # e.g. "5 paired"
    verdict: str           # C6's verdict for the family


@dataclass(frozen=True)
class DroFinding:
    """What the χ² DRO page finds on one dataset (claim C6's comparisons)."""

    dataset: str
    families: tuple[FamilyRisk, ...]


def dro_finding(store: Store, plan: DatasetPlan) -> DroFinding:
    """Return claim C6's comparisons per family as the DRO page's finding (the same numbers and
    verdicts as the Claims page)."""
    frame = claims.comparisons(store, plan, only=("C6",))
    out = []
    for family, part in frame.groupby("family", sort=False):
        part = part[part["in_claim"].astype(bool)]
        defense = next(d for d, _ in plan.headline_pairs() if family_name(d) == family)
        rows = [(float(r["rho"]), r["estimate"], r["interval_low"], r["interval_high"])
                for _, r in part.iterrows()]
        out.append(FamilyRisk(family, float(plan.headline_alpha(defense)), _estimates(rows),
                              str(part["seeds"].iloc[0]), stats.combine(part["verdict"])))
    return DroFinding(plan.dataset, tuple(out))


@dataclass(frozen=True)
class HistogramFinding:
    """What the weight histograms show on one dataset (claim C7's comparisons, TRADES models at
    the main attack's ε): the spread of N·s̃ from one α_test to the next, per model, and its
    slope over α_train at each α_test."""

    dataset: str
    eps_test: float
    models: int               # TRADES models (every α_train)
    headline_seeds: int       # seeds of the baseline and the headline model; the others have one
    steps: Estimates          # keys: (the model's α_train, the step's larger α_test)
    slopes: Estimates         # keys: α_test
    verdict: str              # C7's verdict (TRADES family)


def histogram_finding(store: Store, plan: DatasetPlan) -> HistogramFinding:
    """Return claim C7's comparisons as the histogram page's finding (the same numbers and
    verdict as the Claims page); raise MissingResult when the plan trains no TRADES model."""
    frame = claims.comparisons(store, plan, only=("C7",))
    if frame.empty:
        raise MissingResult(f"the {plan.dataset} plan trains no TRADES model")
    steps = frame[frame["trend"] == "alpha_test"]
    slopes = frame[frame["trend"] == "alpha_train"]
    step_rows = [((float(r["alpha_train"]), float(r["alpha_test"])), r["estimate"],
                  r["interval_low"], r["interval_high"]) for _, r in steps.iterrows()]
    slope_rows = [(float(r["alpha_test"]), r["estimate"], r["interval_low"], r["interval_high"])
                  for _, r in slopes.iterrows()]
    trades = [c for c in plan.models() if c.defense == Defense.TRADES]
    return HistogramFinding(
        plan.dataset, float(plan.attack.eps), len({c.alpha_train for c in trades}),
        len(plan.seeds_of(Defense.TRADES)), _estimates(step_rows), _estimates(slope_rows),
        stats.combine(frame["verdict"]))


def as_frame(estimates: Estimates, key: str = "where") -> pd.DataFrame:
    """Return ``estimates`` as a table: one row per key with its estimate and interval."""
    return pd.DataFrame({key: list(estimates.keys), "estimate": estimates.values,
                         "interval_low": estimates.lows, "interval_high": estimates.highs})
