"""Does the verdict depend on the training budget? The 5-epoch MNIST models beside the 20-epoch ones.

The analysis plan (``book/analysis_plan.md``, section 1.5) fixes how the 20-epoch models
(profile ``cpu-20epoch``) are compared with the 5-epoch ones (profile ``cpu``, seeds 0-2, on their
2,000 test images, which are among the 10,000 the 20-epoch models are evaluated on):

* per defense family, one pre-declared comparison: the headline gain (ours − baseline) in A_sa at
  α_test 2 at 20 epochs minus the same gain at 5 epochs. The two budgets' models are different
  runs, so the difference is unpaired: its standard error is the root sum of the two gains'
  squared standard errors (each gain's as everywhere in the book, :func:`.gains.our_gains`), with
  Welch-Satterthwaite degrees of freedom (:func:`welch_df`). It is *larger at 20 epochs* when its
  95 % interval lies above 0. The same difference of the A_tr(2), A_rob and AutoAttack A_rob gains
  is shown as description (:func:`budget_difference`);
* the claims are judged at 20 epochs by the same rules (C5 is not: two α_train values only), once
  every 20-epoch model is complete (:func:`claim_verdicts`);
* targets, not claims: TRADES 40-PGD A_rob ≥ 93.6 %, PGD-AT ≥ 92 %, and a 40-PGD → AutoAttack gap
  of at most 5 pp; how close each arm came is reported, no verdict depends on it (:func:`targets`).

While the 20-epoch models train, what exists is read as it is: each model's state
(:func:`progress`: from its stored run, or from the training checkpoint it writes at least once per
epoch), and the validation curves (:func:`validation_points`), whose end-of-epoch points carry
validation A_rob, A_sa(2) and A_tr(2): the paired gain per epoch (:func:`validation_gains`) is the
budget-response curve, and each run's selected epoch (:func:`selected_epochs`) the model it keeps.
Nothing here trains or attacks: every read is of stored results (a read-only store).

Example (reads ``results/``)::

    view = budget_view("cpu")    # 5 epochs (cpu) beside 20 (cpu-20epoch), read-only
    view.differences             # the pre-declared comparison per family, and the description
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute.checkpoint import CheckpointError, load_checkpoint
from ..core.datasets import spec as dataset_spec
from ..experiment.config import RunConfig
from ..experiment.profiles import LONGER_BUDGET, DatasetPlan
from ..workflow import jobs as job_list
from ..workflow.cost import training_batches
from ..workflow.store import MissingResult, Store
from . import claims, collapse, paper, robustness, stats
from .curves import seed_epoch_pairs
from .gains import our_gains
from .results import ProfileResults, results_for
from .tables import model_metrics

DATASET = "mnist"
ALPHA_TEST = 2.0  # the α_test of the budget comparison
PRE_DECLARED = "A_sa(2)"  # the one pre-declared budget comparison per family (analysis plan 1.5)
# The gains compared across budgets, in this order: (name, metric, α_test, attack).
GAIN_METRICS = (("A_sa(2)", "a_sa", ALPHA_TEST, "main"), ("A_tr(2)", "a_tr", ALPHA_TEST, "main"),
                ("A_rob (40-PGD)", "a_rob", None, "main"),
                ("A_rob (AutoAttack)", "a_rob", None, "autoattack"))
# What we hoped the 20-epoch models would reach (PROTOCOL.md of the 20-epoch models): 40-PGD A_rob
# of the baselines within 2 pp of the paper's Table 1, and 40-PGD overstating A_rob by ≤ 5 pp.
TARGET_A_ROB = {"PGD": 92.0, "TRADES": 93.6}
TARGET_GAP_PP = 5.0
PAPER_EPOCHS = 100  # the paper's MNIST models (Appendix A.2)

# A run collapsed when its validation A_rob fell this far below its best so far (PROTOCOL.md).
COLLAPSE_RULE = collapse.VALIDATION_RULE


# --- the statistics of the budget comparison ----------------------------------------------------

def welch_df(*parts: tuple[float, float]) -> float:
    """Return the Welch-Satterthwaite degrees of freedom of a sum (or difference) of independent
    estimates, each given as (standard error, degrees of freedom): (Σ se²)² / Σ (se⁴ / df).

    An infinite df (only the test sample varies: the normal quantile) adds nothing to the
    denominator; all infinite, or no uncertainty at all, give infinity. A df of 0 or NaN (a seed
    error that is unknown: one seed, nothing to pool) makes the result 0, i.e. not judged.

    Example (two gains of 3 seeds each, se 1 and 1): (1 + 1)² / (1/2 + 1/2) = 4::

        >>> welch_df((1.0, 2.0), (1.0, 2.0))
        4.0
        >>> round(welch_df((3.0, 4.0), (4.0, 9.0)), 3)   # 625 / (81/4 + 256/9)
        12.835
    """
    if any(not df > 0 for _se, df in parts):
        return 0.0
    total = sum(se ** 2 for se, _df in parts)
    denominator = sum(se ** 4 / df for se, df in parts if np.isfinite(df))
    if total == 0 or denominator == 0:
        return float("inf")
    return float(total ** 2 / denominator)


def budget_difference(short: pd.DataFrame, long: pd.DataFrame, planned_pairs: int | None = None,
                      pre_declared: str = PRE_DECLARED) -> pd.DataFrame:
    """Return, per family and metric present in both frames, the long budget's gain minus the
    short budget's, unpaired (analysis plan 1.5).

    ``short`` and ``long`` have columns family, metric, gain, se, df and pairs (seed pairs behind
    the gain), one row per family and metric (:func:`family_gains`). The difference's standard
    error is ``hypot(se_long, se_short)``, its degrees of freedom :func:`welch_df`, its 95 %
    interval ``± t(df)·se`` (:func:`wmrlib.analysis.stats.multiplier`). ``reading``: for the
    ``pre_declared`` metric, *larger at 20 epochs* (interval above 0), *smaller at 20 epochs*
    (below 0) or *not shown to differ*; while the long budget has fewer than ``planned_pairs``
    seed pairs, *preliminary (k of n seed pairs)*; with an unknown seed error, not judged; for the
    other metrics *description*.

    Example: gains 10 ± 1 (2 df) at 5 epochs and 15 ± 1 (2 df) at 20 give +5 with se √2 and
    4 df, so the interval +5 ± 2.776·1.414 = [+1.07, +8.93] lies above 0.
    """
    columns = ["family", "metric", "short gain", "long gain", "difference", "se", "df", "half",
               "low", "high", "pairs", "pre_declared", "reading"]
    keys = ["family", "metric"]
    both = short[keys + ["gain", "se", "df", "pairs"]].merge(
        long[keys + ["gain", "se", "df", "pairs"]], on=keys, suffixes=(" short", " long"))
    rows = []
    for _, r in both.iterrows():
        difference = r["gain long"] - r["gain short"]
        se = float(np.hypot(r["se long"], r["se short"]))
        df = welch_df((r["se long"], r["df long"]), (r["se short"], r["df short"]))
        half = stats.multiplier(df) * se if df > 0 else float("nan")
        low, high = stats.interval(difference, half)
        pre = r["metric"] == pre_declared
        pairs = int(r["pairs long"])
        if not pre:
            reading = "description"
        elif planned_pairs is not None and pairs < planned_pairs:
            reading = f"preliminary ({pairs} of {planned_pairs} seed pairs)"
        elif not df > 0:
            reading = stats.NOT_JUDGED
        elif low > 0:
            reading = "larger at 20 epochs"
        elif high < 0:
            reading = "smaller at 20 epochs"
        else:
            reading = "not shown to differ"
        rows.append({"family": r["family"], "metric": r["metric"], "short gain": r["gain short"],
                     "long gain": r["gain long"], "difference": difference, "se": se, "df": df,
                     "half": half, "low": low, "high": high, "pairs": pairs, "pre_declared": pre,
                     "reading": reading})
    return pd.DataFrame(rows, columns=columns)


# --- which models exist -------------------------------------------------------------------------

def arm_label(defense: str, alpha_train: float) -> str:
    """Return an arm's name, e.g. ``PGD``, ``TRADES+ours α 2``."""
    return stats.family_name(defense) + (f"+ours α {alpha_train:g}" if alpha_train else "")


