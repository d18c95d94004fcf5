"""The landing page in words: the finding first, then the claims' verdicts, what was reproduced,
the limitations and a glossary. Every number comes from :mod:`wmrlib.analysis.headline` (the
typed :class:`~wmrlib.analysis.headline.Headline` of each dataset) and
:mod:`wmrlib.analysis.margins`; this module only writes them as sentences and tables."""
from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd

from ..analysis.claims import verdict_change
from ..analysis.collapse import describe_rule
from ..analysis.headline import (Finding, Headline, LongerTraining, claim_statements, findings,
                                 gains_without_collapsed, headline_gains, headline_profile,
                                 nothing_stored, summarise)
from ..analysis.margins import BaselineConfidence
from ..analysis.stats import INTERVAL, NOT_EVALUATED, NOT_JUDGED, OUTSIDE, combine
from ..core import paths
from ..experiment.registry import FAMILY_NAMES, Defense, family_name
from ..analysis.records import git_commit
from .display import csv_link
from .finding import trades_words
from .sources import DATASET_NAMES, first_available, profiles_of, seeds_text
from .views import DIRECTION_WORDS, SIZE_WORDS
from .words import count

GLOSSARY = "#glossary"  # the landing page's glossary (its MyST label), linked from first uses
TRADES_SECTION = "#trades-baseline"  # the Claims page's section on the TRADES baseline
BUDGET_PAGE = "../notebooks/budget.ipynb"  # the page that sets both training budgets side by side


def headline(results: str | Path, profile: str = "cpu", dataset: str = "mnist") -> Headline:
    """Return the :class:`~wmrlib.analysis.headline.Headline` of one dataset: of the first of
    ``profile`` and its predecessors with real-data results (the pages' choice of source), or of
    its longer-trained counterpart once that is complete (:func:`headline_profile`)."""
    shown = headline_profile(profile, dataset, results)
    source, gains = first_available(dataset, profiles_of(shown, None), headline_gains,
                                    results=results, readonly=True, progress=False)
    if source is None or source.synthetic:
        return nothing_stored(dataset, profile, results)
    return summarise(source, gains, requested=shown, results=results,
                     shorter=profile if shown != profile else None)


def glossed(term: str) -> str:
    """Return ``term`` linked to the landing page's glossary (MyST)."""
    return f"[{term}]({GLOSSARY})"


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


def rule_change_sentence(h: Headline) -> str | None:
    """Return the sentence that names the verdicts (claim and family) that the analysis plan of
    2026-12-07 changed against the rule used until then, or None without comparisons."""
    frame = h.comparisons
    if frame is None or frame.empty:
        return None
    change = verdict_change(frame)
    moved = change[change["until 2026-12-07"] != change["analysis plan"]]
    name = DATASET_NAMES[h.dataset]
    head = (f"Verdicts follow the [analysis plan](analysis_plan.md) (2026-12-07): a claim made at "
            "every α_test, model or ρ holds when each of its comparisons holds, with no "
            "correction, which only \"does not hold\" needs; C6 is judged at ρ > 0, as the "
            "paper states it.")
    if moved.empty:
        return head + f" No {name} verdict changed with that rule."
    listed = "; ".join(f"{r['claim']} {r['family']}: {r['until 2026-12-07']} → {r['analysis plan']}"
                       for _, r in moved.iterrows())
    return head + f" {name} verdicts it changed (before → now): {listed}."


def budget_change_sentence(h: Headline) -> str | None:
    """Return the sentence naming every claim verdict (per defense family) that changed between
    the shorter budget and the headline's, or None when the headline replaced no shorter one."""
    verdicts = h.budget_verdicts
    if h.shorter is None or verdicts is None:
        return None
    short, long = h.shorter_epochs, h.epochs
    link = f"[the budget page]({BUDGET_PAGE})"
    changed = verdicts[verdicts["changed"]]
    compared = int(verdicts["judged"].sum())
    if changed.empty:
        return (f"No verdict changed between our {short}-epoch and {long}-epoch models "
                f"({compared} claim verdicts per family compared; {link}).")
    parts = [f"{r.claim} for the {r.family} family ({r.short} at {short} epochs, {r.long} at "
             f"{long})" for r in changed.itertuples()]
    return (f"With {long} epochs instead of {short}, {len(changed)} of {compared} claim verdicts "
            f"per family changed: {'; '.join(parts)} ({link}).")


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


