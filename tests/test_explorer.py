"""The α_test explorer's data and widget: quantised margins keep every A_sa within the stated
bound of ``wmrlib.a_sa`` on the stored records, the labels are the claims' and gain tables', the
A_tr marks are the stored ones, and the widget's own script computes the same values (in headless
Chromium, when one is installed; the built page's check is in tests/test_book_build.py)."""
from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import wmrlib
from wmrlib.analysis import claims
from wmrlib.analysis.explorer import (ALPHA_MAX, TOLERANCE_PP, error_bound_pp, exact_a_sa,
                                      explorer_data, model_label, quantise)
from wmrlib.analysis.results import ProfileResults
from wmrlib.book.explorer import explorer_html
from wmrlib.core.paths import REPO_ROOT
from wmrlib.experiment.profiles import profile

ALPHAS = np.linspace(0.0, ALPHA_MAX, 41)
CELL = re.compile(r"<td\b[^>]*\bwmr-asa\b[^>]*>")
ATTRIBUTE = re.compile(r'([\w-]+)=(["\'])(.*?)\2', re.S)


@pytest.fixture(scope="module")
def smoke():
    """The committed smoke results: (store, {dataset: plan}, {dataset: explorer data})."""
    store = ProfileResults("smoke", REPO_ROOT / "results").store
    plans = {d: profile("smoke").plan(d) for d in ("mnist", "fashionmnist")}
    return store, plans, {d: explorer_data(store, p) for d, p in plans.items()}


def displayed(dom: str) -> list[dict[str, str]]:
    """Return the attributes of every displayed A_sa (a ``wmr-asa`` cell) in an HTML document."""
    return [{k: html.unescape(v) for k, _, v in ATTRIBUTE.findall(tag)} for tag in CELL.findall(dom)]


def test_quantised_a_sa_stays_within_its_bound_of_wmrlib_a_sa(smoke):
    store, plans, data = smoke
    for dataset, d in data.items():
        assert d.bound_pp <= TOLERANCE_PP < 0.1
        for model in d.models:
            for alpha in ALPHAS:
                exact = exact_a_sa(store, plans[dataset], model.label, alpha)
                quantised = [s.a_sa(alpha) for s in model.seeds]
                assert np.max(np.abs(np.subtract(quantised, exact))) <= d.bound_pp, (model.label, alpha)
                assert model.a_sa(alpha)[0] == pytest.approx(np.mean(exact), abs=d.bound_pp)


def test_exact_a_sa_is_wmrlibs_on_the_stored_record(smoke):
    store, plans, data = smoke
    plan = plans["mnist"]
    config = plan.headline_models()[1]
    record = store.get_or_attack(config, plan.attack, 0.0, eval_size=plan.eval_size,
                                 eval_seed=plan.eval_seed)
    assert exact_a_sa(store, plan, model_label(config), 3.0)[0] == pytest.approx(
        100 * wmrlib.a_sa(record.correct, record.margin, 3.0), abs=1e-12)


@pytest.mark.parametrize("span", [2.0, 40.0, 400.0])
def test_the_bound_holds_for_wide_margins_and_adversarial_rounding(span):
    rng = np.random.default_rng(0)
    margins = rng.uniform(-span / 2, span / 2, 3000)
    correct = rng.random(3000) < 0.6
    q = quantise(correct, margins)
    assert q.codes.dtype.itemsize == (2 if span <= 2 else 4)
    assert error_bound_pp(q.step) <= TOLERANCE_PP
    assert np.max(np.abs(np.sort(q.margins()) - np.sort(margins))) <= q.step / 2 + 1e-12
    for alpha in ALPHAS:
        exact = 100 * wmrlib.a_sa(correct, margins, alpha)
        assert abs(q.a_sa(alpha) - exact) <= error_bound_pp(q.step, max(alpha, 1e-12)) + 1e-9
    # The worst case the bound covers: every correct margin rounded up, every other one down.
    step = q.step
    worst = np.where(correct, margins + step / 2, margins - step / 2)
    assert abs(100 * wmrlib.a_sa(correct, worst, ALPHA_MAX)
               - 100 * wmrlib.a_sa(correct, margins, ALPHA_MAX)) <= error_bound_pp(step)


