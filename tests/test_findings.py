"""What each analog page finds (wmrlib.analysis.findings) and the sentence that says it
(wmrlib.book.views): the numbers against the stored units and the claims' comparisons of a tiny
store, the intervals' rule with one seed and with two, and the words on hand-made results."""
from dataclasses import replace

import numpy as np
import pytest

from wmrlib.analysis import claims, findings, stats, tables
from wmrlib.analysis.bootstrap import resample_indices, resampled_metric
from wmrlib.analysis.findings import AnalogFinding, Estimates, FamilyGains, RobDrop
from wmrlib.book import views
from wmrlib.workflow.store import Store

from conftest import mnist_root
from test_tables import PLAN  # the tiny synthetic plan of the table tests: 2 seeds, 2 ε_test

FAMILIES = {"PGD": ("pgd", 0.5), "TRADES": ("trades", 2.0)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("findings"), data_root=mnist_root(), device="cpu",
                 progress=False)


def _metric(store, plan, defense, alpha_train, seed, attack, metric, alpha_test):
    config = plan.run(defense, alpha_train, seed)
    values = tables.model_metrics(store, plan, config, attack, alpha_test,
                                  with_tr=metric == "a_tr", on_side=True)
    return values[metric]


def test_the_sensitivity_finding_is_the_seed_mean_gain_at_every_cell(store):
    found = findings.sensitivity_finding(store, PLAN)
    assert found.kind == "sensitivity" and found.seeds == PLAN.seeds and not found.single_seed
    assert found.cells == len(PLAN.eps_tests) * len(PLAN.alpha_tests) and found.examples == 32
    assert [f.family for f in found.families] == ["PGD", "TRADES"]
    for f in found.families:
        defense, alpha = FAMILIES[f.family]
        assert f.metric == "A_tr" and f.alpha_train == alpha and f.seeds == 2
        assert len(f.gains) == found.cells
        for (eps, a), value, low, high in zip(f.gains.keys, f.gains.values, f.gains.lows,
                                              f.gains.highs):
            attack = replace(PLAN.attack, eps=eps)
            by_hand = np.mean([_metric(store, PLAN, defense, alpha, s, attack, "a_tr", a)
                               - _metric(store, PLAN, defense, 0.0, s, attack, "a_tr", a)
                               for s in PLAN.seeds])
            assert value == pytest.approx(by_hand)
            assert low <= value <= high


def test_one_seed_gives_an_interval_of_the_test_sample_alone(store):
    """The sweep on the first seed only: no seed error is pooled; the half-width is the normal
    quantile times the paired bootstrap's standard deviation."""
    plan = replace(PLAN, sweep_all_seeds=False)
    found = findings.sensitivity_finding(store, plan)
    assert found.seeds == (0,) and found.single_seed
    f = found.families[1]
    (eps, a), value, low = f.gains.keys[-1], f.gains.values[-1], f.gains.lows[-1]
    attack = replace(plan.attack, eps=eps)
    ours, base = (tables.model_record(store, plan, plan.run("trades", t, 0), attack, (a,),
                                      on_side=True) for t in (2.0, 0.0))
    idx = resample_indices(len(ours.labels), seed=plan.eval_seed)
    draws = resampled_metric(ours, "a_tr", a, idx) - resampled_metric(base, "a_tr", a, idx)
    assert value - low == pytest.approx(stats.multiplier(float("inf")) * np.std(draws, ddof=1))