def dataset_lines(h: Headline) -> list[str]:
    """Return the bottom line's paragraphs on a dataset the paper did not run (Fashion-MNIST):
    its scale and claims' tally, then per family the verdicts and the headline gain beside the
    paper's MNIST gain (context only); or one line saying that nothing is stored yet."""
    name = DATASET_NAMES[h.dataset]
    if not h.stored:
        done, total = h.progress
        if not total:
            return []
        return [f"**{name}:** not judged yet: {done} of its {total} models are trained and "
                "evaluated (they are trained after the MNIST headline seeds)."]
    claims = h.claims
    head = (f"**{name}** (ε {h.eps:g}; {count(h.epochs, 'epoch')}, {seeds_text(h.plan)}, "
            f"{h.test_images:,} test images"
            + (f"; partial: {h.jobs_done} of {h.jobs} models" if h.partial else "")
            + f"). The paper has no {name} results, so its MNIST gain is context, not a target."
            + (f" Of the {len(claims)} claims, {_tally(claims)} on these models." if claims is not None else "")
            + (" With one seed per model the seed error is unknown, so no comparison is judged "
               "yet: every interval here covers the test sample only." if h.seed_error_unknown else ""))
    lines = [head]
    for family in FAMILY_NAMES:
        lines.append(_family_line(family, claims, h.gains, h.alpha_test,
                                  h.collapsed_families.get(family, []),
                                  paper="the paper's MNIST gain", name=f"{name}, ",
                                  frame=h.comparisons))
    return lines


# --- the finding, first -----------------------------------------------------------------------

DEFENSE_LABELS = {Defense.PGD: "PGD-AT", Defense.TRADES: "TRADES"}  # the baselines in prose
C2_WORDS = {"holds": "C2 holds", "does not hold": "C2 does not hold",
            "inconclusive": "C2 stays inconclusive", NOT_EVALUATED: "C2 is not evaluated"}


def _paper(f: Finding) -> str:
    return "the paper's MNIST gain" if f.paper_context else "the paper's"


def gain_words(f: Finding) -> str:
    """Return one family's headline gain in words: by how much, how sure (its interval), and
    beside the paper's gain, e.g. "+11.06 pp [+9.33, +12.79], in line with the paper's +9.64"."""
    gain = f"**{f.gain:+.2f} pp** {f.interval}"
    paper = f"{_paper(f)} {f.paper_gain:+.2f}"
    if f.agrees == NOT_JUDGED:
        return f"{gain} on one seed, not judged yet ({paper})"
    if f.agrees == "inconclusive":
        return f"{gain}, no clear direction (the interval contains 0; {paper})"
    if f.agrees == "no":
        return f"{gain}, against the direction of {paper}"
    if f.size == "smaller than the paper's":
        share = f"about {f.ratio:.0%} of" if 0 < f.ratio < 1 else "less than"
        return f"{gain}, {share} {paper}".replace("%", " %")
    if f.size == "larger than the paper's":
        return f"{gain}, more than {paper}"
    return f"{gain}, in line with {paper}"


def _verb(f: Finding) -> str:
    """Return "raises", "lowers" or "changes": what the gain shows of the weighting's direction."""
    if f.agrees in ("yes", "no") and f.gain:
        return "raises" if f.gain > 0 else "lowers"
    return "changes"