def _has_main(store: Store, plan: DatasetPlan, config: RunConfig) -> bool:
    kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)
    return all(store.has_unit(config, a, alpha, **kw)
               for a, alpha in ((None, 0.0), (plan.attack, 0.0), (plan.attack, ALPHA_TEST)))


def _has_autoattack(store: Store, plan: DatasetPlan, config: RunConfig) -> bool:
    rp = robustness.plan_for(plan)
    kw = dict(eval_size=rp.eval_size, eval_seed=plan.eval_seed)
    return all(store.has_unit(config, a, 0.0, **kw) for a in (None, plan.attack, rp.attack))


def _seeds_with(store: Store, plan: DatasetPlan, defense: str, alpha: float, seeds, has) -> tuple:
    """Return the seeds at which both models of the pair (defense, alpha) have what ``has`` asks."""
    return tuple(s for s in seeds if has(store, plan, plan.run(defense, 0.0, s))
                 and has(store, plan, plan.run(defense, alpha, s)))


def _autoattack_plan(plan: DatasetPlan, seeds) -> DatasetPlan:
    rp = robustness.plan_for(plan)
    return robustness.subset_plan(dataclasses.replace(plan, seeds=tuple(seeds), family_only_seeds=()),
                                  dataclasses.replace(rp, models="headline-seeds"), rp.attack)


