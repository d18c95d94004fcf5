"""Profiles: the configurations of every table at three scales that share one code path.

``smoke`` exercises every code path in seconds (real MNIST, synthetic CIFAR-10 and Tiny ImageNet
tensors when their files are absent), ``cpu`` reproduces the MNIST experiments on a 2-core CPU,
and ``paper`` holds the paper's settings (A.2) for a GPU. A profile changes sizes, never code.
Each choice the paper leaves open is made here once; ``CHOICES`` lists them with their sources.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..core.checks import check_choice
from .config import AttackConfig, RunConfig
from .registry import FAMILIES, Defense, is_family
from .robustness_plan import RobustnessPlan, robustness_units, standard_autoattack


# FAMILIES (from the registry): the two defense families of the headline comparison, in the
# order of ``DatasetPlan.headline``.


@dataclass(frozen=True)
class DatasetPlan:
    """What one profile trains and evaluates on one dataset."""

    dataset: str
    base: RunConfig                       # training settings (alpha_train, defense, seed vary)
    pgd_alphas: tuple[float, ...] = ()    # alpha_train of PGD+ours (the baseline is alpha 0)
    trades_alphas: tuple[float, ...] = ()  # alpha_train of TRADES+ours
    headline: tuple[float, float] = (0.5, 2.0)  # (PGD+ours, TRADES+ours) alpha of Tables 1-3
    seeds: tuple[int, ...] = (0,)         # seeds of the headline comparison (first = all models)
    attack: AttackConfig = AttackConfig()  # the main evaluation attack (A_rob, A_sa, A_tr)
    alpha_tests: tuple[float, ...] = (1.0, 1.5, 2.0)
    eps_tests: tuple[float, ...] = ()     # the sensitivity sweep (Tables 7-8, Figure 3)
    other_attacks: tuple[AttackConfig, ...] = ()  # Table 9
    eval_size: int | None = None          # test examples evaluated (None = the whole test set)
    eval_seed: int = 0
    side_eval_size: int | None = None     # examples for the eps sweep and other attacks (None: eval_size)
    curve_size: int = 0                   # learning-curve probe examples per epoch, headline models (0: none)
    sweep_all_seeds: bool = True          # False: the eps sweep runs on the first seed's models only
    other_attacks_on: str = "all"         # "all" models, or "headline": baselines and headline alphas
    precision_check: bool = False         # also train the first PGD-AT baseline in fp32 (bf16 check)
    order: str = "first-seed"             # the campaign's job order (see priority)
    priority_offset: int = 0              # added to every priority: a plan queued after others
    # Table 4's extra baselines (Free-AT, YOPO, IAAT): complete configs, one seed each, trained
    # after every other model and evaluated on the main attack only (A_nat and A_rob).
    extras: tuple[RunConfig, ...] = ()
    # "Is the robustness real?": AutoAttack, its weighted counterpart and the masking probes on
    # the headline models (wmrlib.experiment.robustness_plan); None: the plan runs no robustness check.
    robustness: RobustnessPlan | None = None
    # A campaign's complete part only: (family, seed) where that family's headline pair is
    # complete but another family's is not yet; each adds that family's pair at that seed.
    family_only_seeds: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        check_choice("other_attacks_on", self.other_attacks_on, ("all", "headline"))
        for family, seed in self.family_only_seeds:
            check_choice("defense family", family, FAMILIES)
            if seed in self.seeds:
                raise ValueError(f"seed {seed} of family_only_seeds is already one of the common "
                                 f"seeds {self.seeds}: list it once")
        check_choice("order", self.order, ("first-seed", "trades-first"))
        for extra in self.extras:
            if is_family(extra.defense) or extra.dataset != self.dataset:
                raise ValueError(f"an extra baseline of the {self.dataset} plan must be a "
                                 f"{self.dataset} config of another defense than 'pgd' and "
                                 f"'trades', got {extra.dataset} {extra.defense!r}")

    def run(self, defense: str, alpha: float = 0.0, seed: int | None = None) -> RunConfig:
        """Return the RunConfig of one model of this plan (an extra baseline's own settings for
        its defense)."""
        base = next((e for e in self.extras if e.defense == defense), self.base)
        return replace(base, defense=defense, alpha_train=float(alpha),
                       seed=self.seeds[0] if seed is None else seed)

    def headline_alpha(self, family: str) -> float:
        """Return the headline alpha_train of a defense family ("pgd" or "trades")."""
        check_choice("defense family", family, FAMILIES)
        return self.headline[FAMILIES.index(family)]

    def headline_pairs(self, families=FAMILIES) -> list[tuple[str, float]]:
        """Return (family, headline alpha_train) of each of ``families``: the weighted model that
        each family's baseline is compared with in Tables 1-3 and the claims."""
        return [(f, self.headline_alpha(f)) for f in families]

    def headline_models(self, seed: int | None = None, families=FAMILIES) -> list[RunConfig]:
        """Return each family's baseline and headline weighted model at ``seed`` (the first seed
        by default): PGD-AT, PGD+ours, TRADES, TRADES+ours."""
        return [self.run(f, a, seed) for f, alpha in self.headline_pairs(families)
                for a in (0.0, alpha)]

    def seeds_of(self, family: str) -> tuple[int, ...]:
        """Return the seeds of ``family``'s headline pair: the common seeds, then its own."""
        check_choice("defense family", family, FAMILIES)
        return self.seeds + tuple(s for f, s in self.family_only_seeds if f == family)

    def every_seed(self) -> tuple[int, ...]:
        """Return every seed at which some family's headline pair is in the plan: the common
        seeds, then the family-only ones."""
        return self.seeds + tuple(sorted({s for _, s in self.family_only_seeds}))

    def headline_seed_models(self, families=FAMILIES) -> list[RunConfig]:
        """Return the headline models of ``families`` at every seed: the common seeds seed by
        seed, then each family's own seeds (``family_only_seeds``)."""
        runs = [c for s in self.seeds for c in self.headline_models(s, families)]
        return runs + [c for f, s in self.family_only_seeds if f in families
                       for c in self.headline_models(s, (f,))]

    def models(self) -> list[RunConfig]:
        """Return every model the plan trains, baselines, extra seeds and the extra baselines (last)
        included, without repeats."""
        runs = [self.run(Defense.PGD)] + [self.run(Defense.PGD, a) for a in self.pgd_alphas]
        runs += [self.run(Defense.TRADES)] + [self.run(Defense.TRADES, a)
                                              for a in self.trades_alphas]
        runs += self.headline_seed_models()[len(self.headline_models()):]
        unique = {r.key(): r for r in runs + list(self.extras)}
        return list(unique.values())

    def is_extra(self, config: RunConfig) -> bool:
        """Return whether ``config`` is one of the plan's extra baselines (Table 4's Free-AT, YOPO, IAAT)."""
        return config.key() in {e.key() for e in self.extras}

    def precision_models(self) -> list[RunConfig]:
        """Return the fp32 twin of the first PGD-AT baseline when the plan trains in bf16 and asks."""
        if not self.precision_check or self.base.precision == "fp32":
            return []
        return [replace(self.run(Defense.PGD), precision="fp32")]

    def sensitivity_attacks(self) -> list[AttackConfig]:
        """Return the main attack at each eps_test of the sensitivity sweep."""
        return [replace(self.attack, eps=e) for e in self.eps_tests]

    def is_headline(self, config: RunConfig) -> bool:
        """Return whether ``config`` is a baseline or the headline alpha of PGD-AT or TRADES."""
        if not is_family(config.defense):
            return False
        return config.alpha_train in (0.0, self.headline_alpha(config.defense))

    def in_sweep(self, config: RunConfig) -> bool:
        """Return whether the eps sweep (Tables 7-8, Figure 3) evaluates ``config``."""
        if self.is_extra(config):
            return False
        return self.sweep_all_seeds or config.seed == self.seeds[0]

    def in_other_attacks(self, config: RunConfig) -> bool:
        """Return whether the other attacks (Table 9) evaluate ``config``."""
        if self.is_extra(config):
            return False
        if self.other_attacks_on == "all":
            return True
        return config.seed == self.seeds[0] and self.is_headline(config)

    def eval_size_for(self, attack: AttackConfig | None) -> int | None:
        """Return the test examples a unit of ``attack`` uses: ``eval_size`` for the main attack,
        ``side_eval_size`` (when set) for the eps sweep and the other attacks."""
        if attack is None or self.side_eval_size is None or attack.key() == self.attack.key():
            return self.eval_size
        return self.side_eval_size

    def priority(self, config: RunConfig) -> int:
        """Return the order a budget-limited campaign trains ``config`` in (0 first).

        ``order="first-seed"``: the first seed's headline models, then its other alphas, then the
        headline models' extra seeds, then the extra baselines of Table 4. ``order="trades-first"``
        (the cpu campaign): every seed of the TRADES pair (the schedule's stage-2 runs), then the
        PGD pair's first three seeds, then the alpha sweep and the extra baselines (with them the
        campaign covers every model of its predecessor, whose pages it then replaces), then the
        PGD pair's other seeds.
        """
        return self.priority_offset + self._rank(config)

    def _rank(self, config: RunConfig) -> int:
        if self.is_extra(config):
            return 2 if self.order == "trades-first" else 3
        if self.order == "trades-first":
            if self.is_headline(config) and config.defense == Defense.TRADES:
                return 0
            if self.is_headline(config):
                return 1 if self.seeds_of(config.defense).index(config.seed) < 3 else 3
            return 2
        if config.seed == self.seeds[0]:
            return 0 if self.is_headline(config) else 1
        return 2

    def has_curve(self, config: RunConfig) -> bool:
        """Return whether ``config`` records learning curves (headline models, every seed)."""
        return self.curve_size > 0 and self.is_headline(config)

    def units(self, config: RunConfig) -> list[tuple[AttackConfig | None, float, int | None]]:
        """Return every evaluation unit (attack or None for clean, alpha_test, examples) the notebooks read.

        Attacks whose examples are identical appear once: the sweep's eps equal to the main
        attack's eps is the main attack's unit.
        """
        if self.is_extra(config):  # Table 4 reads A_nat and A_rob only
            return [(None, 0.0, self.eval_size), (self.attack, 0.0, self.eval_size)]
        units: list[tuple[AttackConfig | None, float]] = [(None, 0.0)]
        extra = config in self.precision_models()
        sweep = self.in_sweep(config) and not extra
        attacks = [self.attack] + (self.sensitivity_attacks() if sweep else [])
        for attack in attacks:
            units += [(attack, 0.0)] + [(attack, float(a)) for a in self.alpha_tests]
        if self.in_other_attacks(config) and not extra:
            units += [(attack, 0.0) for attack in self.other_attacks]
        triples = [(a, alpha, self.eval_size_for(a)) for a, alpha in units]
        if any(n != self.eval_size for _a, _alpha, n in triples):
            triples.append((None, 0.0, self.side_eval_size))  # the side subset's clean unit
        if self.robustness is not None and not extra:
            triples += robustness_units(self, config, self.robustness)
        unique = {(None if a is None else a.key(), alpha, n): (a, alpha, n)
                  for a, alpha, n in triples}
        return list(unique.values())


