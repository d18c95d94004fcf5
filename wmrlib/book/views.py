"""Result views the chapters show: compact and gain tables, analogs, histograms, DRO curves, claims, convergence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.claims import comparisons, summary
from ..analysis.curves import curve_gains, learning_curves
from ..analysis.figure_data import dro_curves, weight_histograms
from ..analysis.paper import headline_gains
from ..analysis.results import MissingResult
from ..experiment.profiles import DatasetPlan
from ..experiment.registry import FAMILY_NAMES
from .figures import curve_gain_figure, dro_figure, histogram_figure, sensitivity_figure
from .records import provenance_table
from .sources import candidate_sources, seeds_text, Source
from .words import count


def require_runs(source: Source) -> pd.DataFrame:
    """Return the source's provenance table; raise MissingResult when it has no stored run."""
    frame = provenance_table(source)
    if frame.empty:
        raise MissingResult(f"no trained run in {source.store.root}")
    return frame


def sensitivity_plot(frame: pd.DataFrame, source: Source):
    """Draw A_tr against alpha_test per eps_test (Figure 3) for a sensitivity table."""
    fig = sensitivity_figure(frame, "ours_a_tr")
    fig.suptitle(source.label.replace("`", ""), fontsize=9, y=1.02)
    return fig


def histogram(source: Source, eps_test: float):
    """Draw the weight histograms (Figures 5-7) of the source's TRADES models at ``eps_test``
    (the weights from :func:`wmrlib.analysis.figure_data.weight_histograms`)."""
    return histogram_figure(weight_histograms(source.store, source.plan, eps_test))


def dro(source: Source, rhos=None) -> pd.DataFrame:
    """Return the chi-square DRO curves (Figure 4) of each family's baseline and headline model,
    on the grid claim C6 uses unless ``rhos`` is given
    (:func:`wmrlib.analysis.figure_data.dro_curves`)."""
    return dro_curves(source.store, source.plan, rhos)


def dro_plot(curves: pd.DataFrame):
    """Draw Figure 4 from :func:`dro`."""
    return dro_figure(curves)


def claim_comparisons(source: Source) -> pd.DataFrame:
    """Return every comparison behind the claims for a source (:func:`wmrlib.analysis.claims.comparisons`)."""
    return comparisons(source.store, source.plan)


def schedule_label(source: Source) -> str:
    """Return a profile's column label for the verdict history: its epochs, training attack and
    seeds, e.g. ``cpu (5 epochs, 10-step training attack, 3 seeds; partial)``."""
    base, epochs = source.plan.base, source.plan.base.epochs
    return (f"{source.profile} ({count(epochs, 'epoch')}, {base.attack_steps}-step "
            f"training attack, {seeds_text(source.plan)}{'; partial' if source.partial else ''})")


def verdicts_by_profile(dataset: str, names, *, results: str | Path) -> pd.DataFrame:
    """Return each claim's verdict (overall and per family) for every profile of ``names`` whose
    results are complete, side by side: how the verdicts move with the training schedule."""
    columns = []
    for source in candidate_sources(dataset, names, results=results, readonly=True, progress=False):
        try:
            frame = summary(comparisons(source.store, source.plan)).set_index("claim")
        except MissingResult:
            continue
        label = schedule_label(source)
        columns.append(frame[["verdict", "PGD family", "TRADES family"]].add_prefix(f"{label}: "))
    if not columns:
        return pd.DataFrame()
    return pd.concat(columns, axis=1).reset_index()


def verdicts_by_dataset(summaries: dict[str, pd.DataFrame | None],
                        statements: bool = True) -> pd.DataFrame:
    """Return each claim's verdict per dataset and defense family side by side, from one
    :func:`wmrlib.analysis.claims.summary` per dataset name (None: not judged yet)."""
    base = next((s for s in summaries.values() if s is not None), None)
    if base is None:
        return pd.DataFrame()
    out = base[["claim", "statement"] if statements else ["claim"]].copy()
    for name, frame in summaries.items():
        for family in FAMILY_NAMES:
            column = f"{name}: {family} family"
            out[column] = ("not judged yet" if frame is None else
                           frame.set_index("claim")[f"{family} family"].reindex(out["claim"]).values)
    return out


def convergence(source: Source):
    """Return the headline gains against the training epoch (a table) and their figure, from the
    learning curves stored with the runs; raise MissingResult when no run has curves."""
    curves = learning_curves(source.store, source.plan)
    if curves.empty:
        raise MissingResult(f"no learning curves stored in {source.store.root}")
    gains = curve_gains(curves, source.plan)
    if gains.empty:
        raise MissingResult(f"no headline pair with learning curves in {source.store.root}")
    alpha = float(curves["alpha_test"].iloc[0])
    fig = curve_gain_figure(gains, headline_gains(1, alpha) if source.dataset == "mnist" else None)
    return gains, fig


