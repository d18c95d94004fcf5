"""Paper tables and figures from a tiny store: rows, our numbers against the stored units, paper joins."""
import dataclasses
import json
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from wmrlib.compute import data as D# noqa: E402
from wmrlib.book import figures
from wmrlib.analysis import figure_data, paper, tables# noqa: E402
from wmrlib.book.views import analog_view  # noqa: E402
from wmrlib.experiment.config import AttackConfig, RunConfig  # noqa: E402
from wmrlib.experiment.profiles import DatasetPlan  # noqa: E402
from wmrlib.workflow.store import Store  # noqa: E402

from conftest import mnist_root  # noqa: E402

# Synthetic tensors of MNIST's shape: the tables' logic does not depend on the data.
BASE = RunConfig(dataset="mnist", train_size=64, attack_steps=1, epochs=1, batch_size=64,
                 eps=0.3, step_size=0.1, optimizer="adam", lr=1e-3, schedule="constant",
                 milestones=(), synthetic=True)
ATTACK = AttackConfig(eps=0.3, step_size=0.1, steps=2)
PLAN = DatasetPlan("mnist", BASE, pgd_alphas=(0.5,), trades_alphas=(2.0,), headline=(0.5, 2.0),
                   seeds=(0, 1), attack=ATTACK, alpha_tests=(1.0, 2.0), eps_tests=(0.1, 0.3),
                   other_attacks=(replace(ATTACK, loss="margin"),), eval_size=32)
GROUPS = {("PGD", 0.0), ("PGD+ours", 0.5), ("TRADES", 0.0), ("TRADES+ours", 2.0)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("tables"), data_root=mnist_root(), device="cpu",
                 progress=False)


@pytest.fixture(scope="module")
def table1(store):
    return tables.paper_table(store, PLAN, 1)


def stored_unit(store, config, attack, alpha):
    """Read a unit's arrays straight from its .npz, found through the provenance JSON files."""
    wanted = json.loads(json.dumps(dataclasses.asdict(attack)))
    hits = []
    for path in store.evals_dir(config).glob("*.json"):
        info = json.loads(path.read_text())
        if (info["attack"], info["alpha_test"], info["eval_size"]) == (wanted, alpha, PLAN.eval_size):
            hits.append(path.with_suffix(".npz"))
    assert len(hits) == 1, hits
    with np.load(hits[0]) as z:
        return {k: z[k].astype(float) for k in ("correct", "margin", "loss")}


def weighted(correct, margin, alpha):
    w = np.exp(-alpha * margin)
    return 100 * (w * correct).sum() / w.sum()


def seeds_of(defense, alpha):
    return [PLAN.run(defense, alpha, s) for s in PLAN.seeds]


def paper_row(number, defense, alpha_train, **keys):
    t = paper.table(number)
    t = t[(t.defense == defense) & (t.alpha_train.fillna(0.0) == alpha_train)]
    for k, v in keys.items():
        t = t[t[k] == v]
    assert len(t) == 1, (number, defense, alpha_train, keys)
    return t.iloc[0]


def test_table1_rows_and_columns(table1):
    assert len(table1) == len(GROUPS) * len(PLAN.alpha_tests)
    assert {(d, a, t) for d, a, t in zip(table1.defense, table1.alpha_train, table1.alpha_test)} == \
        {(d, a, t) for d, a in GROUPS for t in PLAN.alpha_tests}
    assert list(table1.columns[:4]) == ["defense", "alpha_train", "alpha_test", "seeds"]
    for m in ("a_rob", "a_sa", "a_tr"):
        for part in ("paper", "ours", "delta"):
            assert f"{part}_{m}" in table1
        values = table1[f"ours_{m}"].to_numpy(float)
        assert np.isfinite(values).all() and (values >= 0).all() and (values <= 100).all()
        assert np.isfinite(table1[f"ours_{m}_std"].to_numpy(float)).all()
        assert (table1[f"ours_{m}_std"] >= 0).all()
    assert (table1.seeds == 2).all()