def main_images(plan: DatasetPlan) -> int:
    """Return how many test images the plan's main attack is evaluated on."""
    return plan.eval_size or dataset_spec(plan.dataset).test_size


def checked_images(plan: DatasetPlan) -> int:
    """Return how many test images the plan's robustness check (AutoAttack) is evaluated on."""
    return robustness.plan_for(plan).eval_size or dataset_spec(plan.dataset).test_size


# --- the gains at one budget --------------------------------------------------------------------

def family_gains(store: Store, plan: DatasetPlan, seeds=None) -> pd.DataFrame:
    """Return each family's headline gain (ours − baseline) of every :data:`GAIN_METRICS` metric,
    over the ``seeds`` (default: the plan's) at which both models have the results it needs.

    Each gain, its standard error and its 95 % interval come from
    :func:`wmrlib.analysis.gains.our_gains` (paired seeds plus the paired bootstrap over the test
    images), so they are computed as on every other page. Columns: family, alpha_train, metric,
    ours, baseline, gain, se, half, df, pairs (seed pairs), seeds (tuple), images.
    """
    seeds = tuple(plan.seeds if seeds is None else seeds)
    rows = []
    for defense, alpha in plan.headline_pairs():
        family = stats.family_name(defense)
        main = _seeds_with(store, plan, defense, alpha, seeds, _has_main)
        checked = _seeds_with(store, plan, defense, alpha, main, _has_autoattack)
        for name, metric, alpha_test, attack in GAIN_METRICS:
            chosen = main if attack == "main" else checked
            if not chosen:
                continue
            if attack == "main":
                cut = dataclasses.replace(plan, seeds=chosen, family_only_seeds=())
                images = main_images(plan)
            else:
                cut = _autoattack_plan(plan, chosen)
                images = cut.eval_size
            frame = our_gains(store, cut, [(defense, alpha)], (alpha_test,), (metric,))
            if frame.empty:
                continue
            g = frame.iloc[0]
            rows.append({"family": family, "alpha_train": alpha, "metric": name,
                         "ours": g["ours"], "baseline": g["baseline"], "gain": g["gain"],
                         "se": g["se"], "half": g["half"], "df": g["df"], "pairs": len(chosen),
                         "seeds": chosen, "images": images})
    return pd.DataFrame(rows, columns=["family", "alpha_train", "metric", "ours", "baseline", "gain",
                                       "se", "half", "df", "pairs", "seeds", "images"])


def paper_gains() -> pd.DataFrame:
    """Return the paper's headline gains (Table 1, α_test 2) per family: A_sa(2), A_tr(2), A_rob."""
    found = paper.headline_gains(1, ALPHA_TEST)
    names = {"a_sa": "A_sa(2)", "a_tr": "A_tr(2)", "a_rob": "A_rob (40-PGD)"}
    return pd.DataFrame([{"family": f, "metric": names[m], "paper gain": v}
                         for f, by in found.items() for m, v in by.items()])


# --- per arm: both budgets beside the paper and the published models ----------------------------

ARM_METRICS = ("a_nat", "pgd", "autoattack", "gap", "a_sa", "a_tr")