def lead(h: Headline, *others: Headline) -> str:
    """Return the landing page's first paragraph (markdown): per dataset and defense family, what
    the weighting gains in A_sa at the largest α_test, with its 95 % interval, beside the
    paper's gain, and the verdict of C2 (ours beats the baseline at every α_test); first uses
    link to the glossary."""
    if not h.stored:
        return ""
    sentences = []
    for i, head in enumerate((h, *others)):
        found = {f.family: f for f in findings(head, ("A_sa",))}
        name = DATASET_NAMES[head.dataset]
        if not found:
            done, total = head.progress
            if total:
                sentences.append(f"{name} is not judged yet ({done} of its {total} models are "
                                 "trained and evaluated).")
            continue
        pgd, trades = (found.get(family_name(d)) for d in (Defense.PGD, Defense.TRADES))
        if i == 0:
            if pgd is not None:
                budget = f" (our {head.epochs}-epoch models)" if head.epochs else ""
                if head.shorter:
                    budget = (f" (our {head.epochs}-epoch models, MNIST's headline since all of "
                              f"them finished; [the budget page]({BUDGET_PAGE}) sets them "
                              f"beside the {head.shorter_epochs}-epoch ones)")
                sentences.append(
                    f"On {name}{budget}, weighting each training example by its vulnerability {_verb(pgd)} the "
                    f"PGD family's {glossed('A_sa')} (accuracy against an attacker who picks "
                    f"vulnerable test points) at {glossed('α_test')} {pgd.alpha_test:g} by "
                    f"{gain_words(pgd)}; the paper's claim that the weighting helps at every "
                    f"α_test ({glossed('C2')}) {C2_WORDS.get(pgd.c2, pgd.c2).removeprefix('C2 ')} "
                    "for this family.")
            if trades is not None:
                sentences.append(
                    f"The TRADES family's gain is {gain_words(trades)}, and "
                    f"{C2_WORDS.get(trades.c2, trades.c2)} for it "
                    f"([the TRADES baseline's margins]({TRADES_SECTION})).")
        else:
            parts = [f"the {f.family} family's gain is {gain_words(f)}, and "
                     f"{C2_WORDS.get(f.c2, f.c2)} for it" for f in (pgd, trades) if f is not None]
            sentences.append(f"On {name}, which the paper did not run, " + "; ".join(parts) + ".")
    return ("**Bottom line.** " + " ".join(sentences)
            + " Brackets: 95 % intervals over seeds and test images; pp: percentage points.")


def bottom_line(h: Headline, *others: Headline, confidence: BaselineConfidence | None = None) -> str:
    """Return the landing page's lines after the finding (:func:`lead`) and its figure
    (markdown): the claims' tally and the rule that judged them, per defense family what holds,
    what does not and how sure we are (the TRADES family with its baseline's margins, from
    ``confidence``), then the same for each other dataset (``others``), and whether older code
    computed any result shown."""
    if not h.stored:
        return ""
    claims = h.claims
    lines = [f"**The paper's claims** ({DATASET_NAMES[h.dataset]}; SmallCNNs trained "
             f"{count(h.epochs, 'epoch')}, {seeds_text(h.plan)}, {h.test_images:,} test images; "
             f"brackets: {INTERVAL})."]
    if claims is not None:
        lines.append(f"Of the paper's {len(claims)} {glossed('claims')}, {_tally(claims)} on "
                     "these models.")
        change = rule_change_sentence(h)
        if change:
            lines.append(change)
        budget = budget_change_sentence(h)
        if budget:
            lines.append(budget)
    for family in FAMILY_NAMES:
        lines.append(_family_line(family, claims, h.gains, h.alpha_test,
                                  h.collapsed_families.get(family, []), frame=h.comparisons))
    story = trades_words(confidence, link=TRADES_SECTION)
    if story:
        lines.append("**The TRADES baseline.** " + story)
    so_far = so_far_sentence(h)
    if so_far:
        lines.append(so_far)
    for other in others:
        lines += dataset_lines(other)
    code = (f"**Code versions:** {h.stale} of the {h.models} models shown were trained or "
            "evaluated by code that has changed since in a way that can move numbers (changes "
            "known to leave numbers unchanged are not counted); their provenance tables name "
            "the changed modules." if h.stale else
            "**Code versions:** every result on this page was computed by the current "
            "training, attack and evaluation code (pages that also show the earlier models say "
            "how many of those older code computed).")
    return " ".join(lines[:2]) + "\n\n" + "\n\n".join(lines[2:] + [code])


