"""Result views the chapters show: compact and gain tables, analogs, histograms, DRO curves, claims, convergence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.claims import comparisons, summary
from ..analysis.curves import curve_examples, curve_gains, learning_curves
from ..analysis.figure_data import dro_curves, weight_histograms
from ..analysis.paper import headline_gains
from ..analysis.results import MissingResult
from ..experiment.profiles import DatasetPlan
from ..experiment.registry import FAMILY_NAMES
from .display import images_text
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
    """Return a set of models' column label for the verdict history in readers' words: its
    epochs, training attack and seeds, e.g. ``our 5-epoch models (10-step training attack,
    3 seeds; partial)`` or ``the earlier 5-epoch models (5-step training attack, 3 seeds)``."""
    base, epochs = source.plan.base, source.plan.base.epochs
    whose = ("code-test" if source.synthetic else "the earlier" if source.superseded else "our")
    return (f"{whose} {epochs}-epoch models ({base.attack_steps}-step "
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
    """Return the headline gains against the training epoch (a table), their figure and the
    number of test images the curves were measured on, from the learning curves stored with the
    runs; raise MissingResult when no run has curves."""
    curves = learning_curves(source.store, source.plan)
    if curves.empty:
        raise MissingResult(f"no learning curves stored in {source.store.root}")
    gains = curve_gains(curves, source.plan)
    if gains.empty:
        raise MissingResult(f"no headline pair with learning curves in {source.store.root}")
    alpha = float(curves["alpha_test"].iloc[0])
    fig = curve_gain_figure(gains, headline_gains(1, alpha) if source.dataset == "mnist" else None)
    return gains, fig, curve_examples(curves)


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
    (mean ± seed std in %), each with a heading that gives its test images."""
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
        views.append((f"{title} ({images_text(n)})", pd.DataFrame(rows)))
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


