"""Helpers the notebooks share: pick the profile whose stored results a page shows, label them."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .profiles import PREDECESSORS, PROFILES, DatasetPlan, profile as get_profile
from .store import MissingResult, Store

DATASET_NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "tinyimagenet": "Tiny ImageNet"}


@dataclass
class Source:
    """Where a page's results for one dataset come from."""

    dataset: str
    profile: str
    plan: DatasetPlan
    store: Store

    @property
    def synthetic(self) -> bool:
        """Whether the results come from synthetic tensors rather than the real dataset."""
        return self.plan.base.synthetic

    @property
    def superseded(self) -> bool:
        """Whether a newer profile replaces this one once its results exist (e.g. ``cpu-1epoch``)."""
        return self.profile in PREDECESSORS.values()

    @property
    def label(self) -> str:
        """Return a caption fragment such as ``MNIST, profile cpu`` or ``CIFAR-10 (SYNTHETIC data)``."""
        text = f"{DATASET_NAMES[self.dataset]}, profile `{self.profile}`"
        if self.synthetic:
            text += " — SYNTHETIC random tensors, not the real dataset: the numbers test the code only"
        if self.superseded:
            newer = next(k for k, v in PREDECESSORS.items() if v == self.profile)
            text += (f" — the earlier {self.plan.base.epochs}-epoch models, shown until the "
                     f"`{newer}` campaign's models replace them")
        return text


def candidate_sources(dataset: str, profiles, *, results: str | Path, readonly: bool,
                      device: str | None = None, progress: bool = True) -> list[Source]:
    """Return a Source for each of ``profiles`` (in order) that covers ``dataset``.

    A profile after the first is a fallback: it is used for ``dataset`` only when no earlier
    profile covers it, or when it is the predecessor of one that does (``cpu`` → ``cpu-1epoch``).
    So a page on MNIST never falls back from ``cpu`` to ``smoke``.
    """
    out: list[Source] = []
    for name in profiles:
        prof = get_profile(name)
        covered = [s.profile for s in out]
        if covered and name not in {PREDECESSORS.get(c) for c in covered}:
            continue
        if dataset in prof.plans:
            store = Store(Path(results) / name, device=device, readonly=readonly, progress=progress)
            out.append(Source(dataset, name, prof.plan(dataset), store))
    return out


def first_available(dataset: str, profiles, compute: Callable[[Source], object], **kwargs):
    """Return ``(source, compute(source))`` for the first profile with results, or ``(None, reason)``."""
    reasons = []
    for source in candidate_sources(dataset, profiles, **kwargs):
        try:
            return source, compute(source)
        except MissingResult as e:
            reasons.append(f"profile `{source.profile}`: {e}")
    if not reasons:
        reasons.append(f"no profile among {list(profiles)} covers {dataset}")
    return None, "No stored results for this page yet (" + "; ".join(reasons) + "). Run " \
        f"`python -m wmrlib reproduce --profile {list(profiles)[0]}` to compute them."


def provenance_table(source: Source) -> pd.DataFrame:
    """Return one row per stored run of the source: commit, device, versions and wall time."""
    rows = []
    for config in source.plan.models() + source.plan.precision_models():
        path = source.store.run_dir(config) / "provenance.json"
        if not path.exists():
            continue
        info = json.loads(path.read_text())
        rows.append({"model": config.label, "alpha_train": config.alpha_train, "seed": config.seed,
                     "precision": config.precision, "run": config.key(), "commit": info["git_commit"][:12],
                     "device": info["device"], "torch": info["torch"], "date": info["date"],
                     "train_wall_s": info["wall_time_s"]})
    return pd.DataFrame(rows)


def evaluation_wall_time(source: Source) -> float:
    """Return the total wall time of the stored evaluation units of the source's runs, in seconds."""
    total = 0.0
    for config in source.plan.models() + source.plan.precision_models():
        for path in (source.store.root / "evals" / config.key()).glob("*.json"):
            total += json.loads(path.read_text())["wall_time_s"]
    return total


