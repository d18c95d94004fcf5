"""Is the robustness real? AutoAttack beside PGD, masking probes, and the headline claims again.

Every number of the book comes from PGD, and reweighted adversarial training is where PGD can
mislead: the weighting multiplies the loss by exp(−α·margin), a kind of loss scaling, and
saturated or shattered gradients make PGD report robustness that a stronger attack removes.
This module reads the robustness units (:mod:`wmrlib.experiment.robustness_plan`) of each headline model and
returns, all on one test subset:

* A_rob under every PGD variant the plan runs, AutoAttack and the logit-scaling attack;
* A_sa under PGD and under AutoAttack, A_tr under weighted PGD and under weighted APGD;
* the masking probes, each with a boolean ``flag`` (:func:`probes`);
* claims C2 and C3 per defense family under PGD and under AutoAttack (:func:`claim_rows`).
"""
from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd

from ..compute.adaptive import STAGES
from ..compute.evaluate import attack_record
from ..compute.outcome import AttackRecord
from ..experiment.config import AttackConfig, RunConfig
from ..experiment.registry import FAMILIES, FAMILY_NAMES, Defense
from ..experiment.robustness_plan import (robust_models, robustness_units, RobustnessPlan,
                                          standard_autoattack)
from ..method import metrics
from ..workflow.store import MissingResult, Store
from . import paper
from .claims import C3_TOL, CLAIMS, comparisons, summary
from .stats import family_name, interval, judge
from .gains import our_gains

# Flag thresholds. Each probe flags what a sound evaluation of an undefended-gradient model
# would not show.
LOGIT_GAP_PP = 3.0   # logit scaling fools this many pp more than PGD: more than restarts explain
SQUARE_PP = 0.2      # AutoAttack's check_square_sr: Square alone fools > 0.2 % of the examples
JITTER = 1e-4        # AutoAttack's check_randomized: normalised logits of two passes differ
LARGE_EPS_ROB = 10.0  # % A_rob left at the sweep's largest ε (at ε ≥ 0.5 the grey image is in
                      # every MNIST ball, so a sound attack leaves about 0)
SQUARE = STAGES.index("square")
# A model card flags a model whose main-attack (40-PGD) A_rob exceeds its AutoAttack A_rob by more
# than this, on the same images: published MNIST models lose 1.1-2.8 pp (published_gaps).
PGD_GAP_PP = 3.0
PROBES = ("logit scaling", "Square beats white-box", "zero gradients", "randomness",
          "A_rob → 0 as ε grows")
# What each probe measures (the ε sweep's row of a model adds its A_rob at every ε).
PROBE_TESTS = dict(zip(PROBES, (
    "pp of A_rob that PGD on c·logits removes beyond PGD (saturated or vanishing logits)",
    "% of examples only the black-box Square attack fooled (AutoAttack's check)",
    "% of attacked examples whose input gradient is exactly 0 (AutoAttack's check)",
    "largest change of the normalised logits between two forward passes (AutoAttack's check)",
    "% A_rob under PGD at the sweep's largest ε")))


def plan_for(plan) -> RobustnessPlan:
    """Return the plan's robustness check (``DatasetPlan.robustness`` when the profile sets one,
    else AutoAttack at the plan's ε on 500 test images)."""
    found = getattr(plan, "robustness", None)
    if found is not None:
        return found
    size = min(n for n in (plan.eval_size, plan.side_eval_size, 500) if n is not None)
    return RobustnessPlan(standard_autoattack(plan.attack.eps), eval_size=size)


# --- the masking probes ---------------------------------------------------------------------------