def test_the_attacks_finding_compares_every_variant_and_the_strongest_drop(store):
    found = findings.attacks_finding(store, PLAN)
    names = [PLAN.attack.name] + [a.name for a in PLAN.other_attacks]
    assert found.alpha_tests == (1.0,)
    table = tables.analog_table(store, PLAN, "attacks")
    for f in found.families:
        defense, alpha = FAMILIES[f.family]
        assert f.metric == "A_sa" and list(f.gains.keys) == names
        for name, value in zip(f.gains.keys, f.gains.values):
            rows = table[table["attack"] == name].set_index(["defense", "alpha_train"])
            ours = rows.loc[(f"{f.family}+ours", alpha), "ours_a_sa"]
            base = rows.loc[(f.family, 0.0), "ours_a_sa"]
            assert value == pytest.approx(ours - base)  # both seed means over the same seeds
    # the strongest variant: the largest mean A_rob drop from the main attack, per model
    rob = {n: table[table["attack"] == n]["ours_a_rob"].to_numpy() for n in names}
    drops = {n: rob[PLAN.attack.name] - rob[n] for n in names[1:]}
    strongest = max(drops, key=lambda n: drops[n].mean())
    drop = found.rob_drop
    assert drop.attack == strongest and drop.main == PLAN.attack.name
    # the table's rows are seed means; the finding's extremes are over models and seeds
    assert drop.models == len([c for c in PLAN.models() if PLAN.is_headline(c)])
    assert drop.smallest <= drops[strongest].mean() <= drop.largest


def test_the_dro_and_histogram_findings_are_the_claims_comparisons(store):
    frame = claims.comparisons(store, PLAN, only=("C6", "C7"))
    dro = findings.dro_finding(store, PLAN)
    for f in dro.families:
        rows = frame[(frame["claim"] == "C6") & (frame["family"] == f.family) & frame["in_claim"]]
        assert list(f.reduction.keys) == list(rows["rho"]) and min(f.reduction.keys) > 0
        assert list(f.reduction.values) == list(rows["estimate"])
        assert list(f.reduction.lows) == list(rows["interval_low"])
        assert f.verdict == stats.combine(rows["verdict"])
    hist = findings.histogram_finding(store, PLAN)
    c7 = frame[frame["claim"] == "C7"]
    steps, slopes = c7[c7["trend"] == "alpha_test"], c7[c7["trend"] == "alpha_train"]
    assert list(hist.steps.values) == list(steps["estimate"])
    assert list(hist.slopes.keys) == list(PLAN.alpha_tests) == list(slopes["alpha_test"])
    assert hist.verdict == stats.combine(c7["verdict"]) and hist.eps_test == PLAN.attack.eps
    assert hist.models == 2 and hist.headline_seeds == len(PLAN.seeds)


def test_estimates_count_where_they_and_their_intervals_lie():
    e = Estimates(keys=("a", "b", "c", "d"), values=(2.0, 0.5, -1.0, -3.0),
                  lows=(1.0, -0.5, -2.0, -4.0), highs=(3.0, 1.5, 0.5, -2.0))
    assert len(e) == 4 and e.positive == 2 and e.above == ("a",) and e.below == ("d",)
    assert (e.smallest, e.largest) == (-3.0, 2.0)


def _gains(values, lows, highs, keys):
    return Estimates(tuple(keys), tuple(values), tuple(lows), tuple(highs))


def test_the_sensitivity_sentence_says_the_numbers_and_a_single_seed():
    keys = [(0.1, 1.0), (0.1, 2.0), (0.3, 1.0), (0.3, 2.0)]
    pgd = FamilyGains("PGD", 0.5, "A_tr", _gains([1.0, 2.0, 3.0, 4.5], [0.5, -0.1, 1.0, 2.0],
                                                 [1.5, 4.1, 5.0, 7.0], keys), 1)
    trades = FamilyGains("TRADES", 2.0, "A_tr", _gains([-1.0, 0.5, -0.2, 0.1], [-2.5, -1.0, -1.0, -1.0],
                                                       [-0.1, 2.0, 0.6, 1.2], keys), 1)
    found = AnalogFinding("mnist", "sensitivity", 1000, (0,), 4, (pgd, trades), (1.0, 2.0))
    text = views.sensitivity_words(found, "MNIST", "our 5-epoch models")
    assert text.startswith("On MNIST (our 5-epoch models), A_tr of PGD+ours α 0.5 is above "
                           "PGD's at every one of the 4 pairs of ε_test (0.1, 0.3) and α_test (1, 2), "
                           "by +1.00 to +4.50 pp (the 95 % interval lies above 0 at 3)")
    assert ("A_tr of TRADES+ours α 2 is above TRADES's at 2 of the 4 pairs, by -1.00 to +0.50 pp "
            "(the 95 % interval lies below 0 at 1)") in text
    assert "Single seed (seed 0)" in text and "1,000 test images" in text
    two = replace(found, seeds=(0, 1), families=(replace(pgd, seeds=2), replace(trades, seeds=2)))
    assert "Single seed" not in views.sensitivity_words(two, "MNIST", "our 5-epoch models")