@dataclass(frozen=True)
class Profile:
    """A named scale: one plan per dataset it covers."""

    name: str
    description: str
    plans: dict[str, DatasetPlan] = field(default_factory=dict)
    pending: str = ""  # why the profile may not be computed yet ("" when it may)

    def plan(self, dataset: str) -> DatasetPlan:
        """Return the plan for ``dataset``; raise if this profile does not cover it."""
        check_choice(f"dataset for profile {self.name!r}", dataset, tuple(self.plans))
        return self.plans[dataset]


def _paper() -> Profile:
    mnist = RunConfig(dataset="mnist", eps=0.3, step_size=0.01, attack_steps=40, epochs=100,
                      batch_size=128, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=0.0,
                      schedule="multistep", milestones=(0.55, 0.75, 0.9), beta=6.0)
    cifar = RunConfig(dataset="cifar10", eps=0.031, step_size=0.007, attack_steps=10, epochs=100,
                      batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2e-4,
                      schedule="multistep", milestones=(0.75, 0.9), beta=5.0, augment=True)
    tiny = RunConfig(dataset="tinyimagenet", eps=0.016, step_size=0.0015, attack_steps=10,
                     epochs=100, batch_size=64, optimizer="sgd", lr=0.1, momentum=0.9,
                     weight_decay=2e-4, schedule="multistep", milestones=(0.75, 0.9), beta=6.0,
                     augment=True)
    cifar_attack = AttackConfig(eps=0.031, step_size=0.003, steps=20)

    def check(eps: float, sweep: tuple[float, ...]) -> RobustnessPlan:
        # The paper has no such evaluation: standard AutoAttack on 1,000 test images of each
        # headline model, and an ε sweep up to where A_rob should reach about 0.
        return RobustnessPlan(standard_autoattack(eps, restarts=2), eval_size=1000,
                              sweep_eps=sweep)

    return Profile("paper", "the paper's settings (A.2): 100 epochs; for a GPU", {
        "mnist": DatasetPlan("mnist", mnist, pgd_alphas=(0.01, 0.2, 0.5),
                             trades_alphas=(0.5, 1.0, 1.5, 2.0), headline=(0.5, 2.0),
                             attack=AttackConfig(eps=0.3, step_size=0.01, steps=40),
                             eps_tests=(0.1, 0.2, 0.3),
                             robustness=check(0.3, (0.1, 0.2, 0.3, 0.4, 0.5))),
        "cifar10": DatasetPlan("cifar10", cifar, pgd_alphas=(0.01, 0.05, 0.1),
                               trades_alphas=(0.1, 1.0, 1.5, 2.0), headline=(0.1, 2.0),
                               attack=cifar_attack, alpha_tests=(0.1, 1.0, 1.5, 2.0),
                               eps_tests=(0.0078, 0.016, 0.031),
                               other_attacks=(replace(cifar_attack, steps=100),
                                              replace(cifar_attack, loss="margin"),
                                              replace(cifar_attack, steps=100, loss="margin")),
                               extras=_table4_cifar10(cifar),
                               robustness=check(0.031, (0.008, 0.016, 0.031, 0.063, 0.125))),
        "tinyimagenet": DatasetPlan("tinyimagenet", tiny, pgd_alphas=(0.1, 0.15, 0.2, 0.25, 0.3),
                                    trades_alphas=(0.5, 1.5, 2.0, 2.5, 3.5, 5.0),
                                    headline=(0.3, 5.0),
                                    attack=AttackConfig(eps=0.016, step_size=0.0015, steps=10),
                                    alpha_tests=(0.5, 1.0, 1.5, 2.0),
                                    robustness=check(0.016, (0.004, 0.008, 0.016, 0.031, 0.063))),
    })


