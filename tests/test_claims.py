"""Claims C1-C7: the verdict rule, pooled seed spread, slopes, and estimates against the store."""
import json

import numpy as np
import pandas as pd
import pytest

from wmrlib.analysis import bootstrap, claims, stats
from wmrlib.method import metrics
from wmrlib.experiment.profiles import profile
from wmrlib.core.paths import REPO_ROOT as REPO
from wmrlib.workflow.store import Store


# Hand-computed with t quantiles: t(0.975; 2) = 4.3027, t(0.975; 4) = 2.7764, z(0.975) = 1.9600.
@pytest.mark.parametrize("estimate, se, df, op, threshold, expected", [
    (3.0, 1.0, np.inf, ">", 0.0, "holds"),           # z = 3 > 1.96
    (3.0, 1.0, 2, ">", 0.0, "inconclusive"),         # t = 3 < 4.30 with 3 seeds
    (3.0, 1.0, 4, ">", 0.0, "holds"),                # t = 3 > 2.78 with 5 seeds
    (-3.0, 1.0, 4, ">", 0.0, "does not hold"),
    (6.0, 0.4, np.inf, ">", 5.0, "holds"),           # z = 2.5
    (4.0, 0.4, np.inf, ">", 5.0, "does not hold"),   # z = -2.5
    (-3.0, 1.0, np.inf, "<", 0.0, "holds"),
    (3.0, 1.0, np.inf, "<", 0.0, "does not hold"),
    (0.2, 0.2, np.inf, "within", 1.0, "holds"),      # both one-sided z ≥ 4: inside ±1
    (0.2, 0.3, 4, "within", 1.0, "inconclusive"),    # (1 - 0.2) / 0.3 = 2.67 < 2.78
    (0.5, 0.4, np.inf, "within", 1.0, "inconclusive"),
    (2.0, 0.4, np.inf, "within", 1.0, "does not hold"),  # (2 - 1) / 0.4 = 2.5 > z(0.9875) = 2.24
    (2.0, float("nan"), np.inf, ">", 0.0, "inconclusive"),
    (2.0, 0.5, 0, ">", 0.0, "inconclusive"),         # no degrees of freedom: nothing known
])
def test_verdict_rule(estimate, se, df, op, threshold, expected):
    assert stats.verdict(estimate, se, df, op, threshold) == expected