def probes(pgd: AttackRecord, autoattack: AttackRecord, logit: AttackRecord,
           sweep: dict[float, AttackRecord]) -> pd.DataFrame:
    """Return one row per masking probe: probe, value, threshold, flag (bool), what it tests.

    ``pgd`` is the plan's PGD unit and ``logit`` the logit-scaling unit on the same examples,
    ``autoattack`` the AutoAttack unit (with its ``stage``, ``grad_l1`` and ``logit_jitter``
    arrays), ``sweep`` the PGD unit at each ε of the sweep.
    """
    attacked = autoattack.extra["stage"] != 0  # AutoAttack attacks what the model gets right
    largest = max(sweep)
    rows = [
        ("logit scaling", 100 * (pgd.correct.mean() - logit.correct.mean()), LOGIT_GAP_PP,
         PROBE_TESTS["logit scaling"]),
        ("Square beats white-box", 100 * float((autoattack.extra["stage"] == SQUARE).mean()),
         SQUARE_PP, PROBE_TESTS["Square beats white-box"]),
        ("zero gradients", 100 * float((autoattack.extra["grad_l1"][attacked] == 0).mean())
         if attacked.any() else 0.0, 0.0, PROBE_TESTS["zero gradients"]),
        ("randomness", float(autoattack.extra["logit_jitter"].max()), JITTER,
         PROBE_TESTS["randomness"]),
        ("A_rob → 0 as ε grows", 100 * float(sweep[largest].correct.mean()), LARGE_EPS_ROB,
         "% A_rob under PGD at ε " + ", ".join(f"{e:g}: {100 * sweep[e].correct.mean():.1f}"
                                                for e in sorted(sweep))),
    ]
    # Rounded so that a value on the threshold (3 pp of 100 images) is not flagged by float noise.
    return pd.DataFrame([{"probe": p, "value": float(v), "threshold": t,
                          "flag": bool(round(float(v), 9) > t),
                          "what it tests": w} for p, v, t, w in rows])


def model_probes(store: Store, plan, config: RunConfig, rp: RobustnessPlan | None = None) -> pd.DataFrame:
    """Return :func:`probes` of one stored model (MissingResult when a unit is not stored)."""
    rp = rp or plan_for(plan)
    unit = _units(store, plan, config, rp)
    sweep = {a.eps: unit(a) for a in rp.sweep_attacks(plan.attack)}
    return probes(unit(plan.attack), unit(rp.attack), unit(rp.logit_attack(plan.attack)), sweep)


def is_checked(store: Store, plan, config: RunConfig, rp: RobustnessPlan) -> bool:
    """Return whether every robustness unit of ``config`` is stored (never attacks)."""
    return all(store.has_unit(config, a, alpha, eval_size=n, eval_seed=plan.eval_seed)
               for a, alpha, n in robustness_units(plan, config, rp))


def flagged_models(store: Store, plan) -> dict[str, list[str]]:
    """Return each checked model whose stored probes raise a flag (its label → the probes that
    fired); models whose check is not stored yet are left out."""
    rp = plan_for(plan)
    out = {}
    for config in robust_models(plan, rp):
        if not is_checked(store, plan, config, rp):
            continue  # never attack while rendering a page
        frame = model_probes(store, plan, config, rp)
        fired = list(frame.loc[frame["flag"], "probe"])
        if fired:
            out[label(config)] = fired
    return out


def probe_model(model, data, attack: AttackConfig, rp: RobustnessPlan, *, batch_size: int = 256,
                device=None, seed: int = 0) -> pd.DataFrame:
    """Return :func:`probes` of any model on ``data``, attacking it now (no store): ``attack`` is
    the PGD attack the probes compare with, ``rp`` gives AutoAttack, the scales and the sweep."""
    def run(a: AttackConfig) -> AttackRecord:
        return attack_record(model, data, a, 0.0, batch_size=batch_size, device=device,
                             seed=seed, progress=False)

    sweep = {a.eps: run(a) for a in rp.sweep_attacks(attack)}
    return probes(run(attack), run(rp.attack), run(rp.logit_attack(attack)), sweep)


def stored_check(store: Store, plan, rp: RobustnessPlan) -> tuple[RobustnessPlan, bool]:
    """Return ``rp`` cut to the first seed's models when a later seed's units are not all stored
    yet (a campaign in progress), and whether it was cut."""
    def complete(check: RobustnessPlan) -> bool:
        return all(is_checked(store, plan, c, rp) for c in robust_models(plan, check))

    if complete(rp):
        return rp, False
    first = replace(rp, models="headline")
    if complete(first) or len(rp.families) == 1:
        return first, first != rp
    # A family whose first-seed pair is checked shows before the other's is.
    done = tuple(f for f in rp.families if complete(replace(first, families=(f,))))
    cut = replace(first, families=done) if done else first
    return cut, cut != rp