def limitations(h: Headline, longer: LongerTraining | None = None) -> str:
    """Return the landing page's *Limitations* (markdown bullets): the training budget (and where
    the longer-budget models stand), 40-step PGD against AutoAttack, the test-set size, and what
    was not reproduced."""
    items = []
    if h.stored:
        budget = (f"**Training budget.** Our SmallCNNs are trained for {count(h.epochs, 'epoch')}, "
                  + (f"the paper's for {longer.paper_epochs}" if longer else "the paper's far longer")
                  + ", so our absolute "
                  "accuracies are not the paper's, and a gain may grow or shrink with longer "
                  "training; the verdicts test the paper's comparisons at our scale.")
        if longer is not None:
            test = ("all " + f"{longer.test_size:,}" if longer.eval_size is None
                    else f"{longer.eval_size:,}")
            test = f"{test} test images"
            models = (f"the four headline models {'were' if longer.complete else 'are being'} "
                      f"trained for {count(longer.epochs, 'epoch')} "
                      f"({count(longer.seeds, 'seed')} each, evaluated on {test})")
            if longer.complete and h.shorter:
                budget += (f" The other MNIST pages use our {h.shorter_epochs}-epoch models, the "
                           f"only ones with the α_train and ε sweeps; [the budget page]"
                           f"({BUDGET_PAGE}) asks whether the budget explains the gaps.")
            elif longer.complete:
                budget += (f" To test whether the budget explains the gaps, {models}: all "
                           f"{longer.total} are done, and [the budget page]({BUDGET_PAGE}) "
                           "sets both training budgets side by side.")
            elif longer.started:
                budget += (f" To test whether the budget explains the gaps, {models}: "
                           f"{longer.done} of the {longer.total} are done; [the budget page]"
                           f"({BUDGET_PAGE}) shows them as they finish, and MNIST's headline "
                           "moves to them once all are.")
            else:
                budget += (f" To test whether the budget explains the gaps, {models}; none of "
                           f"the {longer.total} is finished yet, and [the budget page]"
                           f"({BUDGET_PAGE}) follows their training epoch by epoch.")
        items.append(budget)
        gap = h.overstatement
        if gap is not None and not gap.empty:
            items.append(
                "**40-step PGD, not AutoAttack.** Every number above comes from 40-step PGD, "
                "the paper's attack, and it overstates robustness here: standard AutoAttack finds "
                "A_rob lower by " + "; ".join(
                    f"{r['min']:.1f}–{r['max']:.1f} pp (mean {r['mean']:.1f}) on the "
                    f"{r['family']} family's {r['models']} models" for _, r in gap.iterrows())
                + (f", on {h.checked_size:,} test images" if h.checked_size else "")
                + ". [Is the robustness real?](../notebooks/robustness.ipynb) judges C2 and C3 "
                "again under AutoAttack.")
        else:
            done, total = h.checked
            items.append("**40-step PGD, not AutoAttack.** Every number above comes from 40-step "
                         "PGD, the paper's attack; no number here is checked with AutoAttack yet"
                         + (f" ({done} of its {total} models are checked)" if total else "") + ".")
        if h.eval_size and h.test_size and h.eval_size < h.test_size:
            items.append(f"**Test-set size.** The main attack runs on {h.eval_size:,} of the "
                         f"{h.test_size:,} {DATASET_NAMES[h.dataset]} test images (the same fixed "
                         "images for every model; the paper used all of them); every interval "
                         "includes this test-sample variance.")
    items.append("**What we did not reproduce.** CIFAR-10 and Tiny ImageNet (Tables 2–5, 7–9, "
                 "11–12, Figures 3–4 on CIFAR-10): their files are not available on our machines, "
                 "so those pages show the paper's values only. Table 4's extra baselines "
                 "(Free-AT, YOPO, IAAT) are trained on MNIST only, as analogs of the paper's "
                 "CIFAR-10 rows.")
    return "\n".join(f"* {item}" for item in items)


