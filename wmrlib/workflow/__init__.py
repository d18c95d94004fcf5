"""Results that last and the work that fills them: the content-addressed store and its provenance,
staleness, the job list of a profile, its cost and schedule, worker pools, the campaign runner and
``reproduce``.
"""

__all__ = ["campaign", "cost", "jobs", "pools", "provenance", "reproduce", "staleness", "store"]
