"""The training-budget page (5 against 20 epochs, analysis plan 1.5): the Welch-Satterthwaite degrees
of freedom and the budget difference by hand, the 20-epoch models' progress, validation curves and
selected epochs on a hand-written store, and the page on today's results (the 5-epoch half filled,
a note where the 20-epoch results are still missing) in the readers' words."""
from __future__ import annotations

import dataclasses
import doctest
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from wmrlib.analysis import budget
from wmrlib.compute.checkpoint import save_checkpoint
from wmrlib.experiment.profiles import profile
from wmrlib.workflow.store import Store

REPO = Path(__file__).resolve().parents[1]
# The words a result page must not use (tests/test_book_build.py: MACHINERY and MANAGEMENT).
MACHINERY = re.compile(r"\b(campaigns?|jobs?|units?|store|pilots?|aims?|load averages?)\b", re.I)
MANAGEMENT = re.compile(r"\b(issues?|PASS|FAIL|TODO|deliverables?)\b")


# --- the statistics, by hand --------------------------------------------------------------------

def test_welch_satterthwaite_degrees_of_freedom_by_hand():
    # (1² + 1²)² / (1⁴/2 + 1⁴/2) = 4 / 1 = 4
    assert budget.welch_df((1.0, 2.0), (1.0, 2.0)) == pytest.approx(4.0)
    # (3² + 4²)² / (3⁴/4 + 4⁴/9) = 625 / (20.25 + 28.444…) = 12.835
    assert budget.welch_df((3.0, 4.0), (4.0, 9.0)) == pytest.approx(625 / (81 / 4 + 256 / 9))
    assert budget.welch_df((3.0, 4.0), (4.0, 9.0)) == pytest.approx(12.835, abs=1e-3)
    # a gain whose error is the test sample's only (normal: infinite df) adds nothing below
    assert budget.welch_df((1.0, math.inf), (1.0, 2.0)) == pytest.approx(4 / 0.5)
    assert budget.welch_df((1.0, math.inf), (2.0, math.inf)) == math.inf
    assert budget.welch_df((0.0, 2.0), (0.0, 2.0)) == math.inf  # no uncertainty at all
    # one seed and nothing to pool: the seed error is unknown, so the difference is not judged
    assert budget.welch_df((1.0, 0.0), (1.0, 2.0)) == 0.0
    # equal se: never more than the sum of the two df, never fewer than the smaller
    assert 2 <= budget.welch_df((0.7, 2.0), (0.7, 4.0)) <= 6


def test_the_module_examples_hold():
    assert doctest.testmod(budget).failed == 0


def _gains(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["family", "metric", "gain", "se", "df", "pairs"])


def test_budget_difference_on_hand_made_gains():
    short = _gains([("PGD", "A_sa(2)", 10.0, 1.0, 2.0, 3), ("PGD", "A_tr(2)", 9.0, 1.0, 2.0, 3),
                    ("TRADES", "A_sa(2)", 3.0, 1.0, 2.0, 3),
                    ("TRADES", "A_rob (40-PGD)", 0.0, 0.5, 2.0, 3)])
    long = _gains([("PGD", "A_sa(2)", 15.0, 1.0, 2.0, 3), ("PGD", "A_tr(2)", 20.0, 1.0, 2.0, 3),
                   ("TRADES", "A_sa(2)", 4.0, 1.0, 2.0, 3)])  # no A_rob row yet: left out
    out = budget.budget_difference(short, long, planned_pairs=3).set_index(["family", "metric"])
    assert len(out) == 3
    pgd = out.loc[("PGD", "A_sa(2)")]
    # +5 with se √2 and 4 df: +5 ± 2.776·1.414 = [+1.074, +8.926], above 0
    assert pgd["difference"] == pytest.approx(5.0)
    assert pgd["se"] == pytest.approx(math.sqrt(2))
    assert pgd["df"] == pytest.approx(4.0)
    assert pgd["half"] == pytest.approx(2.7764451 * math.sqrt(2), rel=1e-6)
    assert pgd["low"] == pytest.approx(5 - 3.9264, abs=1e-3)
    assert pgd["reading"] == "larger at 20 epochs" and bool(pgd["pre_declared"])
    trades = out.loc[("TRADES", "A_sa(2)")]  # +1 ± 3.93 contains 0
    assert trades["difference"] == pytest.approx(1.0)
    assert trades["reading"] == "not shown to differ"
    assert out.loc[("PGD", "A_tr(2)"), "reading"] == "description"  # larger, but not pre-declared
    assert not out.loc[("PGD", "A_tr(2)"), "pre_declared"]

    smaller = budget.budget_difference(short, _gains([("PGD", "A_sa(2)", 2.0, 1.0, 2.0, 3)]), 3)
    assert smaller["reading"].tolist() == ["smaller at 20 epochs"]  # −8 ± 3.93
    early = budget.budget_difference(short, _gains([("PGD", "A_sa(2)", 30.0, 1.0, 2.0, 1)]), 3)
    assert early["reading"].tolist() == ["preliminary (1 of 3 seed pairs)"]
    unknown = budget.budget_difference(_gains([("PGD", "A_sa(2)", 10.0, 1.0, 0.0, 1)]),
                                       _gains([("PGD", "A_sa(2)", 30.0, 1.0, 2.0, 3)]), 3)
    assert unknown["reading"].tolist() == ["not judged (one seed)"]
    assert np.isnan(unknown["half"].iloc[0])


