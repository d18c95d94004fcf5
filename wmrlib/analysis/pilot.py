"""The schedule pilot's record (``benchmarks/pilot/schedule/``): each stage-1 run's validation
curve and the decision its protocol prescribes (``PROTOCOL.md`` there, written before the first
run): a candidate is rejected when any of its runs' validation A_rob falls
10 pp or more below its running maximum (``VALIDATION_RULE``); the survivors are ranked by their
mean validation A_rob at the end of the last stage-1 epoch; survivors within ``TIE_PP`` of the
leader tie, and the smaller 40-PGD → AutoAttack gap on 500 validation images, then the cost,
break the tie.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..experiment.config import DEFENSE_NAMES
from ..experiment.profiles import SCHEDULE_CANDIDATES, DatasetPlan, profile
from ..experiment.registry import Defense
from .collapse import VALIDATION_RULE, largest_drop

TIE_PP = 0.5  # survivors this close to the leader's mean final validation A_rob tie (PROTOCOL.md)


def stage1_runs(pilot_dir: str | Path) -> list[dict]:
    """Return the stored stage-1 runs (one dict per JSON file) in candidate order."""
    runs = [json.loads(p.read_text()) for p in sorted(Path(pilot_dir).glob("*_e*.json"))]
    order = list(SCHEDULE_CANDIDATES)
    return sorted(runs, key=lambda r: (order.index(r["candidate"]), r["config"]["defense"],
                                       r["config"]["alpha_train"]))


def _model(config: dict) -> str:
    label = DEFENSE_NAMES[config["defense"]]
    return (label + (f"+ours α {config['alpha_train']:g}" if config["alpha_train"] else "")
            + f" seed {config['seed']}")


def stage1_table(pilot_dir: str | Path) -> pd.DataFrame:
    """Return one row per stage-1 run: candidate, model, validation A_rob at the end of each
    epoch, its largest fall below the running maximum and whether it breaks the rule."""
    rows = []
    for run in stage1_runs(pilot_dir):
        curve = run["curve"]
        row = {"candidate": run["candidate"], "model": _model(run["config"])}
        for point in curve:
            if float(point["epoch"]).is_integer():
                row[f"val A_rob, epoch {int(point['epoch'])}"] = point["val_a_rob"]
        drop = largest_drop(p["val_a_rob"] for p in curve)
        row |= {"val A_nat, last": curve[-1]["val_a_nat"], "largest fall (pp)": drop,
                "collapsed": "yes" if VALIDATION_RULE.breaks(drop) else "no"}
        rows.append(row)
    return pd.DataFrame(rows)


def stage1_decision(pilot_dir: str | Path, runs_per_candidate: int = 3) -> pd.DataFrame:
    """Return one row per candidate: its runs stored, whether it survives stage 1, its mean
    final validation A_rob and its rank among the survivors (1 goes to stage 2 first)."""
    table = stage1_table(pilot_dir)
    last = [c for c in table.columns if c.startswith("val A_rob, epoch")][-1:] if len(table) else []
    rows = []
    for candidate in SCHEDULE_CANDIDATES:
        part = table[table["candidate"] == candidate] if len(table) else table
        done = len(part)
        state = ("incomplete" if done < runs_per_candidate else
                 "rejected" if (part["collapsed"] == "yes").any() else "survives")
        rows.append({"candidate": candidate, "runs": f"{done} of {runs_per_candidate}",
                     "stage 1": state,
                     "mean final val A_rob": part[last[0]].mean() if done and last else float("nan")})
    out = pd.DataFrame(rows)
    survivors = out[out["stage 1"] == "survives"].sort_values("mean final val A_rob", ascending=False)
    out["rank"] = pd.Series({i: r + 1 for r, i in enumerate(survivors.index)}, dtype="Int64")
    best = survivors["mean final val A_rob"].max() if len(survivors) else float("nan")
    out["tied with the leader"] = [
        "yes" if s == "survives" and best - v <= TIE_PP else "no" if s == "survives" else "–"
        for s, v in zip(out["stage 1"], out["mean final val A_rob"])]
    return out


def tied(pilot_dir: str | Path, runs_per_candidate: int = 3) -> list[str]:
    """Return the survivors tied with the leader (more than one: the tie-breaks decide)."""
    decision = stage1_decision(pilot_dir, runs_per_candidate)
    return list(decision.loc[decision["tied with the leader"] == "yes", "candidate"])


def candidate_cost(candidate: str) -> float:
    """Return a candidate's training cost relative to the 5-epoch schedule (the last tie-break):
    forward-backward passes per training batch, its attack steps plus the update's one."""
    base = profile("cpu-5epoch").plan("mnist").run(Defense.TRADES, 0.0).attack_steps
    steps = SCHEDULE_CANDIDATES[candidate].get("attack_steps", base)
    return (steps + 1) / (base + 1)


