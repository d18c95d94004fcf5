"""Training collapse: read from the learning curves, hand-computed cases."""
from __future__ import annotations

import dataclasses
import doctest

import pandas as pd
import pytest

from wmrlib.analysis import collapse


def _curves(rob, seed=0, defense="trades", alpha=0.0):
    return pd.DataFrame({"defense": defense, "alpha_train": alpha, "seed": seed,
                         "epoch": range(1, len(rob) + 1), "a_rob": rob})


def test_a_fall_of_more_than_the_threshold_below_the_best_so_far_is_a_collapse():
    curves = pd.concat([_curves([73.2, 40.6, 30.8, 18.4, 18.6], seed=1),   # campaign TRADES seed 1
                        _curves([70.4, 84.4, 86.4, 87.6, 87.2], seed=0),   # campaign TRADES seed 0
                        _curves([80.0, 90.0, 70.0, 75.0], seed=2),         # exactly 20 pp: not yet
                        _curves([80.0, 90.0, 69.9], seed=3)])              # 20.1 pp: collapsed
    found = collapse.collapses(curves).set_index("seed")
    assert found.loc[1, "collapsed"] and found.loc[1, "collapse_epoch"] == 2
    assert found.loc[1, "best_a_rob"] == 73.2 and found.loc[1, "final_a_rob"] == 18.6
    assert not found.loc[0, "collapsed"] and pd.isna(found.loc[0, "collapse_epoch"])
    assert not found.loc[2, "collapsed"]
    assert found.loc[3, "collapsed"] and found.loc[3, "collapse_epoch"] == 3


def test_a_rise_after_a_collapse_keeps_the_first_epoch_it_fell():
    found = collapse.collapses(_curves([60.0, 30.0, 85.0, 40.0]))
    assert found["collapse_epoch"].tolist() == [2] and found["best_a_rob"].tolist() == [85.0]


def test_the_validation_rule_counts_a_fall_of_exactly_its_threshold_the_test_subset_rule_does_not():
    """Quarter-epoch validation curves: 10 pp or more (PROTOCOL.md); 5-epoch test-subset curves:
    more than 20 pp. Both rules read the same falls below the running maximum."""
    quarter = pd.DataFrame({"defense": "trades", "alpha_train": 2.0, "seed": 4,
                            "epoch": [0.25, 0.5, 0.75, 1.0, 1.25],
                            "a_rob": [60.0, 85.0, 80.0, 75.0, 90.0]})      # falls 0, 0, 5, 10, 0
    found = collapse.collapses(quarter, collapse.VALIDATION_RULE).iloc[0]
    assert found["collapsed"] and found["collapse_epoch"] == 1 and found["largest_fall"] == 10.0
    assert not collapse.collapses(quarter, collapse.TEST_SUBSET_RULE).iloc[0]["collapsed"]
    nearly = quarter.assign(a_rob=[60.0, 85.0, 80.0, 75.5, 90.0])          # largest fall 9.5
    assert not collapse.collapses(nearly, collapse.VALIDATION_RULE).iloc[0]["collapsed"]
    assert collapse.VALIDATION_RULE.words() == "10 pp or more"
    assert collapse.TEST_SUBSET_RULE.words() == "more than 20 pp"


def test_each_plan_is_judged_by_the_rule_of_the_curves_it_records():
    from wmrlib.experiment.profiles import profile

    assert collapse.rule_for(profile("cpu").plan("mnist")) is collapse.VALIDATION_RULE
    assert collapse.rule_for(profile("cpu-5epoch").plan("mnist")) is collapse.TEST_SUBSET_RULE


def test_the_docstring_example_holds():
    assert doctest.testmod(collapse).failed == 0


def test_without_collapses_there_is_no_second_gain_table(tmp_path):
    from wmrlib import book

    assert book.gains_without_collapsed(tmp_path) is None  # nothing stored: nothing collapsed


