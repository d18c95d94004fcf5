"""Argument checks shared by the library: one clear ValueError naming the problem and the fix."""
from __future__ import annotations

import math

import torch


def check_number(name: str, value: float, *, low: float = 0.0, high: float = math.inf,
                 low_inclusive: bool = True) -> float:
    """Return ``value`` as a float if it lies in the allowed range, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    value = float(value)
    too_low = value < low if low_inclusive else value <= low
    # inf is refused even without an upper bound: no setting of the library means "infinite".
    if not math.isfinite(value) or too_low or value > high:
        bound = "≥" if low_inclusive else ">"
        upper = f" and ≤ {high:g}" if high != math.inf else ""
        kind = "number" if high != math.inf else "finite number"
        raise ValueError(f"{name} must be a {kind} {bound} {low:g}{upper}, got {value:g}")
    return value


def check_int(name: str, value: int, *, low: int = 0) -> int:
    """Return ``value`` if it is an integer ≥ ``low``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name} must be ≥ {low}, got {value}")
    return value


def check_choice(name: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the valid ones."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
    return value


def check_images(x: torch.Tensor) -> None:
    """Raise if ``x`` is not a floating batch with finite values in [0, 1]."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError("inputs must be a floating-point tensor with values in [0, 1]")
    if x.numel() == 0:
        raise ValueError("inputs are empty (batch size 0); pass a batch of at least one image")
    lo, hi, nan = torch.stack([x.min(), x.max(), x.isnan().any().to(x.dtype)]).tolist()
    if nan:
        raise ValueError("inputs contain NaN; pass images with finite values in [0, 1] "
                         "(check the data pipeline that produced them)")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"inputs must lie in [0, 1] (got min {lo:.4g}, max {hi:.4g}); "
                         "feed unnormalised images, the models normalise nothing")


def check_labels(y: torch.Tensor, num_classes: int, batch: int) -> None:
    """Raise if ``y`` is not a vector of ``batch`` class indices in [0, num_classes)."""
    if not torch.is_tensor(y) or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError("labels must be an integer tensor of class indices")
    if y.shape != (batch,):
        raise ValueError(f"labels must have shape ({batch},), got {tuple(y.shape)}")
    lo, hi = torch.stack([y.min(), y.max()]).tolist()
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], got range [{lo}, {hi}]")

