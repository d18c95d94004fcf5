"""The models page: one row per shipped model, RobustBench style, with the line that loads it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from IPython.display import Markdown, display

from ..analysis.collapse import uses_validation
from ..analysis.results import results_for
from ..analysis.robustness import PGD_GAP_PP, pgd_gap, published_gaps
from ..core.datasets import spec
from ..method import metrics
from .display import display_frame

# The profiles whose trained weights are committed, newest first.
SHIPPED_PROFILES = ("cpu", "cpu-5epoch")


def _accuracy(store, config, attack, eval_size, eval_seed, robust: bool) -> float:
    """Return the stored A_rob (or A_nat with ``attack`` None) in %, NaN when not stored."""
    if not store.has_unit(config, attack, 0.0, eval_size=eval_size, eval_seed=eval_seed):
        return float("nan")
    record = store.get_or_attack(config, attack, 0.0, eval_size=eval_size, eval_seed=eval_seed)
    return 100 * (metrics.a_rob(record.correct) if robust else metrics.a_nat(record.correct))


def shipped_models(results: str | Path, profiles=SHIPPED_PROFILES) -> pd.DataFrame:
    """Return one row per model whose weights are stored: profile, dataset, defense, α_train,
    seed, epochs, architecture, ε, clean accuracy and 40-PGD A_rob on the main test subset,
    AutoAttack A_rob on the robustness check's subset where measured, how many pp 40-PGD
    overstates it (its A_rob minus AutoAttack's on that subset,
    :func:`wmrlib.analysis.robustness.pgd_gap`) and whether that exceeds PGD_GAP_PP, the collapse
    flag, and the ``wmrlib.zoo.load`` call that returns it."""
    rows = []
    for name in profiles:
        stored = results_for(name, results)
        for dataset, plan in stored.profile.plans.items():
            collapsed = stored.collapsed(plan)
            rp = plan.robustness
            for config in plan.models():
                if not stored.store.model_path(config).is_file():
                    continue
                kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)
                label = config.label + (f" α {config.alpha_train:g}" if config.alpha_train else "")
                flag = collapsed.get(f"{label} seed {config.seed}")
                gap = None if rp is None else pgd_gap(stored.store, plan, config, rp)
                rows.append({
                    "profile": name, "dataset": dataset, "model": label,
                    "seed": config.seed, "epochs": config.epochs, "architecture": config.model,
                    "ε": f"{plan.attack.eps:g}",
                    "clean (%)": _accuracy(stored.store, config, None, robust=False, **kw),
                    f"{plan.attack.name} A_rob (%)": _accuracy(stored.store, config, plan.attack,
                                                               robust=True, **kw),
                    "AutoAttack A_rob (%)": (float("nan") if rp is None else _accuracy(
                        stored.store, config, rp.attack, rp.eval_size, plan.eval_seed, True)),
                    f"{plan.attack.name} → AutoAttack (pp)": float("nan") if gap is None else gap,
                    f"overstated (> {PGD_GAP_PP:g} pp)": ("not checked" if gap is None else
                                                         "yes" if gap > PGD_GAP_PP else "no"),
                    "collapsed in training": (
                        f"yes (epoch {flag})" if flag is not None else
                        "no" if uses_validation(plan) or plan.has_curve(config) else
                        "unknown (no learning curve)"),
                    "load": (f'zoo.load("{name}", "{dataset}", "{config.defense}", '
                             f"alpha_train={config.alpha_train:g}, seed={config.seed})"),
                })
    return pd.DataFrame(rows)


SHARED = ["profile", "dataset", "epochs", "architecture", "ε"]  # one value per table


def show(results: str | Path, profiles=SHIPPED_PROFILES) -> None:
    """Display the shipped models, one table per profile and dataset (the settings they share in
    its heading, the arguments of ``zoo.load`` in its last column)."""
    frame = shipped_models(results, profiles)
    display(Markdown(gap_note()))
    for (profile, dataset, epochs, architecture, eps), group in frame.groupby(SHARED, sort=False):
        display(Markdown(f"### {spec(dataset).display_name}, profile `{profile}`\n\n{architecture}, "
                         f"{epochs} epochs, ε = {eps}. Each model loads with `zoo.load(\"{profile}\", "
                         f"\"{dataset}\", …)` and the arguments of the last column."
                         + group_gap_line(group)))
        prefix = f'zoo.load("{profile}", "{dataset}", '
        shown = group.drop(columns=SHARED).assign(
            load=[line.removeprefix(prefix).removesuffix(")") for line in group["load"]])
        display_frame(shown.rename(columns={"load": "zoo.load(…) arguments"}), 2)


def gap_note() -> str:
    """Return the sentences above the tables on how much 40-PGD overstates a model: what the
    gap is, the threshold of the flag, and the published MNIST models' gaps."""
    text = (f"**How much 40-PGD overstates each model.** The column *→ AutoAttack* is a model's "
            f"40-PGD A_rob minus its AutoAttack A_rob, both on the robustness check's test images; "
            f"*overstated* flags a gap above {PGD_GAP_PP:g} pp.")
    published = published_gaps("mnist")
    if not published.empty:
        text += (" Published MNIST models lose " + " and ".join(
            f"{g:.2f} pp ({f}, ε {e:g})" for f, g, e in
            zip(published["family"], published["gap"], published["eps"]))
                 + " from their authors' reported A_rob to AutoAttack.")
    return text


def group_gap_line(group: pd.DataFrame) -> str:
    """Return one table's sentence on its checked models' gaps (empty when none is checked)."""
    column = next(c for c in group.columns if c.endswith("→ AutoAttack (pp)"))
    gaps = group[column].dropna()
    if gaps.empty:
        return ""
    return (f" 40-PGD overstates the {len(gaps)} checked models by {gaps.min():.1f}–"
            f"{gaps.max():.1f} pp; {int((gaps > PGD_GAP_PP).sum())} of them by more than "
            f"{PGD_GAP_PP:g} pp.")