def compact(frame: pd.DataFrame, metrics=("a_nat", "a_rob", "a_sa", "a_tr")) -> pd.DataFrame:
    """Return a paper-vs-ours table with one column per metric, ``paper / ours ± std`` in %.

    The wide ``paper_* / ours_* / delta_*`` layout of :func:`wmrlib.analysis.tables.compare` does not fit
    a page; ours − paper on an absolute accuracy is mostly the training-length gap, so it is left
    out (the gain tables compare what can be compared).
    """
    keys = [c for c in ("defense", "alpha_train", "eps_test", "attack", "alpha_test", "seeds")
            if c in frame]
    out = frame[keys].copy()
    if "alpha_train" in out:  # a baseline has no α_train
        out["alpha_train"] = ["–" if not a or pd.isna(a) else f"{a:g}" for a in out["alpha_train"]]
    for name in ("eps_test", "alpha_test"):  # at the paper's precision (0.0078, not 0.01)
        if name in out:
            out[name] = [f"{v:g}" for v in out[name]]
    for m in metrics:
        if f"ours_{m}" not in frame:
            continue
        std = frame.get(f"ours_{m}_std", pd.Series(np.nan, index=frame.index))
        out[m.replace("a_", "A_") + " paper / ours"] = [
            ("–" if pd.isna(p) else f"{p:.2f}") + " / " + f"{o:.2f}"
            + ("" if pd.isna(s) else f" ± {s:.2f}")
            for p, o, s in zip(frame[f"paper_{m}"], frame[f"ours_{m}"], std)]
    return out


def analog_view(frame: pd.DataFrame, plan: DatasetPlan) -> list[tuple[str, pd.DataFrame]]:
    """Return an analog table (:func:`wmrlib.analysis.tables.analog_table`, no paper columns) as one
    narrow table per ε_test or attack: a row per model, A_rob and A_sa / A_tr per alpha_test
    (mean ± seed std in %), each with a heading that gives its test examples."""
    by = "eps_test" if "eps_test" in frame else "attack"
    n = plan.side_eval_size or plan.eval_size  # the main attack's rows too (tables.model_metrics)
    views = []
    for key, part in frame.groupby(by, sort=False):
        rows = []
        for (defense, alpha), model in part.groupby(["defense", "alpha_train"], sort=False):
            row = {"model": defense + (f" α {alpha:g}" if alpha else ""),
                   "seeds": int(model["seeds"].iloc[0])}
            for metric in ("a_rob", "a_sa", "a_tr"):
                if f"ours_{metric}" not in model:
                    continue
                for _, r in (model.iloc[:1] if metric == "a_rob" else model).iterrows():
                    name = metric.replace("a_", "A_") + ("" if metric == "a_rob"
                                                         else f" α {r['alpha_test']:g}")
                    std = r.get(f"ours_{metric}_std", np.nan)
                    row[name] = f"{r[f'ours_{metric}']:.2f}" + ("" if pd.isna(std) else f" ± {std:.2f}")
            rows.append(row)
        title = f"ε_test {key:g}" if by == "eps_test" else str(key)
        views.append((f"{title} ({n or 'all'} test examples)", pd.DataFrame(rows)))
    return views


# "Same direction as the paper's gain?" in words that cannot be mistaken for a claim's verdict
# (holds / does not hold / inconclusive): an interval that contains 0 gives no direction.
DIRECTION_WORDS = {"yes": "yes", "no": "no", "inconclusive": "unclear (contains 0)"}
# The gain-size verdicts of wmrlib.analysis.stats.size_agreement, in a table's few words.
SIZE_WORDS = {"consistent with the paper's size": "consistent", "smaller than the paper's": "smaller",
              "larger than the paper's": "larger"}


