"""The facts of "How we reproduce" read from the store: each run's provenance and staleness,
the wall time of runs and evaluations, the compute log of every ``reproduce`` invocation, the
bf16 precision check, how close the baselines come to the paper's, and the early schedule
pilots. :mod:`wmrlib.book.records` lays them out and computes nothing.

Example::

    >>> stored = results_for("cpu")
    >>> provenance_table(stored, stored.profile.plan("mnist"))  # one row per stored run
    >>> baseline_reach("results", "cpu")                         # A_rob beside the paper's aim
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute.device import cpu_kind
from ..experiment.config import DEFENSE_NAMES
from ..experiment.profiles import DatasetPlan, profile as get_profile
from ..experiment.registry import FAMILIES, AttackKind, Defense, family_name
from ..workflow.provenance import git_commit  # noqa: F401  (the book names the build's commit)
from ..method import metrics
from ..workflow.campaign import jobs_computed
from ..workflow.store import MissingResult, Store
from . import collapse, paper
from .results import ProfileResults, results_for
from .tables import model_metrics

AIM_PP = 2.0  # the cpu campaign aims for baselines within this many pp of the paper's A_rob


def provenance_table(results: ProfileResults, plan: DatasetPlan) -> pd.DataFrame:
    """Return one row per stored run of ``plan`` in ``results``' store: commit, device, versions,
    wall time, and whether compute code changed since (``code since``)."""
    rows = []
    for config in plan.models() + plan.precision_models():
        path = results.store.provenance_path(config)
        if not path.exists():
            continue
        info = json.loads(path.read_text())
        staleness = results.run_staleness(plan)[config.key()]
        rows.append({"model": config.label, "α_train": config.alpha_train, "seed": config.seed,
                     "precision": config.precision, "run": config.key()[:12],
                     "commit": info["git_commit"][:12], "code since": code_since(staleness),
                     "device, torch": f"{info['device']}, {info['torch']}", "date": info["date"][:10],
                     "training (min)": info["wall_time_s"] / 60})
    return pd.DataFrame(rows)


def code_since(staleness: str) -> str:
    """Return a run's staleness in a table cell's few words: "current", or "changed:" and the
    changed compute modules' names (without the verb the store's sentence ends with)."""
    if not staleness.startswith("stale"):
        return staleness
    files = staleness.split(":", 1)[1].replace(" changed", "").strip()
    return f"changed: {files}"


def evaluation_wall_time(store: Store, plan: DatasetPlan) -> float:
    """Return the total wall time of the stored evaluation units of ``plan``'s runs, in seconds."""
    total = 0.0
    for config in plan.models() + plan.precision_models():
        for path in store.evals_dir(config).glob("*.json"):
            total += json.loads(path.read_text())["wall_time_s"]
    return total


def wall_time(results: ProfileResults, plan: DatasetPlan) -> dict | None:
    """Return the measured wall time of ``plan``'s stored runs (None when none is stored): runs
    stored and planned, their devices, and the training, evaluation and total minutes (training:
    the runs' own wall times; evaluation: their stored units')."""
    runs = provenance_table(results, plan)
    if runs.empty:
        return None
    train, evaluation = 60 * runs["training (min)"].sum(), evaluation_wall_time(results.store, plan)
    return {"runs stored": len(runs), "runs planned": len(plan.models() + plan.precision_models()),
            "device": ", ".join(sorted({d.split(",")[0] for d in runs["device, torch"]})),
            "train_min": train / 60, "eval_min": evaluation / 60,
            "total_min": (train + evaluation) / 60}


COMPUTE_LOG_COLUMNS = ["date", "commit", "cpu kind", "workers × threads", "jobs done", "jobs",
                       "finished", "wall_min", "load avg start → end"]