def arm_values(store: Store, plan: DatasetPlan, seeds) -> pd.DataFrame:
    """Return one row per headline model stored (main results at least) among ``seeds``: A_nat,
    A_rob under the main attack (``pgd``), A_sa(2) and A_tr(2) on the main test images; A_rob under
    AutoAttack and the gap 40-PGD − AutoAttack (both on the robustness check's images,
    :func:`wmrlib.analysis.robustness.pgd_gap`) where that check is stored, else NaN; all in %."""
    rp = robustness.plan_for(plan)
    rows = []
    for defense, alpha in plan.headline_pairs():
        for a in (0.0, alpha):
            for seed in seeds:
                config = plan.run(defense, a, seed)
                if not _has_main(store, plan, config):
                    continue
                main = model_metrics(store, plan, config, plan.attack, ALPHA_TEST)
                row = {"family": stats.family_name(defense), "arm": arm_label(defense, a),
                       "alpha_train": a, "seed": seed, "a_nat": main["a_nat"], "pgd": main["a_rob"],
                       "a_sa": main["a_sa"], "a_tr": main["a_tr"], "autoattack": np.nan,
                       "gap": np.nan}
                if _has_autoattack(store, plan, config):
                    aa = model_metrics(store, _autoattack_plan(plan, (seed,)), config, rp.attack, None)
                    row["autoattack"] = aa["a_rob"]
                    row["gap"] = robustness.pgd_gap(store, plan, config, rp)
                rows.append(row)
    return pd.DataFrame(rows, columns=["family", "arm", "alpha_train", "seed", *ARM_METRICS])


def _summarise(values: pd.DataFrame, budget: str, order: list[str]) -> list[dict]:
    rows = []
    for arm in order:
        part = values[values["arm"] == arm]
        row = {"arm": arm, "budget": budget, "models": len(part),
               "checked": int(part["autoattack"].notna().sum())}
        for m in ARM_METRICS:
            column = part[m].dropna()
            row[m] = column.mean() if len(column) else np.nan
            row[f"{m}_sd"] = column.std(ddof=1) if len(column) > 1 else np.nan
            row[f"{m}_min"] = column.min() if len(column) else np.nan
            row[f"{m}_max"] = column.max() if len(column) else np.nan
        rows.append(row)
    return rows


def reference_rows(plan: DatasetPlan) -> list[dict]:
    """Return the paper's rows (Table 1 at α_test 2: A_rob, A_sa, A_tr; Table 6: A_nat; 100-epoch
    models) and the published models' (their reported A_rob in the ``pgd`` column, AutoAttack's
    from Croce & Hein) per arm, in the columns of :func:`arm_table`."""
    one, six = paper.table(1), paper.table(6)
    one = one[one["alpha_test"] == ALPHA_TEST]
    rows = []
    for defense, alpha in plan.headline_pairs():
        family = stats.family_name(defense)
        for a in (0.0, alpha):
            name = family + ("+ours" if a else "")
            t1 = one[one["defense"] == name]
            t6 = six[(six["defense"] == name)
                     & (six["alpha_train"].fillna(0.0) == a)]
            if t1.empty:
                continue
            rows.append({"arm": arm_label(defense, a), "budget": f"paper ({PAPER_EPOCHS} epochs)",
                         "models": np.nan, "checked": np.nan,
                         "a_nat": float(t6["a_nat"].iloc[0]) if len(t6) else np.nan,
                         "pgd": float(t1["a_rob"].iloc[0]), "a_sa": float(t1["a_sa"].iloc[0]),
                         "a_tr": float(t1["a_tr"].iloc[0]), "autoattack": np.nan, "gap": np.nan})
            if a:
                continue
            published = paper.published(plan.dataset)
            published = published[(published["family"] == family)
                                  & (published["eps"] == plan.attack.eps)]
            for _, p in published.iterrows():
                aa = p["autoattack"] if p["autoattack"] is not None and pd.notna(p["autoattack"]) else np.nan
                rows.append({"arm": arm_label(defense, a), "budget": "published model",
                             "models": np.nan, "checked": np.nan, "a_nat": float(p["clean"]),
                             "pgd": float(p["robust"]), "autoattack": float(aa),
                             "gap": float(p["robust"] - aa), "a_sa": np.nan, "a_tr": np.nan,
                             "source": f"{p['model']}; {p['source']}"})
    return rows


# --- the 20-epoch models while they train -------------------------------------------------------

def _provenance(store: Store, config: RunConfig) -> dict | None:
    path = store.provenance_path(config)
    return json.loads(path.read_text()) if path.exists() else None


