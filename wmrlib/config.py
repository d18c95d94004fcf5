"""Run and attack configurations as plain frozen dataclasses, validated on construction."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._checks import check_choice, check_int, check_number
from .attacks import LOSSES, RANDOM_STARTS
from .keys import config_key

DATASETS = ("mnist", "cifar10", "tinyimagenet")
DEFENSES = ("pgd", "trades")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "multistep", "cosine")
PRECISIONS = ("fp32", "bf16")


def _set_number(obj, name: str, **bounds) -> None:
    """Check the number field ``name`` of a frozen dataclass and store it as a float."""
    object.__setattr__(obj, name, check_number(name, getattr(obj, name), **bounds))


@dataclass(frozen=True)
class AttackConfig:
    """An evaluation attack: L-inf PGD with ``steps`` steps of ``step_size`` in a ball of ``eps``."""

    eps: float = 0.3
    step_size: float = 0.01
    steps: int = 40
    loss: str = "ce"
    restarts: int = 1
    random_start: str = "uniform"

    def __post_init__(self) -> None:
        # Numbers are stored as floats so that equal configs (1 == 1.0) have equal keys.
        _set_number(self, "eps", high=1.0)
        _set_number(self, "step_size", low=0.0, low_inclusive=False)
        check_int("steps", self.steps)
        check_int("restarts", self.restarts, low=1)
        check_choice("loss", self.loss, LOSSES)
        check_choice("random_start", self.random_start, RANDOM_STARTS)

    @property
    def name(self) -> str:
        """Return the paper's name for the attack, e.g. ``40-PGD`` or ``20-PGD-margin``."""
        return f"{self.steps}-PGD" + ("-margin" if self.loss == "margin" else "")

    def key(self) -> str:
        """Return a short stable hash of the configuration."""
        return config_key(self)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a trained model: data, defense, attack, optimisation, seed."""

    dataset: str = "mnist"
    model: str = ""
    defense: str = "pgd"
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

    def __post_init__(self) -> None:
        from .models import DEFAULT_MODEL, MODELS

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
        check_int("epochs", self.epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_int("seed", self.seed)
        if self.train_size is not None:
            check_int("train_size", self.train_size, low=1)
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))
        for m in self.milestones:
            check_number("milestone", m, high=1.0)

    @property
    def label(self) -> str:
        """Return the paper's row label: PGD, PGD+ours, TRADES or TRADES+ours."""
        base = "PGD" if self.defense == "pgd" else "TRADES"
        return base + ("+ours" if self.alpha_train > 0 else "")

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
