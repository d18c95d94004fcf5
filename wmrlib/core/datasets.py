"""The dataset registry: every fact about a dataset the code needs, in one place.

Example::

    >>> from wmrlib.core.datasets import spec
    >>> spec("cifar10").num_classes, spec("cifar10").default_model
    (10, 'resnet18')
"""
from __future__ import annotations

from dataclasses import dataclass

TINY_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINY_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: name, display name, classes, image shape, split sizes, default model, files."""

    name: str
    display_name: str
    num_classes: int
    shape: tuple[int, int, int]  # (C, H, W)
    train_size: int
    test_size: int
    default_model: str
    layout: str                  # the files expected under the data root
    source: str                  # where ``load(..., download=True)`` gets them


REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("mnist", "MNIST", 10, (1, 28, 28), 60000, 10000, "smallcnn",
                "MNIST/raw/{train,t10k}-images-idx3-ubyte and MNIST/raw/{train,t10k}-labels-idx1-ubyte "
                "(uncompressed IDX files)", "torchvision.datasets.MNIST"),
    DatasetSpec("cifar10", "CIFAR-10", 10, (3, 32, 32), 50000, 10000, "resnet18",
                "cifar-10-batches-py/{data_batch_1..data_batch_5,test_batch,batches.meta} "
                "(the extracted cifar-10-python.tar.gz)", "torchvision.datasets.CIFAR10 (MD5-verified)"),
    DatasetSpec("tinyimagenet", "Tiny ImageNet", 200, (3, 64, 64), 100000, 10000, "resnet50",
                "tiny-imagenet-200/wnids.txt, tiny-imagenet-200/train/<wnid>/images/*.JPEG, "
                "tiny-imagenet-200/val/images/*.JPEG and tiny-imagenet-200/val/val_annotations.txt "
                "(the extracted tiny-imagenet-200.zip)", f"{TINY_URL} (MD5 {TINY_MD5})"),
    DatasetSpec("fashionmnist", "Fashion-MNIST", 10, (1, 28, 28), 60000, 10000, "smallcnn",
                "FashionMNIST/raw/{train,t10k}-images-idx3-ubyte and FashionMNIST/raw/{train,t10k}-labels-idx1-ubyte "
                "(uncompressed IDX files)", "torchvision.datasets.FashionMNIST"),
)}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def spec(name: str) -> DatasetSpec:
    """Return the registry entry of ``name``; an unknown name raises naming the valid ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(map(repr, NAMES))}")
    return REGISTRY[name]
