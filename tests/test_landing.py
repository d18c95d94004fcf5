"""The landing page's interim view of a campaign: the gains of the new models complete so far."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest

from wmrlib.analysis import stats
from wmrlib.analysis.gains import gain_table, seed_error_unknown
from wmrlib.analysis.results import forget
from wmrlib.analysis.tables import model_metrics
from wmrlib.book import words
from wmrlib.analysis.headline import Headline, campaign_so_far
from wmrlib.book.landing import so_far_lines, so_far_sentence
from wmrlib.core.paths import REPO_ROOT
from wmrlib.experiment.profiles import profile
from wmrlib.workflow.store import Store

SMOKE = REPO_ROOT / "results" / "smoke"


def test_a_familys_gain_table_equals_its_rows_of_the_whole_table():
    plan = profile("smoke").plan("mnist")
    store = Store(SMOKE, readonly=True, progress=False)
    whole = gain_table(store, plan, 1)
    trades = gain_table(store, plan, 1, defenses=("trades",))
    assert set(trades["family"]) == {"TRADES"}
    pd.testing.assert_frame_equal(trades, whole[whole["family"] == "TRADES"].reset_index(drop=True))


def test_the_seed_error_is_unknown_only_when_no_comparison_has_a_second_seed():
    """With both smoke seeds every gain has a seed error; with seed 0 alone and nothing to pool
    every gain is 'not judged', and the landing's one-seed sentence reads that off the table."""
    plan = profile("smoke").plan("mnist")
    store = Store(SMOKE, readonly=True, progress=False)
    both = gain_table(store, plan, 1)
    alone = gain_table(store, dataclasses.replace(plan, seeds=(0,), family_only_seeds=()), 1)
    assert not seed_error_unknown(both) and stats.NOT_JUDGED not in set(both["agrees"])
    assert seed_error_unknown(alone) and set(alone["agrees"]) <= {stats.NOT_JUDGED, "–"}
    assert not seed_error_unknown(alone.iloc[:0])
    mixed = pd.concat([alone[alone["family"] == "PGD"], both[both["family"] == "TRADES"]])
    assert not seed_error_unknown(mixed)


def test_interim_gains_are_paired_means_over_the_complete_seeds_only(tmp_path):
    """Independent reference: each stored model's metrics, differenced per seed by hand. With one
    seed of PGD+ours missing, the PGD family (one paired seed left) is not shown at all."""
    shutil.copytree(SMOKE, tmp_path / "smoke")
    plan = profile("smoke").plan("mnist")
    store = Store(tmp_path / "smoke", readonly=True, progress=False)
    alpha = plan.alpha_tests[-1]
    expected = {}
    for family, headline in plan.headline_pairs():
        for metric, column in (("A_sa", "a_sa"), ("A_rob", "a_rob")):
            diffs = [model_metrics(store, plan, plan.run(family, headline, seed=s), plan.attack, alpha)[column]
                     - model_metrics(store, plan, plan.run(family, 0.0, seed=s), plan.attack, alpha)[column]
                     for s in plan.seeds]
            expected[(family.upper(), metric)] = np.mean(diffs)
    shutil.rmtree(store.root / "runs" / plan.run("pgd", 0.5, seed=1).key())
    forget()
    try:
        so_far = campaign_so_far(tmp_path, "smoke")
    finally:
        forget()
    assert set(so_far["family"]) == {"TRADES"} and set(so_far["seeds paired"]) == {"2 of 2"}
    for metric in ("A_sa", "A_rob"):
        row = so_far[so_far["metric"] == metric].iloc[0]
        assert abs(row["our gain"] - expected[("TRADES", metric)]) < 1e-9
    assert set(so_far.loc[so_far["metric"] != "A_rob", "alpha_test"]) == {alpha}


