"""The landing page: what was reproduced, the headline gains beside the paper's, the verdicts."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from ..analysis.results import results_for
from ..analysis.claims import comparisons, summary
from ..analysis.collapse import collapse_epochs, describe_rule
from ..analysis.gains import gain_table
from ..analysis.robustness import headline_sentence
from ..analysis.stats import INTERVAL
from ..experiment.profiles import profile as get_profile
from ..workflow.store import MissingResult
from .sources import first_available, profiles_of


def headline(results: str | Path, profile: str = "cpu") -> dict:
    """Return what the landing page states: the MNIST source and its scale, the headline gains
    (Table 1, alpha_test 2) beside the paper's, and the claims' verdicts; None parts are missing."""
    out: dict = {"profile": None}
    source, gains = first_available("mnist", profiles_of(profile, None),
                                    lambda s: gain_table(s.store, s.plan, 1), results=results,
                                    readonly=True, progress=False)
    if source is None:
        return out
    plan = source.plan
    done, total = results_for(profile, results).progress()
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
    out["checked"] = source.results.robustness_progress()
    out["collapsed"] = source.collapsed
    out["gains kept"] = gains_without_collapsed(results, source.profile) if out["collapsed"] else None
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
    if h.get("collapsed"):
        runs = h["collapsed"]
        lines.append(f"**{len(runs)} stored run{'s' * (len(runs) != 1)} collapsed in training.** "
                     + ", ".join(f"{m} (epoch {e})" for m, e in runs.items())
                     + f": their {describe_rule(h['source'].plan)} during training while "
                     "clean accuracy rose, a model that learned to defeat the short training "
                     "attack instead of resisting attacks. This is a failure of our short schedule "
                     "(see *How we reproduce*), not of either method alone, and such runs are kept "
                     "in every seed mean: that is what the seeds measure.")
    lines.append("**What we did not reproduce.** CIFAR-10 and Tiny ImageNet (Tables 2–5, 7–9, "
                 "11–12, Figures 3–4 on CIFAR-10): their files are not available on our machines, "
                 "so those pages show the paper's values only."
                 + (" Every attack is a PGD variant; no number here is checked with AutoAttack "
                    "yet" + (f" (the check has {h['checked'][0]} of its {h['checked'][1]} models "
                             "done)" if h.get("checked", (0, 0))[1] else "") + "."
                    if h.get("robustness") is None else ""))
    if h.get("robustness"):
        lines.append("**Is the robustness real?** " + h["robustness"] + " See [Is the robustness "
                     "real?](../notebooks/robustness.ipynb).")
    rows = []
    for _, r in h["gains"].iterrows():
        rows.append(f"| {r['family']}+ours (α_train {r['alpha_train']:g}) | {r['metric']} | "
                    f"{r['paper gain']:+.2f} | {r['our gain']:+.2f} {r['interval']} | {r['agrees']} |")
    lines.append(f"**The headline question: does the weighting help, and by how much?** The gain "
                 f"ours − baseline at α_test = {h['alpha_test']:g} (Table 1), in percentage points; "
                 f"our interval is {INTERVAL} (standard errors over seeds and test examples):\n\n"
                 "| comparison | metric | paper's gain | our gain [interval] | same direction? |\n"
                 "|---|---|---|---|---|\n" + "\n".join(rows))
    kept = h.get("gains kept")
    if kept is not None and not kept.empty:
        rows = [f"| {r['family']}+ours (α_train {r['alpha_train']:g}) | {r['metric']} | "
                f"{r['seeds kept']} | {r['paper gain']:+.2f} | {r['our gain']:+.2f} "
                f"{r['interval']} | {r['agrees']} |" for _, r in kept.iterrows()]
        lines.append("**The same gains without the collapsed runs.** A seed at which the baseline "
                     "or the weighted model collapsed in training is left out of that family's "
                     "comparison. This rule was written after the collapses were seen, and the "
                     "collapses were read on test images (the learning-curve subset), so it is a "
                     "secondary analysis beside the table above, not a replacement for it:\n\n"
                     "| comparison | metric | seeds kept | paper's gain | our gain [interval] | "
                     "same direction? |\n|---|---|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(lines)


def gains_without_collapsed(results: str | Path, profile: str = "cpu") -> pd.DataFrame | None:
    """Return the landing page's headline gains (Table 1 at its last alpha_test) recomputed
    without the seeds at which either model of a pair collapsed in training (a rule applied
    after the fact, :mod:`wmrlib.analysis.collapse`), or None when no headline run collapsed.

    A family keeps the seeds at which neither its baseline nor its headline model collapsed; its
    column ``seeds`` says how many are left.
    """
    plan = get_profile(profile).plan("mnist")
    store = results_for(profile, results).store
    broken = set(collapse_epochs(store, plan))
    if not broken:
        return None
    alpha = plan.alpha_tests[-1]
    parts = []
    for family, headline_alpha in plan.headline_pairs():
        seeds = tuple(s for s in plan.seeds if (family, 0.0, s) not in broken
                      and (family, headline_alpha, s) not in broken)
        if not seeds:
            continue
        try:
            table = gain_table(store, dataclasses.replace(plan, seeds=seeds), 1)
        except MissingResult:
            continue
        keep = (table["family"] == family.upper()) & (table["alpha_test"] == alpha) \
            & table["metric"].isin(["A_sa", "A_tr"])
        parts.append(table[keep].assign(**{"seeds kept": ", ".join(map(str, seeds))}))
    return pd.concat(parts, ignore_index=True) if parts else None