def _table4_cifar10(cifar: RunConfig) -> tuple[RunConfig, ...]:
    """Return Table 4's extra baselines on CIFAR-10 with their authors' settings (see CHOICES)."""
    return (
        # Free-AT m = 8: 80,000 minibatch steps of 128 (204.8 epochs), lr ×0.1 at 50 % and 75 %.
        replace(cifar, defense="free", replays=8, epochs=205, milestones=(0.5, 0.75)),
        # YOPO-5-3: σ 2/255, 36 epochs of batch 256, lr 0.2 / m, ×0.1 at epochs 30 and 34.
        replace(cifar, defense="yopo", attack_steps=5, inner_steps=3, step_size=2 / 255,
                random_start="uniform", epochs=36, batch_size=256, lr=0.04, weight_decay=5e-4,
                milestones=(30 / 36, 34 / 36)),
        # IAAT: 10 steps (at least 2/255 each), warm-up 10 epochs, γ 1.9/255, β 0.1, 110 epochs
        # of batch 256, lr ×0.2 at epochs 70, 90 and 100.
        replace(cifar, defense="iaat", attack_steps=10, step_size=2 / 255, random_start="uniform",
                epochs=110, batch_size=256, lr=0.1, weight_decay=5e-4,
                milestones=(70 / 110, 90 / 110, 100 / 110), lr_decay=0.2, iaat_warmup=10,
                iaat_gamma=1.9 / 255, iaat_beta=0.1),
    )


