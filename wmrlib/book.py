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
from .datasets import REGISTRY
from .device import cpu_kind
from .staleness import staleness
from .store import MissingResult, Store

DATASET_NAMES = {name: s.display_name for name, s in REGISTRY.items()}  # from the registry


@dataclass
class Source:
    """Where a page's results for one dataset come from."""

    dataset: str
    profile: str
    plan: DatasetPlan
    store: Store
    partial: bool = False   # the plan is cut down to the models whose jobs are complete

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
        if self.partial:
            text += (f" — PARTIAL: the {len(self.plan.models())} models complete so far "
                     f"({len(self.plan.seeds)} seed{'s' * (len(self.plan.seeds) != 1)})")
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
            if name in PREDECESSORS and readonly:  # a campaign: what is complete, before the old
                cut = stored_plan(prof.plan(dataset), store, name)
                if cut is not None:
                    out.append(Source(dataset, name, cut, store, partial=True))
    return out


def stored_plan(plan: DatasetPlan, store: Store, name: str) -> DatasetPlan | None:
    """Return ``plan`` cut down to the models whose jobs are complete in ``store`` (seeds whose
    headline models are all complete; alphas whose first-seed model is), or None when nothing
    is complete, or everything is (then the plan itself serves)."""
    from dataclasses import replace

    from .jobs import estimate_needed, plan_jobs

    # The robustness check has a page of its own (wmrlib.robustness), which reads what is stored:
    # a model is complete for the other pages without it.
    checked = replace(plan, robustness=None)
    jobs = {j.config.key(): replace(j, units=tuple(checked.units(j.config)))
            for j in plan_jobs(name, [plan.dataset])}
    complete = {k for k, j in jobs.items() if not estimate_needed(j, store)}
    if len(complete) == len(jobs) or not complete:
        return None
    first = plan.seeds[0]
    headline = [plan.run(d, a, first) for d, a in (("pgd", 0.0), ("pgd", plan.headline[0]),
                                                     ("trades", 0.0), ("trades", plan.headline[1]))]
    if not all(c.key() in complete for c in headline):
        return None
    seeds = tuple(s for s in plan.seeds if all(
        plan.run(d, a, s).key() in complete
        for d, a in (("pgd", 0.0), ("pgd", plan.headline[0]), ("trades", 0.0),
                     ("trades", plan.headline[1]))))
    seeds = seeds if first in seeds else (first,)
    return replace(plan, seeds=seeds,
                   pgd_alphas=tuple(a for a in plan.pgd_alphas if plan.run("pgd", a).key() in complete),
                   trades_alphas=tuple(a for a in plan.trades_alphas
                                       if plan.run("trades", a).key() in complete),
                   extras=tuple(e for e in plan.extras if e.key() in complete))


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
        path = source.store.provenance_path(config)
        if not path.exists():
            continue
        info = json.loads(path.read_text())
        rows.append({"model": config.label, "alpha_train": config.alpha_train, "seed": config.seed,
                     "precision": config.precision, "run": config.key(), "commit": info["git_commit"][:12],
                     "code since": staleness(info["git_commit"]),
                     "device": info["device"], "torch": info["torch"], "date": info["date"],
                     "train_wall_s": info["wall_time_s"]})
    return pd.DataFrame(rows)


def stale_runs(source: Source) -> int:
    """Return how many of the source's stored runs were trained by compute code changed since."""
    runs = provenance_table(source)
    return 0 if runs.empty else int(runs["code since"].str.startswith("stale").sum())


def evaluation_wall_time(source: Source) -> float:
    """Return the total wall time of the stored evaluation units of the source's runs, in seconds."""
    total = 0.0
    for config in source.plan.models() + source.plan.precision_models():
        for path in source.store.evals_dir(config).glob("*.json"):
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


_FLAGS: dict[tuple, dict[str, list[str]]] = {}


def masking_flags(source: Source) -> dict[str, list[str]]:
    """Return the source's models that a stored masking probe flags (label → probes), cached."""
    from .robustness import flagged_models

    key = (str(source.store.root), source.profile, source.plan.seeds)
    if key not in _FLAGS:
        _FLAGS[key] = {} if source.synthetic else flagged_models(source.store, source.plan)
    return _FLAGS[key]


