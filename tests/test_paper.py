"""Tests of wmrlib.analysis.paper: the paper's published Tables 1-12, their corrections and NOTES."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wmrlib.analysis import paper

PAPER_TXT = Path(__file__).resolve().parents[2] / "shared/paper/weighted-minimax-risk.txt"

# Data rows of each table, counted in the paper's text.
ROW_COUNTS = {1: 12, 2: 12, 3: 16, 4: 12, 5: 13, 6: 9, 7: 36, 8: 45, 9: 36, 10: 9, 11: 9, 12: 11}

DEFENSES = {"PGD", "PGD+ours", "TRADES", "TRADES+ours", "AT4Free", "YOPO-5-3", "IAAT"}
DATASETS = {"mnist", "cifar10", "tinyimagenet"}
ATTACKS = {"40-PGD", "20-PGD", "10-PGD", "100-PGD", "20-PGD-margin", "100-PGD-margin"}
METRICS = ("a_nat", "a_rob", "a_sa", "a_tr")
MODEL_KEY = ["dataset", "attack", "eps_train", "eps_test", "defense", "alpha_train"]


def all_tables(corrected: bool = True) -> pd.DataFrame:
    """All twelve tables stacked, with columns `table` and `row`; NaN keys made comparable."""
    frames = []
    for n in paper.TABLES:
        d = paper.table(n, corrected=corrected)
        d.insert(0, "row", range(len(d)))
        d.insert(0, "table", n)
        frames.append(d)
    out = pd.concat(frames, ignore_index=True)
    for c in ("alpha_train", "alpha_test", "eps_train"):
        out[c] = out[c].fillna(-1.0)
    return out


def row(n: int, **match) -> pd.Series:
    """The single row of Table n whose columns equal `match`."""
    d = paper.table(n)
    mask = np.ones(len(d), dtype=bool)
    for k, v in match.items():
        mask &= d[k].isna().to_numpy() if v is None else (d[k] == v).to_numpy()
    assert mask.sum() == 1, (n, match, int(mask.sum()))
    return d[mask].iloc[0]


# ---------------------------------------------------------------- API


def test_tables_and_notes_keys():
    assert sorted(paper.TABLES) == list(range(1, 13))
    assert all(isinstance(c, str) and c for c in paper.TABLES.values())
    assert sorted(paper.NOTES) == list(range(0, 13))
    for notes in paper.NOTES.values():
        assert all(isinstance(s, str) and s.endswith(".") for s in notes)


@pytest.mark.parametrize("n", sorted(ROW_COUNTS))
def test_row_counts(n):
    assert len(paper.table(n)) == ROW_COUNTS[n]
    assert len(paper.table(n, corrected=False)) == ROW_COUNTS[n]


@pytest.mark.parametrize("bad", [0, 13, -1, 100])
def test_unknown_table_raises(bad):
    with pytest.raises(ValueError, match=r"valid numbers.*1.*12"):
        paper.table(bad)


def test_table_returns_a_copy():
    first = paper.table(1)
    first.loc[0, "a_rob"] = -1.0
    first["defense"] = "x"
    del first["a_sa"]
    again = paper.table(1)
    assert again.loc[0, "a_rob"] == 93.95
    assert again.loc[0, "defense"] == "PGD"
    assert "a_sa" in again.columns
    assert paper.table(1) is not paper.table(1)


@pytest.mark.parametrize("n", sorted(ROW_COUNTS))
def test_columns_and_vocabulary(n):
    d = paper.table(n)
    for c in ("defense", "dataset", "alpha_train"):
        assert c in d.columns
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in d.columns)
    assert set(d["defense"]) <= DEFENSES
    assert set(d["dataset"]) <= DATASETS and d["dataset"].nunique() == 1
    assert set(d["attack"]) <= ATTACKS
    for c in d.columns:
        if c not in ("defense", "dataset", "attack", "paper_label"):
            assert d[c].dtype == float, c
    # Metrics the table reports are present and complete, the others absent.
    has = {4: ("a_nat", "a_rob"), 5: ("a_nat", "a_rob"), 6: ("a_nat", "a_rob"),
           9: ("a_rob", "a_sa")}.get(n, ("a_rob", "a_sa", "a_tr"))
    assert [m for m in METRICS if m in d.columns] == list(has)
    assert d[list(has)].notna().all().all()
    assert ((d[list(has)] > 0) & (d[list(has)] < 100)).all().all()
    # Baselines have no alpha_train, weighted models always do.
    ours = d["defense"].str.endswith("+ours")
    assert d.loc[ours, "alpha_train"].notna().all()
    assert d.loc[~ours, "alpha_train"].isna().all()
    if "inv_lambda" in d.columns:
        assert d.loc[d["defense"].str.startswith("TRADES"), "inv_lambda"].notna().all()


def test_datasets_and_settings():
    expected = {1: ("mnist", 0.3), 2: ("cifar10", 0.031), 3: ("tinyimagenet", 0.016),
                4: ("cifar10", 0.031), 5: ("tinyimagenet", 0.016), 6: ("mnist", 0.3),
                10: ("mnist", 0.3), 11: ("cifar10", 0.031), 12: ("tinyimagenet", 0.016)}
    for n, (ds, eps) in expected.items():
        d = paper.table(n)
        assert (d["dataset"] == ds).all()
        assert (d["eps_test"] == eps).all()
    assert set(paper.table(7)["eps_test"]) == {0.0078, 0.016, 0.031}
    assert set(paper.table(8)["eps_test"]) == {0.0078, 0.016, 0.031}
    assert (paper.table(9)["eps_train"] == 0.031).all()
    assert set(paper.table(1)["attack"]) == {"40-PGD"}
    assert set(paper.table(3)["attack"]) == {"10-PGD"}
    assert paper.table(4).set_index("defense").loc[["AT4Free", "YOPO-5-3", "IAAT"],
                                                   "eps_train"].isna().all()


# ---------------------------------------------------------------- spot checks


def test_spot_values():
    r = row(1, defense="TRADES", alpha_test=2.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (95.59, 52.15, 51.52)
    r = row(1, defense="TRADES+ours", alpha_test=2.0)
    assert (r.alpha_train, r.a_sa, r.a_tr) == (2.0, 66.71, 65.61)
    r = row(2, defense="TRADES", alpha_test=2.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (53.38, 19.78, 17.14)
    r = row(2, defense="TRADES+ours", alpha_test=2.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (54.10, 23.62, 19.79)
    r = row(3, defense="PGD", alpha_test=2.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (22.27, 9.04, 7.32)
    r = row(4, defense="IAAT")
    assert (r.a_nat, r.a_rob) == (88.60, 48.27)
    r = row(4, defense="TRADES")
    assert (r.inv_lambda, r.a_nat, r.a_rob) == (5.0, 82.93, 53.38)
    r = row(5, defense="TRADES+ours", alpha_train=3.5)
    assert (r.a_nat, r.a_rob) == (45.35, 28.26)
    r = row(6, defense="PGD")
    assert (r.a_nat, r.a_rob) == (99.47, 93.95)
    r = row(7, defense="PGD+ours", eps_test=0.016, alpha_train=0.1, alpha_test=2.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (66.71, 27.71, 23.34)
    r = row(8, defense="TRADES", eps_test=0.0078, alpha_test=1.5)
    assert (r.a_rob, r.a_sa, r.a_tr) == (76.89, 53.37, 52.46)
    r = row(9, defense="TRADES", attack="100-PGD")
    assert (r.a_rob, r.a_sa) == (51.44, 33.42)
    r = row(9, defense="PGD+ours", attack="20-PGD-margin", alpha_train=0.05)
    assert (r.a_rob, r.a_sa) == (45.95, 18.43)
    r = row(10, defense="TRADES+ours", alpha_train=1.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (95.44, 61.72, 61.69)
    r = row(11, defense="PGD+ours", alpha_train=0.05)
    assert (r.a_rob, r.a_sa, r.a_tr) == (49.25, 12.53, 10.33)
    r = row(12, defense="TRADES+ours", alpha_train=5.0)
    assert (r.a_rob, r.a_sa, r.a_tr) == (28.16, 22.40, 20.74)


def test_inline_claims_of_the_text():
    # Introduction and Section 5.2 quote these numbers.
    assert row(2, defense="TRADES", alpha_test=2.0).a_sa == 19.78
    assert row(4, defense="TRADES").a_rob == 53.38
    assert paper.table(4)["a_rob"].max() == 54.10
    assert row(1, defense="TRADES", alpha_test=2.0).a_rob == 95.59


# ---------------------------------------------------------------- corrections


def labelled(n: int) -> pd.DataFrame:
    d = paper.table(n)
    return d[d["paper_label"].notna()] if "paper_label" in d.columns else d.iloc[:0]


def test_paper_label_only_in_corrected_tables():
    for n in paper.TABLES:
        d = paper.table(n)
        assert ("paper_label" in d.columns) == (n in (2, 8, 9, 10)), n
        assert "paper_label" not in paper.table(n, corrected=False).columns


def test_table10_alpha_label_corrected():
    fixed = labelled(10)
    assert len(fixed) == 1
    r = fixed.iloc[0]
    assert (r.defense, r.alpha_train, r.paper_label) == ("PGD+ours", 0.5, "0.1")
    assert (r.a_rob, r.a_sa, r.a_tr) == (95.22, 44.96, 44.70)
    t1 = row(1, defense="PGD+ours", alpha_test=2.0)
    assert (t1.alpha_train, t1.a_rob, t1.a_sa, t1.a_tr) == (0.5, 95.22, 44.96, 44.70)
    assert row(6, defense="PGD+ours", alpha_train=0.5).a_rob == 95.22
    assert 0.1 not in set(paper.table(10).query("defense == 'PGD+ours'")["alpha_train"])
    assert 0.1 in set(paper.table(10, corrected=False)["alpha_train"])
    assert any("paper_label '0.1'" in s for s in paper.NOTES[10])


def test_table8_baseline_and_duplicate_alpha_corrected():
    d = paper.table(8)
    fixed = labelled(8)
    assert len(fixed) == 6
    base = fixed[fixed["paper_label"] == "TRADES+ours"]
    assert len(base) == 3 and (base["defense"] == "TRADES").all()
    assert base["alpha_train"].isna().all() and (base["eps_test"] == 0.016).all()
    dup = fixed[fixed["paper_label"] == "1.5"]
    assert len(dup) == 3 and (dup["alpha_train"] == 2.0).all()
    assert list(dup["a_rob"]) == [70.21, 70.21, 70.21]
    # After the fix every (eps_test, alpha_test) block is TRADES, then alpha 0.1, 1.0, 1.5, 2.0.
    for _, g in d.groupby(["eps_test", "alpha_test"]):
        assert list(g["defense"]) == ["TRADES"] + ["TRADES+ours"] * 4
        assert list(g["alpha_train"].fillna(0)) == [0, 0.1, 1.0, 1.5, 2.0]
    raw = paper.table(8, corrected=False)
    assert (raw["defense"] == "TRADES").sum() == 6
    assert any("TRADES baseline" in s for s in paper.NOTES[8])
    assert any("alpha_train 2.0" in s and "paper_label '1.5'" in s for s in paper.NOTES[8])


def test_table8_alpha_ordering_supports_the_fix():
    # In every block, A_sa and A_tr increase with alpha_train (this is why 1.5 -> 2.0).
    d = paper.table(8).query("defense == 'TRADES+ours'")
    for _, g in d.groupby(["eps_test", "alpha_test"]):
        g = g.sort_values("alpha_train")
        assert g["a_sa"].is_monotonic_increasing and g["a_tr"].is_monotonic_increasing


def test_table9_mragin_normalised():
    d = paper.table(9)
    assert not d["attack"].str.contains("mragin").any()
    fixed = labelled(9)
    assert sorted(fixed["paper_label"]) == ["100-PGD-mragin", "20-PGD-mragin"]
    assert sorted(fixed["attack"]) == ["100-PGD-margin", "20-PGD-margin"]
    assert (fixed["alpha_train"] == 2.0).all()
    assert paper.table(9, corrected=False)["attack"].str.contains("mragin").sum() == 2
    assert any("mragin" in s for s in paper.NOTES[9])


def test_table2_alpha_label_corrected():
    fixed = labelled(2)
    assert len(fixed) == 3
    assert (fixed["defense"] == "PGD+ours").all()
    assert (fixed["alpha_train"] == 0.1).all() and (fixed["paper_label"] == "2.0").all()
    for _, r in fixed.iterrows():
        src = 7 if r.alpha_test < 2.0 else 11
        extra = {"eps_test": 0.031} if src == 7 else {}
        other = row(src, defense="PGD+ours", alpha_train=0.1, alpha_test=r.alpha_test, **extra)
        assert (r.a_rob, r.a_sa, r.a_tr) == (other.a_rob, other.a_sa, other.a_tr)
    assert row(4, defense="PGD+ours", alpha_train=0.1).a_rob == 49.53
    assert any("paper_label '2.0'" in s for s in paper.NOTES[2])


def test_known_unfixed_inconsistencies_are_noted():
    assert row(4, defense="TRADES").inv_lambda == 5
    assert row(5, defense="TRADES").inv_lambda == 6 and row(6, defense="TRADES").inv_lambda == 6
    assert any("1/lambda = 5" in s for s in paper.NOTES[4])
    assert (paper.table(5).query("defense == 'PGD+ours'")["inv_lambda"] == 6).all()
    assert any("PGD+ours" in s and "1/lambda = 6" in s for s in paper.NOTES[5])
    assert row(5, defense="TRADES+ours", alpha_train=1.5).a_rob == 28.24
    assert row(12, defense="TRADES+ours", alpha_train=1.5).a_rob == 28.66
    assert any("28.24" in s and "28.66" in s for s in paper.NOTES[5])
    assert any("28.66" in s and "28.24" in s for s in paper.NOTES[12])
    assert any("1/N" in s for s in paper.NOTES[0])


# ---------------------------------------------------------------- cross-table consistency


def test_same_model_same_numbers_across_tables():
    """A_rob/A_nat of one model, and A_sa/A_tr of one model and attack, agree everywhere."""
    a = all_tables()
    disagreements = set()
    for metric, extra in (("a_rob", []), ("a_nat", []), ("a_sa", ["alpha_test"]),
                          ("a_tr", ["alpha_test"])):
        keys = [k for k in MODEL_KEY if k != "attack" or metric != "a_nat"] + extra
        for _, g in a.dropna(subset=[metric]).groupby(keys):
            if g[metric].nunique() > 1:
                disagreements.add((metric, tuple(sorted(zip(g["table"], g[metric])))))
    # The only remaining one is noted in NOTES[5] and NOTES[12].
    assert disagreements == {("a_rob", ((5, 28.24), (12, 28.66)))}


def test_mnist_tables_1_and_10_agree_with_table_6():
    t6 = paper.table(6).set_index(["defense", "alpha_train"])["a_rob"]
    for n in (1, 10):
        d = paper.table(n)
        for _, r in d.iterrows():
            assert t6.loc[(r.defense, r.alpha_train)] == r.a_rob, (n, r.defense, r.alpha_train)
    t1 = paper.table(1).query("alpha_test == 2.0")
    t10 = paper.table(10)
    for _, r in t1.iterrows():
        m = t10[(t10.defense == r.defense) & (t10.alpha_train.fillna(-1) == (
            -1 if math.isnan(r.alpha_train) else r.alpha_train))]
        assert len(m) == 1
        assert (m.iloc[0].a_rob, m.iloc[0].a_sa, m.iloc[0].a_tr) == (r.a_rob, r.a_sa, r.a_tr)
    # Printed as is, Table 10's row would not match Table 6 (no alpha 0.1 model there).
    raw10 = paper.table(10, corrected=False)
    assert 0.1 in set(raw10["alpha_train"]) and (("PGD+ours", 0.1) not in t6.index)


def test_copied_pair_between_tables_7_and_8():
    r7 = row(7, defense="PGD", eps_test=0.016, alpha_test=1.0)
    r8 = row(8, defense="TRADES+ours", eps_test=0.016, alpha_train=0.1, alpha_test=1.5)
    assert (r7.a_sa, r7.a_tr) == (r8.a_sa, r8.a_tr) == (43.70, 41.59)
    assert any("43.70/41.59" in s for s in paper.NOTES[7])
    assert any("43.70/41.59" in s for s in paper.NOTES[8])


# ---------------------------------------------------------------- properties of the metrics


def test_metric_ordering():
    """A_tr <= A_sa <= A_rob: the paper's own numbers satisfy it in every row."""
    a = all_tables()
    rows_sa = a.dropna(subset=["a_sa"])
    assert (rows_sa["a_sa"] <= rows_sa["a_rob"]).all()
    rows_tr = a.dropna(subset=["a_tr"])
    assert (rows_tr["a_tr"] <= rows_tr["a_sa"]).all()
    assert any("A_tr <= A_sa <= A_rob" in s and "every row" in s for s in paper.NOTES[0])


