"""What an experiment is, as data: the run and attack configurations (hashed into store keys), the
profiles that size every table at three scales, ``--set`` overrides and the robustness plan.
Nothing here trains or reads files; it imports :mod:`wmrlib.method` and :mod:`wmrlib.core`.
"""

__all__ = ["config", "overrides", "profiles", "robustness_plan"]
