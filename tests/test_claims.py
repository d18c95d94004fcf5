"""Claims C1-C7: the verdict rule, pooled seed spread, slopes, and estimates against the store."""
import numpy as np
import pandas as pd
import pytest

from wmrlib.analysis import claims, stats
from wmrlib.method import metrics
from wmrlib.experiment.profiles import profile
from wmrlib.core.paths import REPO_ROOT as REPO
from wmrlib.workflow.store import Store


@pytest.mark.parametrize("estimate, se, op, threshold, expected", [
    (3.0, 1.0, ">", 0.0, "holds"),            # interval [1, 5] above 0
    (1.0, 1.0, ">", 0.0, "inconclusive"),     # [-1, 3] straddles 0
    (-3.0, 1.0, ">", 0.0, "does not hold"),   # [-5, -1] below 0
    (6.0, 0.4, ">", 5.0, "holds"),            # [5.2, 6.8] above 5
    (4.0, 0.4, ">", 5.0, "does not hold"),    # [3.2, 4.8] below 5
    (-3.0, 1.0, "<", 0.0, "holds"),
    (3.0, 1.0, "<", 0.0, "does not hold"),
    (0.2, 0.2, "within", 1.0, "holds"),       # [-0.2, 0.6] inside ±1
    (0.5, 0.4, "within", 1.0, "inconclusive"),  # [-0.3, 1.3]
    (2.0, 0.4, "within", 1.0, "does not hold"),  # [1.2, 2.8] outside
    (2.0, float("nan"), ">", 0.0, "inconclusive"),
])
def test_verdict_rule(estimate, se, op, threshold, expected):
    assert stats.verdict(estimate, se, op, threshold) == expected


def test_pooled_seed_std_and_single_seed_groups():
    q = claims._Quantity({("pgd", 0.0): np.array([1.0, 3.0, 5.0]),      # var 4, dof 2
                          ("pgd", 0.5): np.array([2.0, 4.0]),           # var 2, dof 1
                          ("pgd", 0.2): np.array([7.0])})
    assert q.pooled_std == pytest.approx(np.sqrt((4 * 2 + 2 * 1) / 3))
    assert q.mean_se(("pgd", 0.0)) == pytest.approx((3.0, 2.0 / np.sqrt(3), 3))
    assert q.mean_se(("pgd", 0.2)) == pytest.approx((7.0, q.pooled_std, 1))


def test_slope_row_matches_least_squares_and_its_standard_error():
    alphas = [0.0, 0.5, 1.0, 2.0]
    means = [50.0, 52.0, 55.0, 57.0]
    q = claims._Quantity({("trades", a): np.array([m]) for a, m in zip(alphas, means)}
                         | {("pgd", 0.0): np.array([1.0, 2.0, 3.0])})  # pooled std 1
    row = claims._slope_row("C5", q, "trades", alphas, "x", "pp")
    assert row["estimate"] == pytest.approx(np.polyfit(alphas, means, 1)[0])
    xc = np.array(alphas) - np.mean(alphas)
    assert row["se"] == pytest.approx(1.0 / np.sqrt(np.sum(xc ** 2)))  # independent noise, std 1
    assert row["comparison"].endswith("(monotone)")


