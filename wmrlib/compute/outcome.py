"""Per-example outcomes of an evaluation: one attack's record and a model's evaluation record.

Every evaluation unit in the store is an :class:`AttackRecord` (per example: correct, margin,
loss); an :class:`EvalRecord` gathers a model's clean, unweighted and weighted records under one
attack, and computes A_nat, A_rob, A_sa and A_tr from them.
"""
from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..experiment.config import AttackConfig
from ..method import metrics
from ..method.risk import margin
from .checkpoint import atomic_path

FIELDS = ("correct", "margin", "loss")


@dataclass
class AttackRecord:
    """Per-example outcome of one attack: correct (bool), margin and cross-entropy loss."""

    correct: np.ndarray
    margin: np.ndarray
    loss: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # per-example arrays of some units (wmrlib.compute.adaptive)


@dataclass
class EvalRecord:
    """Per-example evaluation of one model under one attack configuration."""

    attack: AttackConfig
    labels: np.ndarray
    clean: AttackRecord
    uniform: AttackRecord
    weighted: dict[float, AttackRecord] = field(default_factory=dict)

    def a_nat(self) -> float:
        """Natural accuracy."""
        return metrics.a_nat(self.clean.correct)

    def a_rob(self) -> float:
        """Robust accuracy under the unweighted attack."""
        return metrics.a_rob(self.uniform.correct)

    def a_sa(self, alpha_test: float) -> float:
        """A_sa(alpha_test), from the unweighted attack's record."""
        return metrics.a_sa(self.uniform.correct, self.uniform.margin, alpha_test)

    def a_tr(self, alpha_test: float) -> float:
        """A_tr(alpha_test), from the weighted attack at alpha_test."""
        if float(alpha_test) not in self.weighted:
            raise KeyError(f"no weighted attack at alpha_test={alpha_test} in this record; "
                           f"available: {sorted(self.weighted)}")
        rec = self.weighted[float(alpha_test)]
        return metrics.a_tr(rec.correct, rec.margin, alpha_test)

    def restrict(self, positions: np.ndarray) -> "EvalRecord":
        """Return this record on the examples at ``positions`` (e.g. a smaller nested subset)."""
        def take(rec: AttackRecord) -> AttackRecord:
            return AttackRecord(rec.correct[positions], rec.margin[positions], rec.loss[positions],
                                {k: v[positions] for k, v in rec.extra.items()})

        return EvalRecord(self.attack, self.labels[positions], take(self.clean),
                          take(self.uniform), {a: take(r) for a, r in self.weighted.items()})

    def summary(self) -> dict[str, float]:
        """Return every metric the record supports, in percent, keyed like ``a_sa@1.5``."""
        out = {"a_nat": 100 * self.a_nat(), "a_rob": 100 * self.a_rob()}
        for alpha in sorted(self.weighted):
            out[f"a_sa@{alpha:g}"] = 100 * self.a_sa(alpha)
            out[f"a_tr@{alpha:g}"] = 100 * self.a_tr(alpha)
        return out

    def save(self, path: str | Path) -> None:
        """Write the record as a compressed .npz, atomically."""
        arrays = {"labels": self.labels,
                  "attack": np.array(json.dumps(dataclasses.asdict(self.attack), sort_keys=True))}
        for name, rec in [("clean", self.clean), ("uniform", self.uniform),
                          *((f"weighted@{a!r}", r) for a, r in self.weighted.items())]:
            for f in FIELDS:
                arrays[f"{name}/{f}"] = getattr(rec, f)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "EvalRecord":
        """Read a record written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            def rec(name):
                return AttackRecord(*(z[f"{name}/{f}"] for f in FIELDS))
            alphas = sorted({k.split("/")[0][len("weighted@"):] for k in z.files
                             if k.startswith("weighted@")}, key=float)
            return cls(AttackConfig(**json.loads(str(z["attack"]))), z["labels"], rec("clean"),
                       rec("uniform"), {float(a): rec(f"weighted@{a}") for a in alphas})


def outcome(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Return per example: whether ``model`` classifies ``x`` as ``y``, the margin and the cross-entropy."""
    with torch.no_grad():
        logits = model(x).float()
    return (logits.argmax(1) == y, margin(logits, y), F.cross_entropy(logits, y, reduction="none"))


