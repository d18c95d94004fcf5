"""The landing page: what was reproduced, the headline gains beside the paper's, the verdicts."""
from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from ..analysis.results import ProfileResults, results_for
from ..core import paths
from ..workflow.provenance import git_commit
from ..analysis.claims import comparisons, summary, verdict_change
from ..analysis.collapse import collapse_epochs, collapsed_by_family, describe_rule
from ..analysis.gains import gain_table, seed_error_unknown
from ..analysis.robustness import headline_sentence, pgd_overstatement
from ..analysis.stats import INTERVAL, NOT_JUDGED, OUTSIDE, combine
from ..experiment.profiles import DatasetPlan
from ..workflow.store import MissingResult
from .display import csv_link
from .sources import DATASET_NAMES, first_available, profiles_of, seeds_text
from .views import DIRECTION_WORDS, SIZE_WORDS
from .words import count


def headline(results: str | Path, profile: str = "cpu", dataset: str = "mnist") -> dict:
    """Return what the landing page states about one dataset: its source and scale, the headline
    gains (Table 1's comparisons, largest alpha_test) beside the paper's (its MNIST values for a
    dataset the paper did not run), and the claims' verdicts; None parts are missing."""
    stored = results_for(profile, results)
    covered = dataset in stored.profile.plans
    out: dict = {"profile": None, "dataset": dataset,
                 "progress": stored.progress(dataset) if covered else (0, 0)}
    source, gains = first_available(dataset, profiles_of(profile, None),
                                    lambda s: gain_table(s.store, s.plan, 1), results=results,
                                    readonly=True, progress=False)
    if source is None or source.synthetic:
        return out
    plan = source.plan
    done, total = stored.progress() if dataset == "mnist" else out["progress"]
    out.update(profile=source.profile, epochs=plan.base.epochs, eval_size=plan.eval_size,
               seeds=len(plan.seeds), seeds_text=seeds_text(plan), models=len(plan.models()),
               jobs_done=done, jobs=total,
               partial=source.profile != profile and done < total, source=source)
    alpha = plan.alpha_tests[-1]
    out["alpha_test"] = alpha
    out["gains"] = headline_rows(gains, alpha)
    out["seed_error_unknown"] = seed_error_unknown(out["gains"])
    out["rob"] = gains[gains["metric"] == "A_rob"]
    try:
        out["comparisons"] = comparisons(source.store, plan)
        out["claims"] = summary(out["comparisons"])
    except MissingResult:
        out["claims"] = out["comparisons"] = None
    out["robustness"] = None if source.synthetic else headline_sentence(source.store, plan)
    out["overstatement"] = None if source.synthetic else pgd_overstatement(source.store, plan)
    out["checked"] = source.results.robustness_progress(dataset)
    out["collapsed"] = source.collapsed
    out["collapsed families"] = collapsed_by_family(source.store, plan)
    out["eps"] = plan.attack.eps
    out["gains kept"] = (gains_without_collapsed(results, source.profile)
                         if out["collapsed"] and dataset == "mnist" else None)
    out["so far"] = (campaign_so_far(results, profile, dataset)
                     if source.profile != profile and covered else None)
    return out


SO_FAR_MIN_SEEDS = 2  # a family's interim gain needs a seed error: at least two paired seeds


def campaign_so_far(results: str | Path, profile: str = "cpu", dataset: str = "mnist"
                    ) -> pd.DataFrame | None:
    """Return the interim headline gains of a campaign whose pages still show its predecessor:
    per defense family whose baseline and headline model are both complete at
    ``SO_FAR_MIN_SEEDS`` or more seeds, Table 1's A_rob gain and A_sa / A_tr gains at the last
    alpha_test, paired over those seeds (column ``seeds paired``); None when no family has them.
    No verdict is drawn from it: the claims are judged once the campaign's plan is complete."""
    stored = results_for(profile, results)
    plan = stored.profile.plan(dataset)
    parts = [headline_rows(table, plan.alpha_tests[-1], with_rob=True)
             .assign(**{"seeds paired": f"{len(seeds)} of {len(plan.seeds)}"})
             for seeds, table in family_gains(stored, plan, lambda key: key in stored.complete,
                                              min_seeds=SO_FAR_MIN_SEEDS)]
    return pd.concat(parts, ignore_index=True) if parts else None