def _table4_mnist(base: RunConfig) -> tuple[RunConfig, ...]:
    """Return the cpu profile's MNIST analog of Table 4's extra baselines (see CHOICES)."""
    return (
        replace(base, defense="free", replays=5),  # 1 pass: as many optimizer steps as the others
        replace(base, defense="yopo", attack_steps=5, inner_steps=3, step_size=0.075,
                random_start="uniform"),          # σ = ε/4, the CIFAR-10 ratio 2/255 : 8/255
        replace(base, defense="iaat", iaat_warmup=1, iaat_gamma=0.07, iaat_beta=0.5,
                random_start="uniform"),          # γ ≈ ε·1.9/8; β so that 4 epochs can adapt
    )


# The schedule pilot (benchmarks/pilot/schedule/PROTOCOL.md, written before its first run): each
# candidate changes one setting of the 5-epoch schedule. The pilot's decision names the one the
# cpu campaign trains with (CAMPAIGN_SCHEDULE).
SCHEDULE_CANDIDATES: dict[str, dict] = {
    "a-10step": dict(attack_steps=10, step_size=0.075),
    "b-early-drop": dict(milestones=(0.2, 0.8)),
    "c-uniform-start": dict(step_size=0.075, random_start="uniform"),
}
CAMPAIGN_SCHEDULE = "a-10step"  # benchmarks/pilot/schedule/DECISION.md: the tie-break picked it
VALIDATION_SIZE = 1000  # training images every cpu-campaign model holds out (data.validation_split)
# Declared before the campaign: the model evaluated is each run's final one (the paper's
# protocol; the official AT_base code keeps only the last checkpoint), for every model alike.
MODEL_SELECTION = "final"


def _cpu_5epoch_base() -> RunConfig:
    # The 5-epoch MNIST campaign (see "How we reproduce"): fp32 so that keys, numbers and cost are
    # the same on every CPU; Adam lr 1e-3 ×0.1 at 40 % and 80 % of 5 epochs; a 5-step training
    # attack with step eps/2; eps ramped from 0 over the first epoch. The early lr drop is there
    # because two TRADES pilots (benchmarks/pilot) collapsed in their third epoch at lr 1e-3.
    return RunConfig(dataset="mnist", eps=0.3, step_size=0.15, attack_steps=5, epochs=5,
                     batch_size=128, optimizer="adam", lr=1e-3, weight_decay=0.0,
                     schedule="multistep", milestones=(0.4, 0.8), eps_ramp=0.2, beta=6.0,
                     precision="fp32")


def _cpu_5epoch() -> Profile:
    # The first multi-seed campaign, kept so that its stored results stay readable until the cpu
    # campaign replaces them. Its settings must not change: they are its results' store keys.
    base = _cpu_5epoch_base()
    return Profile("cpu-5epoch", "the 5-epoch cpu results: real MNIST, 5 epochs, 5-step training attack, fp32", {
        "mnist": _cpu_mnist_plan(base, eval_size=2000, side_eval_size=1000, curve_size=500,
                                 extras=_table4_mnist(base),
                                 # 9-20 core-minutes per model, less for one PGD breaks (cost.py)
                                 robustness=RobustnessPlan(standard_autoattack(0.3, restarts=2),
                                                           eval_size=500, models="headline-seeds")),
    })


def _cpu() -> Profile:
    # The cpu campaign: the 5-epoch schedule with the pilot's accepted change, 1,000 training
    # images held out for the validation curves of every model, five seeds of the headline arms.
    base = _cpu_5epoch_base().replace(val_size=VALIDATION_SIZE,
                                      **SCHEDULE_CANDIDATES.get(CAMPAIGN_SCHEDULE, {}))
    pending = ("" if CAMPAIGN_SCHEDULE in SCHEDULE_CANDIDATES else
               "its training schedule waits for the schedule pilot's decision "
               "(benchmarks/pilot/schedule/PROTOCOL.md)")
    return Profile("cpu", "real MNIST and Fashion-MNIST sized for a 2-core CPU: 5 epochs, the pilot's schedule, a validation split, 5 (3) seeds", pending=pending, plans={
        "mnist": _cpu_mnist_plan(base, eval_size=2000, side_eval_size=1000, seeds=(0, 1, 2, 3, 4),
                                 extras=_table4_mnist(base), order="trades-first",
                                 robustness=RobustnessPlan(standard_autoattack(0.3, restarts=2),
                                                           eval_size=500, models="headline-seeds")),
        "fashionmnist": _cpu_fashion_plan(base),
    })


# The 20-epoch campaign (issue 44; benchmarks/campaign-20epoch/PROTOCOL.md, written before its
# first run): the cpu campaign's MNIST settings with the paper's MNIST schedule shape.
EPOCHS_20 = 20
SELECTION_20 = "best-val-rob"  # the checkpoint with the best validation A_rob, checked every epoch
VAL_ALPHA_TEST_20 = 2.0        # every epoch also records validation A_sa(2) and A_tr(2)