def test_the_landing_page_shows_the_gains_without_collapsed_runs_beside_the_others(tmp_path):
    from wmrlib import book
    from wmrlib.analysis.headline import Headline
    from wmrlib.experiment.profiles import profile

    row = {"family": "PGD", "alpha_train": 0.5, "metric": "A_sa", "paper gain": 9.64,
           "our gain": 10.77, "interval": "[+8.87, +12.67]", "agrees": "yes", "size": "consistent with the paper's size",
           "seeds kept": "0, 1"}
    h = Headline(dataset="mnist", requested="cpu", profile="cpu", plan=profile("cpu").plan("mnist"),
                 epochs=5, eval_size=2000, test_size=10000, seeds=3, jobs_done=20, jobs=20,
                 alpha_test=2.0,
                 gains=pd.DataFrame([row | {"our gain": 23.63, "interval": "[-1.76, +49.02]",
                                            "agrees": "inconclusive"}]),
                 collapsed={"PGD seed 2": 2}, collapsed_families={"PGD": ["PGD seed 2"]},
                 gains_kept=pd.DataFrame([row]))
    text = book.headline_text(h)
    assert "**3 stored runs" not in text and "**1 stored run collapsed in training.** PGD seed 2 (epoch 2)" in text
    # a gain that is no claim's comparison has no verdict (–)
    assert ("| PGD+ours (α_train 0.5) | A_sa | 0, 1 | +9.64 | +10.77 [+8.87, +12.67] | – | yes | "
            "consistent |") in text
    assert "| +23.63 [-1.76, +49.02] | – | unclear (contains 0) |" in text
    assert text.index("+23.63") < text.index("without the collapsed runs")


def test_the_pilot_table_reads_each_stored_pilot(tmp_path):
    """Two hand-made pilots: one that collapses in epoch 3 at lr 1e-3, one that does not."""
    import json

    from wmrlib.analysis import paper
    from wmrlib.book import AIM_PP, pilot_runs

    def write(name, defense, rob, nat, lrs):
        history = [{"epoch": e + 1, "lr": lr, "curve_a_nat": n, "curve_a_rob": r}
                   for e, (r, n, lr) in enumerate(zip(rob, nat, lrs))]
        config = {"defense": defense, "alpha_train": 0.0, "seed": 0, "epochs": len(rob),
                  "batch_size": 64, "milestones": [0.6, 0.85]}
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"config": config, "history": history, "wall_time_s": 120.0}))

    write("a-broken", "trades", [80.0, 88.0, 24.0, 17.0], [96.0, 96.6, 98.8, 98.2],
          [1e-3, 1e-3, 1e-3, 1e-4])
    write("b-fine", "pgd", [78.0, 86.0, 92.0], [97.0, 97.8, 98.4], [1e-3, 1e-4, 1e-5])
    (tmp_path / "notes.md").write_text("not a pilot")
    rows = pilot_runs(tmp_path).set_index("pilot")
    assert list(rows.index) == ["a-broken", "b-fine"]
    broken, fine = rows.loc["a-broken"], rows.loc["b-fine"]
    assert broken["collapsed"] == "epoch 3, lr 1e-03"
    assert broken["best A_rob"] == 88.0 and broken["final A_rob"] == 17.0
    assert broken["final A_nat"] == 98.2
    assert fine["collapsed"] == "no" and fine["lr × 0.1 at"] == "60%, 85%"
    printed = paper.table(1)
    pgd = float(printed.loc[printed["defense"] == "PGD", "a_rob"].iloc[0])
    assert fine[f"aim (paper − {AIM_PP:g} pp)"] == pgd - AIM_PP


def test_only_validation_flags_shape_the_pooled_seed_std(monkeypatch):
    """A collapse read on test images (the 5-epoch runs) never removes a run from the primary
    analysis's pooling; one read on validation curves (the cpu campaign) does."""
    from wmrlib.analysis import collapse
    from wmrlib.experiment.profiles import profile

    monkeypatch.setattr(collapse, "collapse_epochs", lambda store, plan: {("trades", 0.0, 1): 2})
    assert collapse.healthy_exclusions(None, profile("cpu-5epoch").plan("mnist")) == {}
    assert collapse.healthy_exclusions(None, profile("cpu").plan("mnist")) == {("trades", 0.0, 1): 2}


def _pilot_run(root, candidate, defense, alpha, seed, final_rob, fall=0.0):
    import json

    curve = [{"epoch": e / 4, "val_a_nat": 95.0, "val_a_rob": final_rob + (fall if e == 8 else 0.0)}
             for e in range(1, 13)]
    curve[8]["val_a_rob"] = final_rob + fall  # the running maximum; the end sits `fall` below it
    config = {"defense": defense, "alpha_train": alpha, "seed": seed}
    (root / f"{candidate}_{defense}-a{alpha:g}-s{seed}_e3.json").write_text(
        json.dumps({"candidate": candidate, "config": config, "curve": curve}))