def tiebreak_table(pilot_dir: str | Path) -> pd.DataFrame:
    """Return the tie-break's measurements, one row per stage-1 model measured (``tiebreak/``):
    40-PGD and AutoAttack A_rob on the 500 validation images and their gap, in pp."""
    rows = []
    for path in sorted((Path(pilot_dir) / "tiebreak").glob("*.json")):
        r = json.loads(path.read_text())
        # the file name holds the model: <candidate>_<defense>-a<alpha>-s<seed>_e<epochs>.json
        defense, alpha, seed = path.stem.split("_", 1)[1].rsplit("_e", 1)[0].rsplit("-", 2)
        config = {"defense": defense, "alpha_train": float(alpha[1:]), "seed": int(seed[1:])}
        rows.append({"candidate": r["candidate"], "model": _model(config), "images": r["images"],
                     "40-PGD A_rob": r["pgd40_a_rob"], "AutoAttack A_rob": r["autoattack_a_rob"],
                     "gap (pp)": r["gap_pp"]})
    return pd.DataFrame(rows)


def tiebreak_decision(pilot_dir: str | Path, runs_per_candidate: int = 3) -> pd.DataFrame:
    """Return one row per tied candidate: its models measured, mean gap and cost, and which one
    the protocol's tie-break picks (the smaller mean gap; an equal gap goes to the cheaper)."""
    candidates = tied(pilot_dir, runs_per_candidate)
    table = tiebreak_table(pilot_dir)
    rows = []
    for candidate in candidates:
        part = table[table["candidate"] == candidate] if len(table) else table
        rows.append({"candidate": candidate, "models measured": f"{len(part)} of {runs_per_candidate}",
                     "mean 40-PGD A_rob": part["40-PGD A_rob"].mean() if len(part) else float("nan"),
                     "mean AutoAttack A_rob": part["AutoAttack A_rob"].mean() if len(part) else float("nan"),
                     "mean gap (pp)": part["gap (pp)"].mean() if len(part) else float("nan"),
                     "cost": candidate_cost(candidate)})
    out = pd.DataFrame(rows)
    complete = len(out) > 1 and (out["models measured"] == f"{runs_per_candidate} of {runs_per_candidate}").all()
    if complete:
        best = out.sort_values(["mean gap (pp)", "cost"], kind="stable").index[0]
        out["picked"] = ["yes" if i == best else "no" for i in out.index]
    else:
        out["picked"] = "–"
    return out


def chosen_schedule(pilot_dir: str | Path, runs_per_candidate: int = 3) -> str | None:
    """Return the candidate that goes to stage 2: the leader, or the tie-break's pick when
    several tie; None while stage 1 or the tie-break is incomplete."""
    decision = stage1_decision(pilot_dir, runs_per_candidate)
    if (decision["stage 1"] == "incomplete").any():
        return None
    candidates = tied(pilot_dir, runs_per_candidate)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return None
    picked = tiebreak_decision(pilot_dir, runs_per_candidate)
    chosen = picked.loc[picked["picked"] == "yes", "candidate"]
    return chosen.iloc[0] if len(chosen) else None


STAGE2_FAMILY = Defense.TRADES  # stage 2 trains the TRADES pair (PROTOCOL.md)


def stage2_table(curves: pd.DataFrame, plan: DatasetPlan) -> pd.DataFrame:
    """Return one row per stage-2 run (TRADES and its headline weighted model, every seed of
    ``plan``) from its validation ``curves`` (:func:`wmrlib.analysis.curves.validation_curves`):
    whether it is trained yet, its final validation A_rob, its largest fall below the running
    maximum and whether that breaks the rule."""
    pair = [a for f, a in plan.headline_pairs() if f == STAGE2_FAMILY]
    rows = []
    for alpha in [0.0, *pair]:
        for seed in plan.seeds:
            run = curves[(curves["defense"] == STAGE2_FAMILY) & (curves["alpha_train"] == alpha)
                         & (curves["seed"] == seed)].sort_values("epoch")
            row = {"model": _model({"defense": STAGE2_FAMILY, "alpha_train": alpha, "seed": seed})}
            if run.empty:
                row |= {"trained": "not yet", "val A_rob, last": float("nan"),
                        "largest fall (pp)": float("nan"), "collapsed": "–"}
            else:
                drop = largest_drop(run["a_rob"])
                row |= {"trained": "yes", "val A_rob, last": float(run["a_rob"].iloc[-1]),
                        "largest fall (pp)": drop,
                        "collapsed": "yes" if VALIDATION_RULE.breaks(drop) else "no"}
            rows.append(row)
    return pd.DataFrame(rows)


def stage2_status(table: pd.DataFrame) -> str:
    """Return the protocol's stage-2 verdict on :func:`stage2_table`: "rejected" once any run
    collapses, "accepted" when every run is trained without one, else "on trial"."""
    if (table["collapsed"] == "yes").any():
        return "rejected"
    return "accepted" if (table["trained"] == "yes").all() else "on trial"
