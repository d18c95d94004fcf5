"""What an experiment is, as data: the run and attack configurations (hashed into store keys), the
profiles that size every table at three scales, ``--set`` overrides and the robustness plan;
the registries of attack kinds and defenses that code branches on (:mod:`.registry`).
Nothing here trains or reads files; it imports :mod:`wmrlib.method` and :mod:`wmrlib.core`.
"""

__all__ = ["config", "overrides", "profiles", "registry", "robustness_plan"]
