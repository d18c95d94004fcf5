"""Local worker pools for the workflow (the campaign's jobs, `plan`'s calibration): spawned
processes that end when the process that started them is gone."""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def exit_with_parent(poll_s: float = 2.0) -> None:
    """Pool initializer: end this worker when the process that started it is gone.

    A pool's workers otherwise outlive a killed ``reproduce`` or ``plan`` and go on computing,
    unseen by the compute log, while a restarted run computes the same jobs beside them.
    """
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)  # checkpoints and results are written atomically, so nothing is torn

    threading.Thread(target=watch, daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Return a pool of ``workers`` spawned processes that exit with this one."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                               initializer=exit_with_parent)