def test_validation_gains_pair_seeds_by_hand():
    def point(defense, alpha, seed, epoch, rob, sa, tr, end=True):
        return {"family": defense.upper(), "defense": defense, "alpha_train": alpha, "seed": seed,
                "epoch": epoch, "end": end, "val_a_nat": 99.0, "val_a_rob": rob,
                "val_a_sa": sa if end else np.nan, "val_a_tr": tr if end else np.nan,
                "finished": False}

    points = pd.DataFrame([
        point("trades", 0.0, 0, 1.0, 80.0, 60.0, 58.0), point("trades", 2.0, 0, 1.0, 81.0, 62.0, 59.0),
        point("trades", 0.0, 1, 1.0, 79.0, 60.0, 58.0), point("trades", 2.0, 1, 1.0, 79.0, 64.0, 62.0),
        point("trades", 0.0, 0, 1.25, 90.0, 0, 0, end=False),   # a quarter epoch: no A_sa, left out
        point("trades", 2.0, 0, 1.25, 10.0, 0, 0, end=False),
        point("trades", 0.0, 0, 2.0, 85.0, 61.0, 60.0),          # seed 0 only at epoch 2
        point("trades", 2.0, 0, 2.0, 84.0, 70.0, 66.0),
        point("trades", 0.0, 2, 2.0, 85.0, 61.0, 60.0),          # seed 2: baseline only
    ])
    gains = budget.validation_gains(points, [("pgd", 0.5), ("trades", 2.0)])
    sa = gains[gains["metric"] == "A_sa(2)"].set_index("epoch")
    # epoch 1: seed 0 +2, seed 1 +4 -> mean +3, range [+2, +4], 2 pairs; epoch 2: seed 0 +9
    assert sa.loc[1.0, ["gain", "low", "high", "pairs"]].tolist() == [3.0, 2.0, 4.0, 2]
    assert sa.loc[2.0, ["gain", "low", "high", "pairs"]].tolist() == [9.0, 9.0, 9.0, 1]
    rob = gains[gains["metric"] == "A_rob"].set_index("epoch")
    assert rob.loc[1.0, "gain"] == pytest.approx(0.5) and rob.loc[2.0, "gain"] == pytest.approx(-1.0)
    assert set(gains["family"]) == {"TRADES"} and sorted(set(gains["epoch"])) == [1.0, 2.0]


# --- the 20-epoch models on a hand-written store (fake results, never in the book) -------------

def _curve(epochs: int, robs: list[float]) -> list[dict]:
    """End-of-epoch validation points (A_sa and A_tr present) with a quarter point before each."""
    out = []
    for e, rob in zip(range(1, epochs + 1), robs):
        out.append({"epoch": e - 0.25, "val_n": 1000, "val_a_nat": 98.0, "val_a_rob": rob - 1.0})
        out.append({"epoch": float(e), "val_n": 1000, "val_a_nat": 98.0, "val_a_rob": rob,
                    "val_alpha_test": 2.0, "val_a_sa": rob - 20.0, "val_a_tr": rob - 22.0})
    return out