def test_a_sa_non_increasing_in_alpha_test():
    a = all_tables().dropna(subset=["a_sa"])
    for _, g in a.groupby(MODEL_KEY + ["table"]):
        g = g.sort_values("alpha_test")
        assert g["a_sa"].is_monotonic_decreasing
        if g["a_tr"].notna().all():
            assert g["a_tr"].is_monotonic_decreasing


def margin_lower_bound(alpha: float, a_rob: float) -> float:
    """Smallest A_sa possible at alpha given accuracy a_rob, as margins lie in [-1, 1]."""
    r = a_rob / 100
    lo = r * math.exp(-alpha)
    return 100 * lo / (lo + (1 - r) * math.exp(alpha))


def test_a_sa_lower_bound_only_strained_in_table7_alpha_test_01_block():
    a = all_tables().dropna(subset=["a_sa"])
    lb = np.array([margin_lower_bound(x, y) for x, y in zip(a["alpha_test"], a["a_rob"])])
    near = a[a["a_sa"] < lb + 1.0]
    assert set(near["table"]) == {7}
    assert set(near["alpha_test"]) == {0.1} and len(near) == 4
    below = a[a["a_sa"] < lb]
    assert len(below) == 1
    assert (below.iloc[0].table, below.iloc[0].alpha_train, below.iloc[0].a_sa) == (7, 0.01, 43.91)
    assert any("alpha_test 0.1" in s and "43.91" in s for s in paper.NOTES[7])


