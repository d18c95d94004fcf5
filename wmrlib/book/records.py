"""The facts of "How we reproduce" laid out: profiles and their settings, provenance, wall time,
compute, the bf16 check. The numbers come from :mod:`wmrlib.analysis.records` (which reads the
store); this module picks the sources and lays the tables out."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ..analysis import records as _records
# Computed in wmrlib.analysis.records; named here too, as the book's pages call them.
from ..analysis.records import (AIM_PP, PROCESS_PATHS, baseline_reach, compute_by_cpu, compute_log,
                                evaluation_processes, pilot_runs)
from ..experiment.profiles import DatasetPlan, profile as get_profile, PROFILES
from ..experiment.registry import is_pgd
from .sources import candidate_sources, DATASET_NAMES, Source

__all__ = ["AIM_PP", "EXTRA_DEFENSE_FIELDS", "PROCESS_PATHS", "baseline_reach", "compute_by_cpu",
           "compute_log", "config_comparison", "config_table", "evaluation_path_note",
           "evaluation_processes", "evaluation_wall_time", "pilot_runs", "precision_check",
           "profiles_table", "progress_note", "provenance_table", "wall_time_table"]


def provenance_table(source: Source) -> pd.DataFrame:
    """Return one row per stored run of the source: commit, device, versions and wall time
    (:func:`wmrlib.analysis.records.provenance_table`)."""
    return _records.provenance_table(source.results, source.plan)


def evaluation_wall_time(source: Source) -> float:
    """Return the total wall time of the stored evaluation units of the source's runs, in seconds."""
    return _records.evaluation_wall_time(source.store, source.plan)


# Settings only Table 4's extra baselines read (their configs are listed with CHOICES).
EXTRA_DEFENSE_FIELDS = ("replays", "inner_steps", "iaat_warmup", "iaat_gamma", "iaat_beta")


def _value(v):
    """Return a setting for a table: floats at 4 significant digits, a tuple as its items
    ("0.4, 0.8"; "–" when empty), not as Python's repr."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, tuple):
        return ", ".join(str(_value(x)) for x in v) or "–"
    return v


def config_table(plan: DatasetPlan) -> pd.DataFrame:
    """Return the plan's training and evaluation settings as a two-column table."""
    base = dataclasses.asdict(plan.base)
    for key in ("alpha_train", "defense", "seed", *EXTRA_DEFENSE_FIELDS):
        base.pop(key)
    attack = dataclasses.asdict(plan.attack)
    for key in ("kind", "queries", "scales") if is_pgd(plan.attack) else ():
        attack.pop(key)
    rows = [("training: " + k, _value(v)) for k, v in base.items()]
    rows += [("evaluation: " + k, _value(v)) for k, v in attack.items()]
    check = plan.robustness
    rows += [("evaluation: examples", plan.eval_size or "whole test set"),
             ("evaluation: examples, ε sweep and Table 9",
              plan.side_eval_size or plan.eval_size or "whole test set"),
             ("robustness check", "none" if check is None else
              f"AutoAttack ({check.attack.steps} iterations) on {check.eval_size or 'all'}"),
             ("PGD+ours α_train", _value(plan.pgd_alphas)),
             ("TRADES+ours α_train", _value(plan.trades_alphas)),
             ("α_test", _value(plan.alpha_tests)), ("ε_test (sensitivity)", _value(plan.eps_tests)),
             ("seeds (headline models)", _value(plan.seeds))]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype({"value": str})


def profiles_table(names=PROFILES) -> pd.DataFrame:
    """Return one row per profile and dataset: what it is for, its data, models and test examples."""
    rows = []
    for name in names:
        prof = get_profile(name)
        for dataset, plan in prof.plans.items():
            rows.append({"profile": name, "dataset": DATASET_NAMES[dataset],
                         "data": "synthetic tensors" if plan.base.synthetic else "real",
                         "model": plan.base.model, "models trained": len(plan.models()),
                         "epochs": plan.base.epochs,
                         "test examples": plan.eval_size or "whole test set"})
    return pd.DataFrame(rows).astype({"test examples": str})