def section(title: str, source: Source | None, value, note: str = "",
            stale_note: bool = False) -> None:
    """Display a section header, the source of its numbers (or why there are none), and a table."""
    from IPython.display import Markdown, display

    display(Markdown(f"### {title}"))
    if source is None:
        display(Markdown(f"```{{note}}\n{value}\n```"))
        return
    n = source.plan.eval_size or "all"
    stale = stale_runs(source)
    flag = "; some runs were computed by code changed since (see Provenance)" if stale else ""
    flagged = masking_flags(source)
    if flagged:
        flag += ("; ⚠ gradient-masking probes flag " + ", ".join(
            f"{m} ({', '.join(p)})" for m, p in flagged.items()) + " (see *Is the robustness real?*)")
    display(Markdown(f"*Results: {source.label}; {n} test examples"
                     + (f"; {note}" if note else "") + f"{flag}.*"))
    if stale and stale_note:
        display(Markdown(f"```{{note}}\n{stale} stored run(s) of this source were computed by "
                         "code that has changed since (training, attacks, evaluation or data "
                         "modules): see the provenance table's `code since` column. The numbers "
                         "are those of the stored results.\n```"))
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


def dro(source: Source, rhos=None) -> pd.DataFrame:
    """Return the chi-square DRO curves (Figure 4) of each family's baseline and headline model,
    on the grid claim C6 uses unless ``rhos`` is given."""
    from .dro import RHO_GRID
    from .figures import dro_curves

    return dro_curves(source.store, source.plan, RHO_GRID if rhos is None else rhos)


def dro_plot(curves: pd.DataFrame):
    """Draw Figure 4 from :func:`dro`."""
    from .figures import dro_figure

    return dro_figure(curves)


