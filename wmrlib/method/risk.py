"""The margin of Definition 1 and the importance weights s = exp(-alpha * margin) of eq. 7."""
from __future__ import annotations

import numpy as np
import torch

from ..core.checks import check_number


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


def normalized_weights(margins, alpha: float):
    """Return s~_i = exp(-alpha m_i) / sum_j exp(-alpha m_j): the attacker's sampling probabilities
    (Section 4.2), computed without overflow; a tensor gives a tensor, anything else a numpy array.

    Example::

        >>> normalized_weights(np.array([0.0, 0.0]), 2.0)
        array([0.5, 0.5])
    """
    alpha = check_number("alpha", alpha)
    if torch.is_tensor(margins):
        return torch.softmax(-alpha * margins.double(), dim=0).to(margins.dtype)
    z = -alpha * np.asarray(margins, dtype=np.float64)
    w = np.exp(z - z.max())  # the shift cancels in the ratio and keeps exp below 1
    return w / w.sum()
