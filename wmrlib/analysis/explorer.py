"""The α_test explorer's data: per-example margins a browser turns into A_sa at any α_test.

A_sa(α_test) (eq. 18) needs only the main uniform attack's per-example margins and correctness,
so a page can recompute it for any α_test in the reader's browser. This module exports those of
every headline model and seed as compact quantised arrays, with the stored A_tr values (the
weighted attack exists only at the stored α_tests) and the paper's α_test grid.

Margins are rounded to a grid of step ``h`` (each moves by at most h/2), so every weight
exp(−α·m) changes by a factor within exp(±α·h/2), and the weighted accuracy by a factor within
exp(±α·h): with h ≤ ln(1 + tolerance)/α_max, every A_sa from the quantised margins stays within
``tolerance`` of the exact value for all α_test ≤ α_max (:func:`error_bound_pp`).

Example::

    >>> data = explorer_data(store, profile("cpu").plan("mnist"))
    >>> data.models[0].label, data.models[0].a_sa(2.0)   # ('PGD', (mean, low, high)) in %
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field

import numpy as np

from ..core.datasets import spec
from ..experiment.config import DEFENSE_NAMES, RunConfig
from ..experiment.profiles import DatasetPlan
from ..method.metrics import a_sa, a_tr
from ..workflow.store import Store
from . import paper

ALPHA_MAX = 10.0        # the explorer's largest α_test
TOLERANCE_PP = 0.05     # guaranteed bound of a quantised A_sa's error, in pp (the page allows 0.1)
LEVELS = {2: 2 ** 16, 4: 2 ** 32}  # codes per byte width


def model_label(config: RunConfig) -> str:
    """Return a model's label as the claims and gain tables name it: ``PGD``, ``PGD+ours α=0.5``."""
    return f"{config.label} α={config.alpha_train:g}" if config.alpha_train else config.label


def error_bound_pp(step: float, alpha_max: float = ALPHA_MAX) -> float:
    """Return the largest error, in pp, of an A_sa from margins rounded to a grid of ``step``, for
    any α_test ≤ ``alpha_max``: 100·(exp(α_max·step) − 1)."""
    return 100 * math.expm1(alpha_max * step)


@dataclass(frozen=True)
class QuantisedMargins:
    """One model's margins at one seed on a grid ``low + step·code``, correct examples first."""

    seed: int
    n_correct: int
    low: float
    step: float
    codes: np.ndarray  # uint16 or uint32, one per test example

    def margins(self) -> np.ndarray:
        """Return the margins the codes stand for (correct examples first)."""
        return self.low + self.step * self.codes.astype(np.float64)

    def correct(self) -> np.ndarray:
        """Return the correctness (True for the first ``n_correct`` examples)."""
        return np.arange(len(self.codes)) < self.n_correct

    def a_sa(self, alpha_test: float) -> float:
        """Return A_sa(alpha_test) in % from the quantised margins."""
        return 100 * a_sa(self.correct(), self.margins(), alpha_test)

    def to_json(self) -> dict:
        """Return the record as the page reads it: codes little-endian, base64."""
        width = self.codes.dtype.itemsize
        return {"seed": self.seed, "n_correct": self.n_correct, "low": self.low, "step": self.step,
                "bytes": width, "codes": base64.b64encode(
                    self.codes.astype(f"<u{width}").tobytes()).decode("ascii")}


def quantise(correct, margins, seed: int = 0, alpha_max: float = ALPHA_MAX,
             tolerance_pp: float = TOLERANCE_PP) -> QuantisedMargins:
    """Return one record's margins on the coarsest grid that keeps every A_sa(α_test ≤ alpha_max)
    within ``tolerance_pp`` (finer when two bytes a code allow it)."""
    correct = np.asarray(correct, dtype=bool)
    margins = np.asarray(margins, dtype=np.float64)
    if correct.shape != margins.shape or margins.ndim != 1 or not margins.size:
        raise ValueError(f"correct and margins must be equal-length 1-D arrays, got "
                         f"{correct.shape}, {margins.shape}")
    if not np.isfinite(margins).all():
        raise ValueError("margins must be finite")
    order = np.concatenate([np.flatnonzero(correct), np.flatnonzero(~correct)])
    low, span = float(margins.min()), float(np.ptp(margins))
    allowed = math.log1p(tolerance_pp / 100) / alpha_max  # the largest step within tolerance
    width = 2 if span / (LEVELS[2] - 1) <= allowed else 4
    if span / (LEVELS[4] - 1) > allowed:
        raise ValueError(f"margins spanning {span:g} need more than 32 bits a code")
    step = max(span / (LEVELS[width] - 1), np.finfo(float).tiny)
    codes = np.rint((margins[order] - low) / step).astype(f"u{width}")
    return QuantisedMargins(seed, int(correct.sum()), low, float(step), codes)