def _cpu_20epoch() -> Profile:
    # The cpu campaign's MNIST base (Adam 1e-3, 10-step training attack of 0.075, beta 6, batch
    # 128, SmallCNN, fp32, the 1,000-image validation split); 20 epochs, the eps ramp over the
    # first epoch (eps_ramp is a fraction of training: 1/20), lr x0.1 at 55 %, 75 % and 90 % of
    # training (after epochs 11, 15 and 18: the paper's MNIST shape), the best-validation model.
    base = _cpu().plan("mnist").base.replace(
        epochs=EPOCHS_20, eps_ramp=1 / EPOCHS_20, milestones=(0.55, 0.75, 0.9),
        selection=SELECTION_20, val_alpha_test=VAL_ALPHA_TEST_20)
    attack = AttackConfig(eps=0.3, step_size=0.01, steps=40)
    return Profile("cpu-20epoch", "the 20-epoch MNIST campaign for a 2-core CPU: the cpu settings, 20 epochs, lr ×0.1 at 55/75/90 %, the best-validation model, the four headline arms × 3 seeds, the full test set", {
        "mnist": DatasetPlan("mnist", base, pgd_alphas=(0.5,), trades_alphas=(2.0,),
                             headline=(0.5, 2.0), seeds=(0, 1, 2), attack=attack,
                             alpha_tests=(1.0, 1.5, 2.0), eval_size=None, order="trades-first",
                             robustness=RobustnessPlan(standard_autoattack(0.3, restarts=2),
                                                       eval_size=500, models="headline-seeds")),
    })


FASHION_EPS = 0.1  # the radius most used for Fashion-MNIST in the literature


def _cpu_fashion_plan(mnist: RunConfig) -> DatasetPlan:
    """Fashion-MNIST at cpu scale: MNIST's schedule and selection rule, every attack step scaled
    by the ratio of the radii (0.1 / 0.3), the headline alpha_train fixed at MNIST's, three seeds
    of the four headline arms, queued after the MNIST campaign's headline seeds."""
    ratio = FASHION_EPS / mnist.eps
    base = mnist.replace(dataset="fashionmnist", model="", eps=FASHION_EPS,
                         step_size=round(mnist.step_size * ratio, 12))
    attack = AttackConfig(eps=FASHION_EPS, step_size=round(0.01 * ratio, 12), steps=40)
    return DatasetPlan("fashionmnist", base, pgd_alphas=(0.5,), trades_alphas=(2.0,),
                       headline=(0.5, 2.0), seeds=(0, 1, 2), attack=attack, eval_size=2000,
                       priority_offset=4,
                       robustness=RobustnessPlan(standard_autoattack(FASHION_EPS, restarts=2),
                                                 eval_size=500, models="headline-seeds",
                                                 sweep_eps=(0.05, 0.1, 0.2, 0.3)))


def _cpu_mnist_plan(base: RunConfig, seeds: tuple[int, ...] = (0, 1, 2), **sizes) -> DatasetPlan:
    """The MNIST models and attacks of the cpu-scale profiles (Tables 1, 6, 10 and the analogs):
    every seed-0 model, ``seeds`` of the headline pairs; ``sizes`` set the test subsets."""
    attack = AttackConfig(eps=0.3, step_size=0.01, steps=40)
    return DatasetPlan("mnist", base, pgd_alphas=(0.01, 0.2, 0.5),
                       trades_alphas=(0.5, 1.0, 1.5, 2.0), headline=(0.5, 2.0), seeds=seeds,
                       attack=attack, eps_tests=(0.1, 0.2, 0.3),
                       other_attacks=(replace(attack, steps=100), replace(attack, loss="margin"),
                                      replace(attack, steps=100, loss="margin")),
                       sweep_all_seeds=False, other_attacks_on="headline", **sizes)


def _cpu_1epoch() -> Profile:
    # The first cpu profile, kept so that its stored results stay readable until the longer
    # campaign replaces them. Its settings must not change: they are its results' store keys.
    # A short schedule that fits a 2-core CPU (see the "How we reproduce" page): Adam, 1 epoch,
    # a 5-step training attack with step 2.5*eps/5, eps ramped from 0 over the first 40 %, bf16
    # training (evaluation attacks stay fp32).
    base = RunConfig(dataset="mnist", eps=0.3, step_size=0.15, attack_steps=5, epochs=1,
                     batch_size=128, optimizer="adam", lr=1e-3, weight_decay=0.0,
                     schedule="constant", milestones=(), eps_ramp=0.4, beta=6.0, precision="bf16")
    return Profile("cpu-1epoch", "the first cpu results: real MNIST, 1 epoch, 5-step training attack, bf16 (needs native bf16)", {
        "mnist": _cpu_mnist_plan(base, eval_size=1000, precision_check=True),
    })