def test_the_interim_paragraph_names_the_family_still_missing_and_draws_no_verdict():
    row = {"family": "TRADES", "alpha_train": 2.0, "alpha_test": 2.0, "metric": "A_sa",
           "paper gain": 14.56, "our gain": 3.56, "interval": "[+0.76, +6.37]", "agrees": "yes",
           "size": "smaller than the paper's", "seeds paired": "4 of 5"}
    rob = row | {"alpha_test": None, "metric": "A_rob", "paper gain": -0.39, "our gain": -0.2,
                 "interval": "[-2.08, +1.68]", "agrees": "inconclusive",
                 "size": "consistent with the paper's size"}
    h = Headline(dataset="mnist", requested="cpu", jobs_done=10, jobs=40,
                 so_far=pd.DataFrame([rob, row]))
    text = "\n".join(so_far_lines(h))
    assert "interim: 10 of 40 models" in text and "TRADES family (PGD: not enough seeds yet)" in text
    assert "| TRADES+ours (α_train 2) | A_sa at α_test 2 | 4 of 5 | +14.56 | +3.56 [+0.76, +6.37] | – | yes |" in text
    assert "| TRADES+ours (α_train 2) | A_rob | 4 of 5 | -0.39 | -0.20 [-2.08, +1.68] |" in text
    assert "no claim is judged on them" in text
    assert so_far_lines(Headline(dataset="mnist", so_far=None)) == []
    assert so_far_sentence(h) == (
        "**The new `cpu` models so far** (interim, no verdict drawn; see below): TRADES family "
        "(4 of 5 seeds paired): A_sa at α_test 2 +3.56 pp [+0.76, +6.37] (the paper's +14.56), "
        "A_rob -0.20 pp [-2.08, +1.68].")
    assert so_far_sentence(Headline(dataset="mnist")) == ""


def test_a_familys_own_seeds_are_paired_in_its_gains_and_the_other_family_keeps_its_seeds():
    """A cut plan with the TRADES pair one seed ahead: TRADES's gains equal those of the plan
    with both seeds, PGD's those of the first seed alone."""
    from wmrlib.analysis.results import results_for
    from wmrlib.analysis.headline import family_gains

    full = profile("smoke").plan("mnist")
    stored = results_for("smoke", REPO_ROOT / "results")
    ahead = dataclasses.replace(full, seeds=full.seeds[:1],
                                family_only_seeds=(("trades", full.seeds[1]),))
    got = dict((seeds, table) for seeds, table in family_gains(stored, ahead, lambda key: True))
    assert set(got) == {full.seeds[:1], full.seeds}
    pd.testing.assert_frame_equal(got[full.seeds], gain_table(stored.store, full, 1, defenses=("trades",)))
    pd.testing.assert_frame_equal(got[full.seeds[:1]], gain_table(
        stored.store, dataclasses.replace(full, seeds=full.seeds[:1]), 1, defenses=("pgd",)))


def _c2_rows(family: str, lows: list[float], verdicts: list[str], df: float = 4.0) -> list[dict]:
    return [{"claim": "C2", "family": family, "op": ">", "threshold": 0.0, "interval_low": low,
             "interval_high": low + 3.0, "comparison": f"ours − base: A_sa at α_test {i}",
             "verdict": verdict, "df": df} for i, (low, verdict) in enumerate(zip(lows, verdicts))]