def family_gains(stored: ProfileResults, plan: DatasetPlan, usable: Callable[[str], bool],
                 min_seeds: int = 1) -> Iterator[tuple[tuple[int, ...], pd.DataFrame]]:
    """Yield (seeds, gain table) per defense family of ``plan``'s headline pairs: Table 1's gains
    of that family alone, paired over the seeds at which ``usable(run key)`` is true of both its
    baseline and its headline model; a family with fewer than ``min_seeds`` such seeds is left out."""
    for family, headline_alpha in plan.headline_pairs():
        seeds = tuple(s for s in plan.seeds_of(family)
                      if usable(plan.run(family, 0.0, seed=s).key())
                      and usable(plan.run(family, headline_alpha, seed=s).key()))
        if len(seeds) >= min_seeds:
            alone = dataclasses.replace(plan, seeds=seeds, family_only_seeds=())
            yield seeds, gain_table(stored.store, alone, 1, defenses=(family,))


def headline_rows(table: pd.DataFrame, alpha: float, with_rob: bool = False) -> pd.DataFrame:
    """Return a gain table's headline rows: A_sa and A_tr at ``alpha`` (and every A_rob row)."""
    keep = (table["alpha_test"] == alpha) & table["metric"].isin(["A_sa", "A_tr"])
    return table[keep | ((table["metric"] == "A_rob") & with_rob)]