def test_weight_spread_is_zero_for_uniform_weights_and_grows_with_alpha():
    margins = np.linspace(-1, 2, 50)
    assert claims.weight_spread(margins, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert claims.weight_spread(margins, 1.0) < claims.weight_spread(margins, 2.0)


def test_summary_combines_comparisons_overall_and_per_family():
    frame = pd.DataFrame({"claim": ["C1", "C1", "C2", "C2", "C3"],
                          "family": ["PGD", "TRADES", "PGD", "TRADES", "TRADES"],
                          "verdict": ["holds", "holds", "holds", "inconclusive", "does not hold"]})
    out = claims.summary(frame).set_index("claim")
    assert out.loc["C1", "verdict"] == "holds" and out.loc["C2", "verdict"] == "inconclusive"
    assert out.loc["C3", "verdict"] == "does not hold" and out.loc["C4", "verdict"] == "not evaluated"
    assert out.loc["C2", "PGD family"] == "holds" and out.loc["C2", "TRADES family"] == "inconclusive"
    assert out.loc["C3", "PGD family"] == "not evaluated"


def test_estimates_agree_with_metrics_recomputed_from_the_stored_records():
    store = Store(REPO / "results" / "smoke", readonly=True, progress=False)
    plan = profile("smoke").plan("mnist")
    frame = claims.comparisons(store, plan)
    assert set(frame["claim"]) == set(claims.CLAIMS)
    alpha = plan.alpha_tests[-1]

    def values(defense, alpha_train, name):
        out = []
        for c in plan.models():
            if c.defense != defense or c.alpha_train != alpha_train:
                continue
            kw = dict(eval_size=plan.eval_size, eval_seed=plan.eval_seed)
            uniform = store.get_or_attack(c, plan.attack, 0.0, **kw)
            weighted = store.get_or_attack(c, plan.attack, alpha, **kw)
            out.append(100 * {"a_rob": metrics.a_rob(uniform.correct),
                              "a_sa": metrics.a_sa(uniform.correct, uniform.margin, alpha),
                              "a_tr": metrics.a_tr(weighted.correct, weighted.margin, alpha)}[name])
        return np.array(out)

    c2 = frame[(frame["claim"] == "C2") & frame["comparison"].str.startswith("TRADES+ours")
               & frame["comparison"].str.endswith(f"A_tr at α_test {alpha:g}")]
    ours, base = values("trades", plan.headline[1], "a_tr"), values("trades", 0.0, "a_tr")
    assert c2["estimate"].item() == pytest.approx(ours.mean() - base.mean())
    se = np.hypot(ours.std(ddof=1) / np.sqrt(len(ours)), base.std(ddof=1) / np.sqrt(len(base)))
    assert c2["se_seed"].item() == pytest.approx(se)
    c4 = frame[(frame["claim"] == "C4")
               & (frame["comparison"] == f"PGD: A_rob − A_sa at α_test {alpha:g}")]
    gap = values("pgd", 0.0, "a_rob") - values("pgd", 0.0, "a_sa")
    assert c4["estimate"].item() == pytest.approx(gap.mean())
    assert frame["verdict"].isin(["holds", "does not hold", "inconclusive"]).all()


# --- the paired bootstrap --------------------------------------------------------------------------

def test_bootstrap_se_of_a_paired_difference_matches_the_hand_computed_value():
    from wmrlib.analysis.bootstrap import paired_difference_se, resample_indices, resampled_accuracy

    # Two models on 8 examples; per-example differences d = a - b = [1, 0, 0, -1, 1, 0, 1, 0].
    a = np.array([1, 1, 0, 0, 1, 1, 1, 0])
    b = np.array([0, 1, 0, 1, 0, 1, 0, 0])
    d = (a - b).astype(float)
    # The bootstrap SE of a mean is the plug-in sd / sqrt(n): sqrt(mean((d - 0.25)^2) / 8) in pp.
    expected = 100 * np.sqrt(np.mean((d - d.mean()) ** 2) / len(d))
    idx = resample_indices(len(a), draws=40_000, seed=1)
    se = paired_difference_se([resampled_accuracy(a, idx)], [resampled_accuracy(b, idx)])
    assert se == pytest.approx(expected, rel=0.02)  # 22.7 pp; 40,000 draws: ±0.4 %
    # Identical models differ by exactly 0 on every resample; unpaired draws would not.
    assert paired_difference_se([resampled_accuracy(a, idx)], [resampled_accuracy(a, idx)]) == 0
    # Seed means: the SE of the mean over two seeds of a against b.
    se2 = paired_difference_se([resampled_accuracy(a, idx), resampled_accuracy(a, idx)],
                               [resampled_accuracy(b, idx)])
    assert se2 == pytest.approx(se)


def test_weighted_resampled_accuracy_is_a_sa_on_the_full_sample():
    from wmrlib.analysis.bootstrap import resampled_accuracy

    rng = np.random.default_rng(0)
    correct, margin = rng.integers(0, 2, 50), rng.uniform(-1, 1, 50)
    full = np.arange(50)[None, :]
    assert resampled_accuracy(correct, full, margin, 2.0)[0] == pytest.approx(
        100 * metrics.a_sa(correct, margin, 2.0))
    # A resample that repeats example 0 twice weights it twice.
    idx = np.array([[0, 0, 1]])
    w = np.exp(-2.0 * margin[[0, 0, 1]])
    assert resampled_accuracy(correct, idx, margin, 2.0)[0] == pytest.approx(
        100 * (w * correct[[0, 0, 1]]).sum() / w.sum())


def test_comparisons_combine_seed_and_test_sample_errors():
    store = Store(REPO / "results" / "smoke", readonly=True, progress=False)
    frame = claims.comparisons(store, profile("smoke").plan("mnist"))
    c2 = frame[frame["claim"] == "C2"]
    assert (c2["se_test"] > 0).all()
    assert np.allclose(c2["se"], np.hypot(c2["se_seed"], c2["se_test"]))
    assert set(frame["family"]) == {"PGD", "TRADES"}