def test_table1_paper_values_and_deltas(table1):
    for row in table1.itertuples():
        ref = paper_row(1, row.defense, row.alpha_train, alpha_test=row.alpha_test)
        for m in ("a_rob", "a_sa", "a_tr"):
            assert getattr(row, f"paper_{m}") == ref[m]
            assert getattr(row, f"delta_{m}") == pytest.approx(getattr(row, f"ours_{m}") - ref[m])


def test_table1_our_values_are_the_seed_means_of_the_stored_units(store, table1):
    for (defense, label, alpha_train) in (("pgd", "PGD", 0.0), ("trades", "TRADES+ours", 2.0)):
        for alpha_test in PLAN.alpha_tests:
            row = table1[(table1.defense == label) & (table1.alpha_test == alpha_test)].iloc[0]
            rob, sa, tr = [], [], []
            for config in seeds_of(defense, alpha_train):
                u = stored_unit(store, config, ATTACK, 0.0)
                w = stored_unit(store, config, ATTACK, alpha_test)
                rob.append(100 * u["correct"].mean())
                sa.append(weighted(u["correct"], u["margin"], alpha_test))
                tr.append(weighted(w["correct"], w["margin"], alpha_test))
            assert row.ours_a_rob == pytest.approx(np.mean(rob))
            assert row.ours_a_rob_std == pytest.approx(np.std(rob, ddof=1))
            assert row.ours_a_sa == pytest.approx(np.mean(sa))
            assert row.ours_a_sa_std == pytest.approx(np.std(sa, ddof=1))
            assert row.ours_a_tr == pytest.approx(np.mean(tr))


def test_table1_orderings_that_follow_from_the_definitions(table1):
    # A correct example has margin > 0 (weight < 1), a wrong one margin <= 0 (weight >= 1).
    assert (table1.ours_a_sa <= table1.ours_a_rob + 1e-9).all()
    for _, group in table1.groupby(["defense", "alpha_train"]):
        group = group.sort_values("alpha_test")
        assert (np.diff(group.ours_a_sa.to_numpy()) <= 1e-9).all()
        assert group.ours_a_rob.nunique() == 1  # A_rob does not depend on alpha_test


def test_a_second_read_only_store_gives_the_same_table(store, table1):
    readonly = Store(store.root, data_root=mnist_root(), device="cpu", progress=False,
                     readonly=True)
    pd.testing.assert_frame_equal(tables.paper_table(readonly, PLAN, 1), table1)


def test_table6_uniform(store):
    t6 = tables.paper_table(store, PLAN, 6)
    assert len(t6) == len(GROUPS)
    assert {(d, a) for d, a in zip(t6.defense, t6.alpha_train)} == GROUPS
    assert "alpha_test" not in t6 and "ours_a_sa" not in t6
    for row in t6.itertuples():
        ref = paper_row(6, row.defense, row.alpha_train)
        assert (row.paper_a_nat, row.paper_a_rob) == (ref.a_nat, ref.a_rob)
        assert np.isfinite([row.ours_a_nat, row.ours_a_rob]).all()
        assert row.delta_a_nat == pytest.approx(row.ours_a_nat - ref.a_nat)
        clean = [100 * stored_unit_clean(store, c).mean()
                 for c in seeds_of("pgd" if row.defense.startswith("PGD") else "trades",
                                   row.alpha_train)]
        assert row.ours_a_nat == pytest.approx(np.mean(clean))


def stored_unit_clean(store, config):
    hits = [p.with_suffix(".npz") for p in store.evals_dir(config).glob("*.json")
            if json.loads(p.read_text())["attack"] is None]
    assert len(hits) == 1
    with np.load(hits[0]) as z:
        return z["correct"].astype(float)


def test_table10_sweep_at_alpha_test_2(store):
    t10 = tables.paper_table(store, PLAN, 10)
    assert (t10.alpha_test == 2.0).all() and len(t10) == len(GROUPS)
    for row in t10.itertuples():
        ref = paper_row(10, row.defense, row.alpha_train)
        assert (row.paper_a_rob, row.paper_a_sa, row.paper_a_tr) == (ref.a_rob, ref.a_sa, ref.a_tr)
        assert np.isfinite([row.ours_a_rob, row.ours_a_sa, row.ours_a_tr]).all()


