"""Store keys that last: one hash function, and the fields each key version hashes.

A key is the hash of a config's fields. Key version 1 hashes every field the configs had when
it was fixed (``KEY_V1_FIELDS``). A field added later joins the hash only when its value differs
from its default, so adding a defaulted field changes no stored key, and a config that sets
the new field gets a key of its own.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

# Every field of RunConfig and AttackConfig at key version 1 (commit fd0190c): never edit.
KEY_V1_FIELDS: dict[str, frozenset[str]] = {
    "RunConfig": frozenset({
        "dataset", "model", "defense", "alpha_train", "beta", "eps", "step_size", "attack_steps",
        "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule",
        "milestones", "eps_ramp", "train_size", "augment", "synthetic", "seed", "precision",
        "detach_weights", "random_start"}),
    "AttackConfig": frozenset({"eps", "step_size", "steps", "loss", "restarts", "random_start"}),
}


def stable_hash(value) -> str:
    """Return the 16-hex-digit SHA-256 of ``value`` as sorted JSON (the one hash of the store)."""
    blob = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _v1_fields(obj) -> frozenset[str]:
    for cls in type(obj).__mro__:
        if cls.__name__ in KEY_V1_FIELDS:
            return KEY_V1_FIELDS[cls.__name__]
    raise TypeError(f"{type(obj).__name__} has no key version; add it to KEY_V1_FIELDS")


def key_fields(obj) -> dict:
    """Return the fields of the config ``obj`` that its key hashes (v1 fields, then non-defaults)."""
    values = dataclasses.asdict(obj)
    v1 = _v1_fields(obj)
    defaults = {f.name: f.default for f in dataclasses.fields(obj)
                if f.default is not dataclasses.MISSING}
    return {name: value for name, value in values.items()
            if name in v1 or name not in defaults or value != defaults[name]}


def config_key(obj) -> str:
    """Return the store key of a RunConfig or AttackConfig."""
    return stable_hash(key_fields(obj))