def _checkpoint(store: Store, config: RunConfig) -> dict | None:
    """Return a training run's checkpoint (weights only), or None when there is none readable
    (not started, just finished, or a write in progress that left no complete file)."""
    try:
        return load_checkpoint(store.checkpoint_path(config), config_key=config.key())
    except (FileNotFoundError, CheckpointError):
        return None


def progress(store: Store, plan: DatasetPlan, profile_name: str) -> pd.DataFrame:
    """Return one row per model of ``plan``, in the order they are trained: arm, seed, state (complete, being evaluated, training,
    not started), epochs trained (from the stored run, or the training checkpoint's position),
    the latest validation A_nat and A_rob, the epoch the selection rule holds, and how many of the
    model's evaluations (attacks on the test images, the robustness check's included) are stored."""
    models = {c.key() for c in plan.models()}
    rows = []
    # in the order they are trained (the profile's job order)
    for job in job_list.plan_jobs(profile_name, (plan.dataset,)):
        config = job.config
        if config.key() not in models:
            continue
        done = sum(store.has_unit(config, a, alpha, eval_size=n, eval_seed=job.eval_seed)
                   for a, alpha, n in job.units)
        total = len(job.units)
        info = _provenance(store, config)
        curve, epochs, selected = [], 0.0, None
        if info is not None:
            curve = info.get("validation_curve") or []
            epochs = float(len(info.get("history") or []) or config.epochs)
            selected = (info.get("selected") or {}).get("epoch")
            state = "complete" if done == total else "trained, being evaluated"
        else:
            checkpoint = _checkpoint(store, config)
            if checkpoint is None:
                state = "not started"
            else:
                per_epoch, _total = training_batches(config)
                epochs = int(checkpoint["epoch"]) + int(checkpoint["batch"]) / per_epoch
                curve = checkpoint.get("curve") or []
                history = checkpoint.get("history") or []
                selected = history[-1].get("selected_epoch") if history else None
                state = "training"
        last = next((p for p in reversed(curve) if "val_a_rob" in p), None)
        rows.append({"family": stats.family_name(config.defense),
                     "arm": arm_label(config.defense, config.alpha_train),
                     "alpha_train": config.alpha_train, "seed": config.seed, "state": state,
                     "epochs": epochs, "of epochs": config.epochs,
                     "val_a_nat": last["val_a_nat"] if last else np.nan,
                     "val_a_rob": last["val_a_rob"] if last else np.nan,
                     "selected_epoch": selected, "evaluations": done, "of evaluations": total})
    return pd.DataFrame(rows).astype({"selected_epoch": "Int64"})