def _pilot_gap(root, candidate, defense, alpha, seed, pgd, auto):
    import json

    (root / "tiebreak").mkdir(exist_ok=True)
    (root / "tiebreak" / f"{candidate}_{defense}-a{alpha:g}-s{seed}_e3.json").write_text(json.dumps(
        {"candidate": candidate, "images": 500, "pgd40_a_rob": pgd, "autoattack_a_rob": auto,
         "gap_pp": pgd - auto}))


RUNS = (("pgd", 0.0, 2), ("trades", 0.0, 1), ("trades", 2.0, 1))


def test_the_schedule_pilot_decides_by_its_protocol(tmp_path):
    """Hand-made stage 1: b collapses (a 12 pp fall), a and c survive and tie within 0.5 pp
    (88.0 vs 87.7), so the tie-break decides: c's smaller mean gap (9.0 vs 10.0 pp) wins although
    a leads on validation A_rob; with equal gaps the cheaper c would win too; a lone leader wins
    without a tie-break."""
    from wmrlib.analysis import pilot

    for defense, alpha, seed in RUNS:
        _pilot_run(tmp_path, "a-10step", defense, alpha, seed, 88.0)
        _pilot_run(tmp_path, "b-early-drop", defense, alpha, seed, 80.0, fall=12.0)
        _pilot_run(tmp_path, "c-uniform-start", defense, alpha, seed, 87.7)
    decision = pilot.stage1_decision(tmp_path).set_index("candidate")
    assert decision.loc["b-early-drop", "stage 1"] == "rejected"
    assert pilot.tied(tmp_path) == ["a-10step", "c-uniform-start"]
    assert pilot.chosen_schedule(tmp_path) is None  # the tie-break is not measured yet
    for defense, alpha, seed in RUNS:
        _pilot_gap(tmp_path, "a-10step", defense, alpha, seed, 90.0, 80.0)
        if (defense, alpha) != ("trades", 2.0):
            _pilot_gap(tmp_path, "c-uniform-start", defense, alpha, seed, 90.0, 81.0)
    assert pilot.chosen_schedule(tmp_path) is None  # c has 2 of its 3 models measured
    _pilot_gap(tmp_path, "c-uniform-start", "trades", 2.0, 1, 90.0, 81.0)
    measured = pilot.tiebreak_table(tmp_path)
    assert set(measured["model"]) == {"PGD seed 2", "TRADES seed 1", "TRADES+ours α 2 seed 1"}
    table = pilot.tiebreak_decision(tmp_path).set_index("candidate")
    assert table.loc["c-uniform-start", "mean gap (pp)"] == pytest.approx(9.0)
    # cost: passes per training batch against the 5-step attack's 6 (5 steps + the update)
    assert table["cost"].to_dict() == pytest.approx({"a-10step": 11 / 6, "c-uniform-start": 1.0})
    assert pilot.chosen_schedule(tmp_path) == "c-uniform-start"
    _pilot_gap(tmp_path, "a-10step", "pgd", 0.0, 2, 90.0, 83.0)  # a's mean gap: 9.0 as well
    assert pilot.chosen_schedule(tmp_path) == "c-uniform-start"  # equal gaps: the cheaper one
    _pilot_run(tmp_path, "c-uniform-start", "pgd", 0.0, 2, 85.0)  # c's mean now 86.9: no tie
    assert pilot.tied(tmp_path) == ["a-10step"] and pilot.chosen_schedule(tmp_path) == "a-10step"


def test_the_campaign_trains_the_schedule_its_pilot_chose():
    """One fact, one source: the cpu profile's schedule is the committed pilot's decision."""
    from pathlib import Path

    from wmrlib.analysis import pilot
    from wmrlib.experiment import profiles

    chosen = pilot.chosen_schedule(Path(__file__).resolve().parents[1] / "benchmarks" / "pilot" / "schedule")
    assert profiles.CAMPAIGN_SCHEDULE == (chosen or "PENDING")