def compute_log(results: str | Path, name: str) -> pd.DataFrame:
    """Return one row per ``reproduce`` invocation of a profile, from ``compute.json``.

    A suite interrupted and resumed has several rows; its wall time is their sum.
    """
    path = results_for(name, results).store.compute_log_path()
    if not path.exists():
        return pd.DataFrame(columns=COMPUTE_LOG_COLUMNS)
    rows = []
    for entry in json.loads(path.read_text()):
        kind = cpu_kind(entry["cpu"]) if "cpu" in entry else "not recorded"
        rows.append({"date": entry["date"][:16].replace("T", " "), "commit": entry["git_commit"][:12],
                     "cpu kind": kind + ("" if entry["executor"] == "local" else f" ({entry['executor']})"),
                     "workers × threads": f"{entry['workers']} × {entry['threads'] or 'default'}",
                     # from the job results: logs written before jobs_computed counted found-complete jobs
                     "jobs done": jobs_computed(entry["results"]) if "results" in entry
                     else entry["jobs_done"], "jobs": entry["jobs"],
                     "finished": entry["finished"], "wall_min": entry["wall_time_s"] / 60,
                     "load avg start → end": " ".join(f"{x:.1f}" for x in entry["load_average_start"])
                     + " → " + " ".join(f"{x:.1f}" for x in entry["load_average_end"])})
    return pd.DataFrame(rows, columns=COMPUTE_LOG_COLUMNS)


def compute_by_cpu(results: str | Path, name: str) -> pd.DataFrame:
    """Return a profile's total compute per CPU kind: invocations, jobs finished, wall minutes."""
    log = compute_log(results, name)
    if log.empty:
        return pd.DataFrame(columns=["cpu kind", "invocations", "jobs done", "wall_min"])
    grouped = log.groupby("cpu kind").agg(invocations=("date", "size"),
                                          **{"jobs done": ("jobs done", "sum")},
                                          wall_min=("wall_min", "sum"))
    return grouped.reset_index()


def precision_check(store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Compare the fp32 twin of the plan's first PGD-AT baseline with its bf16 seeds (A_nat,
    A_rob, A_sa and A_tr at the largest α_test).

    ``within_2_std`` says whether the fp32 model lies within two seed standard deviations of the
    bf16 seeds' mean, i.e. whether bf16 training costs robust accuracy beyond seed noise.
    """
    (fp32,) = plan.precision_models()
    bf16 = [c for c in plan.models() if c.defense == Defense.PGD and c.alpha_train == 0.0]
    alpha = plan.alpha_tests[-1]
    values = {c.key(): model_metrics(store, plan, c, plan.attack, alpha) for c in bf16 + [fp32]}
    rows = []
    for metric in ("a_nat", "a_rob", "a_sa", "a_tr"):
        seeds = np.array([values[c.key()][metric] for c in bf16])
        std = seeds.std(ddof=1) if len(seeds) > 1 else np.nan
        diff = values[fp32.key()][metric] - seeds.mean()
        rows.append({"metric": metric + (f" (α_test {alpha:g})" if metric in ("a_sa", "a_tr") else ""),
                     "bf16 mean": seeds.mean(), "bf16 seed std": std, "bf16 seeds": len(seeds),
                     "fp32 (seed 0)": values[fp32.key()][metric], "fp32 − bf16": diff,
                     "within_2_std": bool(abs(diff) <= 2 * std) if len(seeds) > 1 else None})
    return pd.DataFrame(rows)


def baseline_reach(results: str | Path, name: str = "cpu") -> pd.DataFrame:
    """Return how close a profile's MNIST baselines come to the paper's: A_nat and A_rob (%) under
    the main attack, mean and std over the seeds stored so far, beside the paper's Table 1 A_rob
    and the campaign's aim (within AIM_PP of it)."""
    plan = get_profile(name).plan("mnist")
    store = results_for(name, results).store
    printed = paper.table(1)
    rows = []
    for defense in FAMILIES:
        label = family_name(defense)
        nat, rob = [], []
        for seed in plan.seeds:
            config = plan.run(defense, 0.0, seed)
            try:
                clean = store.get_or_attack(config, None, 0.0, eval_size=plan.eval_size,
                                            eval_seed=plan.eval_seed)
                attacked = store.get_or_attack(config, plan.attack, 0.0, eval_size=plan.eval_size,
                                               eval_seed=plan.eval_seed)
            except MissingResult:
                continue
            nat.append(100 * metrics.a_nat(clean.correct))
            rob.append(100 * metrics.a_rob(attacked.correct))
        if not rob:
            continue
        theirs = float(printed.loc[printed["defense"] == label, "a_rob"].iloc[0])
        std = np.std(rob, ddof=1) if len(rob) > 1 else np.nan
        rows.append({"baseline": label, "seeds": len(rob), "A_nat": np.mean(nat),
                     "A_rob": np.mean(rob), "A_rob seed std": std, "paper A_rob": theirs,
                     f"aim (paper − {AIM_PP:g} pp)": theirs - AIM_PP,
                     "reached": "yes" if np.mean(rob) >= theirs - AIM_PP else
                     f"no: {theirs - AIM_PP - np.mean(rob):.1f} pp short"})
    return pd.DataFrame(rows)


