"""The α_test explorer: an inline widget that recomputes A_sa at any α_test in the reader's browser.

The numbers come from :mod:`wmrlib.analysis.explorer` (quantised margins of every headline model
and seed); this module only lays them out as HTML, an SVG chart and a table, with inline
JavaScript: no file, script or font from outside the page. ``?alpha_test=3`` in the page's
address sets the slider. Each displayed seed mean is an element with ``data-dataset``,
``data-model``, ``data-alpha-test`` and ``data-value`` (unrounded, in %), for tests and readers.
"""
from __future__ import annotations

import html
import json
from typing import Sequence

from IPython.display import HTML, Markdown, display

from ..analysis.explorer import ExplorerData, explorer_data
from ..experiment.registry import FAMILY_NAMES

DEFAULT_ALPHA_TEST = 2.0  # where the slider starts without ?alpha_test= (the paper's largest)
# Each family's colour: matplotlib's C0 and C1, as in the figures ("PGD", "TRADES").
COLOURS = dict(zip(FAMILY_NAMES, ("#1f77b4", "#ff7f0e")))

STYLE = """<style>
.wmr-explorer{margin:1em 0 1.5em}
.wmr-explorer .wmr-controls{display:flex;align-items:center;gap:.8em;flex-wrap:wrap;margin-bottom:.4em}
.wmr-explorer input[type=range]{width:22em;max-width:100%}
.wmr-explorer output{font-weight:bold;min-width:3em;display:inline-block}
.wmr-explorer .wmr-panels{display:flex;flex-wrap:wrap;gap:1em}
.wmr-explorer .wmr-panel{flex:1 1 20em;min-width:18em}
.wmr-explorer svg{width:100%;height:auto;font-size:11px;cursor:crosshair}
.wmr-explorer svg text{fill:currentColor}
.wmr-explorer .wmr-legend{font-size:.85em;margin:.2em 0 .6em;display:flex;flex-wrap:wrap;row-gap:.2em}
.wmr-explorer .wmr-legend span{margin-right:1.2em;white-space:nowrap}
.wmr-explorer table.wmr-explorer-table{font-size:.9em;width:auto}
.wmr-explorer table.wmr-explorer-table th,.wmr-explorer table.wmr-explorer-table td{padding:.15em .5em}
.wmr-explorer table.wmr-explorer-table td{white-space:nowrap}
.wmr-explorer td.wmr-num{text-align:right;font-variant-numeric:tabular-nums}
</style>"""