def test_the_bottom_line_states_each_familys_verdicts_gain_and_the_attacks_overstatement(tmp_path):
    """A hand-made landing record: the bottom line gives the claims' tally, per family its
    verdicts and its A_sa gain with interval, direction and size against the paper's (4.88 of
    14.56 is 34 %), the collapsed run it includes, and 40-PGD's overstatement per family."""
    from wmrlib import book
    from wmrlib.analysis.headline import Headline
    from wmrlib.experiment.profiles import profile

    gains = pd.DataFrame([
        {"family": "PGD", "alpha_train": 0.5, "metric": "A_sa", "paper gain": 9.64, "our gain": 23.63,
         "interval": "[-31.90, +79.15]", "agrees": "inconclusive", "size": "consistent with the paper's size"},
        {"family": "TRADES", "alpha_train": 2.0, "metric": "A_sa", "paper gain": 14.56, "our gain": 4.88,
         "interval": "[+1.03, +8.73]", "agrees": "yes", "size": "smaller than the paper's"}])
    claims = pd.DataFrame({"claim": ["C1", "C2"], "verdict": ["holds", "inconclusive"],
                           "PGD family": ["holds", "inconclusive"],
                           "TRADES family": ["holds", "does not hold"]})
    gap = pd.DataFrame([{"family": "PGD", "min": 6.4, "mean": 8.6, "max": 9.6, "models": 6}])
    plan = dataclasses.replace(profile("cpu").plan("mnist"), seeds=(0, 1, 2), family_only_seeds=())
    h = Headline(dataset="mnist", requested="cpu", profile="cpu", plan=plan, epochs=5,
                 eval_size=2000, test_size=10000, seeds=3, models=20, alpha_test=2.0, gains=gains,
                 claims=claims, overstatement=gap, checked_size=500,
                 collapsed={"PGD seed 2": 2}, collapsed_families={"PGD": ["PGD seed 2"]})
    text = book.bottom_line(h)
    assert text.startswith("**The paper's claims** (MNIST; SmallCNNs trained 5 epochs, 3 seeds, "
                           "2,000 test images")
    assert "Of the paper's 2 [claims](#glossary), 1 holds, 0 do not hold, 1 is inconclusive" in text
    assert ("**PGD family:** of the claims judged on it, 1 holds, 1 is inconclusive (C1 holds); the "
            "weighting (α_train 0.5) changes A_sa at α_test 2 by +23.63 pp [-31.90, +79.15]: too "
            "uncertain to give a direction") in text
    assert "1 of its runs collapsed in training (PGD seed 2); it stays in the means" in text
    assert ("in the paper's direction, smaller than the paper's +14.56 (about 34% of it)" in text
            and "(C1 holds, C2 does not hold)" in text)
    assert "every result on this page was computed by the current" in text  # an empty store: none stale
    # 40-PGD's overstatement is a limitation, stated once, under Limitations
    assert "overstates" not in text
    limits = book.limitations(h)
    assert "by 6.4–9.6 pp (mean 8.6) on the PGD family's 6 models, on 500 test images" in limits
    assert "**Test-set size.** The main attack runs on 2,000 of the 10,000 MNIST test images" in limits
    assert "**What we did not reproduce.** CIFAR-10 and Tiny ImageNet" in limits


def test_the_bottom_line_adds_a_line_per_other_dataset_with_the_papers_mnist_gain_as_context(tmp_path):
    """Fashion-MNIST in the bottom line: one line while nothing is stored; with results, its
    scale, its claims' tally (C5 not evaluated without an α_train sweep) and per family its gain
    beside the paper's MNIST gain, said to be context."""
    from wmrlib.analysis.headline import Headline
    from wmrlib.book.landing import dataset_lines
    from wmrlib.experiment.profiles import profile

    assert dataset_lines(Headline(dataset="fashionmnist", progress=(0, 12))) == [
        "**Fashion-MNIST:** not judged yet: 0 of its 12 models are trained and evaluated (they "
        "are trained after the MNIST headline seeds)."]
    assert dataset_lines(Headline(dataset="fashionmnist", progress=(0, 0))) == []
    gains = pd.DataFrame([
        {"family": "TRADES", "alpha_train": 2.0, "metric": "A_sa", "paper gain": 14.56,
         "our gain": 1.20, "interval": "[-0.50, +2.90]", "agrees": "inconclusive",
         "size": "smaller than the paper's"}])
    claims = pd.DataFrame({"claim": ["C1", "C5"], "verdict": ["holds", "not evaluated"],
                           "PGD family": ["holds", "not evaluated"],
                           "TRADES family": ["holds", "not evaluated"]})
    plan = profile("cpu").plan("fashionmnist")
    h = Headline(dataset="fashionmnist", requested="cpu", profile="cpu", plan=plan, epochs=5,
                 eval_size=2000, seeds=3, eps=0.1, alpha_test=2.0, gains=gains, claims=claims,
                 jobs_done=12, jobs=12)
    head, pgd, trades = dataset_lines(h)
    assert head.startswith("**Fashion-MNIST** (ε 0.1; 5 epochs, 3 seeds, 2,000 test images). "
                           "The paper has no Fashion-MNIST results")
    assert "Of the 2 claims, 1 holds, 0 do not hold, 0 are inconclusive, 1 is not evaluated" in head
    assert pgd == "**Fashion-MNIST, PGD family:** of the claims judged on it, 1 holds (C1 holds)."
    assert ("changes A_sa at α_test 2 by +1.20 pp [-0.50, +2.90]: too uncertain to give a "
            "direction, smaller than the paper's MNIST gain +14.56") in trades
    assert "seed error is unknown" not in head
    # One common seed, but a family with a second one: the seed error is known and pooled, so
    # the head must not say that nothing is judged; it does only when no family has a second seed.
    unknown = dataclasses.replace(h, seeds=1, seed_error_unknown=True)
    assert "seed error is unknown" in dataset_lines(unknown)[0]