def test_the_interval_uses_students_t_at_the_seeds_degrees_of_freedom():
    assert stats.multiplier(1) == pytest.approx(12.7062, abs=1e-4)
    assert stats.multiplier(2) == pytest.approx(4.3027, abs=1e-4)
    assert stats.multiplier(np.inf) == pytest.approx(1.9600, abs=1e-4)
    # Five seeds: differences 1, 2, 3, 4, 5; sd = 1.5811, se = 0.7071; test-sample se 0.5.
    se_seed, df = stats.seed_error(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert (se_seed, df) == (pytest.approx(np.sqrt(2.5) / np.sqrt(5)), 4.0)
    se, half = stats.half_width(se_seed, df, 0.5)
    assert se == pytest.approx(np.sqrt(0.5 + 0.25))
    assert half == pytest.approx(2.7764 * np.sqrt(0.75), abs=1e-3)
    assert stats.format_interval(3.0, half) == "[+0.60, +5.40]"
    # Only the test sample varies (one seed, nothing to pool): the normal quantile.
    assert stats.half_width(np.nan, 0.0, 0.5)[1] == pytest.approx(1.96 * 0.5, abs=1e-3)


def test_pairing_uses_the_seeds_both_arms_share():
    ours = {0: 90.0, 1: 92.0, 2: 91.0}
    base = {0: 88.0, 1: 91.0, 3: 70.0}             # seed 3 has no partner; seed 2 neither
    assert stats.paired(ours, base).tolist() == [2.0, 1.0]
    # Paired: the shared seed noise cancels. Two arms that move together by seed (90/88, 92/90,
    # 94/92) give a gain of exactly 2 with no seed spread, where unpaired arms would have sd 2.
    diffs = stats.paired({0: 90.0, 1: 92.0, 2: 94.0}, {0: 88.0, 1: 90.0, 2: 92.0})
    assert diffs.tolist() == [2.0, 2.0, 2.0] and stats.seed_error(diffs)[0] == 0.0
    # One seed borrows the pooled std and its degrees of freedom.
    assert stats.seed_error(np.array([1.5]), (2.0, 6.0)) == (pytest.approx(2.0), 6.0)
    assert stats.pooled([np.array([1.0, 3.0]), np.array([7.0])]) == (pytest.approx(np.sqrt(2)), 1.0)


def test_holm_procedure_by_hand():
    # p-values 0.001, 0.013, 0.02 at level 0.025: thresholds 0.025/3 = 0.0083, 0.025/2 = 0.0125,
    # 0.025: the first is rejected, the second (0.013 > 0.0125) stops the procedure.
    assert stats.holm(np.array([0.013, 0.001, 0.02]), 0.025).tolist() == [False, True, False]
    assert stats.holm(np.array([0.001, 0.01, 0.02]), 0.025).tolist() == [True, True, True]


def _frame(claim, family, estimates, se=1.0, df=np.inf, op=">", threshold=0.0):
    return pd.DataFrame({"claim": claim, "family": family, "estimate": estimates, "se": se,
                         "df": df, "op": op, "threshold": threshold})


def test_a_conjunction_holds_when_each_comparison_holds_on_its_own():
    # Three comparisons at z = 2.3 (p = 0.0107 < 0.025 each): an intersection-union test needs
    # no correction, so all hold and the claim holds. The rule used until 2026-12-07 asked the
    # smallest for p < 0.025/3 = 0.0083 under Holm: none held.
    frame = _frame("C2", "PGD", [2.3, 2.3, 2.3])
    assert stats.judge(frame).tolist() == ["holds"] * 3
    assert stats.combine(stats.judge(frame)) == "holds"
    assert stats.judge(frame, rule="holm-both").tolist() == ["inconclusive"] * 3


def test_one_weak_comparison_keeps_the_conjunction_inconclusive():
    # z = 3, 3, 1.5: the third (p = 0.067) is not shown, nor shown wrong: inconclusive.
    frame = _frame("C2", "PGD", [3.0, 3.0, 1.5])
    verdicts = stats.judge(frame)
    assert verdicts.tolist() == ["holds", "holds", "inconclusive"]
    assert stats.combine(verdicts) == "inconclusive"


def test_does_not_hold_is_corrected_by_holm_within_claim_and_family():
    # Wrong-side p-values: z = -3 gives 0.00135 < 0.025/3; z = -2.3 gives 0.0107 < 0.025/2 after
    # it; z = -1.5 gives 0.067 > 0.025. Unadjusted, -2.3 and -2.1 (p 0.018) would both fail alone.
    frame = _frame("C2", "PGD", [-3.0, -2.3, -1.5])
    assert stats.judge(frame).tolist() == ["does not hold", "does not hold", "inconclusive"]
    assert stats.combine(stats.judge(frame)) == "does not hold"
    # Four comparisons at z = -2.1 (p = 0.0179 each): alone each would be "does not hold", but
    # Holm asks the smallest for p < 0.025/4: none is rejected, the claim stays inconclusive.
    frame = _frame("C2", "PGD", [-2.1] * 4)
    assert stats.verdict(-2.1, 1.0, np.inf, ">", 0.0) == "does not hold"
    assert stats.judge(frame).tolist() == ["inconclusive"] * 4


def test_each_family_is_judged_on_its_own_comparisons():
    # The same claim: PGD's two comparisons hold; TRADES has one wrong (z = -2.4, p = 0.0082).
    # Holm runs over TRADES' two comparisons only (0.0082 < 0.025/2: rejected); over all four
    # it would need p < 0.025/4 = 0.00625 and not reject. PGD's verdict does not move.
    frame = pd.concat([_frame("C2", "PGD", [3.0, 3.0]), _frame("C2", "TRADES", [-2.4, 0.5])],
                      ignore_index=True)
    frame["verdict"] = stats.judge(frame)
    assert frame["verdict"].tolist() == ["holds", "holds", "does not hold", "inconclusive"]
    per_family = {f: stats.combine(p["verdict"]) for f, p in frame.groupby("family")}
    assert per_family == {"PGD": "holds", "TRADES": "does not hold"}
    out = claims.summary(frame.assign(verdict_before=frame["verdict"])).set_index("claim")
    assert (out.loc["C2", "PGD family"], out.loc["C2", "TRADES family"]) == ("holds", "does not hold")


def test_an_exact_tie_holds_for_at_least_and_fails_for_greater():
    # No uncertainty at all (both error parts 0, seed error known): the estimate decides.
    assert stats.verdict(0.0, 0.0, 4, ">=", 0.0) == "holds"
    assert stats.verdict(0.0, 0.0, 4, "<=", 0.0) == "holds"
    assert stats.verdict(0.0, 0.0, 4, ">", 0.0) == "does not hold"
    assert stats.verdict(-0.5, 0.0, 4, ">=", 0.0) == "does not hold"
    # With an uncertainty a tie is a coin flip either way (p = 0.5): inconclusive.
    assert stats.p_values(0.0, 1.0, 4, ">=", 0.0) == (pytest.approx(0.5), pytest.approx(0.5))
    # An unknown seed error (df 0) is not judged, tie or not.
    assert stats.verdict(0.0, 0.0, 0, ">=", 0.0) == "inconclusive"
    with pytest.raises(ValueError, match="unknown comparison"):
        stats.verdict(1.0, 0.0, 4, "=>", 0.0)


def test_rows_outside_the_claim_are_shown_but_not_judged():
    frame = _frame("C6", "PGD", [-5.0, 3.0, 3.0]).assign(in_claim=[False, True, True])
    verdicts = stats.judge(frame)
    assert verdicts.tolist() == [stats.OUTSIDE, "holds", "holds"]
    assert stats.combine(verdicts) == "holds"
    # The rule used until 2026-12-07 judged every row: the ρ = 0 row alone decided the claim.
    assert stats.combine(stats.judge(frame, rule="holm-both")) == "does not hold"
    with pytest.raises(ValueError, match="unknown verdict rule"):
        stats.judge(frame, rule="bonferroni")


def test_costs_nothing_is_judged_as_equivalence_within_one_pp():
    # A gain of 0.1 ± small is equivalent; a sign test ("not below 0") would say nothing of size.
    assert stats.verdict(0.1, 0.2, np.inf, "within", 1.0) == "holds"
    # The interval [-1.2, +1.4] reaches past -1: not shown inside, not shown outside.
    assert stats.verdict(0.1, 0.66, np.inf, "within", 1.0) == "inconclusive"
    # A loss of 3 pp with a small error is shown outside the ±1 band.
    assert stats.verdict(-3.0, 0.5, np.inf, "within", 1.0) == "does not hold"


def test_pooled_seed_std_and_single_seed_groups():
    q = claims._Quantity({("pgd", 0.0): {0: 1.0, 1: 3.0, 2: 5.0},      # var 4, dof 2
                          ("pgd", 0.5): {0: 2.0, 1: 4.0},              # var 2, dof 1
                          ("pgd", 0.2): {0: 7.0}})
    assert q.pooled == (pytest.approx(np.sqrt((4 * 2 + 2 * 1) / 3)), 3.0)
    assert q.mean_se(("pgd", 0.0)) == pytest.approx((3.0, 2.0 / np.sqrt(3), 2.0, 3))
    assert q.mean_se(("pgd", 0.2)) == pytest.approx((7.0, q.pooled[0], 3.0, 1))
    # The pooled std comes from healthy runs only: leaving out seed 2 of the first group.
    q = claims._Quantity({("pgd", 0.0): {0: 1.0, 1: 3.0, 2: 50.0}},
                         healthy=lambda group, seed: seed != 2)
    assert q.pooled == (pytest.approx(np.sqrt(2.0)), 1.0)


def test_slope_row_matches_least_squares_and_its_standard_error():
    alphas = [0.0, 0.5, 1.0, 2.0]
    means = [50.0, 52.0, 55.0, 57.0]
    q = claims._Quantity({("trades", a): {0: m} for a, m in zip(alphas, means)}
                         | {("pgd", 0.0): {0: 1.0, 1: 2.0, 2: 3.0}})  # pooled std 1, dof 2
    row = claims._slope_row("C5", q, "trades", alphas, "x", "pp")
    assert row["estimate"] == pytest.approx(np.polyfit(alphas, means, 1)[0])
    xc = np.array(alphas) - np.mean(alphas)
    assert row["se"] == pytest.approx(1.0 / np.sqrt(np.sum(xc ** 2)))  # independent noise, std 1
    assert row["df"] == 2.0 and row["comparison"].endswith("(monotone)")


def test_slope_is_paired_over_the_seeds_the_alpha_groups_share():
    # Three alphas, three shared seeds. Per seed the values move together (a seed offset of
    # 0, +4, -4) and the slope per seed is 2, 2.5, 1.5 (by hand: x = 0, 1, 2, coef = -0.5, 0, 0.5).
    alphas = [0.0, 1.0, 2.0]
    values = {0: [10.0, 12.0, 14.0], 1: [14.0, 17.0, 19.0], 2: [6.0, 7.0, 9.0]}
    q = claims._Quantity({("pgd", a): {s: v[i] for s, v in values.items()}
                          for i, a in enumerate(alphas)})
    row = claims._slope_row("C5", q, "pgd", alphas, "x", "pp")
    slopes = np.array([2.0, 2.5, 1.5])
    assert row["estimate"] == pytest.approx(slopes.mean())
    assert row["se"] == pytest.approx(slopes.std(ddof=1) / np.sqrt(3))  # 0.2887
    assert row["df"] == 2.0 and row["seeds"] == "3 paired"
    # Unpaired, the seed offsets (sd 4 per group) would swamp the slope: se 1.63.
    unpaired_se = np.sqrt(np.sum((np.array([-0.5, 0, 0.5]) ** 2) * 16 / 3))
    assert unpaired_se > 5 * row["se"]
    assert stats.verdict(row["estimate"], row["se"], row["df"], ">", 0.0) == "holds"


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
    # smoke trains one weighted α_train per family: C5's slope over α_train would be C2 again
    assert len(plan.pgd_alphas) + 1 < claims.C5_MIN_ALPHAS
    assert set(frame["claim"]) == set(claims.CLAIMS) - {"C5"}
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
    diffs = ours - base  # the seeds are paired: both arms of a seed share its noise
    assert c2["se_seed"].item() == pytest.approx(diffs.std(ddof=1) / np.sqrt(len(diffs)))
    assert c2["df"].item() == len(diffs) - 1
    c4 = frame[(frame["claim"] == "C4")
               & (frame["comparison"] == f"PGD: A_rob − A_sa at α_test {alpha:g}")]
    gap = values("pgd", 0.0, "a_rob") - values("pgd", 0.0, "a_sa")
    assert c4["estimate"].item() == pytest.approx(gap.mean())
    judged = frame["in_claim"]
    assert frame.loc[judged, "verdict"].isin(["holds", "does not hold", "inconclusive"]).all()
    # Only C6 at ρ = 0 lies outside its claim (eq. 28 states ρ > 0); it is shown, not judged.
    outside = frame[~judged]
    assert set(outside["claim"]) == {"C6"} and outside["comparison"].str.contains("ρ 0 ").all()
    assert (outside["verdict"] == stats.OUTSIDE).all()


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
    # C6's worst-case losses carry the test-sample part too (one exact solve per resample).
    c6 = frame[frame["claim"] == "C6"]
    assert len(c6) and (c6["se_test"] > 0).all()
    assert c6["se_from"].str.endswith("+ paired bootstrap").all()
    # So do C7's weight spreads.
    c7 = frame[frame["claim"] == "C7"]
    assert len(c7) and (c7["se_test"] > 0).all()
    assert c7["se_from"].str.endswith("+ paired bootstrap").all()
    assert set(frame["family"]) == {"PGD", "TRADES"}


def test_resampled_dro_loss_at_rho_0_is_the_resampled_mean_with_the_textbook_error():
    """At ρ 0 the χ² worst-case loss is the mean loss, so each resample's value is the mean of
    its losses, and the spread over draws approaches sd/√n; at ρ > 0 it never falls below it."""
    from wmrlib.analysis.bootstrap import resample_indices, resampled_dro_loss

    losses = np.random.default_rng(1).exponential(0.7, size=400)
    idx = resample_indices(400, draws=300, seed=2)
    out = resampled_dro_loss(losses, [0.0, 0.5], idx, draws=300)
    assert out.shape == (300, 2)
    assert np.allclose(out[:, 0], losses[idx].mean(axis=1))
    assert np.std(out[:, 0], ddof=1) == pytest.approx(losses.std(ddof=1) / np.sqrt(400), rel=0.15)
    assert (out[:, 1] >= out[:, 0] - 1e-12).all()
    with pytest.raises(ValueError, match="resample the same evaluated examples"):
        resampled_dro_loss(losses[:10], [0.0], idx)


def test_resampled_weight_spread_by_hand_and_on_the_whole_sample():
    """Margins 0 and ln 2 at α 1 give weights 1 and ½: a resample of the first twice has uniform
    weights (spread 0); one of both has N·s̃ = (4/3, 2/3), spread 1/3. The identity resample gives
    the histograms' own spread."""
    margins = np.array([0.0, np.log(2)])
    out = bootstrap.resampled_weight_spread(margins, 1.0, np.array([[0, 0], [0, 1], [1, 0]]))
    assert np.allclose(out, [0.0, 1 / 3, 1 / 3])
    m = np.random.default_rng(3).normal(1.0, 0.8, size=300)
    whole = bootstrap.resampled_weight_spread(m, 2.0, np.arange(300)[None, :])
    assert whole[0] == pytest.approx(claims.weight_spread(m, 2.0))
    with pytest.raises(ValueError, match="resample the same evaluated examples"):
        bootstrap.resampled_weight_spread(m[:10], 2.0, np.arange(300)[None, :])


def test_claims_page_names_the_resample_counts_that_the_bootstrap_uses():
    """The method paragraph is prose in the notebook; it must state the draws that the code takes."""
    cells = json.loads((REPO / "notebooks" / "claims.ipynb").read_text())["cells"]
    method = next("".join(c["source"]) for c in cells
                  if c["cell_type"] == "markdown" and "How a verdict is reached" in "".join(c["source"]))
    assert f"same {bootstrap.DRAWS:,} resamples" in method
    assert f"first {bootstrap.DRO_DRAWS} of them" in method


def test_one_seed_with_nothing_to_pool_is_not_judged():
    """One seed per model and no multi-seed group to pool from: the seed error is unknown, so a
    difference whose test-sample interval clears 0 (+5 pp, bootstrap se 0.5) is still
    inconclusive, and the gain table says so; with two seeds the same data is judged."""
    rng = np.random.default_rng(0)
    one = claims._Quantity({("pgd", 0.5): {0: 45.0}, ("pgd", 0.0): {0: 40.0}},
                           {("pgd", 0.5): {0: 45 + rng.normal(0, 0.35, 500)},
                            ("pgd", 0.0): {0: 40 + rng.normal(0, 0.35, 500)}})
    row = claims._row("C2", "gain", one, ("pgd", 0.5), one, ("pgd", 0.0))
    assert np.isnan(row["se_seed"]) and row["df"] == 0
    assert row["interval_low"] > 0  # the test sample alone would call it
    assert row["se_from"].startswith("test sample only")
    assert stats.judge(pd.DataFrame([row])).tolist() == ["inconclusive"]
    two = claims._Quantity({("pgd", 0.5): {0: 45.0, 1: 46.0}, ("pgd", 0.0): {0: 40.0, 1: 40.5}})
    row2 = claims._row("C2", "gain", two, ("pgd", 0.5), two, ("pgd", 0.0))
    assert row2["df"] == 1 and stats.judge(pd.DataFrame([row2])).tolist() == ["holds"]
    assert stats.agreement(9.6, 5.0, 1.0, df=0.0) == stats.NOT_JUDGED
    assert stats.size_agreement(9.6, 5.0, 1.0, df=0.0) == stats.NOT_JUDGED
    assert stats.agreement(9.6, 5.0, 1.0, df=4.0) == "yes"
    assert stats.size_agreement(9.6, 5.0, 1.0, df=4.0) == "smaller than the paper's"


def test_gain_tables_carry_the_claims_pages_verdict_for_every_claim_comparison():
    """One verdict per comparison everywhere: every gain of Table 1 that is a C2 or C3
    comparison carries the verdict the Claims page gives it (computed afresh here, not from the
    memo), and judging only C2 and C3 changes no verdict."""
    from wmrlib.analysis import gains

    store = Store(REPO / "results" / "smoke", readonly=True, progress=False)
    plan = profile("smoke").plan("mnist")
    table = gains.gain_table(store, plan, 1)
    every = claims.compute_comparisons(store, plan)
    subset = claims.compute_comparisons(store, plan, only=("C2", "C3"))
    pd.testing.assert_series_equal(
        every[every["claim"].isin(["C2", "C3"])]["verdict"].reset_index(drop=True),
        subset["verdict"].reset_index(drop=True))
    claimed = table[table["claim"] != ""]
    # Table 1 shows A_sa and A_tr at every alpha_test and A_rob, not A_nat (C3's other half)
    assert len(claimed) == len(subset[subset["metric"] != "A_nat"]) == 2 * (2 * len(plan.alpha_tests) + 1)
    for _, row in claimed.iterrows():
        alpha = None if row["metric"] in ("A_nat", "A_rob") else row["alpha_test"]
        match = every[(every["family"] == row["family"]) & (every["metric"] == row["metric"])
                      & (every["alpha_train"] == row["alpha_train"])
                      & (every["alpha_test"].isna() if alpha is None else every["alpha_test"] == alpha)]
        assert len(match) == 1 and match["verdict"].item() == row["verdict"]
        assert match["claim"].item() == row["claim"]
        assert match["estimate"].item() == pytest.approx(row["our gain"])
    with pytest.raises(ValueError, match="unknown claims"):
        claims.compute_comparisons(store, plan, only=("C9",))