# Decodes the quantised margins, computes A_sa(α) = Σ_correct w / Σ w with w = exp(−α·(m − min m))
# per seed, and redraws the charts and the table whenever α_test changes.
SCRIPT = r"""<script>
(function () {
  var root = document.getElementById('wmr-explorer');
  if (!root) return;
  var data = JSON.parse(root.querySelector('script.wmr-data').textContent);
  var colours = JSON.parse(root.getAttribute('data-colours'));
  var slider = root.querySelector('input[type=range]');
  var shown = root.querySelector('output');
  var NS = 'http://www.w3.org/2000/svg';
  var GRID = 100;  // chart points over [0, alpha_max]

  function decode(seed) {
    var raw = atob(seed.codes), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var view = new DataView(bytes.buffer), n = raw.length / seed.bytes;
    var m = new Float64Array(n), lowest = Infinity;
    for (var j = 0; j < n; j++) {
      var code = seed.bytes === 2 ? view.getUint16(2 * j, true) : view.getUint32(4 * j, true);
      m[j] = seed.low + seed.step * code;
      if (m[j] < lowest) lowest = m[j];
    }
    return {margins: m, nCorrect: seed.n_correct, lowest: lowest};
  }
  function aSa(s, alpha) {
    var num = 0, den = 0, m = s.margins;
    for (var i = 0; i < m.length; i++) {
      var w = Math.exp(-alpha * (m[i] - s.lowest));
      den += w;
      if (i < s.nCorrect) num += w;
    }
    return 100 * num / den;
  }
  function summary(model, alpha) {
    var v = model.decoded.map(function (s) { return aSa(s, alpha); });
    var mean = v.reduce(function (a, b) { return a + b; }, 0) / v.length;
    return {mean: mean, low: Math.min.apply(null, v), high: Math.max.apply(null, v)};
  }
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el('text', {x: x, y: y, 'text-anchor': anchor || 'middle'}, parent);
    t.textContent = s;
    return t;
  }

  var W = 420, H = 250, L = 42, R = 10, T = 14, B = 34;
  data.forEach(function (d) {
    d.models.forEach(function (model) {
      model.decoded = model.seeds.map(decode);
      model.curve = [];
      for (var g = 0; g <= GRID; g++) {
        var a = d.alpha_max * g / GRID;
        model.curve.push([a, summary(model, a)]);
      }
    });
    var values = [];
    d.models.forEach(function (model) {
      model.curve.forEach(function (p) { values.push(p[1].low, p[1].high); });
      model.a_tr.forEach(function (p) { values.push(p[1]); });
    });
    var lo = Math.max(0, Math.floor(Math.min.apply(null, values) / 10) * 10);
    var hi = Math.min(100, Math.ceil(Math.max.apply(null, values) / 10) * 10);
    if (hi <= lo) hi = lo + 10;
    d.x = function (a) { return L + (W - L - R) * a / d.alpha_max; };
    d.y = function (v) { return T + (H - T - B) * (hi - v) / (hi - lo); };
    var svg = root.querySelector('svg[data-dataset="' + d.dataset + '"]');
    var axes = el('g', {}, svg);
    for (var v = lo; v <= hi; v += 10) {
      el('line', {x1: L, x2: W - R, y1: d.y(v), y2: d.y(v), stroke: '#ddd'}, axes);
      text(axes, L - 5, d.y(v) + 4, String(v), 'end');
    }
    for (var a = 0; a <= d.alpha_max; a += 2) text(axes, d.x(a), H - B + 15, String(a));
    text(axes, (L + W - R) / 2, H - 3, 'α_test');
    var ylabel = text(axes, 11, (T + H - B) / 2, 'A_sa (%)');
    ylabel.setAttribute('transform', 'rotate(-90 11 ' + (T + H - B) / 2 + ')');
    text(axes, L + 4, T - 3, d.name, 'start').setAttribute('font-weight', 'bold');
    d.paper_alpha_tests.forEach(function (a) {
      el('line', {x1: d.x(a), x2: d.x(a), y1: T, y2: H - B, stroke: '#888',
                  'stroke-dasharray': '2 3'}, axes);
    });
    el('line', {x1: L, x2: L, y1: T, y2: H - B, stroke: '#444'}, axes);
    el('line', {x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: '#444'}, axes);
    d.models.forEach(function (model) {
      var colour = colours[model.family] || '#555';
      var upper = model.curve.map(function (p) { return d.x(p[0]) + ',' + d.y(p[1].high); });
      var lower = model.curve.map(function (p) { return d.x(p[0]) + ',' + d.y(p[1].low); });
      el('polygon', {points: upper.concat(lower.reverse()).join(' '), fill: colour,
                     'fill-opacity': 0.15, stroke: 'none'}, svg);
      var line = el('polyline', {points: model.curve.map(function (p) {
        return d.x(p[0]) + ',' + d.y(p[1].mean); }).join(' '), fill: 'none', stroke: colour,
        'stroke-width': 1.8}, svg);
      if (!model.alpha_train) line.setAttribute('stroke-dasharray', '6 3');
      model.a_tr.forEach(function (p) {
        var x = d.x(p[0]), y = d.y(p[1]), s = 5;
        var mark = el('polygon', {points: [x, y - s, x + s, y, x, y + s, x - s, y].join(' '),
                                  fill: model.alpha_train ? colour : '#fff', stroke: colour}, svg);
        el('title', {}, mark).textContent = model.label + ': A_tr(' + p[0] + ') = ' +
          p[1].toFixed(2) + ' % (weighted attack, seed mean)';
      });
    });
    d.cursor = el('line', {y1: T, y2: H - B, stroke: '#000', 'stroke-width': 1}, svg);
    d.dots = d.models.map(function (model) {
      return el('circle', {r: 3.5, fill: colours[model.family] || '#555'}, svg);
    });
    svg.addEventListener('click', function (event) {
      var box = svg.getBoundingClientRect();
      var x = (event.clientX - box.left) * W / box.width;
      var a = Math.round(10 * Math.max(0, Math.min(d.alpha_max, (x - L) * d.alpha_max / (W - L - R)))) / 10;
      slider.value = a;
      update(a, true);
    });
  });

  function update(alpha, remember) {
    shown.textContent = String(alpha);
    data.forEach(function (d) {
      d.cursor.setAttribute('x1', d.x(alpha));
      d.cursor.setAttribute('x2', d.x(alpha));
      d.models.forEach(function (model, i) {
        var s = summary(model, alpha);
        d.dots[i].setAttribute('cx', d.x(alpha));
        d.dots[i].setAttribute('cy', d.y(s.mean));
        var row = root.querySelector('tr[data-dataset="' + d.dataset + '"][data-model="' +
                                     model.label + '"]');
        var cell = row.querySelector('.wmr-asa');
        cell.setAttribute('data-alpha-test', String(alpha));
        cell.setAttribute('data-value', String(s.mean));
        cell.textContent = s.mean.toFixed(2);
        row.querySelector('.wmr-range').textContent = s.low.toFixed(2) + ' – ' + s.high.toFixed(2);
        var tr = model.a_tr.filter(function (p) { return Math.abs(p[0] - alpha) < 1e-9; });
        row.querySelector('.wmr-atr').textContent = tr.length ? tr[0][1].toFixed(2) : '–';
      });
    });
    if (remember) {
      try { history.replaceState(null, '', '?alpha_test=' + alpha + location.hash); } catch (e) {}
    }
  }

  var start = parseFloat(root.getAttribute('data-default'));
  var asked = parseFloat(new URLSearchParams(location.search).get('alpha_test'));
  var alphaMax = parseFloat(slider.max);
  if (isFinite(asked) && asked >= 0 && asked <= alphaMax) start = asked;
  slider.value = start;
  slider.addEventListener('input', function () { update(parseFloat(slider.value), true); });
  update(start, false);
  root.setAttribute('data-ready', 'true');
})();
</script>"""


