"""wmrlib: the weighted minimax risk of Zeng et al. (AAAI 2021) as a small PyTorch library.

Example::

    >>> import wmrlib
    >>> model = wmrlib.zoo.load("cpu", "mnist", "trades", alpha_train=2.0)   # a shipped model
    >>> x_adv = wmrlib.pgd(model, x, y, eps=0.3, step_size=0.01, steps=40, alpha=2.0)
"""
from __future__ import annotations

from .analysis import paper, zoo
from .core.version import __version__
from .experiment.config import AttackConfig, RunConfig
from .experiment.profiles import profile
from .method.attacks import pgd, trades_attack
from .method.dro import chi2_dro
from .method.losses import pgd_at_loss, trades_loss
from .method.metrics import a_nat, a_rob, a_sa, a_tr
from .method.risk import importance_weights, margin, normalized_weights
from .workflow.store import Store

# The layers, bottom to top (each imports only from those before it): core, method, experiment,
# compute, workflow, analysis, book; the command line (wmrlib.cli) sits on top of them all.
LAYERS = ("core", "method", "experiment", "compute", "workflow", "analysis", "book")

__all__ = ["margin", "importance_weights", "normalized_weights", "pgd", "trades_attack",
           "pgd_at_loss", "trades_loss", "a_nat", "a_rob", "a_sa", "a_tr", "chi2_dro",
           "RunConfig", "AttackConfig", "Store", "profile", "zoo", "paper", "__version__"]