def test_sensitivity_analog_table(store, table1):
    t = tables.analog_table(store, PLAN, "sensitivity")
    assert len(t) == len(PLAN.eps_tests) * len(PLAN.alpha_tests) * len(GROUPS)
    assert {(e, a, d, at) for e, a, d, at in zip(t.eps_test, t.alpha_test, t.defense, t.alpha_train)} == \
        {(e, a, d, at) for e in PLAN.eps_tests for a in PLAN.alpha_tests for d, at in GROUPS}
    for m in ("a_rob", "a_sa", "a_tr"):
        assert t[f"paper_{m}"].isna().all() and t[f"delta_{m}"].isna().all()
        assert np.isfinite(t[f"ours_{m}"].to_numpy(float)).all()
    # At the main radius the sweep reuses the units of Table 1: the same numbers.
    main = t[t.eps_test == ATTACK.eps].drop(columns="eps_test").reset_index(drop=True)
    cols = ["defense", "alpha_train", "alpha_test", "ours_a_rob", "ours_a_sa", "ours_a_tr"]
    merged = main[cols].merge(table1[cols], on=cols[:3], suffixes=("", "_t1"))
    assert len(merged) == len(main)
    for m in ("ours_a_rob", "ours_a_sa", "ours_a_tr"):
        assert np.allclose(merged[m], merged[f"{m}_t1"])


def test_attacks_analog_table(store):
    t = tables.analog_table(store, PLAN, "attacks")
    assert len(t) == 2 * len(GROUPS)
    assert set(t.attack) == {"2-PGD", "2-PGD-margin"}
    assert (t.alpha_test == 1.0).all()
    assert "ours_a_tr" not in t
    assert t.paper_a_rob.isna().all() and np.isfinite(t.ours_a_sa.to_numpy(float)).all()


def test_side_tables_compare_every_attack_on_the_same_examples(store):
    """With a smaller side subset, the main attack's row is its record cut to those examples."""
    side = replace(PLAN, side_eval_size=16)
    t = tables.analog_table(store, side, "attacks")
    at = D.nested_positions(store.test_size(BASE), 16, 32, PLAN.eval_seed)
    for _, row in t[t.attack == ATTACK.name].iterrows():  # the 32-example rows differ (TRADES)
        defense = "trades" if row.defense.startswith("TRADES") else "pgd"
        a_rob = [100 * stored_unit(store, c, ATTACK, 0.0)["correct"][at].mean()
                 for c in PLAN.models() if c.defense == defense and c.alpha_train == row.alpha_train]
        assert row.ours_a_rob == pytest.approx(np.mean(a_rob))
    [(heading, _)] = [v for v in analog_view(t, side) if v[0].startswith(ATTACK.name + " (")]
    assert "16 test images" in heading


def test_table_for_another_dataset_raises(store):
    with pytest.raises(ValueError, match="cifar10"):
        tables.paper_table(store, PLAN, 2)


def test_dro_curves(store):
    rhos = [0.0, 0.01, 0.1, 1.0, 10.0]
    curves = figure_data.dro_curves(store, PLAN, rhos)
    pgd_alpha, trades_alpha = PLAN.headline
    assert set(zip(curves.defense, curves.alpha_train)) == {
        ("PGD", 0.0), ("PGD+ours", pgd_alpha), ("TRADES", 0.0), ("TRADES+ours", trades_alpha)}
    assert len(curves) == 4 * len(PLAN.seeds) * len(rhos)
    for (defense, alpha_train, seed), part in curves.groupby(["defense", "alpha_train", "seed"]):
        part = part.sort_values("rho")
        assert list(part.rho) == rhos
        assert (np.diff(part.worst_case_loss.to_numpy()) >= -1e-9).all()
        family = "trades" if defense.startswith("TRADES") else "pgd"
        unit = stored_unit(store, PLAN.run(family, alpha_train, seed), ATTACK, 0.0)
        at_zero = part[part.rho == 0.0].iloc[0]
        assert at_zero.worst_case_loss == pytest.approx(unit["loss"].mean(), rel=1e-6)
        assert at_zero.worst_case_accuracy == pytest.approx(100 * unit["correct"].mean())
        assert part.worst_case_loss.max() <= unit["loss"].max() + 1e-6


