"""The robustness check a dataset plan can carry: which units ("Is the robustness real?") each
model gets, on how many test images.

Every unit of the check uses one test subset, so the page compares attacks on the same
examples: clean, the plan's PGD attack unweighted and at each alpha_test, its other attacks
(Table 9), standard AutoAttack and its weighted counterpart at each alpha_test, the
logit-scaling attack, and PGD at each ε of a sweep that should drive A_rob to about 0.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..core.checks import check_choice, check_int, check_number
from .config import AttackConfig, RunConfig
from .registry import FAMILIES, AttackKind, is_autoattack

if TYPE_CHECKING:
    from .profiles import DatasetPlan

MODELS = ("headline", "headline-seeds")  # the first seed's headline models, or every seed's
Unit = tuple[AttackConfig | None, float, int | None]


def standard_autoattack(eps: float, restarts: int = 1) -> AttackConfig:
    """Return the standard AutoAttack at ``eps`` (100 iterations, Square 5,000 queries);
    ``restarts`` are its weighted counterpart's (APGD on s·CE at each alpha_test)."""
    return AttackConfig(kind=AttackKind.AUTOATTACK, eps=eps, steps=100, queries=5000,
                        restarts=restarts)


@dataclass(frozen=True)
class RobustnessPlan:
    """What the robustness check runs: the AutoAttack config, the test images, the ε sweep."""

    attack: AttackConfig                   # kind "autoattack"; its eps is the plan attack's
    eval_size: int | None = 500            # test examples of every robustness unit (None: all)
    sweep_eps: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)  # A_rob should fall to about 0
    scales: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)  # the logit-scaling attack's c
    models: str = "headline"               # one of MODELS
    families: tuple[str, ...] = FAMILIES   # the defense families checked

    def __post_init__(self) -> None:
        if not is_autoattack(self.attack):
            raise ValueError(f"a RobustnessPlan's attack must be of kind 'autoattack', got "
                             f"{self.attack.kind!r}; use standard_autoattack(eps)")
        if self.eval_size is not None:
            check_int("eval_size", self.eval_size, low=1)
        object.__setattr__(self, "sweep_eps", tuple(
            check_number("sweep eps", e, low=0.0, high=1.0, low_inclusive=False)
            for e in self.sweep_eps))
        check_choice("models", self.models, MODELS)
        for family in self.families:
            check_choice("robustness family", family, FAMILIES)

    def logit_attack(self, main: AttackConfig) -> AttackConfig:
        """Return the logit-scaling attack: the plan's PGD attack on CE(c·logits) for each scale c."""
        return replace(main, kind=AttackKind.LOGIT_SCALE, scales=self.scales)

    def sweep_attacks(self, main: AttackConfig) -> list[AttackConfig]:
        """Return the plan's PGD attack at each sweep ε, its step scaled with ε (the main attack at
        its own ε), so that every radius can be crossed in its steps."""
        return [main if e == main.eps else
                replace(main, eps=e, step_size=round(main.step_size * e / main.eps, 12))
                for e in self.sweep_eps]


def robust_models(plan: "DatasetPlan", rp: RobustnessPlan) -> list[RunConfig]:
    """Return the models the check covers: each family's baseline and headline alpha_train."""
    if rp.models == "headline-seeds":
        return plan.headline_seed_models(rp.families)
    return plan.headline_models(plan.seeds[0], rp.families)


def robustness_units(plan: "DatasetPlan", config: RunConfig, rp: RobustnessPlan) -> list[Unit]:
    """Return the check's units (attack or None, alpha_test, examples) of ``config``; none for a
    model the check does not cover."""
    if config.key() not in {c.key() for c in robust_models(plan, rp)}:
        return []
    n = rp.eval_size
    main, alphas = plan.attack, tuple(float(a) for a in plan.alpha_tests)
    units: list[Unit] = [(None, 0.0, n)]
    for attack in (main, rp.attack):
        units += [(attack, 0.0, n)] + [(attack, a, n) for a in alphas]
    units += [(a, 0.0, n) for a in (*plan.other_attacks, rp.logit_attack(main),
                                     *rp.sweep_attacks(main))]
    unique = {(None if a is None else a.key(), alpha, m): (a, alpha, m) for a, alpha, m in units}
    return list(unique.values())
