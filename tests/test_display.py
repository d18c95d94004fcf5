"""How a page shows a table or a figure (wmrlib.book.display): readers' column names, radii at
the paper's precision, constant columns said once, a CSV of the same numbers, figures as
<figure> with alt text."""
from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from wmrlib.book.display import RAW_IDENTIFIER, column_label, figure_html, lift_constants, show  # noqa: E402


def test_column_labels_are_readers_words():
    cases = {"alpha_train": "α_train", "eps_test": "ε_test", "a_rob": "A_rob",
             "gain_a_nat_std": "A_nat gain SD", "paper_cifar10_a_nat": "paper's CIFAR-10 A_nat",
             "ours_mnist_a_rob": "our MNIST A_rob", "worst_case_loss": "worst-case loss",
             "inv_lambda": "1/λ", "code since": "code since",
             "a_sa@1": "A_sa at α_test 1", "a_tr@1.5": "A_tr at α_test 1.5"}
    for raw, label in cases.items():
        assert column_label(raw) == label
        assert not RAW_IDENTIFIER.match(column_label(raw))


def test_a_table_prints_radii_at_the_papers_precision_and_offers_its_csv():
    frame = pd.DataFrame({"eps_test": [0.0078, 0.031], "a_rob": [52.444, 49.29]})
    html = show(frame)._repr_html_()
    assert ">0.0078<" in html and ">0.031<" in html and ">52.44<" in html
    assert ">ε_test<" in html and "eps_test" not in html
    data = re.search(r"data:text/csv;base64,([A-Za-z0-9+/=]+)", html).group(1)
    assert base64.b64decode(data).decode().splitlines() == ["ε_test,A_rob", "0.0078,52.444", "0.031,49.29"]


def test_constant_columns_are_said_once_above_the_table():
    frame = pd.DataFrame({"dataset": ["cifar10", "cifar10"], "eps_train": [0.031, 0.031],
                          "a_rob": [1.0, 2.0]})
    kept, said = lift_constants(frame)
    assert list(kept.columns) == ["a_rob"] and said == "Every row: dataset cifar10; ε_train 0.031."
    one, nothing = lift_constants(frame.iloc[:1])  # one row: every column is constant, keep them
    assert list(one.columns) == list(frame.columns) and nothing == ""


def test_a_figure_is_a_figure_element_with_alt_text_and_caption():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    html = figure_html(fig, "Figure: the gain of *ours* over `PGD` <per seed>")
    assert html.startswith("<figure") and html.endswith("</figure>")
    assert "alt='the gain of ours over PGD &lt;per seed&gt;'" in html
    assert "<figcaption><p class='caption'><b>Figure:</b> the gain of <em>ours</em> over " \
           "<code>PGD</code> &lt;per seed&gt;</p></figcaption>" in html
    assert not plt.get_fignums()  # the figure is closed once shown


def test_settings_tables_print_tuples_as_lists_not_python():
    """The settings tables show "0.4, 0.8" and "–" for an empty tuple, never "(0.5,)" or "()"."""
    from wmrlib.book.records import config_comparison
    from wmrlib.experiment.profiles import profile

    plan = profile("cpu").plan("mnist")
    values = config_comparison({"cpu": plan}).set_index("setting")["cpu"]
    assert values["training: milestones"] == ", ".join(f"{m:g}" for m in plan.base.milestones)
    assert values["seeds (headline models)"] == ", ".join(str(s) for s in plan.seeds)
    assert values["ε_test (sensitivity)"] == ", ".join(f"{e:g}" for e in plan.eps_tests)
    assert not [v for v in values if isinstance(v, str) and re.search(r"^\(.*\)$|,\)", v)]


def test_a_long_table_can_be_collapsed_under_one_line():
    """display_frame(..., summary=...) and details(): the table and its CSV open under a
    <details> whose visible line is the summary; without one the table shows as before."""
    from wmrlib.book.display import details

    frame = pd.DataFrame({"model": ["PGD", "TRADES"], "a_rob": [88.0, 86.5]})
    table = show(frame)
    table.summary = "Every *model* (2 rows)"
    html = table._repr_html_()
    assert html.startswith("<details class='wmr-details'><summary>Every <em>model</em> (2 rows)"
                           "</summary><style") or html.startswith(
        "<details class='wmr-details'><summary>Every <em>model</em> (2 rows)</summary>")
    assert html.endswith("</details>") and "<table" in html and "data:text/csv" in html
    assert not show(frame)._repr_html_().startswith("<details")
    assert details("a <b>", "<p>x</p>") == ("<details class='wmr-details'><summary>a &lt;b&gt;"
                                            "</summary><p>x</p></details>")


def test_seed_means_read_as_mean_plus_minus_sd():
    from wmrlib.analysis.robustness import seed_means
    from wmrlib.book.views import mean_sd

    per_seed = pd.DataFrame({"model": ["PGD", "PGD (seed 1)", "PGD (seed 2)", "TRADES"],
                             "α_test": [1.0, 1.0, 1.0, 1.0], "A_rob": [90.0, 92.0, 94.0, 80.0]})
    means = seed_means(per_seed, ("model", "α_test"))
    assert list(means["model"]) == ["PGD", "TRADES"] and list(means["seeds"]) == [3, 1]
    assert means["A_rob"].tolist() == [92.0, 80.0] and means["A_rob SD"].iloc[0] == 2.0
    assert means["A_rob SD"].isna().iloc[1]
    view = mean_sd(means, ["model", "α_test"])
    assert view["A_rob"].tolist() == ["92.00 ± 2.00", "80.00"]
    assert list(view.columns) == ["model", "α_test", "seeds", "A_rob"]
