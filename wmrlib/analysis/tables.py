"""Every table of the paper as a function of the store: the paper's numbers, ours, and the difference.

Our numbers are percentages averaged over the seeds a profile trains (``*_std`` and ``seeds``
columns say how many and how far apart). Rows follow our models; the paper's value is joined on
(defense, alpha_train, alpha_test[, eps_test, attack]) and is NaN where the paper has no such row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paper
from ..compute.data import nested_positions
from ..core.datasets import spec as spec_of
from ..experiment.config import DEFENSE_NAMES, AttackConfig, RunConfig
from ..experiment.profiles import DatasetPlan, profile as get_profile
from ..experiment.registry import EXTRA_DEFENSES, FAMILIES, Defense
from ..workflow.store import MissingResult, Store

METRICS = ("a_nat", "a_rob", "a_sa", "a_tr")
# EXTRA_DEFENSES (from the registry): Table 4's extra baselines (wmrlib.compute.defenses)


@dataclass(frozen=True)
class TableSpec:
    """What one paper table reports and on which dataset."""

    number: int
    dataset: str
    kind: str  # nonuniform | uniform | sweep | sensitivity | attacks
    defenses: tuple[str, ...] = FAMILIES


SPECS = {
    1: TableSpec(1, "mnist", "nonuniform"), 2: TableSpec(2, "cifar10", "nonuniform"),
    3: TableSpec(3, "tinyimagenet", "nonuniform"),
    4: TableSpec(4, "cifar10", "uniform", (*FAMILIES, *EXTRA_DEFENSES)),
    5: TableSpec(5, "tinyimagenet", "uniform"), 6: TableSpec(6, "mnist", "uniform"),
    7: TableSpec(7, "cifar10", "sensitivity", (Defense.PGD,)),
    8: TableSpec(8, "cifar10", "sensitivity", (Defense.TRADES,)),
    9: TableSpec(9, "cifar10", "attacks"), 10: TableSpec(10, "mnist", "sweep"),
    11: TableSpec(11, "cifar10", "sweep"), 12: TableSpec(12, "tinyimagenet", "sweep"),
}
SWEEP_ALPHA_TEST = {"mnist": 2.0, "cifar10": 2.0, "tinyimagenet": 1.0}


def title(number: int) -> str:
    """Return paper Table ``number``'s title from its specification and the paper profile's
    attack, e.g. ``MNIST, 40-PGD, ε = 0.3`` (ε at the paper's precision)."""
    spec = SPECS[number]
    name = spec_of(spec.dataset).display_name
    attack = get_profile("paper").plan(spec.dataset).attack
    if spec.kind in ("nonuniform", "uniform"):
        return f"{name}, {attack.name}, ε = {attack.eps:g}"
    if spec.kind == "sweep":
        return f"{name}, α_test = {SWEEP_ALPHA_TEST[spec.dataset]:g}"
    if spec.kind == "sensitivity":
        return f"{DEFENSE_NAMES[spec.defenses[0]]}, {name}"
    return f"other attacks, {name}"


def model_groups(plan: DatasetPlan, defenses=FAMILIES, headline_only: bool = False,
                 keep=lambda config: True) -> list[list[RunConfig]]:
    """Return the plan's models grouped by (defense, alpha_train): one list of seeds per group."""
    groups: dict[tuple, list[RunConfig]] = {}
    for config in plan.models():
        if config.defense not in defenses or not keep(config):
            continue
        if headline_only and not plan.is_headline(config):
            continue
        groups.setdefault((config.defense, config.alpha_train), []).append(config)
    return list(groups.values())


def _row(configs: list[RunConfig], values: list[dict]) -> dict:
    out = {"defense": configs[0].label, "alpha_train": configs[0].alpha_train,
           "seeds": len(configs)}
    for name in values[0]:
        column = np.array([v[name] for v in values], dtype=float)
        out[name] = column.mean()
        out[f"{name}_std"] = column.std(ddof=1) if len(column) > 1 else np.nan
    return out


def model_record(store: Store, plan: DatasetPlan, config: RunConfig, attack: AttackConfig,
                 alpha_tests=(), on_side: bool = False):
    """Return one model's EvalRecord under ``attack`` (weighted at each of ``alpha_tests``) on the
    plan's test subset for that attack; ``on_side``: on the side subset of the ε sweep and the
    other attacks, the main attack's larger record cut to those examples (see
    :func:`model_metrics`)."""
    size = plan.eval_size_for(attack)
    record = store.get_or_evaluate(config, attack, tuple(alpha_tests), eval_size=size,
                                   eval_seed=plan.eval_seed)
    if on_side and plan.side_eval_size is not None and size != plan.side_eval_size:
        record = record.restrict(nested_positions(store.test_size(config), plan.side_eval_size,
                                                  size, plan.eval_seed))
    return record


def model_metrics(store: Store, plan: DatasetPlan, config: RunConfig, attack: AttackConfig,
                  alpha_test: float | None, with_tr: bool = True, on_side: bool = False) -> dict:
    """Return one model's A_nat and A_rob (and A_sa, A_tr at ``alpha_test``) in %, from the store.

    ``on_side``: on the side subset of the ε sweep and the other attacks, also for the main
    attack, whose larger record is cut to those examples, so that every row of such a table
    compares the same images.
    """
    alphas = () if alpha_test is None or not with_tr else (alpha_test,)
    record = model_record(store, plan, config, attack, alphas, on_side=on_side)
    values = {"a_nat": 100 * record.a_nat(), "a_rob": 100 * record.a_rob()}
    if alpha_test is not None:
        values["a_sa"] = 100 * record.a_sa(alpha_test)
        if with_tr:
            values["a_tr"] = 100 * record.a_tr(alpha_test)
    return values


def ours(store: Store, plan: DatasetPlan, kind: str, defenses=FAMILIES) -> pd.DataFrame:
    """Return our results for one kind of table (without the paper's columns).

    Table 4's extra baselines (Free-AT, YOPO, IAAT) train last: a uniform table shows those that
    are stored and leaves out the others, where any other missing model raises MissingResult.
    """
    rows = []
    if kind == "uniform":
        for group in model_groups(plan, defenses):
            if group[0].defense in EXTRA_DEFENSES:
                rows += [r for r in [_stored_metrics(store, plan, group)] if r is not None]
            else:
                rows.append(_row(group, [model_metrics(store, plan, c, plan.attack, None)
                                         for c in group]))
    elif kind in ("nonuniform", "sweep"):
        alphas = plan.alpha_tests if kind == "nonuniform" else (SWEEP_ALPHA_TEST[plan.dataset],)
        for alpha in alphas:
            for group in model_groups(plan, defenses, headline_only=kind == "nonuniform"):
                values = [model_metrics(store, plan, c, plan.attack, alpha) for c in group]
                rows.append(_row(group, values) | {"alpha_test": alpha})
    elif kind == "sensitivity":
        for attack in plan.sensitivity_attacks():
            for alpha in plan.alpha_tests:
                for group in model_groups(plan, defenses, keep=plan.in_sweep):
                    values = [model_metrics(store, plan, c, attack, alpha, on_side=True)
                              for c in group]
                    rows.append(_row(group, values) | {"eps_test": attack.eps, "alpha_test": alpha})
    elif kind == "attacks":
        alpha = 1.0
        for attack in (plan.attack, *plan.other_attacks):
            for group in model_groups(plan, defenses, keep=plan.in_other_attacks):
                values = [model_metrics(store, plan, c, attack, alpha, with_tr=False, on_side=True)
                          for c in group]
                rows.append(_row(group, values) | {"attack": attack.name, "alpha_test": alpha})
    else:
        raise ValueError(f"unknown table kind {kind!r}")
    frame = pd.DataFrame(rows)
    front = [c for c in ("defense", "alpha_train", "eps_test", "attack", "alpha_test", "seeds")
             if c in frame]
    return frame[front + [c for c in frame if c not in front]]


KIND_METRICS = {"uniform": ("a_nat", "a_rob"), "nonuniform": ("a_rob", "a_sa", "a_tr"),
                "sweep": ("a_rob", "a_sa", "a_tr"), "sensitivity": ("a_rob", "a_sa", "a_tr"),
                "attacks": ("a_rob", "a_sa")}


def compare(ours_frame: pd.DataFrame, paper_frame: pd.DataFrame | None,
            metrics=METRICS) -> pd.DataFrame:
    """Join the paper's numbers onto ours: columns ``paper_<m>``, ``ours_<m>``, ``delta_<m>``."""
    metrics = [m for m in metrics if m in ours_frame]
    keys = [k for k in ("defense", "alpha_train", "eps_test", "attack", "alpha_test") if k in ours_frame]
    out = ours_frame.rename(columns={m: f"ours_{m}" for m in metrics}
                            | {f"{m}_std": f"ours_{m}_std" for m in metrics})
    if paper_frame is None:
        for m in metrics:
            out[f"paper_{m}"] = np.nan
    else:
        p = paper_frame.copy()
        p["alpha_train"] = p["alpha_train"].fillna(0.0)
        p = p[[k for k in keys if k in p] + [m for m in metrics if m in p]]
        p = p.drop_duplicates(subset=[k for k in keys if k in p])
        p = p.rename(columns={m: f"paper_{m}" for m in metrics})
        out = out.merge(p, on=[k for k in keys if k in p], how="left")
        for m in metrics:
            if f"paper_{m}" not in out:
                out[f"paper_{m}"] = np.nan
    for m in metrics:
        out[f"delta_{m}"] = out[f"ours_{m}"] - out[f"paper_{m}"]
    ordered = keys + ["seeds"] + [f"{s}_{m}" for m in metrics for s in ("paper", "ours", "delta")]
    ordered += [f"ours_{m}_std" for m in metrics if out[f"ours_{m}_std"].notna().any()]
    return out[[c for c in ordered if c in out]]


def paper_table(store: Store, plan: DatasetPlan, number: int) -> pd.DataFrame:
    """Return paper Table ``number`` beside our results for the plan's dataset."""
    spec = SPECS[number]
    if plan.dataset != spec.dataset:
        raise ValueError(f"Table {number} is on {spec.dataset}, the plan is for {plan.dataset}")
    paper_frame = paper.table(number)
    return compare(ours(store, plan, spec.kind, spec.defenses), paper_frame,
                   KIND_METRICS[spec.kind])


def analog_table(store: Store, plan: DatasetPlan, kind: str, defenses=FAMILIES) -> pd.DataFrame:
    """Return our results for a table the paper ran on another dataset (paper columns are NaN)."""
    return compare(ours(store, plan, kind, defenses), None, KIND_METRICS[kind])


def _stored_metrics(store: Store, plan: DatasetPlan, group: list[RunConfig]) -> dict | None:
    """Return a group's A_nat and A_rob row, or None when a read-only store lacks one of them."""
    try:
        return _row(group, [model_metrics(store, plan, c, plan.attack, None) for c in group])
    except MissingResult:
        return None


def _printed_row(printed: pd.DataFrame, label: str) -> pd.Series | None:
    """Return the paper's Table 4 row for our row ``label`` (YOPO-m-n matches the paper's YOPO row)."""
    family = label.split("-")[0]
    match = printed[printed["defense"].str.split("-").str[0] == family]
    return match.iloc[0] if len(match) else None


def extra_baselines_analog(store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Return our stored extra baselines of Table 4 on the plan's dataset beside the paper's
    CIFAR-10 rows of the same defenses, with our PGD-AT baseline as a reference row.

    For the cpu profile this is an MNIST analog: columns ``paper_cifar10_*`` are the paper's
    numbers and ``ours_<dataset>_*`` ours, on different datasets, so there is no difference
    column. Raise MissingResult when none of the extra baselines is stored.
    """
    rows = [_stored_metrics(store, plan, g) for g in model_groups(plan, EXTRA_DEFENSES)]
    rows = [r for r in rows if r is not None]
    if not rows:
        raise MissingResult(f"no extra baseline (Free-AT, YOPO, IAAT) of the {plan.dataset} plan "
                            f"is stored in {store.root}")
    for group in model_groups(plan, (Defense.PGD,), keep=lambda c: c.alpha_train == 0.0):
        reference = _stored_metrics(store, plan, group)
        rows += [] if reference is None else [reference]
    printed = paper.table(4)
    out = []
    for row in rows:
        match = _printed_row(printed, row["defense"])
        out.append({"defense": row["defense"],
                    "paper_row": None if match is None else match["defense"],
                    "paper_cifar10_a_nat": np.nan if match is None else match["a_nat"],
                    "paper_cifar10_a_rob": np.nan if match is None else match["a_rob"],
                    f"ours_{plan.dataset}_a_nat": row["a_nat"],
                    f"ours_{plan.dataset}_a_rob": row["a_rob"], "seeds": row["seeds"]})
    return pd.DataFrame(out)