def _smoke() -> Profile:
    # Real models at toy sizes: ResNets on a CPU cost about a second per attack step even on
    # eight images, so CIFAR-10 and Tiny ImageNet get 16 training and 8 test examples.
    def run(dataset, eps, step_size, train_size, batch_size, **extra):
        return RunConfig(dataset=dataset, eps=eps, step_size=step_size, train_size=train_size,
                         batch_size=batch_size, attack_steps=2, epochs=1, optimizer="adam",
                         lr=1e-3, schedule="constant", milestones=(), **extra)

    def attack(eps, step, steps=3):
        return AttackConfig(eps=eps, step_size=step, steps=steps)

    cifar_attack = attack(0.031, 0.01, 2)
    return Profile("smoke", "seconds on a CPU: every code path, tiny sizes, synthetic CIFAR/Tiny", {
        "mnist": DatasetPlan("mnist", run("mnist", 0.3, 0.1, 1024, 64, eps_ramp=0.5),
                             pgd_alphas=(0.5,),
                             trades_alphas=(2.0,), headline=(0.5, 2.0), seeds=(0, 1),
                             attack=attack(0.3, 0.1), eps_tests=(0.1, 0.3),
                             other_attacks=(replace(attack(0.3, 0.1), loss="margin"),),
                             eval_size=128, curve_size=32,
                             robustness=RobustnessPlan(
                                 AttackConfig(kind="autoattack", eps=0.3, steps=3, queries=20),
                                 eval_size=16, sweep_eps=(0.3, 0.5))),
        # Real Fashion-MNIST at toy sizes: the four headline arms, two seeds, so that every
        # per-dataset section and verdict runs in the tests (never shown: cpu covers the dataset).
        "fashionmnist": DatasetPlan("fashionmnist", run("fashionmnist", 0.1, 0.033, 1024, 64,
                                                        eps_ramp=0.5),
                                    pgd_alphas=(0.5,), trades_alphas=(2.0,), headline=(0.5, 2.0),
                                    seeds=(0, 1), attack=attack(0.1, 0.033), eval_size=128,
                                    robustness=RobustnessPlan(
                                        AttackConfig(kind="autoattack", eps=0.1, steps=3,
                                                     queries=20),
                                        eval_size=16, sweep_eps=(0.1, 0.3))),
        "cifar10": DatasetPlan("cifar10", run("cifar10", 0.031, 0.01, 16, 16, synthetic=True,
                                              beta=5.0),
                               pgd_alphas=(0.1,), trades_alphas=(2.0,), headline=(0.1, 2.0),
                               attack=cifar_attack, alpha_tests=(1.0, 2.0),
                               eps_tests=(0.0078, 0.031),
                               other_attacks=(replace(cifar_attack, loss="margin"),), eval_size=8),
        # ResNet-50 at 64x64 costs several seconds per step here: 8 images, one alpha_test.
        "tinyimagenet": DatasetPlan("tinyimagenet", run("tinyimagenet", 0.016, 0.005, 8, 8,
                                                        synthetic=True),
                                    pgd_alphas=(0.3,), trades_alphas=(5.0,), headline=(0.3, 5.0),
                                    attack=attack(0.016, 0.005, 2), alpha_tests=(1.0,),
                                    eval_size=4),
    })


_BUILDERS = {"smoke": _smoke, "cpu": _cpu, "paper": _paper, "cpu-5epoch": _cpu_5epoch,
             "cpu-1epoch": _cpu_1epoch, "cpu-20epoch": _cpu_20epoch}
PROFILES = tuple(_BUILDERS)
# A page that finds no results of a profile for a dataset it covers shows these instead (never
# smoke for a dataset that a real-data profile covers).
PREDECESSORS = {"cpu": "cpu-5epoch"}
# Per profile, its longer-trained counterpart: the same settings, more epochs (analysis plan 1.5).
# Once every model of the longer profile on a dataset is complete, it is that dataset's headline.
LONGER_BUDGET = {"cpu": "cpu-20epoch"}


def profile(name: str) -> Profile:
    """Return the profile called ``name`` (smoke, cpu, paper, cpu-5epoch, cpu-1epoch or cpu-20epoch)."""
    check_choice("profile", name, PROFILES)
    return _BUILDERS[name]()