def test_quantise_rejects_what_it_cannot_represent():
    with pytest.raises(ValueError, match="equal-length"):
        quantise([True], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        quantise([True, False], [0.1, np.inf])
    same = quantise([True, False], [0.5, 0.5])
    assert same.a_sa(10.0) == pytest.approx(50.0)


def test_the_page_data_decodes_to_the_same_margins(smoke):
    _, _, data = smoke
    seed = data["mnist"].models[0].seeds[0]
    page = seed.to_json()
    codes = np.frombuffer(base64.b64decode(page["codes"]), dtype=f"<u{page['bytes']}")
    assert np.array_equal(page["low"] + page["step"] * codes.astype(float), seed.margins())
    assert page["n_correct"] == seed.correct().sum()


def test_labels_are_the_claims_and_the_models_are_the_headline_seeds(smoke):
    _, plans, data = smoke
    for dataset, d in data.items():
        plan = plans[dataset]
        assert [m.label for m in d.models] == [claims._label(f, a) for f, alpha in
                                               plan.headline_pairs() for a in (0.0, alpha)]
        for model in d.models:
            assert sorted(s.seed for s in model.seeds) == sorted(
                c.seed for c in plan.headline_seed_models() if model_label(c) == model.label)


def test_a_tr_marks_are_the_stored_seed_means(smoke):
    store, plans, data = smoke
    plan = plans["mnist"]
    model = data["mnist"].models[1]
    configs = [c for c in plan.headline_seed_models() if model_label(c) == model.label]
    assert set(model.a_tr) == set(plan.alpha_tests)
    for alpha, value in model.a_tr.items():
        records = [store.get_or_evaluate(c, plan.attack, (alpha,), eval_size=plan.eval_size,
                                         eval_seed=plan.eval_seed) for c in configs]
        assert value == pytest.approx(100 * np.mean([r.a_tr(alpha) for r in records]), abs=1e-9)


def test_the_widget_is_self_contained_and_shows_every_model(smoke):
    _, _, data = smoke
    page = explorer_html(list(data.values()), alpha_test=1.5)
    assert not re.search(r"<(script|link|img)\b[^>]*(src|href)=[\"']?(https?:)?//", page)
    assert "@import" not in page and "url(" not in page
    cells = displayed(page)
    assert {(c["data-dataset"], c["data-model"]) for c in cells} == {
        (d.dataset, m.label) for d in data.values() for m in d.models}
    for c in cells:
        model = next(m for m in data[c["data-dataset"]].models if m.label == c["data-model"])
        assert c["data-alpha-test"] == "1.5"
        assert float(c["data-value"]) == pytest.approx(model.a_sa(1.5)[0], abs=1e-9)
    assert len(page.encode()) < 1_000_000


def test_the_widget_computes_the_same_values_in_chromium(smoke, tmp_path):
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium here (apt-get install chromium)")
    store, plans, data = smoke
    path = tmp_path / "explorer.html"
    path.write_text("<!doctype html><html><head><meta charset='utf-8'></head><body>"
                    + explorer_html(list(data.values())) + "</body></html>")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=5000", "--dump-dom", path.as_uri() + "?alpha_test=7.25"],
                         capture_output=True, text=True, timeout=120).stdout
    cells = displayed(dom)
    assert len(cells) == sum(len(d.models) for d in data.values()), dom[-2000:]
    for c in cells:
        assert c["data-alpha-test"] == "7.25"
        exact = np.mean(exact_a_sa(store, plans[c["data-dataset"]], c["data-model"], 7.25))
        assert float(c["data-value"]) == pytest.approx(exact, abs=0.1)
