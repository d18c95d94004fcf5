"""``--set key=value`` overrides of a profile's RunConfig and AttackConfig fields, parsed by type.

A key that names a RunConfig field changes the training config; a key that only AttackConfig has
(``steps``, ``loss``, ``restarts``) changes the evaluation attack; ``attack.<field>`` always means
the attack (``attack.eps=0.2``). Every value is parsed by its field's type and validated as usual.
"""
from __future__ import annotations

import dataclasses

from .config import AttackConfig, RunConfig


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _parse(cls, name: str, text: str):
    """Return ``text`` parsed as the type of field ``name`` of ``cls``."""
    kind = str(_fields(cls)[name].type).replace(" ", "")
    what = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a word",
            "tuple[float,...]": "comma-separated numbers, e.g. 0.5,0.75",
            "int|None": "an integer or none"}.get(kind, kind)
    try:
        if kind == "int|None":
            return None if text.lower() == "none" else int(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if kind == "tuple[float,...]":
            return tuple(float(t) for t in text.split(",") if t.strip())
        return text
    except ValueError:
        raise ValueError(f"--set {name}={text}: {name} must be {what}") from None


def parse_overrides(items) -> tuple[dict, dict]:
    """Return (RunConfig changes, AttackConfig changes) from ``key=value`` strings."""
    run_fields, attack_fields = _fields(RunConfig), _fields(AttackConfig)
    run, attack = {}, {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {item!r}: write key=value, e.g. --set epochs=10")
        if key.startswith("attack."):
            name, target, cls = key[len("attack."):], attack, AttackConfig
            if name not in attack_fields:
                raise ValueError(f"--set {key}: unknown attack field {name!r}; choose one of "
                                 f"{', '.join(attack_fields)}")
        elif key in run_fields:
            name, target, cls = key, run, RunConfig
        elif key in attack_fields:
            name, target, cls = key, attack, AttackConfig
        else:
            raise ValueError(f"--set {key}: unknown field {key!r}; choose a RunConfig field "
                             f"({', '.join(run_fields)}) or an attack field "
                             f"({', '.join('attack.' + f for f in attack_fields)})")
        target[name] = _parse(cls, name, text.strip())
    return run, attack


def apply_run(config: RunConfig, changes: dict) -> RunConfig:
    """Return ``config`` with ``changes`` applied and validated (a new config, so a new key)."""
    return config.replace(**changes) if changes else config


def apply_attack(attack: AttackConfig, changes: dict) -> AttackConfig:
    """Return ``attack`` with ``changes`` applied and validated."""
    return dataclasses.replace(attack, **changes) if changes else attack


def override_profile(prof, run: dict, attack: dict):
    """Return a copy of profile ``prof`` whose every plan trains and attacks with the changes."""
    if not run and not attack:
        return prof
    plans = {name: dataclasses.replace(plan, base=apply_run(plan.base, run),
                                       attack=apply_attack(plan.attack, attack),
                                       robustness=_moved_robustness(plan.robustness, attack))
             for name, plan in prof.plans.items()}
    return dataclasses.replace(prof, plans=plans)


def _moved_robustness(rp, attack: dict):
    """Return the robustness check at the overridden ε (AutoAttack keeps its standard counts)."""
    if rp is None or "eps" not in attack:
        return rp
    return dataclasses.replace(rp, attack=dataclasses.replace(rp.attack, eps=float(attack["eps"])))
