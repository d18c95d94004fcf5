"""Profiles: the configurations of every table at three scales that share one code path.

``smoke`` exercises every code path in seconds (real MNIST, synthetic CIFAR-10 and Tiny ImageNet
tensors when their files are absent), ``cpu`` reproduces the MNIST experiments on a 2-core CPU,
and ``paper`` holds the paper's settings (A.2) for a GPU. A profile changes sizes, never code.
Each choice the paper leaves open is made here once; ``CHOICES`` lists them with their sources.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ._checks import check_choice
from .config import AttackConfig, RunConfig


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

    def __post_init__(self) -> None:
        check_choice("other_attacks_on", self.other_attacks_on, ("all", "headline"))

    def run(self, defense: str, alpha: float = 0.0, seed: int | None = None) -> RunConfig:
        """Return the RunConfig of one model of this plan."""
        return replace(self.base, defense=defense, alpha_train=float(alpha),
                       seed=self.seeds[0] if seed is None else seed)

    def models(self) -> list[RunConfig]:
        """Return every model the plan trains, baselines and extra seeds included, without repeats."""
        runs = [self.run("pgd")] + [self.run("pgd", a) for a in self.pgd_alphas]
        runs += [self.run("trades")] + [self.run("trades", a) for a in self.trades_alphas]
        for seed in self.seeds[1:]:
            runs += [self.run("pgd", 0.0, seed), self.run("pgd", self.headline[0], seed),
                     self.run("trades", 0.0, seed), self.run("trades", self.headline[1], seed)]
        unique = {r.key(): r for r in runs}
        return list(unique.values())

    def precision_models(self) -> list[RunConfig]:
        """Return the fp32 twin of the first PGD-AT baseline when the plan trains in bf16 and asks."""
        if not self.precision_check or self.base.precision == "fp32":
            return []
        return [replace(self.run("pgd"), precision="fp32")]

    def sensitivity_attacks(self) -> list[AttackConfig]:
        """Return the main attack at each eps_test of the sensitivity sweep."""
        return [replace(self.attack, eps=e) for e in self.eps_tests]

    def is_headline(self, config: RunConfig) -> bool:
        """Return whether ``config`` is a baseline or the headline alpha of its defense."""
        return config.alpha_train in (0.0, self.headline[config.defense == "trades"])

    def in_sweep(self, config: RunConfig) -> bool:
        """Return whether the eps sweep (Tables 7-8, Figure 3) evaluates ``config``."""
        return self.sweep_all_seeds or config.seed == self.seeds[0]

    def in_other_attacks(self, config: RunConfig) -> bool:
        """Return whether the other attacks (Table 9) evaluate ``config``."""
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
        """Return the order a budget-limited campaign trains ``config`` in (0 first): the first
        seed's headline models, then its other alphas, then the headline models' extra seeds."""
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
        unique = {(None if a is None else a.key(), alpha, n): (a, alpha, n)
                  for a, alpha, n in triples}
        return list(unique.values())


@dataclass(frozen=True)
class Profile:
    """A named scale: one plan per dataset it covers."""

    name: str
    description: str
    plans: dict[str, DatasetPlan] = field(default_factory=dict)

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
    return Profile("paper", "the paper's settings (A.2): 100 epochs; for a GPU", {
        "mnist": DatasetPlan("mnist", mnist, pgd_alphas=(0.01, 0.2, 0.5),
                             trades_alphas=(0.5, 1.0, 1.5, 2.0), headline=(0.5, 2.0),
                             attack=AttackConfig(eps=0.3, step_size=0.01, steps=40),
                             eps_tests=(0.1, 0.2, 0.3)),
        "cifar10": DatasetPlan("cifar10", cifar, pgd_alphas=(0.01, 0.05, 0.1),
                               trades_alphas=(0.1, 1.0, 1.5, 2.0), headline=(0.1, 2.0),
                               attack=cifar_attack, alpha_tests=(0.1, 1.0, 1.5, 2.0),
                               eps_tests=(0.0078, 0.016, 0.031),
                               other_attacks=(replace(cifar_attack, steps=100),
                                              replace(cifar_attack, loss="margin"),
                                              replace(cifar_attack, steps=100, loss="margin"))),
        "tinyimagenet": DatasetPlan("tinyimagenet", tiny, pgd_alphas=(0.1, 0.15, 0.2, 0.25, 0.3),
                                    trades_alphas=(0.5, 1.5, 2.0, 2.5, 3.5, 5.0),
                                    headline=(0.3, 5.0),
                                    attack=AttackConfig(eps=0.016, step_size=0.0015, steps=10),
                                    alpha_tests=(0.5, 1.0, 1.5, 2.0)),
    })


def _cpu() -> Profile:
    # The MNIST campaign (see "How we reproduce"): fp32 so that keys, numbers and cost are the
    # same on every CPU; Adam lr 1e-3 ×0.1 at 40 % and 80 % of 5 epochs; a 5-step training attack
    # with step eps/2; eps ramped from 0 over the first epoch. The early lr drop is there because
    # two TRADES pilots (benchmarks/pilot) collapsed in their third epoch at lr 1e-3.
    base = RunConfig(dataset="mnist", eps=0.3, step_size=0.15, attack_steps=5, epochs=5,
                     batch_size=128, optimizer="adam", lr=1e-3, weight_decay=0.0,
                     schedule="multistep", milestones=(0.4, 0.8), eps_ramp=0.2, beta=6.0,
                     precision="fp32")
    attack = AttackConfig(eps=0.3, step_size=0.01, steps=40)
    return Profile("cpu", "real MNIST sized for a 2-core CPU: 5 epochs, 5-step training attack, fp32", {
        "mnist": DatasetPlan("mnist", base, pgd_alphas=(0.01, 0.2, 0.5),
                             trades_alphas=(0.5, 1.0, 1.5, 2.0), headline=(0.5, 2.0),
                             seeds=(0, 1, 2), attack=attack, eps_tests=(0.1, 0.2, 0.3),
                             other_attacks=(replace(attack, steps=100),
                                            replace(attack, loss="margin"),
                                            replace(attack, steps=100, loss="margin")),
                             eval_size=2000, side_eval_size=1000, curve_size=500,
                             sweep_all_seeds=False, other_attacks_on="headline"),
    })


def _cpu_1epoch() -> Profile:
    # The first cpu profile, kept so that its stored results stay readable until the longer
    # campaign replaces them. Its settings must not change: they are its results' store keys.
    # A short schedule that fits a 2-core CPU (see the "How we reproduce" page): Adam, 1 epoch,
    # a 5-step training attack with step 2.5*eps/5, eps ramped from 0 over the first 40 %, bf16
    # training (evaluation attacks stay fp32). A pilot (seed 0, PGD-AT, 500 test images) gave
    # 96.2 % clean / 83.2 % 40-PGD in 147 s; a 10-step attack gave 96.6 / 84.8 in 287 s.
    base = RunConfig(dataset="mnist", eps=0.3, step_size=0.15, attack_steps=5, epochs=1,
                     batch_size=128, optimizer="adam", lr=1e-3, weight_decay=0.0,
                     schedule="constant", milestones=(), eps_ramp=0.4, beta=6.0, precision="bf16")
    attack = AttackConfig(eps=0.3, step_size=0.01, steps=40)
    return Profile("cpu-1epoch", "the first cpu results: real MNIST, 1 epoch, 5-step training attack, bf16 (needs native bf16)", {
        "mnist": DatasetPlan("mnist", base, pgd_alphas=(0.01, 0.2, 0.5),
                             trades_alphas=(0.5, 1.0, 1.5, 2.0), headline=(0.5, 2.0),
                             seeds=(0, 1, 2), attack=attack, eps_tests=(0.1, 0.2, 0.3),
                             other_attacks=(replace(attack, steps=100),
                                            replace(attack, loss="margin"),
                                            replace(attack, steps=100, loss="margin")),
                             eval_size=1000, sweep_all_seeds=False, other_attacks_on="headline",
                             precision_check=True),
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
                             eval_size=128),
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


_BUILDERS = {"smoke": _smoke, "cpu": _cpu, "paper": _paper, "cpu-1epoch": _cpu_1epoch}
PROFILES = tuple(_BUILDERS)
# A page that finds no results of a profile for a dataset it covers shows these instead (never
# smoke for a dataset that a real-data profile covers).
PREDECESSORS = {"cpu": "cpu-1epoch"}


def profile(name: str) -> Profile:
    """Return the profile called ``name`` (smoke, cpu, paper or cpu-1epoch)."""
    check_choice("profile", name, PROFILES)
    return _BUILDERS[name]()


# Each choice the paper leaves open, with what we chose and where it comes from.
CHOICES: list[tuple[str, str, str]] = [
    ("optimizer and schedule, MNIST (paper)", "SGD, lr 0.01, momentum 0.9, no weight decay; lr ×0.1 at 55 %, 75 %, 90 % of training",
     "TRADES reference train_trades_mnist.py; the official code's MNIST scripts use the same"),
    ("optimizer and schedule, CIFAR-10 (paper)", "SGD, lr 0.1, momentum 0.9, weight decay 2e-4; lr ×0.1 at 75 % and 90 %",
     "TRADES reference train_trades_cifar10.py (the official code uses lr 0.2 at HEAD, 0.1 before commit 0652a2d)"),
    ("optimizer and schedule, Tiny ImageNet (paper)", "as CIFAR-10, batch 64",
     "not given by the paper or the official code (which has no Tiny ImageNet code); CIFAR-10 settings reused"),
    ("TRADES beta (1/λ)", "MNIST 6, CIFAR-10 5, Tiny ImageNet 6",
     "the paper's Tables 4-6 (Table 4 prints 5 for CIFAR-10; the official CIFAR-10 script uses 5)"),
    ("data augmentation", "CIFAR-10 and Tiny ImageNet: random crop (4-pixel zero padding) and horizontal flip; MNIST: none",
     "TRADES reference and the official TRADES scripts"),
    ("evaluation step size", "MNIST 0.01 (40 steps), CIFAR-10 0.003 (20 and 100 steps), Tiny ImageNet 0.0015 (10 steps)",
     "the training step sizes of A.2 for MNIST and Tiny ImageNet; TRADES reference pgd_attack_cifar10.py for CIFAR-10 (official code: 0.0031)"),
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
]
