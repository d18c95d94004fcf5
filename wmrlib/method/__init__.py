"""The paper's method on tensors and models, with no data, files or configs: the margin and
importance weights, A_nat / A_rob / A_sa / A_tr, weighted PGD (Algorithm 1) and APGD, the PGD-AT
and TRADES losses, the χ² DRO evaluation, and the models. It imports only :mod:`wmrlib.core`.
"""

__all__ = ["apgd", "attacks", "dro", "losses", "metrics", "models", "risk"]