def _units(store: Store, plan, config: RunConfig, rp: RobustnessPlan):
    def unit(attack: AttackConfig | None, alpha: float = 0.0) -> AttackRecord:
        return store.get_or_attack(config, attack, alpha, eval_size=rp.eval_size,
                                   eval_seed=plan.eval_seed)
    return unit


def label(config: RunConfig) -> str:
    """Return a model's row label, e.g. ``PGD+ours α 0.5`` (with the seed after the first)."""
    text = config.label + (f" α {config.alpha_train:g}" if config.alpha_train else "")
    return text + (f" (seed {config.seed})" if config.seed else "")


_SEED = re.compile(r" \(seed \d+\)$")  # what :func:`label` adds after the first seed


def seed_means(frame: pd.DataFrame, by=("model",)) -> pd.DataFrame:
    """Return a per-seed table of this module (one row per model label of :func:`label`, and
    per ``by``'s other keys) as one row per model: each number column's mean over the seeds and,
    as ``<column> SD``, its standard deviation (NaN with one seed), with ``seeds`` counted."""
    frame = frame.assign(model=frame["model"].str.replace(_SEED, "", regex=True))
    keys = list(by)
    numbers = [c for c in frame.columns if c not in keys and pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    groups = frame.groupby(keys, sort=False)
    out = groups[numbers].mean()
    spread = groups[numbers].std(ddof=1).add_suffix(" SD")
    out = pd.concat([groups.size().rename("seeds"), out, spread], axis=1).reset_index()
    return out[keys + ["seeds"] + [c for n in numbers for c in (n, f"{n} SD")]]


def probe_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`probe_table` as one row per probe: how many checked models (seeds counted
    apart) it flags of how many, the smallest and largest value, and its threshold."""
    rows = []
    for probe, part in table.groupby("probe", sort=False):
        rows.append({"probe": probe, "flagged": int(part["flag"].sum()), "models": len(part),
                     "smallest": float(part["value"].min()), "largest": float(part["value"].max()),
                     "threshold": float(part["threshold"].iloc[0]),
                     "what it tests": PROBE_TESTS.get(probe, "")})
    return pd.DataFrame(rows)


# --- the tables of the page -----------------------------------------------------------------------

def accuracy_table(store: Store, plan, rp: RobustnessPlan | None = None) -> pd.DataFrame:
    """Return A_nat and A_rob (%) of each checked model under every attack, on one subset."""
    rp = rp or plan_for(plan)
    rows = []
    for config in robust_models(plan, rp):
        unit = _units(store, plan, config, rp)
        row = {"model": label(config), "A_nat": 100 * metrics.a_nat(unit(None).correct)}
        for attack in (plan.attack, *plan.other_attacks):
            row[attack.name] = 100 * metrics.a_rob(unit(attack).correct)
        row["logit scaling"] = 100 * metrics.a_rob(unit(rp.logit_attack(plan.attack)).correct)
        row[rp.attack.name] = 100 * metrics.a_rob(unit(rp.attack).correct)
        rows.append(row)
    return pd.DataFrame(rows)


def nonuniform_table(store: Store, plan, rp: RobustnessPlan | None = None) -> pd.DataFrame:
    """Return A_sa under PGD and AutoAttack, A_tr under weighted PGD and weighted APGD (%), per
    checked model and alpha_test."""
    rp = rp or plan_for(plan)
    rows = []
    for config in robust_models(plan, rp):
        unit = _units(store, plan, config, rp)
        pgd, aa = unit(plan.attack), unit(rp.attack)
        for a in plan.alpha_tests:
            weighted_pgd, weighted_apgd = unit(plan.attack, float(a)), unit(rp.attack, float(a))
            rows.append({
                "model": label(config), "α_test": float(a),
                f"A_sa {plan.attack.name}": 100 * metrics.a_sa(pgd.correct, pgd.margin, a),
                "A_sa AutoAttack": 100 * metrics.a_sa(aa.correct, aa.margin, a),
                f"A_tr {plan.attack.name}": 100 * metrics.a_tr(
                    weighted_pgd.correct, weighted_pgd.margin, a),
                "A_tr weighted APGD": 100 * metrics.a_tr(
                    weighted_apgd.correct, weighted_apgd.margin, a)})
    return pd.DataFrame(rows)


def probe_table(store: Store, plan, rp: RobustnessPlan | None = None) -> pd.DataFrame:
    """Return :func:`probes` of every checked model, one row per model and probe."""
    rp = rp or plan_for(plan)
    frames = [model_probes(store, plan, c, rp).assign(model=label(c)) for c in robust_models(plan, rp)]
    frame = pd.concat(frames, ignore_index=True)
    return frame[["model", "probe", "value", "threshold", "flag", "what it tests"]]


# --- the headline claims under both attacks -------------------------------------------------------

def subset_plan(plan, rp: RobustnessPlan, attack: AttackConfig):
    """Return ``plan`` cut to the check's models and subset, evaluated by ``attack``."""
    every = rp.models == "headline-seeds"
    return replace(plan, attack=attack, eval_size=rp.eval_size, side_eval_size=None,
                   pgd_alphas=(plan.headline_alpha(Defense.PGD),),
                   trades_alphas=(plan.headline_alpha(Defense.TRADES),),
                   seeds=plan.seeds if every else plan.seeds[:1],
                   family_only_seeds=plan.family_only_seeds if every else (),
                   extras=(), eps_tests=(), other_attacks=(), precision_check=False)


def claim_rows(store: Store, plan, families=FAMILIES) -> pd.DataFrame:
    """Return claims C2 (A_sa, A_tr gains > 0 at every alpha_test) and C3 (A_nat, A_rob within
    the tolerance) of ``plan``'s headline pairs of ``families``: one row per comparison with gain,
    interval and verdict, by the rules of :mod:`wmrlib.analysis.claims` (with one seed and nothing to
    pool, the interval is the paired bootstrap's alone and the comparison is not judged)."""
    pairs = plan.headline_pairs(families)
    gains = pd.concat([our_gains(store, plan, pairs, plan.alpha_tests, ("a_sa", "a_tr")),
                       our_gains(store, plan, pairs, (None,), ("a_nat", "a_rob"))],
                      ignore_index=True)
    rows = []
    for _, g in gains.iterrows():
        c2 = g["metric"] in ("A_sa", "A_tr")
        at = f" at α_test {g['alpha_test']:g}" if c2 else ""
        low, high = interval(g["gain"], g["half"])
        rows.append({"claim": "C2" if c2 else "C3", "family": g["family"],
                     "comparison": f"{g['family']}+ours α {g['alpha_train']:g} − {g['family']}: "
                                   f"{g['metric']}{at}",
                     "gain": g["gain"], "low": low, "high": high, "estimate": g["gain"],
                     "se": g["se"], "df": g["df"], "op": ">" if c2 else "within",
                     "threshold": 0.0 if c2 else C3_TOL})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["verdict"] = judge(out)
    return out.drop(columns=["estimate", "se", "df", "op", "threshold"])


def _book_verdicts(store: Store, plan) -> dict[tuple[str, str], str]:
    """Return the claims page's verdict of C2 and C3 per family (all seeds, the plan's subset)."""
    try:
        table = summary(comparisons(store, plan, only=("C2", "C3"))).set_index("claim")
    except MissingResult:
        return {}
    return {(c, f): table.loc[c, f"{f} family"] for c in ("C2", "C3") for f in FAMILY_NAMES}


def claims_table(store: Store, plan, rp: RobustnessPlan | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (verdicts, comparisons) of C2 and C3 per family: the book's PGD verdict, PGD on the
    check's subset and AutoAttack (with weighted APGD for A_tr) on it."""
    rp = rp or plan_for(plan)
    pgd = claim_rows(store, subset_plan(plan, rp, plan.attack), rp.families)
    aa = claim_rows(store, subset_plan(plan, rp, rp.attack), rp.families)
    book = _book_verdicts(store, plan)
    rows = []
    for claim in ("C2", "C3"):
        for family in (f.upper() for f in rp.families):
            row = {"claim": claim, "family": family,
                   "statement": CLAIMS[claim].format(c3_tol=C3_TOL, c1_gap=0),
                   "PGD, book": book.get((claim, family), "not stored")}
            for name, frame in ((f"{plan.attack.name}, this subset", pgd),
                                ("AutoAttack, this subset", aa)):
                part = summary(frame[frame["family"] == family]).set_index("claim")
                row[name] = part.loc[claim, f"{family} family"]
            rows.append(row)

    detail = pd.DataFrame({"claim": pgd["claim"], "family": pgd["family"],
                           "comparison": pgd["comparison"]})
    for name, frame in ((plan.attack.name, pgd), ("AutoAttack", aa)):
        detail[f"{name} gain"] = frame["gain"].to_numpy()
        detail[f"{name} interval"] = [f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in
                                      zip(frame["low"], frame["high"])]
        detail[f"{name} verdict"] = frame["verdict"].to_numpy()
    return pd.DataFrame(rows), detail


def compact_detail(detail: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`claim_rows`' comparisons with each attack's gain and interval in one column."""
    out = detail[["claim", "comparison"]].copy()  # the comparison names its family
    for name in (c.removesuffix(" gain") for c in detail.columns if c.endswith(" gain")):
        out[f"{name} gain [interval]"] = [f"{g:+.2f} {i}" for g, i in
                                          zip(detail[f"{name} gain"], detail[f"{name} interval"])]
        out[f"{name} verdict"] = detail[f"{name} verdict"]
    return out


def what_changed(verdicts: pd.DataFrame, detail: pd.DataFrame) -> str:
    """Return one sentence per defense family on how its C2 and C3 comparisons move from PGD to
    AutoAttack on the same subset: how many change verdict (and which), and the mean C2 gain under
    each attack (every seed, collapsed runs included, as in the primary analysis)."""
    pgd_gain = next(c for c in detail.columns if c.endswith(" gain") and "AutoAttack" not in c)
    pgd_verdict = pgd_gain.removesuffix(" gain") + " verdict"
    parts = []
    for family, rows in detail.groupby("family", sort=False):
        moved = rows[rows[pgd_verdict] != rows["AutoAttack verdict"]]
        c2 = rows[rows["claim"] == "C2"]
        gains = (f"its C2 gains average {c2[pgd_gain].mean():+.2f} pp under PGD and "
                 f"{c2['AutoAttack gain'].mean():+.2f} pp under AutoAttack")
        if moved.empty:
            parts.append(f"{family} family: all {len(rows)} C2 and C3 comparisons get the same "
                         f"verdict under both attacks, and {gains}")
        else:
            changes = "; ".join(f"{r['comparison'].split(': ', 1)[-1]} goes from "
                                f"{r[pgd_verdict]} to {r['AutoAttack verdict']}"
                                for _, r in moved.iterrows())
            parts.append(f"{family} family: {len(moved)} of its {len(rows)} C2 and C3 "
                         f"comparisons change verdict ({changes}), and {gains}")
    return "Under AutoAttack (weighted APGD for A_tr) on the same images and models: " \
        + ". ".join(parts) + "."


def pgd_overstatement(store: Store, plan) -> pd.DataFrame | None:
    """Return, per defense family, how many pp the main attack's A_rob exceeds AutoAttack's on
    the checked models (min, mean, max over models, seeds included); None when not all checked."""
    rp, _cut = stored_check(store, plan, plan_for(plan))
    if not all(is_checked(store, plan, c, rp) for c in robust_models(plan, rp)):
        return None
    table = accuracy_table(store, plan, rp)
    table["family"] = [family_name(c.defense) for c in robust_models(plan, rp)]  # table's row order
    table["gap"] = table[plan.attack.name] - table[rp.attack.name]
    out = table.groupby("family", sort=False)["gap"].agg(["min", "mean", "max", "count"])
    return out.reset_index().rename(columns={"count": "models"})


def pgd_gap(store: Store, plan, config: RunConfig, rp: RobustnessPlan | None = None) -> float | None:
    """Return how many pp the plan's main attack (40-PGD) overstates one model: its A_rob minus
    AutoAttack's, both on the robustness check's subset; None when either unit is not stored (it
    never attacks)."""
    rp = rp or plan_for(plan)
    store = store.read_only()
    kw = dict(eval_size=rp.eval_size, eval_seed=plan.eval_seed)
    if not all(store.has_unit(config, a, 0.0, **kw) for a in (plan.attack, rp.attack)):
        return None
    pgd, aa = (store.get_or_attack(config, a, 0.0, **kw) for a in (plan.attack, rp.attack))
    return 100 * (metrics.a_rob(pgd.correct) - metrics.a_rob(aa.correct))


def published_gaps(dataset: str) -> pd.DataFrame:
    """Return each published model of ``dataset`` with both numbers (:data:`paper.PUBLISHED`):
    its reported A_rob, its AutoAttack A_rob and the gap (pp) between them."""
    known = paper.published(dataset)
    known = known[known["autoattack"].notna() & ~known["bound"].astype(bool)]
    out = known[["family", "model", "eps", "robust", "autoattack"]].reset_index(drop=True)
    return out.assign(gap=(out["robust"] - out["autoattack"]).astype(float))


def published_comparison(store: Store, plan, rp: RobustnessPlan | None = None) -> pd.DataFrame:
    """Return, per published model of the same defense at the same ε
    (:data:`wmrlib.analysis.paper.PUBLISHED`), our unweighted baselines' A_nat, main-attack and
    AutoAttack A_rob (mean over seeds on the check's subset, AutoAttack's range) beside it, and
    how far ours lies from it under the same kind of attack (AutoAttack where it was published,
    else our PGD against its reported attack); empty when no published model matches."""
    rp = rp or plan_for(plan)
    known = paper.published(plan.dataset)
    known = known[known["eps"] == plan.attack.eps]
    if known.empty:
        return pd.DataFrame()
    models = robust_models(plan, rp)
    table = accuracy_table(store, plan, rp)
    table["family"] = [family_name(c.defense) for c in models]
    table["baseline"] = [not c.alpha_train for c in models]
    rows = []
    for _, ref in known.iterrows():
        ours = table[(table["family"] == ref["family"]) & table["baseline"]]
        if ours.empty:
            continue
        aa, pgd = ours[rp.attack.name], ours[plan.attack.name]
        has_aa = ref["autoattack"] is not None and not pd.isna(ref["autoattack"])
        robust = ("≤ " if ref["bound"] else "") + f"{ref['robust']:.2f} ({ref['attack']})"
        if has_aa:
            robust = f"{ref['autoattack']:.2f} (AutoAttack); {robust}"
            gap = f"{aa.mean() - ref['autoattack']:+.2f} (AutoAttack)"
        else:
            gap = (f"{pgd.mean() - ref['robust']:+.2f} ({plan.attack.name} against its attack"
                   + (", a bound" if ref["bound"] else "") + ")")
        rows.append({"family": ref["family"], "our models": len(ours),
                     "our A_nat": ours["A_nat"].mean(), f"our {plan.attack.name}": pgd.mean(),
                     "our AutoAttack (range)": f"{aa.mean():.2f} ({aa.min():.2f}–{aa.max():.2f})",
                     "published model": ref["model"], "published A_nat": ref["clean"],
                     "published A_rob (attack)": robust, "ours − published (pp)": gap,
                     "source": ref["source"]})
    return pd.DataFrame(rows)


def headline_sentence(store: Store, plan) -> str | None:
    """Return the landing page's sentences on the robustness check (None when it is not stored):
    what changes under AutoAttack, and which models a probe flags."""
    store = store.read_only()  # a page sentence reads what is stored; it never attacks
    rp, _cut = stored_check(store, plan, plan_for(plan))
    if not all(is_checked(store, plan, c, rp) for c in robust_models(plan, rp)):
        return None  # never attack while rendering a page
    try:
        verdicts, detail = claims_table(store, plan, rp)
    except MissingResult:
        return None
    first_only = rp.models == "headline" and len(plan.seeds) > 1
    models = "the first seed's headline models" if first_only else "every headline model"
    if len(rp.families) == 1:
        models += f" of the {rp.families[0].upper()} family (the other is not checked yet)"
    text = (f"We also attacked {models} with standard AutoAttack and probed them for gradient "
            f"masking on {rp.eval_size or 'all'} test images. " + what_changed(verdicts, detail))
    flagged = flagged_models(store, plan)
    text += (" No masking probe fires." if not flagged else " Masking probes flag " + "; ".join(
        f"{m} ({', '.join(p)})" for m, p in flagged.items()) + ".")
    return text