def config_table(plan: DatasetPlan) -> pd.DataFrame:
    """Return the plan's training and evaluation settings as a two-column table."""
    base = dataclasses.asdict(plan.base)
    base.pop("alpha_train"), base.pop("defense"), base.pop("seed")
    rows = [("training: " + k, v) for k, v in base.items()]
    rows += [("evaluation: " + k, v) for k, v in dataclasses.asdict(plan.attack).items()]
    rows += [("evaluation: examples", plan.eval_size or "whole test set"),
             ("PGD+ours α_train", plan.pgd_alphas), ("TRADES+ours α_train", plan.trades_alphas),
             ("α_test", plan.alpha_tests), ("ε_test (sensitivity)", plan.eps_tests),
             ("seeds (headline models)", plan.seeds)]
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
                         "test examples": plan.eval_size or "whole test set",
                         "description": prof.description})
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
    evaluation units' (see :func:`provenance_table` and :func:`evaluation_wall_time`).
    """
    rows = []
    for name in names:
        for dataset in get_profile(name).plans:
            for source in candidate_sources(dataset, [name], results=results, readonly=True,
                                            progress=False):
                runs = provenance_table(source)
                if runs.empty:
                    continue
                train, evaluation = runs["train_wall_s"].sum(), evaluation_wall_time(source)
                rows.append({"profile": name, "dataset": DATASET_NAMES[dataset],
                             "runs stored": len(runs),
                             "runs planned": len(source.plan.models() + source.plan.precision_models()),
                             "device": ", ".join(sorted(runs["device"].unique())),
                             "train_min": train / 60, "eval_min": evaluation / 60,
                             "total_min": (train + evaluation) / 60})
    return pd.DataFrame(rows, columns=["profile", "dataset", "runs stored", "runs planned",
                                       "device", "train_min", "eval_min", "total_min"])


def show(frame: pd.DataFrame, digits: int = 2):
    """Return a Styler that prints floats with ``digits`` decimals and NaN as an en dash."""
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    return frame.style.format({c: f"{{:.{digits}f}}" for c in floats}, na_rep="–").hide(axis="index")


def profiles_of(profile: str, fallback_profile: str | None) -> list[str]:
    """Return the profiles a page tries, in order: the requested one, its predecessors, the fallback."""
    chain = [profile]
    while chain[-1] in PREDECESSORS:
        chain.append(PREDECESSORS[chain[-1]])
    if fallback_profile and fallback_profile not in chain:
        chain.append(fallback_profile)
    return chain


def campaign_progress(results: str | Path, name: str) -> tuple[int, int]:
    """Return (jobs complete, jobs planned) of a profile: a job is complete when its run and every
    evaluation unit it plans are stored."""
    from .jobs import estimate_needed, plan_jobs

    store = Store(Path(results) / name, readonly=True, progress=False)
    jobs = plan_jobs(name)
    return sum(not estimate_needed(j, store) for j in jobs), len(jobs)


def section(title: str, source: Source | None, value, note: str = "") -> None:
    """Display a section header, the source of its numbers (or why there are none), and a table."""
    from IPython.display import Markdown, display

    display(Markdown(f"### {title}"))
    if source is None:
        display(Markdown(f"```{{note}}\n{value}\n```"))
        return
    n = source.plan.eval_size or "all"
    display(Markdown(f"*Results: {source.label}; {n} test examples; {note}*"))
    done, total = campaign_progress(source.store.root.parent, source.profile)
    if done < total:
        display(Markdown(f"```{{warning}}\nPartial results: {done} of {total} jobs of profile "
                         f"`{source.profile}` are complete; the rows shown are those stored.\n```"))
    if isinstance(value, pd.DataFrame):
        display(show(value))


def require_runs(source: Source) -> pd.DataFrame:
    """Return the source's provenance table; raise MissingResult when it has no stored run."""
    frame = provenance_table(source)
    if frame.empty:
        raise MissingResult(f"no trained run in {source.store.root}")
    return frame


def sensitivity_plot(frame: pd.DataFrame, source: Source):
    """Draw A_tr against alpha_test per eps_test (Figure 3) for a sensitivity table."""
    from .figures import sensitivity_figure

    fig = sensitivity_figure(frame, "ours_a_tr")
    fig.suptitle(source.label.replace("`", ""), fontsize=9, y=1.02)
    return fig


def histogram(source: Source, eps_test: float):
    """Draw the weight histograms (Figures 5-7) of the source's TRADES models at ``eps_test``."""
    from .figures import histogram_figure

    return histogram_figure(source.store, source.plan, eps_test)