def glossary(h: Headline, *others: Headline) -> str:
    """Return the landing page's glossary (a Markdown table): the accuracies, the two α, ε (per
    dataset shown), the margin, pp and the claims C1 to C7 (their statements from
    :mod:`wmrlib.analysis.claims`)."""
    radii = ", ".join(f"{DATASET_NAMES[x.dataset]} {x.eps:g}" for x in (h, *others) if x.stored)
    headline = (" and ".join(f"{a:g} for {DEFENSE_LABELS.get(d, d)}" for d, a in h.plan.headline_pairs())
                if h.stored else "")
    terms = [
        ("A_nat", "natural accuracy: the share of clean test images classified correctly."),
        ("A_rob", "robust accuracy against the uniform attacker: the share of test images still "
                  "classified correctly after an unweighted PGD attack (eq. 17)."),
        ("A_sa", "accuracy against the *sampling* attacker: the same attacked images, but each "
                 "counted with the probability s̃ = exp(−α_test·margin), normalised, with which an "
                 "attacker who targets vulnerable points picks it (eq. 18)."),
        ("A_tr", "accuracy against the strongest attacker: as A_sa, but the perturbations come "
                 "from PGD on the weighted loss at the same α_test (eq. 19)."),
        ("α_train", "how strongly training weights vulnerable examples (0: the baseline, PGD-AT "
                    "or TRADES" + (f"; the headline models use {headline}" if headline else "")
                    + ")."),
        ("α_test", "how strongly the attacker concentrates on vulnerable test points (0: "
                   "uniform, A_sa = A_rob; larger: more concentrated)."),
        ("ε", "the radius of the L∞ ball within which each pixel may be perturbed"
              + (f" ({radii})." if radii else ".")),
        ("margin", "the probability of the true class minus the largest other class probability "
                   "on the attacked image (Definition 1): negative when misclassified; the "
                   "weight s = exp(−α·margin) grows as it shrinks."),
        ("pp", "percentage points: the difference of two accuracies in %."),
    ]
    terms += [(claim, text) for claim, text in claim_statements().items()]
    rows = [f"| **{term}** | {text[0].upper() + text[1:]} |" for term, text in terms]
    return "\n".join(["| term | what it means |", "|---|---|"] + rows)


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


def headline_text(h: Headline) -> str:
    """Return the landing page's paragraphs after its introduction (markdown): what was
    reproduced, collapsed runs, the robustness check, and the headline gain table."""
    if not h.stored:
        return ("No MNIST results are stored yet: run `python -m wmrlib reproduce --profile cpu` "
                "(see *How we reproduce*).")
    images = (f"**all {h.test_size:,} test images**, as the paper" if h.eval_size is None else
              f"**{h.eval_size:,} fixed test images** (the paper: all {h.test_size:,})")
    if h.shorter:
        lines = [f"**What we reproduced.** MNIST's headline comparisons (Table 1) come from "
                 f"SmallCNN models trained for **{count(h.epochs, 'epoch')}** instead of the "
                 f"paper's 100, evaluated by 40-step PGD on {images}, with "
                 f"**{seeds_text(h.plan)}** (`{h.profile}` results). The other MNIST experiments "
                 f"(Tables 6 and 10, the α_train sweeps, and MNIST analogs of Tables 7–9 and "
                 f"Figures 3–7) use our {h.shorter_epochs}-epoch models (`{h.shorter}` results), "
                 f"the only ones with those sweeps; [the budget page]({BUDGET_PAGE}) sets the two "
                 "budgets side by side."]
    else:
        lines = [f"**What we reproduced.** The MNIST experiments (Tables 1, 6 and 10, and MNIST "
                 f"analogs of Tables 7–9 and Figures 3–7), with SmallCNN models trained for "
                 f"**{count(h.epochs, 'epoch')}** instead of the paper's 100, "
                 f"evaluated by 40-step PGD on {images}, with **{seeds_text(h.plan)}** of "
                 f"the two headline comparisons (`{h.profile}` results)."]
    if h.shows_predecessor:
        lines.append(f"These are the earlier {h.epochs}-epoch models: the new `{h.requested}` "
                     f"models (validation split, a schedule chosen on it) are {h.jobs_done} of "
                     f"{h.jobs} trained, and their "
                     "results replace these once the complete new models cover every model shown "
                     "here (as many seeds, both α_train sweeps and the Table 4 analogs), so that "
                     "no table shrinks in between.")
    elif h.partial:
        lines.append(f"**These results are partial.** {h.jobs_done} of the "
                     f"{h.jobs} `{h.profile}` models are trained and evaluated; the pages show the models complete so far."
                     + (" With one seed per model the seed error is unknown, so the gains' "
                        "intervals below cover the test sample only and every claim is "
                        "*inconclusive* until the other seeds are trained." if h.seed_error_unknown else ""))
    if h.collapsed:
        runs = h.collapsed
        lines.append(f"**{count(len(runs), 'stored run')} collapsed in training.** "
                     + ", ".join(f"{m} (epoch {e})" for m, e in runs.items())
                     + f": their {describe_rule(h.plan)} during training while "
                     "clean accuracy rose, a model that learned to defeat the short training "
                     "attack instead of resisting attacks. This is a failure of our short schedule "
                     "(see *How we reproduce*), not of either method alone, and such runs are kept "
                     "in every seed mean: that is what the seeds measure.")
    if h.robustness:
        lines.append("**Is the robustness real?** " + h.robustness + " See [Is the robustness "
                     "real?](../notebooks/robustness.ipynb).")
    lines.append(f"**The headline question: does the weighting help, and by how much?** The gain "
                 f"ours − baseline at α_test = {h.alpha_test:g} (Table 1), in percentage points; "
                 f"brackets give our {INTERVAL}:\n\n" + gain_markdown(h.gains) + "\n\n"
                 + csv_link(h.gains, "headline-gains"))
    kept = h.gains_kept
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