def validation_points(store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Return every validation point of ``plan``'s models: from a stored run's provenance, else
    from its training checkpoint (``finished`` False). Columns: family, defense, alpha_train,
    seed, epoch, end (an end-of-epoch point, with A_sa and A_tr), val_a_nat, val_a_rob, val_a_sa,
    val_a_tr (%), finished."""
    rows = []
    for config in plan.models():
        info = _provenance(store, config)
        finished = info is not None
        source = info if finished else _checkpoint(store, config)
        if source is None:
            continue
        for point in source.get("validation_curve" if finished else "curve") or []:
            if "val_a_rob" not in point:
                continue
            rows.append({"family": stats.family_name(config.defense), "defense": config.defense,
                         "alpha_train": config.alpha_train, "seed": config.seed,
                         "epoch": float(point["epoch"]), "end": "val_a_sa" in point,
                         "val_a_nat": point["val_a_nat"], "val_a_rob": point["val_a_rob"],
                         "val_a_sa": point.get("val_a_sa", np.nan),
                         "val_a_tr": point.get("val_a_tr", np.nan), "finished": finished})
    return pd.DataFrame(rows, columns=["family", "defense", "alpha_train", "seed", "epoch", "end",
                                       "val_a_nat", "val_a_rob", "val_a_sa", "val_a_tr", "finished"])


CURVE_METRICS = {"val_a_rob": "A_rob", "val_a_sa": "A_sa(2)", "val_a_tr": "A_tr(2)"}


def validation_gains(points: pd.DataFrame, pairs) -> pd.DataFrame:
    """Return the paired validation gain ours − baseline per family, end-of-epoch point and
    metric (:data:`CURVE_METRICS`): the mean over the seeds at which both models have that point,
    the lowest and highest seed's gain, and how many seed pairs.

    ``points``: :func:`validation_points`; ``pairs``: (defense, headline alpha_train) per family.

    Example: seed 0 gains +2 and seed 1 +4 at epoch 1 give mean +3, range [+2, +4], 2 pairs.
    """
    columns = ["family", "epoch", "metric", "gain", "low", "high", "pairs"]
    ends = points[points["end"]] if len(points) else points
    rows = []
    for defense, alpha in pairs:
        base, ours, both = seed_epoch_pairs(ends, defense, alpha)
        if both.empty:
            continue
        for column, name in CURVE_METRICS.items():
            diff = (ours.loc[both, column] - base.loc[both, column]).dropna()
            for epoch, part in diff.groupby(level="epoch"):
                rows.append({"family": stats.family_name(defense), "epoch": float(epoch),
                             "metric": name, "gain": float(part.mean()), "low": float(part.min()),
                             "high": float(part.max()), "pairs": len(part)})
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["family", "metric", "epoch"], kind="stable").reset_index(drop=True)


def selected_epochs(store: Store, plan: DatasetPlan) -> pd.DataFrame:
    """Return, per model with an end-of-epoch validation point, the epoch its selection rule
    holds (the best end-of-epoch validation A_rob so far, a tie keeping the earlier epoch) with
    that A_rob, and the latest end-of-epoch point's epoch and A_rob (the final model's once the
    run is finished: robust overfitting shows as the gap)."""
    points = validation_points(store, plan)
    rows = []
    for (defense, alpha, seed), run in points[points["end"]].groupby(
            ["defense", "alpha_train", "seed"], sort=False) if len(points) else ():
        run = run.sort_values("epoch")
        best = run.loc[run["val_a_rob"].idxmax()]  # idxmax keeps the first of equal values
        last = run.iloc[-1]
        rows.append({"family": stats.family_name(defense), "arm": arm_label(defense, alpha),
                     "seed": int(seed), "finished": bool(last["finished"]),
                     "selected_epoch": int(round(best["epoch"])), "selected_val_a_rob": best["val_a_rob"],
                     "last_epoch": int(round(last["epoch"])), "last_val_a_rob": last["val_a_rob"]})
    return pd.DataFrame(rows, columns=["family", "arm", "seed", "finished", "selected_epoch",
                                       "selected_val_a_rob", "last_epoch", "last_val_a_rob"])


# --- the claims at both budgets -----------------------------------------------------------------

def claim_verdicts(short: tuple[Store, DatasetPlan], long: tuple[Store, DatasetPlan]) -> pd.DataFrame:
    """Return each claim's verdict per family at both budgets (:func:`wmrlib.analysis.claims.summary`
    of :func:`~wmrlib.analysis.claims.comparisons`, the analysis plan's rules), and whether it
    changed (a claim judged at one budget only, "not evaluated" at the other, has not changed:
    C5 needs an α_train sweep, which the long budget does not train). Columns: claim, family,
    short, long, judged (at both budgets), changed."""
    tables = [claims.summary(claims.comparisons(store, plan)).set_index("claim")
              for store, plan in (short, long)]
    rows = []
    for claim in claims.CLAIMS:
        for family in (stats.family_name(d) for d, _ in long[1].headline_pairs()):
            column = f"{family} family"
            before, after = (t.loc[claim, column] for t in tables)
            judged = stats.NOT_EVALUATED not in (before, after)
            rows.append({"claim": claim, "family": family, "short": before, "long": after,
                         "judged": judged, "changed": judged and before != after})
    return pd.DataFrame(rows)


def long_complete(profile: str, results: str | Path | None = None, dataset: str = DATASET) -> bool:
    """Return whether every model of ``profile`` on ``dataset`` is trained and evaluated (False
    when the profile does not cover the dataset)."""
    stored = results_for(profile, results)
    if dataset not in stored.profile.plans:
        return False
    done, total = stored.progress(dataset)
    return total > 0 and done == total


def verdicts_by_budget(profile: str, results: str | Path | None = None,
                       dataset: str = DATASET) -> pd.DataFrame | None:
    """Return :func:`claim_verdicts` of ``profile``'s budget pair (:func:`budget_profiles`) on
    ``dataset``: the short budget's stored plan beside the long one's; None until every model
    of the long budget is complete (analysis plan 1.5), or when either lacks a result."""
    short_name, long_name = budget_profiles(profile)
    if long_name is None or not long_complete(long_name, results, dataset):
        return None
    short_results, long_results = results_for(short_name, results), results_for(long_name, results)
    short_plan = short_results.stored_plan(dataset) or short_results.profile.plan(dataset)
    try:
        return claim_verdicts((short_results.store.read_only(), short_plan),
                              (long_results.store.read_only(), long_results.profile.plan(dataset)))
    except MissingResult:
        return None


# --- the targets --------------------------------------------------------------------------------

def targets(arms: pd.DataFrame) -> pd.DataFrame:
    """Return how close each arm came to what we hoped the 20-epoch models would reach, per
    budget row of :func:`arm_table` (``arms``): the baselines' 40-PGD A_rob against
    :data:`TARGET_A_ROB`, and every arm's 40-PGD − AutoAttack gap against :data:`TARGET_GAP_PP`.
    ``short_by`` is how far the mean misses (> 0) or clears (≤ 0) the target, in pp."""
    rows = []
    for _, r in arms.iterrows():
        family = r["arm"].split("+")[0]
        if r["arm"] == family and family in TARGET_A_ROB:
            target = TARGET_A_ROB[family]
            rows.append({"arm": r["arm"], "target": f"40-PGD A_rob ≥ {target:g} %",
                         "budget": r["budget"], "value": r["pgd"], "low": r.get("pgd_min", np.nan),
                         "high": r.get("pgd_max", np.nan), "short_by": target - r["pgd"]})
        rows.append({"arm": r["arm"], "target": f"40-PGD − AutoAttack ≤ {TARGET_GAP_PP:g} pp",
                     "budget": r["budget"], "value": r["gap"], "low": r.get("gap_min", np.nan),
                     "high": r.get("gap_max", np.nan), "short_by": r["gap"] - TARGET_GAP_PP})
    return pd.DataFrame(rows, columns=["arm", "target", "budget", "value", "low", "high", "short_by"])


# --- everything the page shows ------------------------------------------------------------------

@dataclass
class BudgetView:
    """What the budget page shows, computed from stored results only."""

    short: str                         # the profile of the short budget
    long: str | None                   # its longer-trained counterpart (None: there is none)
    short_plan: DatasetPlan
    long_plan: DatasetPlan | None
    seeds: tuple[int, ...]             # the seeds compared at both budgets
    progress: pd.DataFrame             # the long budget's models, one row each
    arms: pd.DataFrame                 # per arm and budget (and the paper, the published models)
    short_gains: pd.DataFrame
    long_gains: pd.DataFrame
    differences: pd.DataFrame          # the budget comparison (pre-declared and description)
    verdicts: pd.DataFrame | None      # None until every long-budget model is complete
    points: pd.DataFrame               # validation points of the long budget's models
    curve_gains: pd.DataFrame
    selected: pd.DataFrame
    target_rows: pd.DataFrame
    collapsed: dict[str, dict[str, int]]  # budget name -> collapsed run label -> epoch

    @property
    def epochs(self) -> tuple[int, int | None]:
        """Return the training epochs of the short and the long budget."""
        return (self.short_plan.base.epochs,
                self.long_plan.base.epochs if self.long_plan is not None else None)

    @property
    def long_complete(self) -> bool:
        """Return whether every model of the long budget is complete."""
        return bool(len(self.progress)) and bool((self.progress["state"] == "complete").all())


def budget_profiles(profile: str) -> tuple[str, str | None]:
    """Return (short, long) for ``profile``: itself and its longer-trained counterpart
    (:data:`~wmrlib.experiment.profiles.LONGER_BUDGET`), or that counterpart's short profile
    when ``profile`` is the long one;
    (profile, None) when it has none."""
    if profile in LONGER_BUDGET:
        return profile, LONGER_BUDGET[profile]
    for short, long in LONGER_BUDGET.items():
        if long == profile:
            return short, long
    return profile, None


def budget_name(plan: DatasetPlan) -> str:
    """Return a budget's name, e.g. ``5 epochs`` (``1 epoch``)."""
    return f"{plan.base.epochs} epoch" + ("" if plan.base.epochs == 1 else "s")