def mean_sd(means: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Return a table of seed means with ``<column> SD`` columns
    (:func:`wmrlib.analysis.robustness.seed_means`) as one ``mean ± SD`` cell per number column
    (the mean alone with one seed), keys and seed counts kept."""
    out = means[keys + ["seeds"]].copy()
    for column in [c for c in means.columns if f"{c} SD" in means.columns]:
        out[column] = [f"{m:.2f}" + ("" if pd.isna(d) else f" ± {d:.2f}")
                       for m, d in zip(means[column], means[f"{column} SD"])]
    return out


# --- the sentence that opens each analog page (numbers from wmrlib.analysis.findings) -----------

def _pp(value: float) -> str:
    return f"{value:+.2f} pp"


def _range(values, unit: str = " pp", digits: int = 2) -> str:
    low, high = min(values), max(values)
    if abs(high - low) < 10 ** -digits:
        return f"{low:+.{digits}f}{unit}"
    return f"{low:+.{digits}f} to {high:+.{digits}f}{unit}"


def _surely(e) -> str:
    """Say where ``e``'s 95 % intervals lie clear of 0."""
    above, below = len(e.above), len(e.below)
    if not above and not below:
        return "no 95 % interval clear of 0"
    parts = ([f"above 0 at {above}"] if above else []) + ([f"below 0 at {below}"] if below else [])
    return "the 95 % interval lies " + " and ".join(parts)


def _gain_clause(f, grid: str) -> str:
    """One family's gains over a grid in words: where ours is above, by how much, how sure."""
    g, n = f.gains, len(f.gains)
    model = f"{f.family}+ours α {f.alpha_train:g}"
    where = (f"at every one of the {n} {grid}" if g.positive == n else
             f"at none of the {n} {grid}" if g.positive == 0 else f"at {g.positive} of the {n} {grid}")
    return (f"{f.metric} of {model} is above {f.family}'s {where}, by {_range(g.values)} "
            f"({_surely(g)})")


def _seed_words(found) -> str:
    seeds = ", ".join(str(s) for s in found.seeds)
    if found.single_seed:
        return (f"single seed (seed {seeds}), so the intervals cover the test sample only, not "
                f"the spread between seeds; {found.examples:,} test images")
    return f"seeds {seeds}, 95 % intervals over seeds and test sample; {found.examples:,} test images"


def sensitivity_words(found, dataset_name: str, models: str) -> str:
    """Return the Sensitivity page's opening sentence from
    :func:`wmrlib.analysis.findings.sensitivity_finding`."""
    eps = sorted({k[0] for f in found.families for k in f.gains.keys})
    grid = (f"pairs of ε_test ({', '.join(f'{e:g}' for e in eps)}) and α_test "
            f"({', '.join(f'{a:g}' for a in found.alpha_tests)})")
    clauses = [_gain_clause(f, grid if i == 0 else "pairs") for i, f in enumerate(found.families)]
    return (f"On {dataset_name} ({models}), " + "; ".join(clauses)
            + f". {_seed_words(found).capitalize()}.")


def attacks_words(found, dataset_name: str, models: str) -> str:
    """Return the Other attacks page's opening sentence from
    :func:`wmrlib.analysis.findings.attacks_finding`."""
    names = list(found.families[0].gains.keys) if found.families else []
    grid = f"PGD variants ({', '.join(names)})"
    alpha = ", ".join(f"{a:g}" for a in found.alpha_tests)
    clauses = [_gain_clause(f, grid if i == 0 else "variants") for i, f in enumerate(found.families)]
    text = f"On {dataset_name} ({models}), at α_test {alpha}, " + "; ".join(clauses) + "."
    drop = found.rob_drop
    if drop is not None:
        text += (f" The strongest variant, {drop.attack}, lowers the A_rob of every one of the "
                 f"{drop.models} models by {drop.smallest:.1f} to {drop.largest:.1f} pp against "
                 f"{drop.main}" if drop.smallest > 0 else
                 f" Against {drop.main}, the strongest variant, {drop.attack}, changes the "
                 f"models' A_rob by {-drop.largest:+.1f} to {-drop.smallest:+.1f} pp")
        text += "."
    return text + f" {_seed_words(found).capitalize()}."


def _rhos(keys) -> str:
    return "ρ " + ", ".join(f"{k:g}" for k in keys)


def dro_words(found, dataset_name: str, models: str) -> str:
    """Return the χ² DRO page's opening sentence from
    :func:`wmrlib.analysis.findings.dro_finding` (claim C6)."""
    lower, higher, verdicts = [], [], {}
    for f in found.families:
        r = f.reduction
        model = f"{f.family}+ours α {f.alpha_train:g}"
        lower.append(f"at {len(r.above)} of the {len(r)} radii ρ > 0 for {model}"
                     + (f" ({_rhos(r.above)})" if r.above else ""))
        if r.below:
            higher.append(f"at {len(r.below)} for {model} ({_rhos(r.below)})")
        verdicts.setdefault(f.verdict, []).append(f.family)
    text = (f"On {dataset_name} ({models}), the weighted model's worst-case χ² adversarial loss "
            "is lower than its baseline's, with the 95 % interval of the difference clear of 0, "
            + " and ".join(lower))
    if higher:
        text += "; it is higher, clear of 0, " + " and ".join(higher)
    said = ("for both families" if len(verdicts) == 1 and len(found.families) == 2 else None)
    judged = (f"{next(iter(verdicts))} {said}" if said else
              " and ".join(f"{v} for the {' and '.join(fs)} family" for v, fs in verdicts.items()))
    seeds = sorted({f.seeds for f in found.families})
    return (text + f"; at the other radii the interval contains 0. Claim C6 is {judged} "
            f"({', '.join(seeds)} seeds, test sample included).")


def histogram_words(found, dataset_name: str, models: str) -> str:
    """Return the Weight histograms page's opening sentence from
    :func:`wmrlib.analysis.findings.histogram_finding` (claim C7)."""
    steps, slopes = found.steps, found.slopes
    n = len(steps)
    if len(steps.above) == n:
        spread = (f"the weights of every TRADES model spread out as α_test grows: the standard "
                  f"deviation of N·s̃ rises by {_range(steps.values, '', 2)} at each step of "
                  f"α_test, all {n} intervals above 0")
    else:
        spread = (f"the standard deviation of N·s̃ rises with α_test at {steps.positive} of {n} "
                  f"steps ({_surely(steps)})")
    k = len(slopes)
    slope = f"the spread changes by {_range(slopes.values, '', 3)} for each 1 added to α_train"
    if len(slopes.below) == k:
        trend = f"they concentrate as α_train grows: {slope}, every interval below 0"
    elif len(slopes.above) == k:
        trend = f"they spread out further, not less, as α_train grows: {slope}, every interval above 0"
    else:
        trend = (f"they do not clearly concentrate as α_train grows: {slope} (at the {k} α_test "
                 f"values; {_surely(slopes)})")
    return (f"On {dataset_name} ({models}, TRADES models at ε_test {found.eps_test:g}), {spread}; "
            f"{trend}. Claim C7: {found.verdict}. The baseline and the headline model have "
            f"{found.headline_seeds} seeds, the other α_train one (95 % intervals, test sample "
            "included).")