def test_stage_two_is_on_trial_until_every_trades_pair_run_is_trained_and_rejected_by_one_fall():
    from wmrlib.analysis import pilot
    from wmrlib.experiment.profiles import profile

    plan = profile("cpu").plan("mnist")
    (alpha,) = [a for f, a in plan.headline_pairs() if f == "trades"]
    runs = [(a, s) for a in (0.0, alpha) for s in plan.seeds]

    def curves(trained, falls=()):
        rows = []
        for a, s in trained:
            values = [80.0, 86.0, 75.0, 88.0] if (a, s) in falls else [80.0, 86.0, 85.0, 88.0]
            rows += [{"defense": "trades", "alpha_train": a, "seed": s, "epoch": 0.25 * (i + 1),
                      "a_rob": v} for i, v in enumerate(values)]
        # a PGD run is not part of stage 2, however it fell
        rows += [{"defense": "pgd", "alpha_train": 0.0, "seed": 0, "epoch": 1.0, "a_rob": 90.0},
                 {"defense": "pgd", "alpha_train": 0.0, "seed": 0, "epoch": 2.0, "a_rob": 10.0}]
        return pd.DataFrame(rows)

    partial = pilot.stage2_table(curves(runs[:3]), plan)
    assert len(partial) == 2 * len(plan.seeds)
    assert (partial["trained"] == "yes").sum() == 3
    assert partial.loc[partial["trained"] == "yes", "largest fall (pp)"].tolist() == [1.0] * 3
    assert pilot.stage2_status(partial) == "on trial"
    assert pilot.stage2_status(pilot.stage2_table(curves(runs), plan)) == "accepted"
    # a fall of 11 pp (86 → 75) breaks the 10 pp rule, even before the other runs are trained
    fell = pilot.stage2_table(curves(runs[:2], falls={runs[1]}), plan)
    assert fell.loc[fell["trained"] == "yes", "collapsed"].tolist() == ["no", "yes"]
    assert pilot.stage2_status(fell) == "rejected"

    # the page's sentences say the same, with the counts
    from wmrlib.book.schedule_pilot import stage1_sentence, stage2_sentence

    n = 2 * len(plan.seeds)
    assert stage2_sentence(partial).startswith(f"**Stage 2: on trial.** 3 of {n} runs are trained")
    assert stage2_sentence(pilot.stage2_table(curves(runs), plan)) == (
        f"**Stage 2: accepted.** All {n} runs trained without a collapse (recorded in "
        "`benchmarks/pilot/schedule/STAGE2.md`).")
    assert stage2_sentence(fell).startswith("**Stage 2: rejected.**")
    tie = stage1_sentence(["a-10step", "c-uniform-start"], "on trial", chosen="a-10step")
    assert tie.startswith("**Stage 1:** `a-10step` and `c-uniform-start` tie within 0.5 pp")
    assert tie.endswith("**The campaign's schedule:** `a-10step`, the tie-break's pick (the tables "
                        "above: the gap and the cost of each tied candidate on its three stage-1 "
                        "models); it is on trial until its stage-2 runs finish without a collapse.")
    alone = stage1_sentence(["a-10step"], "accepted", chosen="a-10step")
    assert alone == ("**The campaign's schedule:** `a-10step`, stage 1's best survivor; stage 2 "
                     "accepted it: its runs all trained without a collapse.")
    assert "rejected it" in stage1_sentence(["a-10step"], "rejected", chosen="a-10step")
    assert "not chosen yet" in stage1_sentence([], "on trial", chosen="")