def arm_table(short: tuple[Store, DatasetPlan], long: tuple[Store, DatasetPlan] | None,
              seeds) -> pd.DataFrame:
    """Return one row per arm and budget: the paper's, each budget's seed mean (with its SD,
    lowest and highest value, columns ``<metric>_sd``, ``_min``, ``_max``) over ``seeds``, and the
    published model for the baselines; ``models`` counts the models behind a budget's row
    (``checked``: those with AutoAttack). Metrics: :data:`ARM_METRICS`."""
    order = [arm_label(d, a) for d, alpha in short[1].headline_pairs() for a in (0.0, alpha)]
    rows = reference_rows(short[1])
    for store, plan in (short,) + ((long,) if long is not None else ()):
        values = arm_values(store, plan, seeds)
        rows += _summarise(values, budget_name(plan), order)
    frame = pd.DataFrame(rows)
    rank = {"paper": 0, "published": 1}
    frame["_arm"] = frame["arm"].map(order.index)
    frame["_budget"] = [rank.get(b.split()[0], 2) for b in frame["budget"]]
    frame["_epochs"] = [int(b.split()[0]) if b.split()[0].isdigit() else 0 for b in frame["budget"]]
    frame = frame.sort_values(["_arm", "_budget", "_epochs"], kind="stable")
    return frame.drop(columns=["_arm", "_budget", "_epochs"]).reset_index(drop=True)


