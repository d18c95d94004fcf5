"""The margin of Definition 1 and the importance weights s = exp(-alpha * margin) of eq. 7."""
from __future__ import annotations

import torch

from ._checks import check_number


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return p_y - max_{t != y} p_t per example, on softmax probabilities (Definition 1)."""
    probs = torch.softmax(logits.float(), dim=1)
    true_prob = probs.gather(1, y[:, None]).squeeze(1)
    others = probs.scatter(1, y[:, None], float("-inf"))
    return true_prob - others.amax(dim=1)


def importance_weights(logits: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """Return s_i = exp(-alpha * margin_i) (eq. 7); differentiable through the logits."""
    alpha = check_number("alpha", alpha)
    return torch.exp(-alpha * margin(logits, y))


def normalized_weights(weights: torch.Tensor) -> torch.Tensor:
    """Return weights / weights.sum(): the attacker's sampling probabilities s~ (Section 4.2)."""
    return weights / weights.sum()