@dataclass(frozen=True)
class ExplorerModel:
    """One headline model: its label, quantised margins per seed, and the stored A_tr seed means."""

    label: str
    family: str
    alpha_train: float
    seeds: tuple[QuantisedMargins, ...]
    a_tr: dict[float, float] = field(default_factory=dict)  # α_test -> seed-mean A_tr in %

    def a_sa(self, alpha_test: float) -> tuple[float, float, float]:
        """Return the seed mean, lowest and highest A_sa(alpha_test) in %, from the quantised margins."""
        values = [s.a_sa(alpha_test) for s in self.seeds]
        return float(np.mean(values)), min(values), max(values)

    def to_json(self) -> dict:
        """Return the model as the page reads it."""
        return {"label": self.label, "family": self.family, "alpha_train": self.alpha_train,
                "a_tr": [[a, v] for a, v in sorted(self.a_tr.items())],
                "seeds": [s.to_json() for s in self.seeds]}


@dataclass(frozen=True)
class ExplorerData:
    """What the explorer shows for one dataset: its headline models, the α_tests with stored
    A_tr, the paper's α_test grid, and the bound of every quantised A_sa."""

    dataset: str
    name: str
    attack: str   # the main attack's name, e.g. 40-PGD
    eps: float    # its radius
    eval_size: int
    models: tuple[ExplorerModel, ...]
    stored_alpha_tests: tuple[float, ...]
    paper_alpha_tests: tuple[float, ...]
    alpha_max: float = ALPHA_MAX

    @property
    def bound_pp(self) -> float:
        """Return the guaranteed error bound, in pp, of every A_sa this data gives."""
        return max(error_bound_pp(s.step, self.alpha_max) for m in self.models for s in m.seeds)

    def to_json(self) -> dict:
        """Return the data as the page reads it."""
        return {"dataset": self.dataset, "name": self.name, "attack": self.attack, "eps": self.eps,
                "eval_size": self.eval_size,
                "alpha_max": self.alpha_max, "bound_pp": self.bound_pp,
                "stored_alpha_tests": list(self.stored_alpha_tests),
                "paper_alpha_tests": list(self.paper_alpha_tests),
                "models": [m.to_json() for m in self.models]}


def paper_alpha_tests() -> tuple[float, ...]:
    """Return the α_test values of the paper's Table 1 (MNIST), its grid for A_sa and A_tr."""
    return tuple(sorted(float(a) for a in paper.table(1)["alpha_test"].dropna().unique()))


def explorer_data(store: Store, plan: DatasetPlan, alpha_max: float = ALPHA_MAX,
                  tolerance_pp: float = TOLERANCE_PP) -> ExplorerData:
    """Return the explorer's data for ``plan``'s headline models and seeds, read from ``store``
    (raises MissingResult when a main uniform attack is not stored)."""
    kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)
    groups: dict[tuple[str, float], list[RunConfig]] = {}
    for config in plan.headline_seed_models():
        groups.setdefault((config.defense, config.alpha_train), []).append(config)
    models, sizes = [], set()
    for (defense, alpha_train), configs in groups.items():
        seeds, tr = [], {}
        for config in sorted(configs, key=lambda c: c.seed):
            record = store.get_or_attack(config, plan.attack, 0.0, **kw)
            sizes.add(len(record.margin))
            seeds.append(quantise(record.correct, record.margin, config.seed, alpha_max,
                                  tolerance_pp))
        for alpha in plan.alpha_tests:  # A_tr exists only where the weighted attack is stored
            if all(store.has_unit(c, plan.attack, float(alpha), **kw) for c in configs):
                values = [a_tr(r.correct, r.margin, alpha) for r in
                          (store.get_or_attack(c, plan.attack, float(alpha), **kw) for c in configs)]
                tr[float(alpha)] = 100 * float(np.mean(values))
        models.append(ExplorerModel(model_label(configs[0]), DEFENSE_NAMES[defense],
                                    float(alpha_train), tuple(seeds), tr))
    if len(sizes) > 1:
        raise ValueError(f"the headline models of {plan.dataset} were attacked on different "
                         f"numbers of test images: {sorted(sizes)}")
    return ExplorerData(plan.dataset, spec(plan.dataset).display_name, plan.attack.name,
                        float(plan.attack.eps), sizes.pop(),
                        tuple(models), tuple(sorted({a for m in models for a in m.a_tr})),
                        paper_alpha_tests(), alpha_max)


def exact_a_sa(store: Store, plan: DatasetPlan, label: str, alpha_test: float) -> list[float]:
    """Return the exact A_sa(alpha_test) in % of the headline model ``label`` at each of its seeds,
    from the stored records (what the quantised data must reproduce)."""
    kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)
    configs = [c for c in plan.headline_seed_models() if model_label(c) == label]
    if not configs:
        raise KeyError(f"no headline model {label!r} in the {plan.dataset} plan")
    records = [store.get_or_attack(c, plan.attack, 0.0, **kw) for c in sorted(configs, key=lambda c: c.seed)]
    return [100 * a_sa(r.correct, r.margin, alpha_test) for r in records]
