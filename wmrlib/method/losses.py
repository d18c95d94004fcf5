"""Training losses: PGD-AT (Madry et al.) and TRADES (Zhang et al.), each optionally weighted.

The weight s_i = exp(-alpha * margin_i) stays inside the objective, so gradients flow through
it, as eq. 7 and 13 write. ``detach_weights=True`` treats it as a constant: an ablation.
In TRADES only the robust KL term is weighted.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.checks import check_number
from .attacks import kl_per_example
from .risk import importance_weights


def _weights(logits_adv: torch.Tensor, y: torch.Tensor, alpha: float,
             detach_weights: bool) -> torch.Tensor | None:
    alpha = check_number("alpha", alpha)
    if alpha == 0:
        return None
    weights = importance_weights(logits_adv, y, alpha)
    return weights.detach() if detach_weights else weights


def pgd_at_loss(logits_adv: torch.Tensor, y: torch.Tensor, alpha: float = 0.0,
                detach_weights: bool = False) -> torch.Tensor:
    """Return mean_i s_i * CE(f(x'_i), y_i) (eq. 13); alpha = 0 is plain PGD-AT."""
    losses = F.cross_entropy(logits_adv.float(), y, reduction="none")
    weights = _weights(logits_adv, y, alpha, detach_weights)
    return (losses if weights is None else weights * losses).mean()


def trades_loss(logits_nat: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor,
                beta: float, alpha: float = 0.0, detach_weights: bool = False) -> torch.Tensor:
    """Return CE(f(x), y) + beta * mean_i s_i * KL(f(x_i) || f(x'_i)); alpha = 0 is TRADES."""
    beta = check_number("beta", beta)
    natural = F.cross_entropy(logits_nat.float(), y)
    robust = kl_per_example(logits_nat, logits_adv)
    weights = _weights(logits_adv, y, alpha, detach_weights)
    if weights is not None:
        robust = weights * robust
    return natural + beta * robust.mean()
