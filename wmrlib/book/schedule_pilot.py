"""The sentences of *How we reproduce* that state the schedule pilot's decisions: stage 1's pick
and stage 2's status, from :mod:`wmrlib.analysis.pilot`'s tables."""
from __future__ import annotations

import pandas as pd

from ..analysis import pilot
from ..experiment import profiles


def stage1_sentence(ties: list[str], stage2_status: str,
                    chosen: str = profiles.CAMPAIGN_SCHEDULE) -> str:
    """Return the Markdown sentence on stage 1's outcome: the tie (if any), the schedule chosen
    and where stage 2 stands (``stage2_status``: :func:`wmrlib.analysis.pilot.stage2_status`)."""
    tie = (f"**Stage 1:** {' and '.join(f'`{c}`' for c in ties)} tie within {pilot.TIE_PP:g} pp "
           "of the best mean; the protocol's tie-break (the smaller 40-PGD → AutoAttack gap on "
           "500 validation images, then cost) decides between them. " if len(ties) > 1 else "")
    if chosen not in profiles.SCHEDULE_CANDIDATES:
        return tie + ("**The campaign's schedule is not chosen yet**: the `cpu` profile trains "
                      "nothing until the decision is recorded "
                      "(`benchmarks/pilot/schedule/DECISION.md`).")
    why = "the tie-break's pick (the tables above: the gap and the cost of each tied candidate " \
          "on its three stage-1 models)" if len(ties) > 1 else "stage 1's best survivor"
    trial = {"on trial": "it is on trial until its stage-2 runs finish without a collapse.",
             "accepted": "stage 2 accepted it: its runs all trained without a collapse.",
             "rejected": "stage 2 rejected it: one of its runs collapsed (below)."}[stage2_status]
    return f"{tie}**The campaign's schedule:** `{chosen}`, {why}; {trial}"


def stage2_sentence(table: pd.DataFrame) -> str:
    """Return the Markdown sentence on stage 2's status from
    :func:`wmrlib.analysis.pilot.stage2_table`."""
    trained = int((table["trained"] == "yes").sum())
    return {
        "accepted": f"**Stage 2: accepted.** All {len(table)} runs trained without a collapse "
                    "(recorded in `benchmarks/pilot/schedule/STAGE2.md`).",
        "rejected": "**Stage 2: rejected.** A run collapsed; by the protocol its runs are kept as "
                    "pilot evidence only and the next survivor goes to stage 2.",
        "on trial": f"**Stage 2: on trial.** {trained} of {len(table)} runs are trained, none "
                    "has collapsed so far; the schedule is accepted when all of them are trained "
                    "without a collapse.",
    }[pilot.stage2_status(table)]