def test_the_attacks_sentence_names_the_strongest_variant():
    keys = ["40-PGD", "100-PGD"]
    pgd = FamilyGains("PGD", 0.5, "A_sa", _gains([3.0, 4.0], [1.0, 2.0], [5.0, 6.0], keys), 1)
    found = AnalogFinding("mnist", "attacks", 1000, (0,), 2, (pgd,), (1.0,),
                          RobDrop("100-PGD", "40-PGD", 3.5, 4.3, 4))
    text = views.attacks_words(found, "MNIST", "our 5-epoch models")
    assert "at α_test 1, A_sa of PGD+ours α 0.5 is above PGD's at every one of the 2 PGD " \
           "variants (40-PGD, 100-PGD), by +3.00 to +4.00 pp" in text
    assert "The strongest variant, 100-PGD, lowers the A_rob of every one of the 4 models by " \
           "3.5 to 4.3 pp against 40-PGD." in text


def test_the_dro_sentence_lists_the_radii_clear_of_zero():
    rhos = (0.1, 1.0, 10.0)
    risk = [findings.FamilyRisk("PGD", 0.5, _gains([-0.1, 0.2, 0.5], [-0.3, 0.1, 0.3],
                                                   [0.1, 0.3, 0.7], rhos), "5 paired", "inconclusive"),
            findings.FamilyRisk("TRADES", 2.0, _gains([-0.2, -0.1, 0.2], [-0.3, -0.2, 0.1],
                                                      [-0.1, 0.1, 0.3], rhos), "5 paired",
                                "does not hold")]
    text = views.dro_words(findings.DroFinding("mnist", tuple(risk)), "MNIST", "our 5-epoch models")
    assert "at 2 of the 3 radii ρ > 0 for PGD+ours α 0.5 (ρ 1, 10) and at 1 of the 3 radii ρ > 0 " \
           "for TRADES+ours α 2 (ρ 10); it is higher, clear of 0, at 1 for TRADES+ours α 2 (ρ 0.1)" in text
    assert "Claim C6 is inconclusive for the PGD family and does not hold for the TRADES family " \
           "(5 paired seeds" in text


def test_the_histogram_sentence_says_whether_the_weights_concentrate():
    steps = _gains([0.2, 0.3], [0.1, 0.2], [0.3, 0.4], [(0.0, 2.0), (2.0, 2.0)])
    flat = _gains([-0.01, -0.06], [-0.04, -0.15], [0.01, 0.03], [1.0, 2.0])
    found = findings.HistogramFinding("mnist", 0.3, 5, 5, steps, flat, "inconclusive")
    text = views.histogram_words(found, "MNIST", "our 5-epoch models")
    assert "the weights of every TRADES model spread out as α_test grows" in text
    assert "they do not clearly concentrate as α_train grows" in text and "Claim C7: inconclusive." in text
    down = _gains([-0.01, -0.06], [-0.02, -0.1], [-0.005, -0.01], [1.0, 2.0])
    assert "they concentrate as α_train grows" in views.histogram_words(
        replace(found, slopes=down), "MNIST", "our 5-epoch models")