def config_comparison(plans: dict[str, DatasetPlan], differing_only: bool = False) -> pd.DataFrame:
    """Return the plans' :func:`config_table` side by side, one column per label.

    With ``differing_only`` keep only the settings whose values differ between the plans.
    """
    columns = [config_table(plan).set_index("setting")["value"].rename(label)
               for label, plan in plans.items()]
    frame = pd.concat(columns, axis=1)
    if differing_only:
        frame = frame[frame.nunique(axis=1, dropna=False) > 1]
    return frame.rename_axis("setting").reset_index()


def wall_time_table(results: str | Path, names=PROFILES) -> pd.DataFrame:
    """Return the measured wall time of the stored runs per profile and dataset, from provenance.

    Training is the sum of the stored runs' wall times; evaluation the sum of their stored
    evaluation units' (:func:`wmrlib.analysis.records.wall_time`).
    """
    rows = []
    for name in names:
        for dataset in get_profile(name).plans:
            for source in candidate_sources(dataset, [name], results=results, readonly=True,
                                            progress=False):
                measured = _records.wall_time(source.results, source.plan)
                if measured is not None:
                    rows.append({"profile": name, "dataset": DATASET_NAMES[dataset]} | measured)
    return pd.DataFrame(rows, columns=["profile", "dataset", "runs stored", "runs planned",
                                       "device", "train_min", "eval_min", "total_min"])


def progress_note(progress: dict[str, tuple[int, int]], previous: str = "cpu-5epoch") -> str:
    """Return the campaign's progress in words, per dataset (``progress``: dataset → (jobs
    complete, jobs planned)), saying which models each dataset's pages show meanwhile: those of
    the ``previous`` profile where it covers the dataset."""
    done, total = (sum(v[i] for v in progress.values()) for i in (0, 1))
    parts = []
    for dataset, (d, t) in progress.items():
        name = DATASET_NAMES[dataset]
        if d == t:
            parts.append(f"{name}: all {t} complete; its pages show these models.")
        elif dataset in get_profile(previous).plans:
            parts.append(f"{name}: {d} of {t}. Until they cover every {name} model of the "
                         f"`{previous}` campaign, the {name} result pages show the `{previous}` "
                         "models, so that no table shrinks in between; the landing page shows the "
                         "new models' paired gains so far.")
        else:
            parts.append(f"{name}: {d} of {t}; it has no earlier models, so its pages show its "
                         "complete models as they come (its verdicts once the first seed's four "
                         "headline models are stored).")
    return f"**{done} of {total} campaign jobs are complete.** " + " ".join(parts)


def precision_check(source: Source) -> pd.DataFrame:
    """Compare the fp32 twin of the first PGD-AT baseline with its bf16 seeds (A_nat, A_rob, A_sa):
    :func:`wmrlib.analysis.records.precision_check` on the source's store and plan.

    ``within_2_std`` says whether the fp32 model lies within two seed standard deviations of the
    bf16 seeds' mean, i.e. whether bf16 training costs robust accuracy beyond seed noise.
    """
    return _records.precision_check(source.store, source.plan)


def evaluation_path_note(results: str | Path, names=("cpu", "cpu-5epoch")) -> str:
    """Return one sentence per profile on where its stored logit-scaling units were computed
    (:func:`wmrlib.analysis.records.evaluation_processes`), or an empty string when none is stored."""
    parts = []
    for name in names:
        c = evaluation_processes(results, name)
        if not c["units"]:
            continue
        parts.append(f"`{name}`: of its {c['units']} logit-scaling units, {c[PROCESS_PATHS[0]]} "
                     f"were computed in the process that had just trained (or resumed) their model, "
                     f"{c[PROCESS_PATHS[1]]} in a process that only evaluated and "
                     f"{c[PROCESS_PATHS[2]]} where the compute log cannot tell; "
                     f"{c['resumed runs']} of those models resumed training from a checkpoint; "
                     f"computing them took {c['minutes']:.0f} min.")
    return " ".join(parts)
