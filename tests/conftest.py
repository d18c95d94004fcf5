"""Shared fixtures: the MNIST root, a small MNIST subset, and a briefly trained SmallCNN."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from wmrlib.compute import data as wdata


def mnist_root() -> Path | None:
    """Return a data root holding MNIST/raw, from WMR_DATA_ROOT or ../shared/data, or None."""
    candidates = [os.environ.get("WMR_DATA_ROOT"), Path(__file__).resolve().parents[2] / "shared" / "data"]
    for c in candidates:
        if c and (Path(c) / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def mnist_test():
    """The MNIST test set (skips when the files are not there)."""
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    return wdata.load("mnist", root, train=False)


@pytest.fixture(scope="session")
def mnist_train():
    """The MNIST training set (skips when the files are not there)."""
    root = mnist_root()
    if root is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    return wdata.load("mnist", root, train=True)


@pytest.fixture(scope="session")
def trained_smallcnn(mnist_train):
    """A SmallCNN trained naturally for a few seconds on 6,000 MNIST images (about 95 % clean)."""
    from wmrlib.method.models import SmallCNN

    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    subset = mnist_train.subset(6000, seed=0)
    for _ in range(2):
        for x, y in wdata.iterate_batches(subset, 128, shuffle=True, seed=0):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