def test_the_bottom_line_says_which_comparisons_keep_c2_inconclusive():
    """A conjunction holds only when every comparison does: a family whose C2 comparisons
    partly hold gets a sentence naming the ones whose intervals still contain 0; a family where
    C2 holds, or where none holds, gets none."""
    from wmrlib.book.landing import _family_line, open_comparisons_note

    frame = pd.DataFrame(
        _c2_rows("PGD", [7.1, 6.8, 2.0, 1.5, -0.3, 0.4], ["holds"] * 4 + ["inconclusive", "holds"])
        + _c2_rows("TRADES", [1.5, -0.8, 0.2, 0.1, 0.3, 0.9], ["holds", "inconclusive"] + ["holds"] * 4)
        + [{"claim": "C3", "family": "PGD", "op": "within", "threshold": 1.0, "interval_low": 0.5,
            "interval_high": 0.9, "comparison": "x", "verdict": "inconclusive", "df": 4.0}])
    assert open_comparisons_note("PGD", frame) == (
        "C2 stays inconclusive: 5 of the family's 6 C2 comparisons hold, but a claim made at "
        "every α_test needs all of them, and the 95 % interval of the other still contains 0 "
        "(A_sa at α_test 4 -0.30 to +2.70)")
    assert open_comparisons_note("TRADES", frame).startswith("C2 stays inconclusive: 5 of the family's 6")
    every = frame.assign(verdict="holds")
    assert open_comparisons_note("PGD", every) is None                   # C2 holds: nothing to explain
    assert open_comparisons_note("PGD", frame.assign(verdict="inconclusive")) is None  # none holds
    assert open_comparisons_note("PGD", None) is None and open_comparisons_note("PGD", frame.iloc[:0]) is None
    gains = pd.DataFrame([{"family": "PGD", "alpha_train": 0.5, "metric": "A_sa",
                           "paper gain": 9.64, "our gain": 10.86, "interval": "[+7.09, +14.63]",
                           "agrees": "yes", "size": "consistent with the paper's size"}])
    claims = pd.DataFrame({"claim": ["C2"], "verdict": ["inconclusive"],
                           "PGD family": ["inconclusive"], "TRADES family": ["inconclusive"]})
    line = _family_line("PGD", claims, gains, 2.0, [], frame=frame)
    assert line.endswith("contains the paper's +9.64; " + open_comparisons_note("PGD", frame) + ".")
    assert "stays inconclusive" not in _family_line("PGD", claims, gains, 2.0, [])
    # One seed, nothing to pool (df 0): nothing is judged, so no comparison holds, and the gain
    # is given on its one seed without a direction or size verdict.
    one_seed = pd.DataFrame(_c2_rows("PGD", [7.1, 6.8, 2.0, 1.5, 0.3, 0.4], ["inconclusive"] * 6, df=0.0))
    assert open_comparisons_note("PGD", one_seed) is None
    unjudged = gains.assign(agrees=stats.NOT_JUDGED, size=stats.NOT_JUDGED)
    line = _family_line("PGD", claims, unjudged, 2.0, [], frame=one_seed)
    assert "+10.86 pp on one seed (the test sample alone gives [+7.09, +14.63]" in line
    assert "not judged until a second seed" in line and "direction" not in line


def test_the_verdict_history_labels_each_profile_by_its_schedule_and_seeds(tmp_path):
    """Two 5-epoch profiles differ by their training attack: each column names its epochs, its
    training attack's steps and its seeds, and a campaign's complete part says it is partial."""
    from wmrlib.book.sources import Source
    from wmrlib.book.views import schedule_label, verdicts_by_profile

    plan = profile("cpu").plan("mnist")
    store = Store(tmp_path, readonly=True)
    assert schedule_label(Source("mnist", "cpu", plan, store)) == (
        f"our 5-epoch models ({plan.base.attack_steps}-step training attack, 5 seeds)")
    cut = dataclasses.replace(plan, seeds=(0, 1, 2), family_only_seeds=(("trades", 3), ("trades", 4)))
    assert schedule_label(Source("mnist", "cpu", cut, store, partial=True)) == (
        f"our 5-epoch models ({plan.base.attack_steps}-step training attack, 3 seeds (the TRADES "
        "pair 5); partial)")
    five = profile("cpu-5epoch").plan("mnist")
    assert schedule_label(Source("mnist", "cpu-5epoch", five, store)) == (
        f"the earlier 5-epoch models ({five.base.attack_steps}-step training attack, 3 seeds)")
    smoke = profile("smoke").plan("mnist")
    history = verdicts_by_profile("mnist", ["smoke"], results=REPO_ROOT / "results")
    label = schedule_label(Source("mnist", "smoke", smoke, Store(SMOKE, readonly=True)))
    assert list(history.columns) == ["claim"] + [f"{label}: {c}" for c in
                                                 ("verdict", "PGD family", "TRADES family")]
    assert len(history) == 7