def _number(value: float) -> str:
    return f"{value:g}"


def _table(datasets: Sequence[ExplorerData], alpha: float) -> str:
    """Return the explorer's table at ``alpha`` as computed here (the script replaces the values)."""
    head = ("<thead><tr><th>dataset</th><th>model</th><th>A_sa, seed mean (%)</th>"
            "<th>seed range (%)</th><th>A_tr, stored (%)</th><th>seeds</th></tr></thead>")
    rows = []
    for d in datasets:
        for m in d.models:
            mean, low, high = m.a_sa(alpha)
            tr = m.a_tr.get(alpha)
            label = html.escape(m.label, quote=True)
            rows.append(
                f"<tr data-dataset='{d.dataset}' data-model='{label}'><td>{html.escape(d.name)}</td>"
                f"<td>{html.escape(m.label)}</td>"
                f"<td class='wmr-num wmr-asa' data-dataset='{d.dataset}' data-model='{label}' "
                f"data-alpha-test='{_number(alpha)}' data-value='{mean!r}'>{mean:.2f}</td>"
                f"<td class='wmr-num wmr-range'>{low:.2f} – {high:.2f}</td>"
                f"<td class='wmr-num wmr-atr'>{'–' if tr is None else f'{tr:.2f}'}</td>"
                f"<td class='wmr-num'>{len(m.seeds)}</td></tr>")
    return f"<table class='table wmr-explorer-table'>{head}<tbody>{''.join(rows)}</tbody></table>"


def _legend(datasets: Sequence[ExplorerData]) -> str:
    families = sorted({m.family for d in datasets for m in d.models})
    swatches = "".join(f"<span><b style='color:{COLOURS.get(f, '#555')}'>▬</b> {f} family</span>"
                       for f in families)
    return (f"<div class='wmr-legend'>{swatches}<span>solid: +ours, dashed: baseline</span>"
            "<span>band: lowest to highest seed</span><span>◆ stored A_tr (hollow: baseline)</span>"
            "<span>dotted: the paper's α_test grid</span></div>")