def gain_markdown(gains: pd.DataFrame, seeds: str | None = None, name_alpha: bool = False) -> str:
    """Return gain rows as a Markdown table: comparison, metric (with its alpha_test when
    ``name_alpha``), the ``seeds`` column when named, the paper's gain, ours with its interval,
    and whether they agree in direction and size."""
    head = ["comparison", "metric"] + ([seeds] if seeds else []) + [
        "paper's gain", "our gain [interval]", "verdict (claim)", "same direction?",
        "size vs the paper's"]
    rows = []
    for _, r in gains.iterrows():
        metric = r["metric"] + (f" at α_test {r['alpha_test']:g}"
                                if name_alpha and pd.notna(r["alpha_test"]) else "")
        cells = [f"{r['family']}+ours (α_train {r['alpha_train']:g})", metric] \
            + ([str(r[seeds])] if seeds else []) + [
            f"{r['paper gain']:+.2f}", f"{r['our gain']:+.2f} {r['interval']}",
            f"{r['verdict']} ({r['claim']})" if r.get("claim") else "–",
            DIRECTION_WORDS.get(r["agrees"], r["agrees"]), SIZE_WORDS.get(r["size"], r["size"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + rows)


PLURAL = {"holds": "hold", "does not hold": "do not hold", "inconclusive": "are inconclusive"}


def open_comparisons_note(family: str, frame: pd.DataFrame | None, claim: str = "C2") -> str | None:
    """Say which comparisons keep ``claim`` inconclusive for ``family`` although others hold (a
    conjunction holds only when every comparison does), or None when that is not the case."""
    if frame is None or frame.empty:
        return None
    part = frame[(frame["claim"] == claim) & (frame["family"] == family)
                 & (frame["verdict"] != OUTSIDE)]
    if part.empty or combine(part["verdict"]) != "inconclusive":
        return None
    held = int((part["verdict"] == "holds").sum())
    if not held:
        return None
    open_ = part[part["verdict"] == "inconclusive"]
    where = "; ".join(f"{c.split(': ', 1)[-1]} {lo:+.2f} to {hi:+.2f}" for c, lo, hi in
                      zip(open_["comparison"], open_["interval_low"], open_["interval_high"]))
    return (f"{claim} stays inconclusive: {held} of the family's {len(part)} {claim} comparisons "
            f"hold, but a claim made at every α_test needs all of them, and the 95 % "
            f"interval{'s' if len(open_) > 1 else ''} of the other{'s' if len(open_) > 1 else ''} "
            f"still contain{'' if len(open_) > 1 else 's'} {part['threshold'].iloc[0]:g} ({where})")


def _family_line(family: str, claims: pd.DataFrame | None, gains: pd.DataFrame,
                 alpha: float, collapsed: list[str], paper: str = "the paper's",
                 name: str = "", frame: pd.DataFrame | None = None) -> str:
    """Return the bottom line's sentence on one defense family: its claims' verdicts and its
    headline A_sa gain with interval beside the paper's (``paper`` names that gain), and why C2
    is inconclusive where its intervals alone would clear 0 (``frame``: the comparisons)."""
    words = []
    if claims is not None:
        column = f"{family} family"
        tally = _tally(claims, column, judged_only=True)
        held = [c for c, v in zip(claims["claim"], claims[column]) if v in ("holds", "does not hold")]
        words.append(f"of the claims judged on it, {tally}"
                     + (f" ({', '.join(f'{c} {v}' for c, v in zip(claims['claim'], claims[column]) if c in held)})"
                        if held else ""))
    row = gains[(gains["family"] == family) & (gains["metric"] == "A_sa")]
    r = None if row.empty else row.iloc[0]
    if r is not None and r["agrees"] == NOT_JUDGED:
        words.append(f"the weighting (α_train {r['alpha_train']:g}) changes A_sa at α_test "
                     f"{alpha:g} by {r['our gain']:+.2f} pp on one seed (the test sample alone "
                     f"gives {r['interval']}; {paper} is {r['paper gain']:+.2f}), not judged "
                     "until a second seed gives the seed error")
    elif r is not None:
        ratio = r["our gain"] / r["paper gain"] if r["paper gain"] else float("nan")
        size = {"smaller than the paper's": f"smaller than {paper} {r['paper gain']:+.2f}"
                + (f" (about {ratio:.0%} of it)" if 0 < ratio < 1 else ""),
                "larger than the paper's": f"larger than {paper} {r['paper gain']:+.2f}",
                }.get(r["size"], f"an interval that contains {paper} {r['paper gain']:+.2f}")
        sure = {"yes": "in the paper's direction", "no": "against the paper's direction",
                "inconclusive": "too uncertain to give a direction"}[r["agrees"]]
        words.append(f"the weighting (α_train {r['alpha_train']:g}) changes A_sa at α_test "
                     f"{alpha:g} by {r['our gain']:+.2f} pp {r['interval']}: {sure}, {size}")
    note = open_comparisons_note(family, frame)
    if note:
        words.append(note)
    if collapsed:
        words.append(f"{len(collapsed)} of its runs collapsed in training ({', '.join(collapsed)}); "
                     f"{'they stay' if len(collapsed) > 1 else 'it stays'} in the means and widen"
                     f"{'' if len(collapsed) > 1 else 's'} the intervals")
    return f"**{name}{family} family:** " + "; ".join(words) + "."


def rule_change_sentence(h: dict) -> str | None:
    """Return the sentence that names the verdicts (claim and family) that the analysis plan of
    2026-12-07 changed against the rule used until then, or None without comparisons."""
    frame = h.get("comparisons")
    if frame is None or frame.empty:
        return None
    change = verdict_change(frame)
    moved = change[change["until 2026-12-07"] != change["analysis plan"]]
    name = DATASET_NAMES[h["dataset"]]
    head = (f"Verdicts follow the [analysis plan](analysis_plan.md) (2026-12-07): a claim made at "
            "every α_test, model or ρ holds when each of its comparisons holds, with no "
            "correction, which only \"does not hold\" needs; C6 is judged at ρ > 0, as the "
            "paper states it.")
    if moved.empty:
        return head + f" No {name} verdict changed with that rule."
    listed = "; ".join(f"{r['claim']} {r['family']}: {r['until 2026-12-07']} → {r['analysis plan']}"
                       for _, r in moved.iterrows())
    return head + f" {name} verdicts it changed (before → now): {listed}."


def _tally(claims: pd.DataFrame, column: str = "verdict", judged_only: bool = False) -> str:
    """Return e.g. "1 holds, 0 do not hold, 5 are inconclusive, 1 is not evaluated"; with
    ``judged_only``, the three verdicts that occur, e.g. "2 hold, 1 does not hold"."""
    counts = claims[column].value_counts()
    main = ("holds", "does not hold", "inconclusive")

    def phrase(n: int, verdict: str) -> str:
        if verdict not in main:
            return f"{n} {'is' if n == 1 else 'are'} {verdict}"
        if n == 1:
            return f"1 {'is inconclusive' if verdict == 'inconclusive' else verdict}"
        return f"{n} {PLURAL[verdict]}"

    shown = [phrase(int(counts.get(v, 0)), v) for v in main if counts.get(v, 0) or not judged_only]
    if not judged_only:
        shown += [phrase(int(n), v) for v, n in counts.items() if v not in main]
    return ", ".join(shown)


def dataset_lines(h: dict) -> list[str]:
    """Return the bottom line's paragraphs on a dataset the paper did not run (Fashion-MNIST):
    its scale and claims' tally, then per family the verdicts and the headline gain beside the
    paper's MNIST gain (context only); or one line saying that nothing is stored yet."""
    name = DATASET_NAMES[h["dataset"]]
    if h.get("profile") is None:
        done, total = h.get("progress", (0, 0))
        if not total:
            return []
        return [f"**{name}:** not judged yet: {done} of its {total} models are trained and "
                "evaluated (they are trained after the MNIST headline seeds)."]
    claims = h.get("claims")
    head = (f"**{name}** (ε {h['eps']:g}; {count(h['epochs'], 'epoch')}, {h['seeds_text']}, "
            f"{h['eval_size']:,} test images"
            + (f"; partial: {h['jobs_done']} of {h['jobs']} models" if h["source"].partial else "")
            + f"). The paper has no {name} results, so its MNIST gain is context, not a target."
            + (f" Of the {len(claims)} claims, {_tally(claims)} on these models." if claims is not None else "")
            + (" With one seed per model the seed error is unknown, so no comparison is judged "
               "yet: every interval here covers the test sample only." if h["seed_error_unknown"] else ""))
    lines = [head]
    for family in ("PGD", "TRADES"):
        lines.append(_family_line(family, claims, h["gains"], h["alpha_test"],
                                  (h.get("collapsed families") or {}).get(family, []),
                                  paper="the paper's MNIST gain", name=f"{name}, ",
                                  frame=h.get("comparisons")))
    return lines


def bottom_line(h: dict, *others: dict) -> str:
    """Return the landing page's opening lines (markdown): per defense family what holds, what
    does not and how sure we are, with the headline gain and its interval; then the same for
    each other dataset (``others``: :func:`headline` of it), how much the paper's attack
    overstates robustness, and whether older code computed any result shown."""
    if h.get("profile") is None:
        return ""
    claims = h.get("claims")
    lines = [f"**Bottom line** (MNIST; SmallCNNs trained {count(h['epochs'], 'epoch')}, {h['seeds_text']}, "
             f"{h['eval_size']:,} test images; brackets: {INTERVAL})."]
    if claims is not None:
        lines.append(f"Of the paper's {len(claims)} claims, {_tally(claims)} on these models.")
        change = rule_change_sentence(h)
        if change:
            lines.append(change)
    for family in ("PGD", "TRADES"):
        lines.append(_family_line(family, claims, h["gains"], h["alpha_test"],
                                  (h.get("collapsed families") or {}).get(family, []),
                                  frame=h.get("comparisons")))
    so_far = so_far_sentence(h)
    if so_far:
        lines.append(so_far)
    for other in others:
        lines += dataset_lines(other)
    gap = h.get("overstatement")
    if gap is not None and not gap.empty:
        lines.append("**The paper's attack overstates robustness here:** standard AutoAttack "
                     "finds A_rob lower than 40-step PGD does by " + "; ".join(
                         f"{r['min']:.1f}–{r['max']:.1f} pp (mean {r['mean']:.1f}) on the "
                         f"{r['family']} family's {r['models']} models" for _, r in gap.iterrows())
                     + " ([Is the robustness real?](../notebooks/robustness.ipynb)).")
    stale = h["source"].stale if h.get("source") is not None else 0
    code = (f"**Code versions:** {stale} of the {h['models']} models shown were trained or "
                 "evaluated by code that has changed since in a way that can move numbers (changes "
                 "known to leave numbers unchanged are not counted); their provenance tables name "
                 "the changed modules." if stale else
                 "**Code versions:** every result shown was computed by the current training, "
                 "attack and evaluation code.")
    return " ".join(lines[:2]) + "\n\n" + "\n\n".join(lines[2:] + [code])


def build_stamp() -> str:
    """Return the line that dates this build: the commit of the code and results, and the date."""
    commit = git_commit()
    dirty = (" (not a git checkout)" if commit == "unknown" else
             " with uncommitted changes" if commit.endswith("-dirty") else "")
    return (f"*Built from commit `{commit[:12]}`{dirty} on "
            f"{datetime.date.today().isoformat()}; every number is recomputed from the stored "
            "results at each build.*")


def citation() -> str:
    """Return the BibTeX of the paper and of this companion (the repository's CITATION.bib)."""
    return (paths.REPO_ROOT / "CITATION.bib").read_text()


def headline_text(h: dict) -> str:
    """Return the landing page's first paragraphs (markdown) from :func:`headline`."""
    if h.get("profile") is None:
        return ("No MNIST results are stored yet: run `python -m wmrlib reproduce --profile cpu` "
                "(see *How we reproduce*).")
    lines = [f"**What we reproduced.** The MNIST experiments (Tables 1, 6 and 10, and MNIST "
             f"analogs of Tables 7–9 and Figures 3–7), with SmallCNN models trained for "
             f"**{count(h['epochs'], 'epoch')}** instead of the paper's 100, "
             f"evaluated by 40-step PGD on **{h['eval_size']:,} fixed test images** "
             f"(the paper: all 10,000), with **{h['seeds_text']}** of "
             f"the two headline comparisons (profile `{h['profile']}`)."]
    if h["profile"] != "cpu":
        lines.append(f"These are the earlier {h['epochs']}-epoch models: the new `cpu` "
                     f"models (validation split, a schedule chosen on it) are {h['jobs_done']} of "
                     f"{h['jobs']} trained, and their "
                     "results replace these once the complete new models cover every model shown "
                     "here (as many seeds, both α_train sweeps and the Table 4 analogs), so that "
                     "no table shrinks in between.")
    elif h["source"].partial:
        lines.append(f"**These results are partial.** {h['jobs_done']} of the "
                     f"{h['jobs']} `cpu` models are trained and evaluated; the pages show the models complete so far."
                     + (" With one seed per model the seed error is unknown, so the gains' "
                        "intervals below cover the test sample only and every claim is "
                        "*inconclusive* until the other seeds are trained." if h["seed_error_unknown"] else ""))
    if h.get("collapsed"):
        runs = h["collapsed"]
        lines.append(f"**{count(len(runs), 'stored run')} collapsed in training.** "
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
    lines.append(f"**The headline question: does the weighting help, and by how much?** The gain "
                 f"ours − baseline at α_test = {h['alpha_test']:g} (Table 1), in percentage points; "
                 f"brackets give our {INTERVAL}:\n\n" + gain_markdown(h["gains"]) + "\n\n"
                 + csv_link(h["gains"], "headline-gains"))
    kept = h.get("gains kept")
    if kept is not None and not kept.empty:
        lines.append("**The same gains without the collapsed runs.** A seed at which the baseline "
                     "or the weighted model collapsed in training is left out of that family's "
                     "comparison. This rule was written after the collapses were seen, and the "
                     "collapses were read on test images (the learning-curve subset), so it is a "
                     "secondary analysis beside the table above, not a replacement for it:\n\n"
                     + gain_markdown(kept, seeds="seeds kept") + "\n\n"
                     + csv_link(kept, "headline-gains-without-collapsed-runs"))
    lines += so_far_lines(h)
    return "\n\n".join(lines)


def so_far_sentence(h: dict) -> str:
    """Return the bottom line's sentence on the new campaign's models so far (its headline
    A_sa gain and its A_rob change per family, :func:`campaign_so_far`), or "" without them."""
    so_far = h.get("so far")
    if so_far is None or so_far.empty:
        return ""
    parts = []
    for family, rows in so_far.groupby("family", sort=False):
        sa = rows[rows["metric"] == "A_sa"].iloc[0]
        rob = rows[rows["metric"] == "A_rob"].iloc[0]
        parts.append(f"{family} family ({sa['seeds paired']} seeds paired): A_sa at α_test "
                     f"{sa['alpha_test']:g} {sa['our gain']:+.2f} pp {sa['interval']} (the "
                     f"paper's {sa['paper gain']:+.2f}), A_rob {rob['our gain']:+.2f} pp {rob['interval']}")
    return ("**The new `cpu` models so far** (interim, no verdict drawn; see below): "
            + "; ".join(parts) + ".")


def so_far_lines(h: dict) -> list[str]:
    """Return the landing page's paragraph and table on the new campaign's models so far
    (:func:`campaign_so_far`), or nothing when no family has enough of them."""
    so_far = h.get("so far")
    if so_far is None or so_far.empty:
        return []
    families = sorted(set(so_far["family"]))
    missing = [f for f in ("PGD", "TRADES") if f not in families]
    return [f"**The new `cpu` models so far** (interim: {h['jobs_done']} of {h['jobs']} models "
            "trained and evaluated; a validation split, and a schedule chosen on it: see *How we "
            "reproduce*). The same gains, paired over "
            f"the seeds at which both models of a pair are complete, for the "
            f"{' and '.join(families)} famil{'y' if len(families) == 1 else 'ies'}"
            + (f" ({' and '.join(missing)}: not enough seeds yet)" if missing else "")
            + ". These are reported as they come and no claim is judged on them: the verdicts "
            "on this page stay with the earlier models until the new ones cover the tables.\n\n"
            + gain_markdown(so_far, seeds="seeds paired", name_alpha=True) + "\n\n"
            + csv_link(so_far, "new-models-gains-so-far")]


def gains_without_collapsed(results: str | Path, profile: str = "cpu") -> pd.DataFrame | None:
    """Return the landing page's headline gains (Table 1 at its last alpha_test) recomputed
    without the seeds at which either model of a pair collapsed in training (a rule applied
    after the fact, :mod:`wmrlib.analysis.collapse`), or None when no headline run collapsed.

    A family keeps the seeds at which both its baseline and its headline model are complete and
    neither collapsed; its column ``seeds kept`` lists them.
    """
    stored = results_for(profile, results)
    plan = stored.profile.plan("mnist")
    broken = {plan.run(defense, alpha, seed=seed).key()
              for defense, alpha, seed in collapse_epochs(stored.store, plan)}
    if not broken:
        return None
    parts = [headline_rows(table, plan.alpha_tests[-1])
             .assign(**{"seeds kept": ", ".join(map(str, seeds))})
             for seeds, table in family_gains(
                 stored, plan, lambda key: key in stored.complete and key not in broken)]
    return pd.concat(parts, ignore_index=True) if parts else None