def test_natural_accuracy_below_baseline_as_noted():
    found = []
    for n in (4, 5, 6):
        d = paper.table(n)
        for base in ("PGD", "TRADES"):
            b = d.loc[d.defense == base, "a_nat"].item()
            ours = d[(d.defense == base + "+ours") & (d.a_nat < b)]
            found += [(n, base + "+ours", x) for x in ours["alpha_train"]]
    assert found == [(4, "PGD+ours", 0.05), (4, "PGD+ours", 0.1), (4, "TRADES+ours", 1.5),
                     (5, "PGD+ours", 0.15), (5, "PGD+ours", 0.25), (5, "PGD+ours", 0.3),
                     (5, "TRADES+ours", 0.5), (5, "TRADES+ours", 2.5),
                     (5, "TRADES+ours", 3.5), (5, "TRADES+ours", 5.0),
                     (6, "PGD+ours", 0.01), (6, "TRADES+ours", 0.5), (6, "TRADES+ours", 1.0),
                     (6, "TRADES+ours", 1.5), (6, "TRADES+ours", 2.0)]
    assert any("Conclusion" in s for s in paper.NOTES[0])


# ---------------------------------------------------------------- against the paper's text

HEADER_NAMES = {"Defense": "defense", "Attack": "attack", "1/λ": "inv_lambda",
                "εtrain": "eps_train", "εtest": "eps_test", "αtrain": "alpha_train",
                "αtest": "alpha_test", "Anat": "a_nat", "Arob": "a_rob", "Asa": "a_sa",
                "Atr": "a_tr"}