def _seeds(d: ExplorerData) -> str:
    counts = sorted({len(m.seeds) for m in d.models})
    many = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"{d.name}: {many} seeds per model, {d.eval_size:,} test images, ε {d.eps:g}"


def _caption(datasets: Sequence[ExplorerData]) -> str:
    grid = ", ".join(_number(a) for a in datasets[0].paper_alpha_tests)
    stored = sorted({a for d in datasets for a in d.stored_alpha_tests})
    where = (f"which exists only at α_test {', '.join(_number(a) for a in stored)}" if stored
             else "which is not available for these models")
    attacks = " and ".join(sorted({d.attack for d in datasets}))
    bound = max(d.bound_pp for d in datasets)
    return (
        "<p class='caption'><b>Explorer: the reader's own attacker.</b> A_sa(α_test) of each "
        "headline model, recomputed in your browser from every test image's margin and "
        f"correctness under the uniform {html.escape(attacks)} attack: an attacker that picks "
        "test images with probability proportional to exp(−α_test · margin), from α_test 0 "
        "(every image alike: A_rob) to 10 (almost only the most vulnerable). Lines are seed "
        "means, bands span the lowest to the highest seed, diamonds are the A_tr values of the "
        f"weighted attack, {where}; dotted lines mark the paper's "
        f"α_test grid ({grid}). {'; '.join(_seeds(d) for d in datasets)}. Drag the slider or "
        "click a chart; add <code>?alpha_test=3</code> to the page's address to link to a view. "
        f"The margins are rounded for the page, which moves no A_sa by more than {bound:.2f} pp.</p>")


def explorer_html(datasets: Sequence[ExplorerData], alpha_test: float = DEFAULT_ALPHA_TEST) -> str:
    """Return the explorer for ``datasets`` as one self-contained HTML fragment (inline CSS, data
    and JavaScript), showing ``alpha_test`` until the script runs or the address asks otherwise."""
    if not datasets:
        raise ValueError("the explorer needs the data of at least one dataset")
    alpha_max = max(d.alpha_max for d in datasets)
    grid = "".join(f"<option value='{_number(a)}'></option>" for a in datasets[0].paper_alpha_tests)
    payload = json.dumps([d.to_json() for d in datasets], ensure_ascii=True,
                         separators=(",", ":")).replace("</", "<\\/")
    panels = "".join(
        f"<div class='wmr-panel'><svg data-dataset='{d.dataset}' viewBox='0 0 420 250' role='img' "
        f"aria-label='A_sa of the {html.escape(d.name)} headline models against α_test'></svg></div>"
        for d in datasets)
    return (
        f"<div id='wmr-explorer' class='wmr-explorer' data-default='{_number(alpha_test)}' "
        f"data-colours='{html.escape(json.dumps(COLOURS), quote=True)}'>{STYLE}"
        "<div class='wmr-controls'><label for='wmr-alpha-test'>α_test</label>"
        f"<input type='range' id='wmr-alpha-test' min='0' max='{_number(alpha_max)}' step='0.1' "
        f"value='{_number(alpha_test)}' list='wmr-paper-grid'><output for='wmr-alpha-test'>"
        f"{_number(alpha_test)}</output><datalist id='wmr-paper-grid'>{grid}</datalist></div>"
        f"<div class='wmr-panels'>{panels}</div>{_legend(datasets)}"
        f"{_table(datasets, alpha_test)}{_caption(datasets)}"
        f"<script type='application/json' class='wmr-data'>{payload}</script>{SCRIPT}</div>"
        "<!-- /wmr-explorer -->")


def alpha_explorer(page, datasets: Sequence[str] = ("mnist", "fashionmnist")) -> list[ExplorerData]:
    """Show the α_test explorer for ``datasets`` on a chapter (``page``: a :class:`~.page.Page`),
    from the first profile with their results; return the data it shows."""
    shown, missing = [], []
    for dataset in datasets:
        source, value = page.first(dataset, lambda s: explorer_data(s.store, s.plan))
        if source is None:
            missing.append(value)
        elif not source.synthetic:
            shown.append(value)
    if not shown:
        display(Markdown("```{note}\n" + " ".join(missing or ["No real-data results yet."]) + "\n```"))
        return []
    display(HTML(explorer_html(shown)))
    return shown
