"""Training collapse: read from the learning curves, hand-computed cases."""
from __future__ import annotations

import doctest

import pandas as pd

from wmrlib import collapse


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


def test_the_docstring_example_holds():
    assert doctest.testmod(collapse).failed == 0
