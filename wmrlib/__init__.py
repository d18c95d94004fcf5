"""wmrlib: the weighted minimax risk of Zeng et al. (AAAI 2021) as a small PyTorch library.

Example::

    >>> import wmrlib
    >>> model = wmrlib.zoo.load("cpu", "mnist", "trades", alpha_train=2.0)   # a shipped model
    >>> x_adv = wmrlib.pgd(model, x, y, eps=0.3, step_size=0.01, steps=40, alpha=2.0)
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import zoo
from .attacks import pgd, trades_attack
from .config import AttackConfig, RunConfig
from .dro import chi2_dro
from .losses import pgd_at_loss, trades_loss
from .metrics import a_nat, a_rob, a_sa, a_tr
from .profiles import profile
from .risk import importance_weights, margin, normalized_weights
from .store import Store

__all__ = ["margin", "importance_weights", "normalized_weights", "pgd", "trades_attack",
           "pgd_at_loss", "trades_loss", "a_nat", "a_rob", "a_sa", "a_tr", "chi2_dro",
           "RunConfig", "AttackConfig", "Store", "profile", "zoo"]
