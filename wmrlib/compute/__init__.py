"""The code that produces numbers: loading and batching data, the device, the training loop and its
defenses, checkpoints, data-parallel training, and evaluation with PGD, AutoAttack and the
masking probes. A change to a module here (or in :mod:`wmrlib.method`) makes the stored results
it computed stale (:mod:`wmrlib.workflow.staleness`).
"""

__all__ = ["adaptive", "checkpoint", "data", "defenses", "device", "distributed", "evaluate", "outcome", "train"]
