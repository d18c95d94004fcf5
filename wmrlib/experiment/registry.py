"""The two registries the code branches on: attack kinds and defenses, each name defined once.

An attack kind (``AttackConfig.kind``) picks how a unit is evaluated; a defense
(``RunConfig.defense``) picks one minibatch's update and the paper's row label. Both are plain
strings that are hashed into the store keys as they are, so a name never changes. Code that
branches on them compares with these constants and predicates, never with a string typed in
place (profiles spell their settings out; that is data, not a branch).

Example::

    >>> from wmrlib.experiment.config import AttackConfig
    >>> from wmrlib.experiment.registry import AttackKind, Defense, is_autoattack, family_name
    >>> is_autoattack(AttackConfig(kind=AttackKind.AUTOATTACK))
    True
    >>> family_name(Defense.TRADES), Defense.FAMILIES
    ('TRADES', ('pgd', 'trades'))
"""
from __future__ import annotations

from typing import Protocol


class AttackKind:
    """The attack kinds (never instantiated): ``PGD`` is :func:`wmrlib.method.attacks.pgd`
    (:mod:`wmrlib.compute.evaluate`); ``AUTOATTACK`` is standard AutoAttack at alpha_test 0 and
    APGD on the weighted objective at alpha_test > 0; ``LOGIT_SCALE`` is PGD on the
    cross-entropy of c·logits for each scale c (both :mod:`wmrlib.compute.adaptive`)."""

    PGD = "pgd"
    AUTOATTACK = "autoattack"
    LOGIT_SCALE = "logit-scale"
    ALL = (PGD, AUTOATTACK, LOGIT_SCALE)


class Defense:
    """The defenses (never instantiated): the two families of the headline comparison, PGD-AT
    and TRADES (weighted by α_train or not), and Table 4's extra baselines, Free-AT, YOPO-m-n
    and IAAT (:mod:`wmrlib.compute.defenses`)."""

    PGD = "pgd"
    TRADES = "trades"
    FREE = "free"
    YOPO = "yopo"
    IAAT = "iaat"
    FAMILIES = (PGD, TRADES)     # the headline families, in the order of DatasetPlan.headline
    EXTRAS = (FREE, YOPO, IAAT)  # Table 4's extra baselines
    ALL = FAMILIES + EXTRAS
    # The paper's name of each defense (Table 4 prints the three extra baselines this way).
    NAMES = {PGD: "PGD", TRADES: "TRADES", FREE: "AT4Free", YOPO: "YOPO", IAAT: "IAAT"}


ATTACK_KINDS = AttackKind.ALL
DEFENSES = Defense.ALL
FAMILIES = Defense.FAMILIES
EXTRA_DEFENSES = Defense.EXTRAS
DEFENSE_NAMES = Defense.NAMES
FAMILY_NAMES = tuple(DEFENSE_NAMES[f] for f in FAMILIES)  # "PGD", "TRADES": the book's family names


class _Attack(Protocol):
    kind: str


def is_pgd(attack: _Attack | None) -> bool:
    """Whether ``attack`` is a PGD attack (None, the clean unit, is not)."""
    return attack is not None and attack.kind == AttackKind.PGD


def is_autoattack(attack: _Attack | None) -> bool:
    """Whether ``attack`` is (standard or weighted) AutoAttack."""
    return attack is not None and attack.kind == AttackKind.AUTOATTACK


def is_logit_scale(attack: _Attack | None) -> bool:
    """Whether ``attack`` is the logit-scaling attack."""
    return attack is not None and attack.kind == AttackKind.LOGIT_SCALE


def is_adaptive(attack: _Attack | None) -> bool:
    """Whether ``attack``'s unit is computed by :mod:`wmrlib.compute.adaptive` (any kind but PGD)."""
    return attack is not None and attack.kind != AttackKind.PGD


def is_family(defense: str) -> bool:
    """Whether ``defense`` is one of the headline families (PGD-AT, TRADES)."""
    return defense in FAMILIES


def family_name(defense: str) -> str:
    """Return the book's name of a defense family ("PGD", "TRADES"); ValueError for another defense."""
    if defense not in FAMILIES:
        raise ValueError(f"defense family must be one of {', '.join(FAMILIES)}, got {defense!r}")
    return DEFENSE_NAMES[defense]