def budget_view(profile: str = "cpu", results: str | Path | None = None,
                dataset: str = DATASET) -> BudgetView:
    """Return everything the budget page shows for ``profile`` (either budget's profile names the
    pair, :func:`budget_profiles`) from the results under ``results``, read-only."""
    short_name, long_name = budget_profiles(profile)
    short_results: ProfileResults = results_for(short_name, results)
    short_plan = short_results.profile.plan(dataset)
    short_store = short_results.store.read_only()
    long_results = results_for(long_name, results) if long_name else None
    long_plan = long_results.profile.plan(dataset) if long_results else None
    long_store = long_results.store.read_only() if long_results else None
    seeds = tuple(s for s in short_plan.seeds if long_plan is None or s in long_plan.seeds)
    short = (short_store, short_plan)
    long = (long_store, long_plan) if long_plan is not None else None

    short_gains = family_gains(short_store, short_plan, seeds)
    empty = pd.DataFrame()
    if long is None:
        arms = arm_table(short, None, seeds)
        return BudgetView(short_name, None, short_plan, None, seeds, empty, arms, short_gains,
                          empty, empty, None, empty, empty, empty, targets(arms),
                          {budget_name(short_plan): _collapsed(short_results, short_plan, seeds)})
    state = progress(long_store, long_plan, long_name)
    long_gains = family_gains(long_store, long_plan)
    differences = budget_difference(short_gains, long_gains, planned_pairs=len(long_plan.seeds))
    verdicts = verdicts_by_budget(short_name, results, dataset)
    points = validation_points(long_store, long_plan)
    arms = arm_table(short, long, seeds)
    return BudgetView(
        short_name, long_name, short_plan, long_plan, seeds, state, arms, short_gains, long_gains,
        differences, verdicts, points, validation_gains(points, long_plan.headline_pairs()),
        selected_epochs(long_store, long_plan),
        targets(arms),
        {budget_name(short_plan): _collapsed(short_results, short_plan, seeds),
         budget_name(long_plan): collapsed_while_training(points)})


def _collapsed(results: ProfileResults, plan: DatasetPlan, seeds) -> dict[str, int]:
    """Return the runs among ``seeds`` of the plan's headline models that collapsed in training."""
    cut = dataclasses.replace(plan, seeds=tuple(seeds), family_only_seeds=(),
                              pgd_alphas=(plan.headline_alpha("pgd"),),
                              trades_alphas=(plan.headline_alpha("trades"),), extras=())
    return results.collapsed(cut)


def collapsed_while_training(points: pd.DataFrame) -> dict[str, int]:
    """Return the runs whose validation curve so far (finished or still training,
    :func:`validation_points`) breaks the collapse rule of the validation curves
    (:data:`wmrlib.analysis.collapse.VALIDATION_RULE`): run label → the epoch."""
    if points.empty:
        return {}
    found = collapse.collapses(points.rename(columns={"val_a_rob": "a_rob"}), collapse.VALIDATION_RULE)
    return {collapse.run_label(r.defense, float(r.alpha_train), int(r.seed)): int(r.collapse_epoch)
            for r in found[found["collapsed"]].itertuples()}