@pytest.fixture(scope="module")
def paper_lines() -> list[str]:
    if not PAPER_TXT.exists():
        pytest.skip(f"paper text not found at {PAPER_TXT}")
    return [line.strip() for line in PAPER_TXT.read_text(encoding="utf-8").splitlines()]


def printed_section(lines: list[str], n: int) -> tuple[list[str], list[str]]:
    """The header columns and the data lines of Table n in the text."""
    start = next(i for i, s in enumerate(lines) if s.startswith(f"Table {n}:"))
    head = next(i for i in range(start, len(lines)) if lines[i].startswith("Defense"))
    columns = [HEADER_NAMES[t] for t in re.findall("|".join(map(re.escape, HEADER_NAMES)),
                                                    lines[head])]
    data = []
    for s in lines[head + 1:]:
        if not s:
            continue
        if s.split()[0] not in DEFENSES:
            break
        data.append(s)
    return columns, data


def fmt(column: str, value) -> str:
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "-"
    if column.startswith("a_"):
        return f"{value:.2f}"
    if column == "inv_lambda":
        return f"{value:g}"
    return str(value)


@pytest.mark.parametrize("n", sorted(ROW_COUNTS))
def test_rows_match_the_paper_text_line_by_line(paper_lines, n):
    columns, data = printed_section(paper_lines, n)
    assert len(data) == ROW_COUNTS[n]
    d = paper.table(n, corrected=False)
    ours = [" ".join(fmt(c, r[c]) for c in columns) for _, r in d.iterrows()]
    assert ours == data