def test_progress_curves_and_selection_from_a_hand_written_store(tmp_path):
    """One TRADES pair of seed 0: the baseline finished (its provenance: a curve over 3 epochs
    whose best validation A_rob is at epoch 2), TRADES+ours still training (a checkpoint 2.5
    epochs in). Every number here is made up for this test."""
    plan = profile("cpu-20epoch").plan("mnist")
    store = Store(tmp_path / "cpu-20epoch", readonly=False, progress=False)
    base, ours = plan.run("trades", 0.0, 0), plan.run("trades", 2.0, 0)
    folder = store.run_dir(base)
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text(json.dumps({
        "config_key": base.key(), "history": [{"epoch": e} for e in (1, 2, 3)],
        "validation_curve": _curve(3, [80.0, 90.0, 85.0]), "selected": {"rule": "best-val-rob", "epoch": 2}}))
    store.run_dir(ours).mkdir(parents=True)
    per_epoch, _ = budget.training_batches(ours)
    save_checkpoint({"config_key": ours.key(), "model_name": ours.model, "model": {"w": torch.zeros(2)},
                     "epoch": 2, "batch": per_epoch // 2, "history": [{"epoch": 1, "selected_epoch": 1},
                                                                      {"epoch": 2, "selected_epoch": 1}],
                     "curve": _curve(2, [84.0, 83.0]) + [{"epoch": 2.25, "val_n": 1000, "val_a_nat": 97.0,
                                                          "val_a_rob": 82.0}]},
                    store.checkpoint_path(ours))
    state = budget.progress(store, plan, "cpu-20epoch").set_index(["arm", "seed"])
    assert len(state) == 12
    assert state.loc[("TRADES", 0), "state"] == "trained, being evaluated"  # nothing evaluated
    assert state.loc[("TRADES", 0), "epochs"] == 3 and state.loc[("TRADES", 0), "selected_epoch"] == 2
    training = state.loc[("TRADES+ours α 2", 0)]
    assert training["state"] == "training"
    assert training["epochs"] == pytest.approx(2 + (per_epoch // 2) / per_epoch)
    assert training["val_a_rob"] == 82.0 and training["selected_epoch"] == 1
    assert training["evaluations"] == 0 and training["of evaluations"] > 0
    assert (state.drop(index=[("TRADES", 0), ("TRADES+ours α 2", 0)])["state"] == "not started").all()

    points = budget.validation_points(store, plan)
    assert len(points) == 6 + 5 and points["end"].sum() == 5
    gains = budget.validation_gains(points, plan.headline_pairs())
    rob = gains[gains["metric"] == "A_rob"].set_index("epoch")["gain"]
    assert rob.to_dict() == {1.0: 4.0, 2.0: -7.0}  # 84 − 80, 83 − 90; epoch 3 has no pair yet

    chosen = budget.selected_epochs(store, plan).set_index("arm")
    assert chosen.loc["TRADES", ["selected_epoch", "selected_val_a_rob", "last_epoch", "last_val_a_rob"]
                      ].tolist() == [2, 90.0, 3, 85.0]
    assert bool(chosen.loc["TRADES", "finished"]) and not bool(chosen.loc["TRADES+ours α 2", "finished"])
    assert chosen.loc["TRADES+ours α 2", "selected_epoch"] == 1  # 84 at epoch 1 beats 83

    # a fall of 10 pp or more below the best so far is a collapse, also while a run trains
    assert budget.collapsed_while_training(points) == {}
    fallen = pd.concat([points, points.tail(1).assign(epoch=2.5, end=False, val_a_rob=70.0)])
    assert budget.collapsed_while_training(fallen) == {"TRADES+ours α 2 seed 0": 3}


def test_budget_profiles_pair_each_short_profile_with_its_longer_one():
    assert budget.budget_profiles("cpu") == ("cpu", "cpu-20epoch")
    assert budget.budget_profiles("cpu-20epoch") == ("cpu", "cpu-20epoch")
    assert budget.budget_profiles("smoke") == ("smoke", None)
    assert profile("cpu-20epoch").plan("mnist").base.epochs == 20
    assert set(profile("cpu-20epoch").plan("mnist").seeds) <= set(profile("cpu").plan("mnist").seeds)


# --- the page on today's results ----------------------------------------------------------------

def _view():
    if not (REPO / "results" / "cpu" / "runs").is_dir():
        pytest.skip("no cpu results stored here")
    return budget.budget_view("cpu", REPO / "results")


def test_the_five_epoch_half_is_filled_from_the_stored_results():
    view = _view()
    assert view.seeds == (0, 1, 2) and view.epochs == (5, 20)
    short = view.short_gains
    assert len(short) == 8 and (short["pairs"] == 3).all() and (short["df"] == 2).all()
    assert short.set_index("metric")["images"].to_dict() == {
        "A_sa(2)": 2000, "A_tr(2)": 2000, "A_rob (40-PGD)": 2000, "A_rob (AutoAttack)": 500}
    five = view.arms[view.arms["budget"] == "5 epochs"]
    assert len(five) == 4 and (five["models"] == 3).all() and (five["checked"] == 3).all()
    assert five[["a_nat", "pgd", "autoattack", "gap", "a_sa", "a_tr"]].notna().all().all()
    paper_rows = view.arms[view.arms["budget"] == "paper (100 epochs)"].set_index("arm")
    assert paper_rows.loc["TRADES", "pgd"] == 95.59 and paper_rows.loc["TRADES+ours α 2", "a_sa"] == 66.71
    published = view.arms[view.arms["budget"] == "published model"].set_index("arm")
    assert published.loc["TRADES", "autoattack"] == 92.81
    assert published.loc["PGD", "gap"] == pytest.approx(89.62 - 88.50)
    assert len(view.progress) == 12
    if not view.long_complete:  # the 20-epoch models are still being trained
        assert view.verdicts is None


def _captured(monkeypatch, page_method) -> tuple[list[str], list[str]]:
    """Run one page method; return (the prose it displayed, the HTML of its tables and figures)."""
    import IPython.display

    from wmrlib.book import budget as page_module

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(page_module, "display", lambda *objs, **kw: shown.extend(objs))
    page_method()
    prose, html = [], []
    for obj in shown:
        text = obj._repr_html_() if hasattr(obj, "_repr_html_") else getattr(obj, "data", str(obj))
        (html if "<table" in text or "<figure" in text else prose).append(text)
    return prose, html


def test_the_page_renders_today_in_the_readers_words(monkeypatch):
    from wmrlib.book.budget import BudgetPage

    _view()
    page = BudgetPage("cpu", str(REPO / "results"))
    everything = []
    for name in ("sources", "status", "arms", "gains", "verdicts", "curves", "targets"):
        prose, html = _captured(monkeypatch, getattr(page, name))
        text = " ".join(prose)
        everything.append(text)
        for figure in (h for h in html if "<figure" in h):
            assert "<figcaption" in figure, name
        tables = sum(h.count("<table") for h in html)
        captions = text.count("<p class='caption'><b>Table:")
        assert captions == tables, (name, captions, tables)  # every table has its caption
        words = re.sub(r"<[^>]+>|`[^`]*`", " ", text)  # prose only: a profile name is code
        assert not MACHINERY.findall(words), (name, MACHINERY.findall(words))
        assert not MANAGEMENT.findall(text + " ".join(html)), name
    text = " ".join(everything)
    assert "± SD, the standard deviation" in text  # every ± is defined on the page
    if not page.view.long_complete:
        assert "The claims are judged at 20 epochs once all 12 20-epoch models" in text
    if page.view.differences.empty:
        assert "No 20-epoch pair is complete yet" in text


def test_the_page_fills_in_from_later_results(monkeypatch):
    """Today's view with made-up 20-epoch frames in place of the missing ones (for this test
    only): the budget comparison, the verdicts, the curve and the selected epochs appear."""
    from wmrlib.book.budget import BudgetPage

    _view()
    page = BudgetPage("cpu", str(REPO / "results"))
    v = page.view
    fake_long = v.short_gains.assign(gain=v.short_gains["gain"] + 5.0)  # made up
    fake_points = pd.DataFrame([
        {"family": "TRADES", "defense": "trades", "alpha_train": a, "seed": 0, "epoch": float(e),
         "end": True, "val_a_nat": 98.0, "val_a_rob": 80.0 + e, "val_a_sa": 60.0 + e * (1 + a),
         "val_a_tr": 58.0 + e, "finished": False} for a in (0.0, 2.0) for e in (1, 2)])
    page.view = dataclasses.replace(
        v, long_gains=fake_long, differences=budget.budget_difference(v.short_gains, fake_long, 3),
        verdicts=pd.DataFrame({"claim": ["C1", "C2"], "family": ["PGD", "TRADES"],
                               "short": ["holds", "inconclusive"], "long": ["holds", "holds"],
                               "changed": [False, True]}),
        points=fake_points, curve_gains=budget.validation_gains(fake_points, v.long_plan.headline_pairs()),
        selected=pd.DataFrame([{"family": "TRADES", "arm": "TRADES", "seed": 0, "finished": False,
                                "selected_epoch": 2, "selected_val_a_rob": 82.0, "last_epoch": 2,
                                "last_val_a_rob": 82.0}]))
    prose, html = _captured(monkeypatch, page.gains)
    assert sum(h.count("<table") for h in html) == 2 and sum("<figure" in h for h in html) == 1
    assert "larger at 20 epochs" in " ".join(html)  # +5 on each A_sa(2) gain, as made up
    prose, html = _captured(monkeypatch, page.verdicts)
    assert "1 of 2 verdicts changed with the budget" in " ".join(prose)
    prose, html = _captured(monkeypatch, page.curves)
    assert sum("<figure" in h for h in html) == 1 and sum(h.count("<table") for h in html) == 1