def so_far_sentence(h: Headline) -> str:
    """Return the bottom line's sentence on the newer models so far (their headline A_sa gain and
    their A_rob change per family, :func:`wmrlib.analysis.headline.campaign_so_far`), or ""
    without them."""
    so_far = h.so_far
    if so_far is None or so_far.empty:
        return ""
    parts = []
    for family, rows in so_far.groupby("family", sort=False):
        sa = rows[rows["metric"] == "A_sa"].iloc[0]
        rob = rows[rows["metric"] == "A_rob"].iloc[0]
        parts.append(f"{family} family ({sa['seeds paired']} seeds paired): A_sa at α_test "
                     f"{sa['alpha_test']:g} {sa['our gain']:+.2f} pp {sa['interval']} (the "
                     f"paper's {sa['paper gain']:+.2f}), A_rob {rob['our gain']:+.2f} pp {rob['interval']}")
    return (f"**The new `{h.requested}` models so far** (interim, no verdict drawn; see below): "
            + "; ".join(parts) + ".")


def so_far_lines(h: Headline) -> list[str]:
    """Return the landing page's paragraph and table on the newer models so far
    (:func:`wmrlib.analysis.headline.campaign_so_far`), or nothing when no family has enough."""
    so_far = h.so_far
    if so_far is None or so_far.empty:
        return []
    families = sorted(set(so_far["family"]))
    missing = [f for f in FAMILY_NAMES if f not in families]
    return [f"**The new `{h.requested}` models so far** (interim: {h.jobs_done} of {h.jobs} models "
            "trained and evaluated; a validation split, and a schedule chosen on it: see *How we "
            "reproduce*). The same gains, paired over "
            f"the seeds at which both models of a pair are complete, for the "
            f"{' and '.join(families)} famil{'y' if len(families) == 1 else 'ies'}"
            + (f" ({' and '.join(missing)}: not enough seeds yet)" if missing else "")
            + ". These are reported as they come and no claim is judged on them: the verdicts "
            "on this page stay with the earlier models until the new ones cover the tables.\n\n"
            + gain_markdown(so_far, seeds="seeds paired", name_alpha=True) + "\n\n"
            + csv_link(so_far, "new-models-gains-so-far")]