def dro(source: Source, rhos) -> pd.DataFrame:
    """Return the chi-square DRO curves (Figure 4) of the source's TRADES baseline and ours."""
    from .figures import dro_curves

    return dro_curves(source.store, source.plan, rhos)


def dro_plot(curves: pd.DataFrame):
    """Draw Figure 4 from :func:`dro`."""
    from .figures import dro_figure

    return dro_figure(curves)


def compute_log(results: str | Path, name: str) -> pd.DataFrame:
    """Return one row per ``reproduce`` invocation of a profile, from ``compute.json``.

    A suite interrupted and resumed has several rows; its wall time is their sum.
    """
    path = Path(results) / name / "compute.json"
    columns = ["date", "commit", "device", "executor", "workers", "threads", "jobs done",
               "jobs", "finished", "wall_min", "load avg start", "load avg end"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    rows = []
    for entry in json.loads(path.read_text()):
        rows.append({"date": entry["date"], "commit": entry["git_commit"][:12],
                     "device": entry["device_name"], "executor": entry["executor"],
                     "workers": entry["workers"], "threads": entry["threads"] or "default",
                     "jobs done": entry["jobs_done"], "jobs": entry["jobs"],
                     "finished": entry["finished"], "wall_min": entry["wall_time_s"] / 60,
                     "load avg start": " ".join(f"{x:.1f}" for x in entry["load_average_start"]),
                     "load avg end": " ".join(f"{x:.1f}" for x in entry["load_average_end"])})
    return pd.DataFrame(rows, columns=columns)


def precision_check(source: Source) -> pd.DataFrame:
    """Compare the fp32 twin of the first PGD-AT baseline with its bf16 seeds (A_nat, A_rob, A_sa).

    ``within_2_std`` says whether the fp32 model lies within two seed standard deviations of the
    bf16 seeds' mean, i.e. whether bf16 training costs robust accuracy beyond seed noise.
    """
    from .tables import model_metrics

    plan = source.plan
    (fp32,) = plan.precision_models()
    bf16 = [c for c in plan.models() if c.defense == "pgd" and c.alpha_train == 0.0]
    alpha = plan.alpha_tests[-1]
    values = {c.key(): model_metrics(source.store, plan, c, plan.attack, alpha) for c in bf16 + [fp32]}
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


def show_report(path: str | Path) -> None:
    """Display a markdown report file inside the page, its headings turned into bold lines."""
    import re

    from IPython.display import Markdown, display

    text = Path(path).read_text()
    text = re.sub(r"^#{1,6}\s+(.*)$", r"**\1**", text, flags=re.M)
    display(Markdown(text))


def verdicts_by_profile(dataset: str, names, *, results: str | Path) -> pd.DataFrame:
    """Return each claim's verdict (overall and per family) for every profile of ``names`` whose
    results are complete, side by side: how the verdicts move with the training schedule."""
    from .claims import comparisons, summary

    columns = []
    for source in candidate_sources(dataset, names, results=results, readonly=True, progress=False):
        try:
            frame = summary(comparisons(source.store, source.plan)).set_index("claim")
        except MissingResult:
            continue
        epochs = source.plan.base.epochs
        label = f"{source.profile} ({epochs} epoch{'s' * (epochs != 1)})"
        columns.append(frame[["verdict", "PGD family", "TRADES family"]].add_prefix(f"{label}: "))
    if not columns:
        return pd.DataFrame()
    return pd.concat(columns, axis=1).reset_index()


def convergence(source: Source):
    """Return the headline gains against the training epoch (a table) and their figure, from the
    learning curves stored with the runs; raise MissingResult when no run has curves."""
    from .figures import curve_gain_figure, curve_gains, learning_curves
    from .paper import headline_gains

    curves = learning_curves(source.store, source.plan)
    if curves.empty:
        raise MissingResult(f"no learning curves stored in {source.store.root}")
    gains = curve_gains(curves, source.plan)
    if gains.empty:
        raise MissingResult(f"no headline pair with learning curves in {source.store.root}")
    alpha = float(curves["alpha_test"].iloc[0])
    fig = curve_gain_figure(gains, headline_gains(1, alpha) if source.dataset == "mnist" else None)
    return gains, fig