def test_every_metric_number_occurs_in_the_paper_text(paper_lines):
    text = "\n".join(paper_lines)
    numbers = set(re.findall(r"\d+\.\d\d", text))
    for n in paper.TABLES:
        d = paper.table(n)
        for m in METRICS:
            if m in d.columns:
                missing = {f"{v:.2f}" for v in d[m]} - numbers
                assert not missing, (n, m, missing)


def test_note_numbers_occur_in_tables():
    """Every two-decimal number quoted in NOTES is a metric value of some table."""
    values = set()
    for n in paper.TABLES:
        d = paper.table(n)
        for m in METRICS:
            if m in d.columns:
                values |= {f"{v:.2f}" for v in d[m]}
    bounds = {f"{margin_lower_bound(0.1, r):.2f}" for r in (49.29, 49.08, 49.25, 49.53)}
    for notes in paper.NOTES.values():
        for s in notes:
            for num in re.findall(r"\b[1-9]\d?\.\d\d\b", s):  # accuracies, not alphas
                assert num in values | bounds, (num, s)


def test_every_claim_quotes_the_papers_own_words():
    """Each quote of wmrlib.analysis.paper.CLAIM_QUOTES stands in the paper's text (up to line breaks)."""
    import re
    from pathlib import Path

    from wmrlib.analysis.claims import CLAIMS
    from wmrlib.analysis.paper import CLAIM_QUOTES

    text_path = Path(__file__).resolve().parents[2] / "shared" / "paper" / "weighted-minimax-risk.txt"
    if not text_path.exists():
        pytest.skip("the paper's text is not beside the repository")
    text = re.sub(r"\s+", " ", text_path.read_text())
    assert set(CLAIM_QUOTES) == set(CLAIMS)
    for claim, (where, quote) in CLAIM_QUOTES.items():
        assert where
        for part in quote.split(" [...] "):
            assert re.sub(r"\s+", " ", part) in text, (claim, part)