def test_a_page_on_a_dataset_with_no_complete_job_says_so_in_words(tmp_path):
    """Fashion-MNIST before its first job: the note counts its jobs instead of naming the first
    missing evaluation; MNIST, which two profiles cover, still names what each one misses."""
    from wmrlib.book.sources import first_available, profiles_of

    def compute(source):
        return gain_table(source.store, source.plan, 1)

    total = len(profile("cpu").plan("fashionmnist").models())
    source, why = first_available("fashionmnist", profiles_of("cpu", None), compute,
                                  results=tmp_path, readonly=True, progress=False)
    assert source is None and why == (
        f"No stored results for this page yet (none of the {total} Fashion-MNIST models (our "
        "5-epoch models) is trained and evaluated yet). Run `python -m wmrlib reproduce --profile cpu` "
        "to compute them.")
    source, why = first_available("mnist", profiles_of("cpu", None), compute,
                                  results=tmp_path, readonly=True, progress=False)
    assert source is None and "(our 5-epoch models: " in why and "; the earlier 5-epoch models (" in why
    # a store inside the repository is named by its relative path, as a reader's clone has it
    never = dataclasses.replace(profile("cpu").plan("mnist"), seeds=tuple(range(20)))  # seed 19
    source, why = first_available("mnist", ["cpu"], lambda s: gain_table(s.store, never, 1),
                                  results=REPO_ROOT / "results", readonly=True, progress=False)
    assert source is None and "is not in results/cpu" in why and str(REPO_ROOT) not in why


@pytest.mark.parametrize("n, noun, plural, expected", [
    (1, "epoch", None, "1 epoch"), (5, "epoch", None, "5 epochs"), (0, "seed", None, "0 seeds"),
    (2, "family", "families", "2 families"), (1, "family", "families", "1 family")])
def test_count_puts_the_noun_in_the_right_number(n, noun, plural, expected):
    assert words.count(n, noun, plural) == expected


def test_tally_counts_verdicts_in_plain_english():
    """The bottom line's tallies agree in number ("1 holds", "2 hold", "1 is inconclusive",
    "11 are inconclusive"); a family's tally shows only the verdicts that occur."""
    from wmrlib.book.landing import _tally

    claims = pd.DataFrame({"verdict": ["holds", "holds", "does not hold"] + ["inconclusive"] * 11
                           + ["not evaluated"]})
    assert _tally(claims) == "2 hold, 1 does not hold, 11 are inconclusive, 1 is not evaluated"
    one = pd.DataFrame({"PGD family": ["holds", "inconclusive", "not evaluated"]})
    assert _tally(one, "PGD family", judged_only=True) == "1 holds, 1 is inconclusive"
    assert _tally(one, "PGD family") == "1 holds, 0 do not hold, 1 is inconclusive, 1 is not evaluated"


def test_the_progress_note_says_per_dataset_which_models_its_pages_show():
    from wmrlib.book import progress_note
    done = progress_note({"mnist": (28, 28), "fashionmnist": (1, 12)})
    assert done.startswith("**29 of 40 campaign jobs are complete.**")
    assert "MNIST: all 28 complete; its pages show these models." in done
    assert "Fashion-MNIST: 1 of 12;" in done and "cpu-5epoch" not in done
    interim = progress_note({"mnist": (10, 28), "fashionmnist": (0, 12)})
    assert "MNIST: 10 of 28. Until they cover every MNIST model of the `cpu-5epoch`" in interim