def absolute_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a nonuniform table of ours (:func:`wmrlib.analysis.tables.ours`, one row per model
    and α_test) as one row per model: A_nat, A_rob, then A_sa and A_tr per α_test, each the mean
    ± the std over seeds (in %)."""
    def cell(r, metric):
        std = r.get(f"{metric}_std", np.nan)
        return f"{r[metric]:.2f}" + ("" if pd.isna(std) else f" ± {std:.2f}")

    rows = []
    for (defense, alpha), model in frame.groupby(["defense", "alpha_train"], sort=False):
        first = model.iloc[0]
        row = {"model": defense + (f" α_train {alpha:g}" if alpha else ""),
               "seeds": int(first["seeds"]), "A_nat": cell(first, "a_nat"),
               "A_rob": cell(first, "a_rob")}
        for metric in ("a_sa", "a_tr"):
            for _, r in model.iterrows():
                row[f"{metric.replace('a_', 'A_')} α_test {r['alpha_test']:g}"] = cell(r, metric)
        rows.append(row)
    return pd.DataFrame(rows)


def published_view(known: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`wmrlib.analysis.paper.published` rows laid out for a page (the source apart)."""
    return pd.DataFrame({
        "published model": known["model"], "A_nat": known["clean"].map(lambda v: f"{v:.2f}"),
        "A_rob (attack)": [("≤ " if b else "") + f"{r:.2f} ({a})" + (
            "" if aa is None or pd.isna(aa) else f"; AutoAttack {aa:.2f}")
            for r, a, aa, b in zip(known["robust"], known["attack"], known["autoattack"],
                                   known["bound"])]})


def verdict_words(gains: pd.DataFrame) -> list[str]:
    """Return each gain's verdict under the analysis plan with its claim, e.g. "holds (C2)", the
    same verdict the Claims page gives that comparison; "–" for a gain that belongs to no claim."""
    return [f"{v} ({c})" if c else "–" for v, c in zip(gains["verdict"], gains["claim"])]


def gain_view(gains: pd.DataFrame) -> pd.DataFrame:
    """Return a gain table (:func:`wmrlib.analysis.gains.gain_table`) laid out for a page: one comparison
    label, alpha_test as text, ours / baseline in one column."""
    def alpha_text(a):
        return "–" if a is None or (isinstance(a, float) and np.isnan(a)) else f"{a:g}"

    return pd.DataFrame({
        "comparison": [f"{f}+ours α {a:g} − {f}" for f, a in zip(gains["family"], gains["alpha_train"])],
        "α_test": [alpha_text(a) for a in gains["alpha_test"]],
        "metric": gains["metric"],
        "paper gain": [("–" if pd.isna(v) else f"{v:+.2f}") for v in gains["paper gain"]],
        "our gain [95 % interval]": [f"{v:+.2f} {i}" for v, i in zip(gains["our gain"], gains["interval"])],
        "verdict (claim)": verdict_words(gains),
        "same direction?": [DIRECTION_WORDS.get(a, a) for a in gains["agrees"]],
        "size vs the paper's": [SIZE_WORDS.get(s, s) for s in gains["size"]],
        "ours / baseline (%)": [f"{o:.2f} / {b:.2f}" for o, b in zip(gains["ours"], gains["baseline"])],
        "seeds": gains["seeds"],
    })


def convergence_view(gains: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`wmrlib.analysis.curves.curve_gains` laid out for a page: each metric's gain
    and its seed SD in one cell, ``+0.13 (0.23)``."""
    out = gains[[c for c in gains.columns if not c.startswith("gain_")]].copy()
    for column in [c for c in gains.columns if c.startswith("gain_") and not c.endswith("_std")]:
        metric = column[len("gain_"):].replace("a_", "A_")
        std = gains.get(column + "_std", pd.Series(np.nan, index=gains.index))
        out[f"{metric} gain (seed SD)"] = [
            "–" if pd.isna(g) else f"{g:+.2f}" + ("" if pd.isna(d) else f" ({d:.2f})")
            for g, d in zip(gains[column], std)]
    return out


def detail_view(part: pd.DataFrame) -> pd.DataFrame:
    """Return one claim's comparisons (:func:`wmrlib.analysis.claims.comparisons`) laid out for a
    page: the estimate with its interval in one cell, the standard error's parts left to the CSV."""
    return pd.DataFrame({
        "family": part["family"], "comparison": part["comparison"],
        "estimate [interval]": [f"{e:+.2f} [{lo:+.2f}, {hi:+.2f}]" for e, lo, hi in
                                zip(part["estimate"], part["interval_low"], part["interval_high"])],
        "measured in": part["unit"], "test": part["test"], "seeds": part["seeds"],
        "df": [("normal" if pd.isna(d) or np.isinf(d) else "none (one seed)" if d == 0 else f"{d:g}")
               for d in part["df"]],
        "verdict": part["verdict"]})


def verdict_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`wmrlib.analysis.claims.summary` laid out for a page: the comparison counts in one
    column (hold / do not hold / inconclusive of all), so the table fits without scrolling."""
    counts = [f"{h} / {n} / {i} of {c}" for h, n, i, c in
              zip(summary["hold"], summary["do not hold"], summary["inconclusive"], summary["comparisons"])]
    out = summary.drop(columns=["comparisons", "hold", "do not hold", "inconclusive"])
    return out.assign(**{"hold / not / inconclusive": counts})
