"""Run and attack configurations as plain frozen dataclasses, validated on construction."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..core.checks import check_choice, check_int, check_number
from ..method.attacks import LOSSES, RANDOM_STARTS
from ..core.keys import config_key
from ..core.datasets import NAMES as DATASET_NAMES
from ..method.models import DEFAULT_MODEL, MODELS
from .registry import ATTACK_KINDS, DEFENSE_NAMES, DEFENSES, AttackKind, Defense

DATASETS = DATASET_NAMES  # the dataset registry's names (wmrlib.core.datasets)
# DEFENSES, DEFENSE_NAMES (the paper's name of each defense) and ATTACK_KINDS: the registries
# of wmrlib.experiment.registry, importable from here as before.
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "multistep", "cosine")
PRECISIONS = ("fp32", "bf16")
# Which model a run stores: its final one, or the one with the best validation A_rob (PGD-20 on
# the validation split, checked at the end of every epoch; ties keep the earlier epoch; Rice et
# al. 2020). The second needs a validation split (val_size > 0).
SELECTIONS = ("final", "best-val-rob")


def _set_number(obj, name: str, **bounds) -> None:
    """Check the number field ``name`` of a frozen dataclass and store it as a float."""
    object.__setattr__(obj, name, check_number(name, getattr(obj, name), **bounds))


@dataclass(frozen=True)
class AttackConfig:
    """An evaluation attack: L-inf PGD with ``steps`` steps of ``step_size`` in a ball of ``eps``.

    ``kind`` picks another evaluation (:mod:`wmrlib.compute.adaptive`): ``"autoattack"`` is standard
    AutoAttack with ``steps`` iterations and ``queries`` Square queries at alpha_test 0, and APGD
    on the weighted objective (``restarts`` restarts) at alpha_test > 0; ``"logit-scale"`` is
    this PGD on the cross-entropy of c·logits for each c of ``scales``.
    """

    eps: float = 0.3
    step_size: float = 0.01
    steps: int = 40
    loss: str = "ce"
    restarts: int = 1
    random_start: str = "uniform"
    # Fields added after key version 1: a field at its default stays out of the key (keys.py).
    kind: str = AttackKind.PGD     # one of ATTACK_KINDS
    queries: int = 5000            # autoattack: Square's query budget (the standard version's)
    scales: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)  # logit-scale: the factors c

    def __post_init__(self) -> None:
        # Numbers are stored as floats so that equal configs (1 == 1.0) have equal keys.
        _set_number(self, "eps", high=1.0)
        _set_number(self, "step_size", low=0.0, low_inclusive=False)
        check_int("steps", self.steps)
        check_int("restarts", self.restarts, low=1)
        check_choice("loss", self.loss, LOSSES)
        check_choice("random_start", self.random_start, RANDOM_STARTS)
        check_choice("attack kind", self.kind, ATTACK_KINDS)
        check_int("queries", self.queries, low=1)
        if isinstance(self.scales, (str, bytes)) or not self.scales:
            raise ValueError(f"scales must be a non-empty tuple of numbers > 0, got {self.scales!r}")
        object.__setattr__(self, "scales", tuple(
            check_number("logit scale", s, low=0.0, low_inclusive=False) for s in self.scales))
        if self.kind != AttackKind.PGD and self.loss != "ce":
            raise ValueError(f"attack kind {self.kind!r} takes loss 'ce' only, got {self.loss!r}")

    @property
    def name(self) -> str:
        """Return the paper's name for the attack, e.g. ``40-PGD``, ``20-PGD-margin`` or ``AutoAttack``."""
        if self.kind == AttackKind.AUTOATTACK:
            standard = (self.steps, self.queries) == (100, 5000)
            return "AutoAttack" + ("" if standard else f" ({self.steps} it., {self.queries} queries)")
        if self.kind == AttackKind.LOGIT_SCALE:
            return f"{self.steps}-PGD-logit-scale"
        return f"{self.steps}-PGD" + ("-margin" if self.loss == "margin" else "")

    def key(self) -> str:
        """Return a short stable hash of the configuration."""
        return config_key(self)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a trained model: data, defense, attack, optimisation, seed."""

    dataset: str = "mnist"
    model: str = ""
    defense: str = Defense.PGD     # one of DEFENSES
    alpha_train: float = 0.0
    beta: float = 6.0
    eps: float = 0.3
    step_size: float = 0.01
    attack_steps: int = 40
    epochs: int = 100
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "multistep"
    milestones: tuple[float, ...] = (0.55, 0.75, 0.9)
    eps_ramp: float = 0.0
    train_size: int | None = None
    augment: bool = False
    synthetic: bool = False
    seed: int = 0
    precision: str = "fp32"
    detach_weights: bool = False
    random_start: str = "normal"
    # Fields added after key version 1: a field at its default stays out of the key (keys.py).
    lr_decay: float = 0.1          # the multistep schedule's factor at each milestone
    replays: int = 8               # Free-AT: replays m of each minibatch (Shafahi et al. 2019)
    inner_steps: int = 3           # YOPO-m-n: n (attack_steps is m; Zhang et al. 2019)
    iaat_warmup: int = 10          # IAAT: epochs at the full ε before ε_i adapts (Balaji et al. 2019)
    iaat_gamma: float = 1.9 / 255  # IAAT: the step γ by which ε_i moves
    iaat_beta: float = 0.1         # IAAT: the weight of the new ε_i in its running average
    val_size: int = 0              # training images held out as the validation set (data.validation_split)
    selection: str = "final"       # which model the run stores: one of SELECTIONS
    val_alpha_test: float = 0.0    # > 0: every epoch also records validation A_sa and A_tr at this alpha_test

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        if not self.model:
            object.__setattr__(self, "model", DEFAULT_MODEL[self.dataset])
        check_choice("model", self.model, tuple(MODELS))
        check_choice("defense", self.defense, DEFENSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("random_start", self.random_start, RANDOM_STARTS)
        # Numbers are stored as floats so that equal configs (1 == 1.0) have equal keys.
        _set_number(self, "alpha_train")
        _set_number(self, "beta")
        _set_number(self, "eps", high=1.0)
        _set_number(self, "step_size", low=0.0, low_inclusive=False)
        _set_number(self, "lr", low=0.0, low_inclusive=False)
        _set_number(self, "momentum", high=1.0)
        _set_number(self, "weight_decay")
        _set_number(self, "eps_ramp", high=1.0)
        for name in ("augment", "synthetic", "detach_weights"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_int("attack_steps", self.attack_steps)
        self._check_defense_settings()
        check_int("epochs", self.epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_int("seed", self.seed)
        if self.train_size is not None:
            check_int("train_size", self.train_size, low=1)
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))
        for m in self.milestones:
            check_number("milestone", m, high=1.0)

    def _check_defense_settings(self) -> None:
        """Check the settings of the extra baselines (Free-AT, YOPO, IAAT) and the lr decay."""
        _set_number(self, "lr_decay", low=0.0, high=1.0, low_inclusive=False)
        check_int("replays", self.replays, low=1)
        check_int("inner_steps", self.inner_steps, low=1)
        check_int("iaat_warmup", self.iaat_warmup)
        check_int("val_size", self.val_size)
        check_choice("selection", self.selection, SELECTIONS)
        _set_number(self, "val_alpha_test")
        for name, used in (("selection", self.selection != "final"),
                           ("val_alpha_test", self.val_alpha_test > 0)):
            if used and self.val_size <= 0:
                raise ValueError(f"{name} {getattr(self, name)!r} reads the validation split; set "
                                 "val_size > 0 (e.g. 1000) or leave it at its default")
        _set_number(self, "iaat_gamma", high=1.0)
        _set_number(self, "iaat_beta", high=1.0)
        if self.defense in (Defense.YOPO, Defense.IAAT):
            check_int(f"attack_steps of defense {self.defense!r}", self.attack_steps, low=1)

    @property
    def label(self) -> str:
        """Return the paper's row label: PGD, TRADES, AT4Free, YOPO-m-n or IAAT, "+ours" if weighted."""
        base = DEFENSE_NAMES[self.defense]
        if self.defense == Defense.YOPO:
            base += f"-{self.attack_steps}-{self.inner_steps}"
        return base + ("+ours" if self.alpha_train > 0 else "")

    def step_size_at(self, eps: float) -> float:
        """Return the training attack's step at radius ``eps``: ``step_size`` scaled with the ε ramp."""
        return self.step_size * (eps / self.eps if self.eps > 0 else 1.0)

    def key(self) -> str:
        """Return a short stable hash of the configuration (the results-store key)."""
        return config_key(self)

    def replace(self, **changes) -> "RunConfig":
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Build a config from a dict such as ``dataclasses.asdict`` returns; unknown keys raise."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown RunConfig fields: {sorted(unknown)}")
        values = dict(values)
        if "milestones" in values:
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)


def validation_attack(config: RunConfig) -> AttackConfig:
    """Return the learning curves' attack on the validation split: PGD-20, step ε/12 (0.025 at ε 0.3)."""
    return AttackConfig(eps=config.eps, step_size=config.eps / 12, steps=20)