def pilot_runs(pilot_dir: str | Path) -> pd.DataFrame:
    """Return one row per schedule pilot stored in ``pilot_dir`` (``benchmarks/pilot/*.json``,
    written by ``benchmarks/pilot_schedule.py``): its settings, its final and best curve A_rob
    under 40-PGD, the epoch it collapsed (:mod:`wmrlib.analysis.collapse`) and the learning rate then,
    beside the campaign's aim (the paper's Table 1 A_rob less AIM_PP)."""
    printed = paper.table(1)
    rows = []
    for path in sorted(Path(pilot_dir).glob("*.json")):
        stored = json.loads(path.read_text())
        config, history = stored["config"], stored["history"]
        curve = pd.DataFrame({"defense": config["defense"], "alpha_train": config["alpha_train"],
                              "seed": config["seed"], "epoch": [h["epoch"] for h in history],
                              "a_rob": [h["curve_a_rob"] for h in history]})
        fell = collapse.collapses(curve).iloc[0]
        label = DEFENSE_NAMES[config["defense"]]
        theirs = float(printed.loc[printed["defense"] == label, "a_rob"].iloc[0])
        collapsed = "no"
        if fell["collapsed"]:
            epoch = int(fell["collapse_epoch"])
            collapsed = f"epoch {epoch}, lr {history[epoch - 1]['lr']:.0e}"
        rows.append({"pilot": path.stem, "defense": label, "epochs": config["epochs"],
                     "batch": config["batch_size"],
                     "lr × 0.1 at": ", ".join(f"{m:.0%}" for m in config.get("milestones") or ()),
                     "final A_nat": history[-1]["curve_a_nat"], "final A_rob": fell["final_a_rob"],
                     "best A_rob": fell["best_a_rob"], "collapsed": collapsed,
                     f"aim (paper − {AIM_PP:g} pp)": theirs - AIM_PP})
    return pd.DataFrame(rows)


PROCESS_PATHS = ("same process as training", "evaluation-only process", "cannot be told")


def evaluation_processes(results: str | Path, name: str,
                         kind: str = AttackKind.LOGIT_SCALE) -> dict[str, int]:
    """Return how many stored units of ``kind`` of profile ``name`` were computed in the process
    that trained (or resumed) their model, in a process that only evaluated, or where no entry
    of the compute log covers them (:data:`PROCESS_PATHS`), with ``units``, ``minutes`` (their
    wall time) and ``resumed runs`` (their runs whose provenance says that training resumed from
    a checkpoint)."""
    store = results_for(name, results).store
    path = store.compute_log_path()
    windows = []  # each invocation: start, end (its last record), its jobs by run key
    for entry in json.loads(path.read_text()) if path.exists() else []:
        end = datetime.fromisoformat(entry["date"]).timestamp()
        jobs = {r["key"]: r for r in entry.get("results", []) if r["units_computed"]}
        windows.append((end - entry["wall_time_s"], end, jobs))
    counts = dict.fromkeys(("units", *PROCESS_PATHS, "resumed runs", "minutes"), 0)
    resumed = set()
    for unit in sorted((store.root / "evals").glob("*/*.json")):
        info = json.loads(unit.read_text())
        if (info.get("attack") or {}).get("kind") != kind:
            continue
        key, when = info["config_key"], datetime.fromisoformat(info["date"]).timestamp()
        jobs = [w[2][key] for w in windows if w[0] - 1 <= when <= w[1] + 1 and key in w[2]]
        counts["units"] += 1
        counts["minutes"] += info.get("wall_time_s", 0.0) / 60
        counts[PROCESS_PATHS[2] if not jobs else PROCESS_PATHS[0] if jobs[0]["trained"]
               else PROCESS_PATHS[1]] += 1
        run = store.root / "runs" / key / "provenance.json"
        if run.exists() and json.loads(run.read_text()).get("resumed_from"):
            resumed.add(key)
    counts["resumed runs"] = len(resumed)
    return counts