def compute_log(results: str | Path, name: str) -> pd.DataFrame:
    """Return one row per ``reproduce`` invocation of a profile, from ``compute.json``.

    A suite interrupted and resumed has several rows; its wall time is their sum.
    """
    path = Store(Path(results) / name, readonly=True).compute_log_path()
    columns = ["date", "commit", "device", "cpu kind", "executor", "workers", "threads",
               "jobs done", "jobs", "finished", "wall_min", "load avg start", "load avg end"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    rows = []
    for entry in json.loads(path.read_text()):
        rows.append({"date": entry["date"], "commit": entry["git_commit"][:12],
                     "device": entry["device_name"],
                     "cpu kind": cpu_kind(entry["cpu"]) if "cpu" in entry else "not recorded",
                     "executor": entry["executor"],
                     "workers": entry["workers"], "threads": entry["threads"] or "default",
                     "jobs done": entry["jobs_done"], "jobs": entry["jobs"],
                     "finished": entry["finished"], "wall_min": entry["wall_time_s"] / 60,
                     "load avg start": " ".join(f"{x:.1f}" for x in entry["load_average_start"]),
                     "load avg end": " ".join(f"{x:.1f}" for x in entry["load_average_end"])})
    return pd.DataFrame(rows, columns=columns)


def compute_by_cpu(results: str | Path, name: str) -> pd.DataFrame:
    """Return a profile's total compute per CPU kind: invocations, jobs finished, wall minutes."""
    log = compute_log(results, name)
    if log.empty:
        return pd.DataFrame(columns=["cpu kind", "invocations", "jobs done", "wall_min"])
    grouped = log.groupby("cpu kind").agg(invocations=("date", "size"),
                                          **{"jobs done": ("jobs done", "sum")},
                                          wall_min=("wall_min", "sum"))
    return grouped.reset_index()


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


def claim_comparisons(source: Source) -> pd.DataFrame:
    """Return every comparison behind the claims for a source (:func:`wmrlib.claims.comparisons`)."""
    from .claims import comparisons

    return comparisons(source.store, source.plan)


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


# --- the page object: what every chapter does, one call per result ------------------------------

def compact(frame: pd.DataFrame, metrics=("a_nat", "a_rob", "a_sa", "a_tr")) -> pd.DataFrame:
    """Return a paper-vs-ours table with one column per metric, ``paper / ours ± std`` in %.

    The wide ``paper_* / ours_* / delta_*`` layout of :func:`wmrlib.tables.compare` does not fit
    a page; ours − paper on an absolute accuracy is mostly the training-length gap, so it is left
    out (the gain tables compare what can be compared).
    """
    keys = [c for c in ("defense", "alpha_train", "eps_test", "attack", "alpha_test", "seeds")
            if c in frame]
    out = frame[keys].copy()
    for m in metrics:
        if f"ours_{m}" not in frame:
            continue
        std = frame.get(f"ours_{m}_std", pd.Series(np.nan, index=frame.index))
        out[m.replace("a_", "A_") + " paper / ours"] = [
            ("–" if pd.isna(p) else f"{p:.2f}") + " / " + f"{o:.2f}"
            + ("" if pd.isna(s) else f" ± {s:.2f}")
            for p, o, s in zip(frame[f"paper_{m}"], frame[f"ours_{m}"], std)]
    return out


def gain_view(gains: pd.DataFrame) -> pd.DataFrame:
    """Return a gain table (:func:`wmrlib.gains.gain_table`) laid out for a page: one comparison
    label, alpha_test as text, ours / baseline in one column."""
    def alpha_text(a):
        return "–" if a is None or (isinstance(a, float) and np.isnan(a)) else f"{a:g}"

    return pd.DataFrame({
        "comparison": [f"{f}+ours α {a:g} − {f}" for f, a in zip(gains["family"], gains["alpha_train"])],
        "α_test": [alpha_text(a) for a in gains["alpha_test"]],
        "metric": gains["metric"],
        "paper gain": [("–" if pd.isna(v) else f"{v:+.2f}") for v in gains["paper gain"]],
        "our gain": [f"{v:+.2f}" for v in gains["our gain"]],
        "our interval": gains["interval"],
        "same direction as the paper": gains["agrees"],
        "ours / baseline (%)": [f"{o:.2f} / {b:.2f}" for o, b in zip(gains["ours"], gains["baseline"])],
        "seeds": gains["seeds"],
    })


def caption(text: str) -> None:
    """Display a figure or table caption (markdown, rendered; never literal asterisks)."""
    from IPython.display import Markdown, display

    display(Markdown(f"<p class='caption'><b>{text.split(':', 1)[0]}:</b>"
                     f"{text.split(':', 1)[1] if ':' in text else ''}</p>"))


class Page:
    """One chapter's view of the store: its checked parameters, the profiles it tries, and one
    method per kind of result (each displays its section and returns what it showed)."""

    def __init__(self, profile: str = "cpu", fallback_profile: str | None = "smoke",
                 results: str | Path = "../results", readonly: bool = True, device: str = "auto",
                 progress: bool = True) -> None:
        from .params import check_notebook_parameters

        check_notebook_parameters(profile=profile, fallback_profile=fallback_profile,
                                  results=results, readonly=readonly, device=device,
                                  progress=progress)
        self.profiles = profiles_of(profile, fallback_profile)
        self.kw = dict(results=results, readonly=readonly,
                       device=None if device == "auto" else device, progress=progress)

    def first(self, dataset: str, compute: Callable[[Source], object]):
        """Return ``(source, compute(source))`` for the first profile with results, else (None, why)."""
        return first_available(dataset, self.profiles, compute, **self.kw)

    def table(self, number: int, title: str):
        """Show paper Table ``number`` beside ours (absolute accuracies); return (source, frame)."""
        from . import paper, tables

        spec = tables.SPECS[number]
        source, value = self.first(spec.dataset, lambda s: tables.paper_table(s.store, s.plan, number))
        if source is not None and source.synthetic:
            return self._not_reproduced(number, title, source)
        note = f"attack {source.plan.attack.name} at ε {source.plan.attack.eps:g}" if source else ""
        section(f"Table {number}: {title}", source,
                value if source is None else None, note=note)
        if source is not None:
            display_frame(compact(value))
        elif spec.dataset != "mnist":
            display_frame(paper.table(number))
        return source, value

    def gains(self, number: int, title: str):
        """Show Table ``number`` as gains, ours beside the paper's, with a figure; return (source, frame)."""
        from .figures import gain_figure
        from .gains import gain_table
        from . import tables

        spec = tables.SPECS[number]
        source, value = self.first(spec.dataset, lambda s: gain_table(s.store, s.plan, number))
        if source is not None and source.synthetic:
            return None, None  # the absolute table says what was not reproduced
        section(f"Table {number} as gains: {title}", source, value if source is None else None,
                note="gain = ours − baseline in pp, seed means; interval ± 2 SE (seeds and a "
                     "paired bootstrap over the test examples)")
        if source is None:
            return source, value
        display_frame(gain_view(value))
        fig = gain_figure(value)
        _show(fig)
        caption(f"Figure: the gain of the weighting over its baseline in Table {number}, the "
                f"paper's (grey, 100-epoch models) beside ours ({_plain(source.label)}; "
                "whiskers: our ± 2 SE interval). A bar below 0 means the weighting lowered the "
                "metric.")
        return source, value

    def analog(self, kind: str, title: str, defenses=("pgd", "trades"), dataset: str = "mnist"):
        """Show our results for a table the paper ran on another dataset (no paper columns)."""
        from . import tables

        source, value = self.first(dataset, lambda s: tables.analog_table(s.store, s.plan, kind,
                                                                           defenses))
        section(title, source, value if source is None else None,
                note="an analog: the paper has no such table on this dataset")
        if source is not None:
            display_frame(compact(value))
            if kind == "sensitivity":
                fig = sensitivity_plot(value, source)
                _show(fig)
                caption("Figure (analog of the paper's Figure 3): A_tr against α_test at each "
                        f"ε_test, one line per model (dashed: PGD family); {_plain(source.label)}.")
        return source, value

    def histograms(self, dataset: str) -> None:
        """Show the weight histograms (Figures 5-7) of the dataset's TRADES models at each eps_test."""
        def draw(s):
            return [(eps, histogram(s, eps)) for eps in (s.plan.eps_tests or (s.plan.attack.eps,))]

        source, figs = self.first(dataset, draw)
        if source is not None and source.synthetic:
            self._not_reproduced_figure(dataset, "Figures 5-7")
            return
        section(DATASET_NAMES[dataset], source, figs if source is None else None)
        for eps, fig in figs if source is not None else ():
            _show(fig)
            caption(f"Figure (analog of the paper's Figures 5–7): N·s̃ of the TRADES models "
                    f"(rows: α_train) at ε_test {eps:g} for each α_test (columns), log counts; "
                    f"{_plain(source.label)}.")

    def dro(self, dataset: str) -> None:
        """Show the chi-square DRO curves (Figure 4) of the dataset's headline pairs."""
        source, curves = self.first(dataset, dro)
        if source is not None and source.synthetic:
            self._not_reproduced_figure(dataset, "Figure 4")
            return
        section(DATASET_NAMES[dataset], source, curves if source is None else None)
        if source is None:
            return
        summary = curves.groupby(["defense", "alpha_train", "rho"])[
            ["worst_case_loss", "worst_case_accuracy"]].mean().reset_index()
        display_frame(summary, 3)
        _show(dro_plot(curves))
        caption("Figure (analog of the paper's Figure 4, which shows TRADES on CIFAR-10): "
                "worst-case χ² weighted adversarial loss (left) and accuracy (right) against ρ, "
                f"mean over seeds with a ±1 std band; {_plain(source.label)}.")

    @staticmethod
    def _not_reproduced_figure(dataset: str, what: str) -> None:
        from IPython.display import Markdown, display

        display(Markdown(f"### {DATASET_NAMES[dataset]}"))
        display(Markdown(f"```{{note}}\nNot reproduced: {DATASET_NAMES[dataset]} is not "
                         f"available on our machines, so the paper's {what} on it is not "
                         "reproduced (the `smoke` profile's synthetic tensors test the code only).\n```"))

    def extra_baselines(self, dataset: str = "mnist"):
        """Show Table 4's extra baselines (Free-AT, YOPO, IAAT) trained on ``dataset``, an analog
        beside the paper's CIFAR-10 rows; nothing shows until one is stored."""
        from . import tables

        source, value = self.first(dataset, lambda s: tables.extra_baselines_analog(s.store, s.plan))
        if source is not None:
            section("Table 4, extra baselines: our MNIST analog beside the paper's CIFAR-10 rows",
                    source, value, note=f"attack {source.plan.attack.name} at ε "
                    f"{source.plan.attack.eps:g}; an analog on MNIST, not comparable with the "
                    "CIFAR-10 numbers")
        return source, value

    def provenance(self, datasets=("mnist", "cifar10", "tinyimagenet")) -> None:
        """Show the runs behind each dataset's results (commit, device, code changed since)."""
        for dataset in datasets:
            source, frame = self.first(dataset, require_runs)
            section(f"Runs behind the {DATASET_NAMES[dataset]} results", source, frame,
                    stale_note=True)

    @staticmethod
    def _not_reproduced(number: int, title: str, source: Source):
        from IPython.display import Markdown, display

        from . import paper

        display(Markdown(f"### Table {number}: {title}"))
        display(Markdown(f"```{{note}}\nNot reproduced: {DATASET_NAMES[source.dataset]} is not "
                         "available on our machines. The code runs on synthetic tensors in the "
                         "`smoke` profile (tests only); those numbers are not shown beside the "
                         "paper's. The paper's values:\n```"))
        display_frame(paper.table(number))
        return None, None


def _plain(text: str) -> str:
    return text.replace("`", "")


def display_frame(frame: pd.DataFrame, digits: int = 2) -> None:
    """Display a table with floats at ``digits`` decimals."""
    from IPython.display import display

    display(show(frame, digits))


def _show(fig) -> None:
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


# --- the landing page -----------------------------------------------------------------------------

def headline(results: str | Path, profile: str = "cpu") -> dict:
    """Return what the landing page states: the MNIST source and its scale, the headline gains
    (Table 1, alpha_test 2) beside the paper's, and the claims' verdicts; None parts are missing."""
    from .claims import comparisons, summary
    from .gains import gain_table
    from .robustness import headline_sentence

    out: dict = {"profile": None}
    source, gains = first_available("mnist", profiles_of(profile, None),
                                    lambda s: gain_table(s.store, s.plan, 1), results=results,
                                    readonly=True, progress=False)
    if source is None:
        return out
    plan = source.plan
    done, total = campaign_progress(results, profile)
    out.update(profile=source.profile, epochs=plan.base.epochs, eval_size=plan.eval_size,
               seeds=len(plan.seeds), models=len(plan.models()), jobs_done=done, jobs=total,
               partial=source.profile != profile and done < total, source=source)
    alpha = plan.alpha_tests[-1]
    out["alpha_test"] = alpha
    out["gains"] = gains[(gains["alpha_test"] == alpha) & gains["metric"].isin(["A_sa", "A_tr"])]
    out["rob"] = gains[gains["metric"] == "A_rob"]
    try:
        out["claims"] = summary(comparisons(source.store, plan))
    except MissingResult:
        out["claims"] = None
    out["robustness"] = None if source.synthetic else headline_sentence(source.store, plan)
    return out


def headline_text(h: dict) -> str:
    """Return the landing page's first paragraphs (markdown) from :func:`headline`."""
    if h.get("profile") is None:
        return ("No MNIST results are stored yet: run `python -m wmrlib reproduce --profile cpu` "
                "(see *How we reproduce*).")
    lines = [f"**What we reproduced.** The MNIST experiments (Tables 1, 6 and 10, and MNIST "
             f"analogs of Tables 7–9 and Figures 3–7), with SmallCNN models trained for "
             f"**{h['epochs']} epoch{'s' * (h['epochs'] != 1)}** instead of the paper's 100, "
             f"evaluated by 40-step PGD on **{h['eval_size']:,} fixed test images** "
             f"(the paper: all 10,000), with **{h['seeds']} seed{'s' * (h['seeds'] != 1)}** of "
             f"the two headline comparisons (profile `{h['profile']}`)."]
    if h["source"].partial:
        lines.append(f"**These results are partial.** The `cpu` campaign has {h['jobs_done']} of "
                     f"its {h['jobs']} jobs complete; the pages show the models complete so far."
                     + (" With one seed per model the seed error is unknown, so the gains' "
                        "intervals below cover the test sample only and every claim is "
                        "*inconclusive* until the other seeds are trained." if h["seeds"] == 1 else ""))
    elif h["profile"] != "cpu":
        lines.append(f"These are the earlier {h['epochs']}-epoch models: the longer `cpu` "
                     f"campaign has {h['jobs_done']} of its {h['jobs']} jobs complete, and its "
                     "results replace these once every job a table needs is stored.")
    lines.append("**What we did not reproduce.** CIFAR-10 and Tiny ImageNet (Tables 2–5, 7–9, "
                 "11–12, Figures 3–4 on CIFAR-10): their files are not available on our machines, "
                 "so those pages show the paper's values only."
                 + (" Every attack is a PGD variant; no number here is checked with AutoAttack "
                    "yet." if h.get("robustness") is None else ""))
    if h.get("robustness"):
        lines.append("**Is the robustness real?** " + h["robustness"] + " See [Is the robustness "
                     "real?](../notebooks/robustness.ipynb).")
    rows = []
    for _, r in h["gains"].iterrows():
        rows.append(f"| {r['family']}+ours (α_train {r['alpha_train']:g}) | {r['metric']} | "
                    f"{r['paper gain']:+.2f} | {r['our gain']:+.2f} {r['interval']} | {r['agrees']} |")
    lines.append(f"**The headline question: does the weighting help, and by how much?** The gain "
                 f"ours − baseline at α_test = {h['alpha_test']:g} (Table 1), in percentage points; "
                 "our interval is ± 2 standard errors over seeds and test examples:\n\n"
                 "| comparison | metric | paper's gain | our gain [interval] | same direction? |\n"
                 "|---|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(lines)