def test_dro_summary_is_the_seed_mean_per_model_and_rho():
    curves = pd.DataFrame({"family": "PGD", "defense": "PGD", "alpha_train": 0.0, "seed": [0, 1, 0, 1],
                           "rho": [0.0, 0.0, 1.0, 1.0], "worst_case_loss": [1.0, 3.0, 2.0, 6.0],
                           "worst_case_accuracy": [90.0, 80.0, 70.0, 60.0]})
    summary = figure_data.dro_summary(curves)
    assert list(summary.columns) == ["defense", "alpha_train", "rho", "worst_case_loss",
                                     "worst_case_accuracy"]
    assert summary["worst_case_loss"].tolist() == [2.0, 4.0]
    assert summary["worst_case_accuracy"].tolist() == [85.0, 65.0]


def test_weight_histograms_are_n_times_the_normalised_weights_of_the_stored_margins(store):
    eps = PLAN.eps_tests[0]
    data = figure_data.weight_histograms(store, PLAN, eps)
    assert data.alpha_trains == (0.0, 2.0) and data.alpha_tests == PLAN.alpha_tests
    attack = replace(ATTACK, eps=eps)
    for r, alpha_train in enumerate(data.alpha_trains):
        for c, alpha in enumerate(data.alpha_tests):
            margin = stored_unit(store, PLAN.run("trades", alpha_train), attack, alpha)["margin"]
            w = np.exp(-alpha * (margin - margin.min()))  # s = exp(−α·margin), shifted: same s̃
            expected = len(margin) * w / w.sum()
            np.testing.assert_allclose(data.scaled[(r, c)], expected, rtol=1e-6)
            assert data.scaled[(r, c)].sum() == pytest.approx(len(margin))  # mean weight 1
    assert data.n == PLAN.eval_size


def test_histogram_figure(store):
    for eps in PLAN.eps_tests:
        fig = figures.histogram_figure(figure_data.weight_histograms(store, PLAN, eps))
        try:
            assert isinstance(fig, matplotlib.figure.Figure)
            rows = len([m for m in PLAN.models() if m.defense == "trades" and m.seed == 0])
            assert rows == 2
            assert len(fig.axes) == rows * len(PLAN.alpha_tests)
            assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == \
                (rows, len(PLAN.alpha_tests))
            assert all(ax.patches for ax in fig.axes)  # every panel has a histogram
        finally:
            plt.close(fig)


# --- gains: ours − baseline beside the paper's -----------------------------------------------------

def test_gain_table_is_the_difference_of_seed_means_beside_the_paper_gain(store, table1):
    from wmrlib.analysis.gains import gain_table

    gains = gain_table(store, PLAN, 1)
    row = gains[(gains.family == "TRADES") & (gains.metric == "A_sa") & (gains.alpha_test == 2.0)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["paper gain"] == pytest.approx(66.71 - 52.15)  # Table 1, TRADES, α_test 2
    t = table1[table1.alpha_test == 2.0].set_index("defense")
    assert row["our gain"] == pytest.approx(t.loc["TRADES+ours", "ours_a_sa"] - t.loc["TRADES", "ours_a_sa"])
    assert row["ours"] == pytest.approx(t.loc["TRADES+ours", "ours_a_sa"])
    low, high = (float(v) for v in row["interval"].strip("[]").split(","))
    assert low <= row["our gain"] <= high
    # A_rob is one row per family, not one per alpha_test.
    assert (gains.metric == "A_rob").sum() == 2
    assert set(gains["agrees"]) <= {"yes", "no", "inconclusive", "–"}


def test_gain_table_of_the_sweep_and_uniform_tables(store):
    from wmrlib.analysis.gains import gain_table

    sweep = gain_table(store, PLAN, 10)
    assert set(zip(sweep.family, sweep.alpha_train)) == {("PGD", 0.5), ("TRADES", 2.0)}
    assert set(sweep.metric) == {"A_rob", "A_sa", "A_tr"}
    uniform = gain_table(store, PLAN, 6)
    assert set(uniform.metric) == {"A_nat", "A_rob"} and uniform["paper gain"].notna().all()
    with pytest.raises(ValueError, match="no gain view"):
        gain_table(store, PLAN, 9)