# Each choice the paper leaves open, with what we chose and where it comes from.
CHOICES: list[tuple[str, str, str]] = [
    ("optimizer and schedule, MNIST (paper)", "SGD, lr 0.01, momentum 0.9, no weight decay; lr ×0.1 at 55 %, 75 %, 90 % of training",
     "TRADES reference train_trades_mnist.py and the official TRADES_base MNIST script (the official AT_base MNIST code differs: weight decay 5e-4, MultiStepLR([60, 120, 160], gamma 0.2); its loop decays from the 55th epoch, ours from the 56th)"),
    ("optimizer and schedule, CIFAR-10 (paper)", "SGD, lr 0.1, momentum 0.9, weight decay 2e-4; lr ×0.1 at 75 % and 90 %",
     "TRADES reference train_trades_cifar10.py (official code: TRADES_base uses lr 0.2 in every commit; AT_base/train_at_cifar10.py took 0.01 from its config at 66dc538, 0.1 later and 0.2 from 0652a2d; AT_base attacks with ε 8/255, step 2/255)"),
    ("optimizer and schedule, Tiny ImageNet (paper)", "as CIFAR-10, batch 64",
     "not given by the paper or the official code (which has no Tiny ImageNet code); CIFAR-10 settings reused"),
    ("TRADES beta (1/λ)", "MNIST 6, CIFAR-10 5, Tiny ImageNet 6",
     "the paper's Tables 4-6 (Table 4 prints 5 for CIFAR-10; the official CIFAR-10 script uses 5)"),
    ("data augmentation", "CIFAR-10 and Tiny ImageNet: random crop (4-pixel zero padding) and horizontal flip; MNIST: none",
     "TRADES reference and the official TRADES scripts"),
    ("evaluation step size", "MNIST 0.01 (40 steps), CIFAR-10 0.003 (20 and 100 steps), Tiny ImageNet 0.0015 (10 steps)",
     "the training step sizes of A.2 for MNIST and Tiny ImageNet (on Tiny ImageNet 10 × 0.0015 = 0.015 < ε 0.016: from a near-zero start the attack cannot reach the ε boundary); TRADES reference pgd_attack_cifar10.py for CIFAR-10 (official code: 0.0031)"),
    ("evaluation restarts and start", "1 restart from a uniform random start in the ε-ball",
     "TRADES reference evaluation; the official code runs 10 continuation restarts (see Reproducibility notes)"),
    ("training attack start", "0.001·N(0, I) (Algorithm 1, line 6), for PGD-AT and TRADES",
     "the paper's Algorithm 1 (the official PGD-AT code starts uniformly in the ε-ball)"),
    ("model mode during attacks", "eval mode for every attack, in training and evaluation",
     "TRADES reference (the official PGD-AT code attacks in train mode)"),
    ("weights in the training loss", "not detached (gradients flow through exp(-α·margin)); batch mean, not normalised",
     "eq. 7 and 13 and the official code"),
    ("A_sa and A_tr normalisation", "Σ s̃_i·1[correct_i] with s̃ normalised over the evaluated test set (no extra 1/N)",
     "the text's sampling-probability reading and the official code"),
    ("weights for A_tr", "exp(-α_test·margin) on the weighted attack's own adversarial examples, same α_test for attack and sampling",
     "the official evaluation code"),
    # Table 4's extra baselines (wmrlib.compute.defenses).
    ("Table 4 extra baselines: architecture and data (paper)", "our ResNet-18, CIFAR-10 pipeline (4-pixel zero-padded crop, flip), fp32 and ε 0.031 for Free-AT, YOPO-5-3 and IAAT, as for PGD-AT and TRADES; evaluated on A_nat and 20-PGD A_rob only",
     "not given by the paper, which reports its own runs of them; their authors used WRN-32-10 (Free-AT, IAAT) and PreAct-ResNet-18 (YOPO) at ε 8/255, IAAT with reflect padding"),
    ("Free-AT: epochs and replays", "`epochs` are paper-equivalent epochs: the loop makes ceil(epochs / replays) passes, replaying each minibatch m times with one optimizer step each; the lr schedule advances per minibatch. CIFAR-10: m 8, 205 epochs (26 passes), batch 128, SGD lr 0.1, momentum 0.9, weight decay 2e-4, lr ×0.1 at 50 % and 75 %",
     "Shafahi et al. 2019, Algorithm 1 (N_ep/m passes) and the official code ashafahi/free_adv_train (config.py: 80,000 steps of 128 = 204.8 epochs, lr drops at steps 40,000 and 60,000)"),
    ("Free-AT: the perturbation", "δ starts at 0 (random_start unused) as one full-batch tensor carried across replays, minibatches and passes (a smaller last batch uses its first rows; in the checkpoint); step ε·sign(∇ℓ) with the input gradient of the training backward pass, δ clipped to the ε-ball, input clip(x + δ, 0, 1); that pass runs in train mode",
     "Algorithm 1 (δ ← 0 once; δ ← clip(δ + ε·sign(g_adv), −ε, ε)); the clip to [0, 1] is ours"),
    ("YOPO-m-n: adjoint, inner steps and weight update", "m = attack_steps forward-backward passes per minibatch in train mode, each giving p = ∂ℓ/∂(first layer's output) and the weights' gradient; after each, n = inner_steps steps η ← Π(η + σ·sign ∇_η⟨p, f_0(x + η)⟩) with p fixed; one optimizer step on the gradients summed over the m passes. First layer: conv1 (SmallCNN) or the stem conv before its batch norm (ResNets); `models.split_first_layer`",
     "Zhang et al. 2019, Algorithm 1; the official code (a1600012888/YOPO-You-Only-Propagate-Once) also adds ∇_θ0⟨p, f_0(x + η^{j,n})⟩ to the first layer's gradient, which we do not"),
    ("YOPO-5-3, CIFAR-10 (paper)", "m 5, n 3, σ 2/255, uniform start in the ε-ball, 36 epochs, batch 256, SGD lr 0.04 (0.2/m, for the summed gradient), momentum 0.9, weight decay 5e-4, lr ×0.1 at epochs 30 and 34",
     "the official code, experiments/CIFAR10/pre-res18.yopo-5-3/config.py"),
    ("IAAT: the radius update", "ε_i per training example, 0 at the start, kept across epochs (in the checkpoint); warm-up: ε_i = ε·1[correct clean]; then the candidate ε_i + γ if an unweighted attack at it fails, else ε_i if it fails there, else ε_i − γ, 0 if misclassified clean; ε_i ← β·candidate + (1 − β)·ε_i, every candidate clipped to [0, ε]; the checks and the clean prediction in eval mode; attack step max(2ε_i/K, step_size) per example",
     "Balaji et al. 2019, Algorithm 1 and the official code (yogeshbalaji/Instance_Adaptive_Adversarial_Training, trainers/trainer_adaptive.py), which checks in train mode and does not bound ε_i above"),
    ("IAAT, CIFAR-10 (paper)", "10-step attack, step at least 2/255, uniform start, warm-up 10 epochs, γ 1.9/255, β 0.1, 110 epochs, batch 256, SGD lr 0.1, momentum 0.9, weight decay 5e-4, lr ×0.2 at epochs 70, 90 and 100",
     "the official code, configs/train_adaptive.json and trainers/trainer_adaptive.py"),
    ("weighting (α_train) in the extra baselines", "applies: the training loss is mean_i s_i·CE_i (eq. 13), whose input gradient moves Free-AT's and YOPO's perturbation and which IAAT's training attack ascends (its radius checks stay unweighted); the profiles train α_train = 0 only, as Table 4 does",
     "ours; the paper reports these baselines unweighted"),
    ("extra baselines, MNIST analog (cpu)", "one seed each with the cpu base's epochs, optimizer, schedule, ε ramp, batch and precision: Free-AT m 5 (one pass, as many optimizer steps as the other models); YOPO-5-3 with σ 0.075 (ε/4, the CIFAR-10 ratio) and a uniform start; IAAT with the 5-step attack (step 0.15), warm-up 1 epoch, γ 0.07 (ε·1.9/8), β 0.5 (4 adaptive epochs move ε_i by at most 2γ; β 0.1 would allow 0.4γ) and a uniform start; clean and 40-PGD units only; trained after all other cpu models (priority 3)",
     "ours: an MNIST analog at cpu scale, not a reproduction of the CIFAR-10 rows"),
    ("validation split (cpu)", "1,000 MNIST training images held out (a fixed draw, data.VALIDATION_SEED, the same for every model); the other 59,000 are trained on. Every model records validation A_nat and A_rob under PGD-20 with step ε/12 (0.025 at ε 0.3) after each quarter epoch: its learning curves",
     "ours: no choice made during or after training looks at test images"),
    ("model selection", "the final model of every run (MODEL_SELECTION = 'final'), declared before the cpu campaign and applied to every model alike; each run's provenance records the rule and the epoch",
     "the paper's protocol and the official AT_base code (TRADES_base's MNIST script also keeps a checkpoint chosen on the test set; see Reproducibility notes)"),
    ("model selection (cpu-20epoch)", "the checkpoint with the best validation A_rob (PGD-20, step ε/12, on the 1,000 validation images), checked at the end of every epoch, a tie keeping the earlier epoch (RunConfig.selection = 'best-val-rob'); the best-so-far model travels in every checkpoint; each run's history names the selected epoch and its curve keeps the final model's validation numbers, so robust overfitting shows",
     "Rice et al. 2020 (early stopping on a validation set); declared before the campaign's first run (benchmarks/campaign-20epoch/PROTOCOL.md); no test image is read"),
    ("training schedule (cpu-20epoch)", "the cpu campaign's MNIST settings (Adam 1e-3, the 10-step training attack of 0.075, β 6, batch 128, SmallCNN, fp32, the 1,000-image validation split) with 20 epochs, the ε ramp over the first epoch (eps_ramp 1/20) and lr ×0.1 at 55 %, 75 % and 90 % of training (after epochs 11, 15 and 18); the four headline arms × seeds 0-2, the TRADES pair first; 40-PGD and the weighted attacks (α_test 1, 1.5, 2) on all 10,000 test images, AutoAttack, weighted APGD and the masking probes on 500; every epoch also records validation A_sa(2) and A_tr(2) (RunConfig.val_alpha_test)",
     "ours, to ask whether the training budget explains the 5-epoch TRADES gap: the paper's MNIST schedule shape (lr ×0.1 at 55/75/90 %) and its full test set, at a budget a 2-core CPU can run; written down before the first run (benchmarks/campaign-20epoch/PROTOCOL.md)"),
    ("collapse detector", "cpu campaign: a validation A_rob that falls 10 pp or more below its running maximum (the schedule pilot's rule); cpu-5epoch runs (no validation split): the test-subset 40-PGD A_rob falling more than 20 pp below its best earlier epoch",
     "ours (wmrlib.analysis.collapse); the pilot's protocol, benchmarks/pilot/schedule/PROTOCOL.md"),
    ("training schedule (cpu)", "the 5-epoch schedule with the change the schedule pilot accepted (CAMPAIGN_SCHEDULE; benchmarks/pilot/schedule/): candidates (a) 10 steps of 0.075, (b) the first lr drop after epoch 1, (c) 5 steps of 0.075 from a uniform start",
     "ours: chosen on validation data by a protocol written before its first run (Wong et al. 2020 and Andriushchenko & Flammarion 2020 on few-step catastrophic overfitting)"),
    ("Fashion-MNIST (cpu)", "ε 0.1; training attack: MNIST's steps with every step size × 0.1/0.3 (the cpu schedule's, e.g. 0.15 → 0.05 or 0.075 → 0.025); evaluation: 40-PGD with step 0.00333 (0.01 × 0.1/0.3) on 2,000 fixed test images, α_test 1, 1.5, 2; AutoAttack and the masking probes (ε sweep 0.05-0.3) on 500; SmallCNN; MNIST's schedule, selection rule and a 1,000-image validation split of its own; α_train fixed in advance at MNIST's headline values (PGD+ours 0.5, TRADES+ours 2); three seeds of the four headline arms, trained after the MNIST campaign's headline seeds",
     "ours: ε 0.1 is the radius most used for Fashion-MNIST; nothing is tuned on its test set; the paper has no Fashion-MNIST results"),
    ("extra baselines and data parallelism", "Free-AT, YOPO and IAAT train in one process; torchrun is refused for them",
     "ours (their updates bypass the DistributedDataParallel wrapper)"),
]
