"""Datasets (MNIST, Fashion-MNIST, CIFAR-10, Tiny ImageNet) as uint8 tensors, plus deterministic, resumable batching."""
from __future__ import annotations

import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torchvision
from PIL import Image

from ..core import paths
from ..core.datasets import NAMES, REGISTRY, TINY_MD5, TINY_URL, spec

DATASETS = REGISTRY  # the dataset registry (wmrlib.core.datasets), re-exported for callers of wmrlib.compute.data

DATA_ROOT_ENV = paths.DATA_ROOT_VARIABLE


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are not where they were looked for."""


class CorruptDatasetError(ValueError):
    """A dataset file exists but cannot be parsed or holds inconsistent data."""


def default_root() -> Path:
    """The data root: $WMR_DATA_ROOT if set, else ./data."""
    return paths.data_root()


_spec = spec  # the registry lookup, under the name this module has always used


@dataclass
class ImageData:
    """A labelled image set held in memory as uint8 [N, C, H, W] images and int64 [N] labels."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    synthetic: bool = False

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 [N,C,H,W], got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must be int64 [{self.images.shape[0]}], got "
                             f"{self.labels.dtype} {tuple(self.labels.shape)}")
        if self.labels.numel():
            lo, hi = int(self.labels.min()), int(self.labels.max())
            if lo < 0 or hi >= self.num_classes:
                raise ValueError(f"{self.name}: labels must lie in [0, {self.num_classes - 1}] "
                                 f"({self.num_classes} classes), got range [{lo}, {hi}]; fix the "
                                 "labels or num_classes")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: int | None, seed: int = 0) -> ImageData:
        """A seeded random subset of n examples (kept in original order), or self if n is None or ≥ len."""
        if n is None or n >= len(self):
            return self
        if n < 0:
            raise ValueError(f"subset size must be ≥ 0, got {n}")
        idx = subset_indices(len(self), n, seed)
        return ImageData(self.name, self.images[idx], self.labels[idx], self.num_classes, self.synthetic)

    def to_float(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        """Images at idx as float32 in [0, 1], with their labels."""
        return self.images[idx].float().div_(255), self.labels[idx]


# --- loaders -----------------------------------------------------------------------------------------

class _CIFAR10Files(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR10 with its MD5 checks reduced to "file exists".

    torchvision checks the MD5 of every batch file (in `_check_integrity`) and of batches.meta (in
    `_load_meta`); both go through `check_integrity(path, md5)`, which only tests existence when md5 is
    None. Files in the real format but with other contents (e.g. the small ones the tests write) would
    otherwise be rejected as "not found or corrupted". Parsing stays torchvision's own; we validate the
    parsed arrays ourselves in `load`.
    """

    train_list = [[f, None] for f, _ in torchvision.datasets.CIFAR10.train_list]
    test_list = [[f, None] for f, _ in torchvision.datasets.CIFAR10.test_list]
    meta = {**torchvision.datasets.CIFAR10.meta, "md5": None}


# The datasets stored as MNIST-format IDX files, each with the torchvision class that reads and downloads
# it; such a class keeps its files in root/<class name>/raw/ (MNIST/raw, FashionMNIST/raw).
_IDX_CLASSES: dict[str, type[torchvision.datasets.MNIST]] = {
    "mnist": torchvision.datasets.MNIST,
    "fashionmnist": torchvision.datasets.FashionMNIST,
}


def _idx_files(idx_class: type[torchvision.datasets.MNIST], root: Path, train: bool) -> list[Path]:
    """The images and labels IDX files of one split, where ``idx_class`` looks for them."""
    raw = root / idx_class.__name__ / "raw"
    p = "train" if train else "t10k"
    return [raw / f"{p}-images-idx3-ubyte", raw / f"{p}-labels-idx1-ubyte"]


def _cifar_files(root: Path, train: bool) -> list[Path]:
    base = root / "cifar-10-batches-py"
    names = [f for f, _ in (_CIFAR10Files.train_list if train else _CIFAR10Files.test_list)]
    return [base / f for f in names] + [base / _CIFAR10Files.meta["filename"]]


def _tiny_files(root: Path, train: bool) -> list[Path]:
    base = root / "tiny-imagenet-200"
    split = [base / "train"] if train else [base / "val" / "images", base / "val" / "val_annotations.txt"]
    return [base / "wnids.txt", *split]


def _load_idx(idx_class: type[torchvision.datasets.MNIST], root: Path,
              train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of an IDX dataset, parsed by ``idx_class``, as uint8 [N,1,28,28] images and labels."""
    ds = idx_class(str(root), train=train, download=False)
    return ds.data.unsqueeze(1), ds.targets


def _load_cifar10(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    ds = _CIFAR10Files(str(root), train=train, download=False)
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))  # torchvision gives NHWC
    return images, torch.tensor(ds.targets, dtype=torch.int64)


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))  # some Tiny ImageNet images are grayscale
    except Exception as e:
        raise CorruptDatasetError(f"tinyimagenet: cannot read image {path}: {e}") from e
    if arr.shape != (64, 64, 3):
        raise CorruptDatasetError(f"tinyimagenet: image {path} is {arr.shape[1]}x{arr.shape[0]}, expected 64x64")
    return arr


def _load_tinyimagenet(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # Labels index the *sorted* wnids (not wnids.txt line order), matching torchvision ImageFolder.
    base = root / "tiny-imagenet-200"
    wnids = sorted({w.strip() for w in (base / "wnids.txt").read_text().split() if w.strip()})
    index = {w: i for i, w in enumerate(wnids)}
    files: list[Path] = []
    labels: list[int] = []
    if train:
        for w in wnids:
            folder = base / "train" / w / "images"  # a missing folder is listed as missing below
            found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpeg", ".jpg")) \
                if folder.is_dir() else [folder]
            files += found
            labels += [index[w]] * len(found)
    else:
        ann = base / "val" / "val_annotations.txt"
        for k, line in enumerate(ann.read_text().splitlines(), 1):
            parts = line.split("\t")
            if not line.strip():
                continue
            if len(parts) < 2 or parts[1] not in index:
                raise CorruptDatasetError(f"tinyimagenet: {ann} line {k}: expected 'file<TAB>wnid<TAB>x<TAB>y<TAB>w"
                                          f"<TAB>h' with a wnid from wnids.txt, got {line!r}")
            files.append(base / "val" / "images" / parts[0])
            labels.append(index[parts[1]])
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DatasetNotFoundError(f"tinyimagenet: {len(missing)} image(s) or class folder(s) missing, e.g. "
                                   f"{missing[0]} (expected layout: {spec('tinyimagenet').layout})")
    out = np.empty((len(files), 64, 64, 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) + 4)) as pool:  # PIL decode drops the GIL
        for i, arr in enumerate(pool.map(_read_rgb, files)):
            out[i] = arr
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels, dtype=torch.int64)


def _check_idx_file(path: Path) -> None:
    """Raise ValueError naming what is wrong with an MNIST-format IDX file (magic, size, labels)."""
    blob = path.read_bytes()
    nd = 1 if "labels" in path.name else 3
    if len(blob) < 4 + 4 * nd or blob[:4] != bytes([0, 0, 8, nd]):
        raise ValueError(f"expected magic number 0x0000080{nd} (uint8, {nd}-D IDX), found 0x{blob[:4].hex()}"
                         + (f" and only {len(blob)} bytes" if len(blob) < 4 + 4 * nd else ""))
    dims = np.frombuffer(blob, ">u4", nd, 4)
    if len(blob) - 4 - 4 * nd != int(np.prod(dims)):
        raise ValueError(f"header promises {' x '.join(map(str, dims))} bytes of data, "
                         f"file holds {len(blob) - 4 - 4 * nd} (truncated?)")
    if nd == 1 and dims[0] and max(blob[8:]) >= 10:
        raise ValueError(f"label {max(blob[8:])} outside [0, 10)")


def _check_cifar_file(path: Path) -> None:
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    if path.name == "batches.meta":
        if len(entry["label_names"]) != 10:
            raise ValueError("label_names must list 10 classes")
        return
    data, labels = np.asarray(entry["data"]), np.asarray(entry["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"'data' must be uint8 [n, 3072], got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or labels.size and (labels.min() < 0 or labels.max() >= 10):
        raise ValueError(f"'labels' must hold {data.shape[0]} values in [0, 10)")


# name -> (files one split parses, loader, per-file check, whether the other split's files must exist too:
# torchvision's MNIST._check_exists and CIFAR10._check_integrity want both splits, whichever is asked for)
_SOURCES: dict[str, tuple[Callable, Callable, Callable | None, bool]] = {
    **{name: (partial(_idx_files, idx_class), partial(_load_idx, idx_class), _check_idx_file, True)
       for name, idx_class in _IDX_CLASSES.items()},
    "cifar10": (_cifar_files, _load_cifar10, _check_cifar_file, True),
    "tinyimagenet": (_tiny_files, _load_tinyimagenet, None, False),
}
assert set(_SOURCES) == set(NAMES), "every registered dataset needs a loader"


def _download(name: str, root: Path, train: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if name in _IDX_CLASSES:
        _IDX_CLASSES[name](str(root), train=train, download=True)
    elif name == "cifar10":
        torchvision.datasets.CIFAR10(str(root), train=train, download=True)  # stock class: MD5-verified
    else:
        torchvision.datasets.utils.download_and_extract_archive(TINY_URL, str(root), md5=TINY_MD5)


def _corrupt(name: str, files: list[Path], check: Callable | None, err: Exception) -> CorruptDatasetError:
    """Name the first file that fails its own check, else all the split's files."""
    for f in files if check else []:
        try:
            check(f)
        except Exception as e:
            return CorruptDatasetError(f"{name}: file {f} is corrupt ({type(e).__name__}: {e}); "
                                       "delete it and download it again")
    listed = ", ".join(str(f) for f in files)
    return CorruptDatasetError(f"{name}: files {listed} are inconsistent or corrupt ({type(err).__name__}: {err})")


def load(name: str, root: str | Path | None = None, train: bool = True, download: bool = False) -> ImageData:
    """Load the train or test split (Tiny ImageNet: val) of a dataset as uint8 tensors."""
    spec = _spec(name)
    root = Path(root if root is not None else default_root()).expanduser().resolve()
    files_of, loader, check, both_splits = _SOURCES[name]
    files = files_of(root, train)
    required = files + [f for f in files_of(root, not train) if both_splits and f not in files]
    if download and not all(f.exists() for f in required):
        try:
            _download(name, root, train)
        except Exception as e:
            raise DatasetNotFoundError(f"{name}: download into {root} failed ({type(e).__name__}: {e}); "
                                       f"put the files there by hand instead: {_spec(name).layout}") from e
    missing = [f for f in required if not f.exists()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DatasetNotFoundError(
            f"{name} not found in {root} (missing {missing[0]}{more}). Expected layout under that root: "
            f"{_spec(name).layout}. To fix: call load({name!r}, root, download=True) with internet access, or put "
            f"the files there, or set {DATA_ROOT_ENV} to the folder that holds them.")
    try:
        images, labels = loader(root, train)
        if tuple(images.shape[1:]) != spec.shape or images.shape[0] != labels.shape[0]:
            raise ValueError(f"got {images.shape[0]} images of shape {tuple(images.shape[1:])} and "
                             f"{labels.shape[0]} labels; expected shape {spec.shape} and equal counts")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= spec.num_classes):
            raise ValueError(f"labels outside [0, {spec.num_classes})")
    except (CorruptDatasetError, DatasetNotFoundError):
        raise
    except Exception as e:  # torchvision raises assorted errors (AssertionError, RuntimeError, KeyError, ...)
        raise _corrupt(name, files, check, e) from e
    return ImageData(name, images, labels.to(torch.int64), spec.num_classes)


def synthetic(name: str, n: int, train: bool = True, seed: int = 0) -> ImageData:
    """Seeded random uint8 images and labels with the dataset's shape, for smoke tests."""
    spec = _spec(name)
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    g = torch.Generator().manual_seed(2 * seed + (0 if train else 1))
    images = torch.randint(0, 256, (n, *spec.shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, spec.num_classes, (n,), generator=g, dtype=torch.int64)
    return ImageData(name, images, labels, spec.num_classes, synthetic=True)


# --- batching ----------------------------------------------------------------------------------------

def subset_indices(total: int, n: int, seed: int = 0) -> torch.Tensor:
    """Return the sorted indices of :meth:`ImageData.subset`'s n of ``total`` examples.

    The subset of n is the first n of one seeded permutation, so a smaller subset of the same
    seed lies inside a larger one (see :func:`nested_positions`).
    """
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n].sort().values


# The one draw of every validation split: fixed, and independent of the model's seed, so that
# every model of a dataset holds out the same images.
VALIDATION_SEED = 20_261_203


def validation_split(data: ImageData, size: int) -> tuple[ImageData, ImageData]:
    """Return (training part, validation part): ``size`` images drawn with ``VALIDATION_SEED``
    are held out, the rest (in their original order) are trained on; ``size`` 0 holds none out.

    Example::

        >>> train, val = validation_split(load("mnist", train=True), 1000)   # 59,000 + 1,000
    """
    if size <= 0:
        return data, data.subset(0)
    if size >= len(data):
        raise ValueError(f"a validation split of {size} needs more than the {len(data)} training "
                         f"examples of {data.name}; lower val_size")
    held = subset_indices(len(data), size, VALIDATION_SEED)
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[held] = False

    def part(idx) -> ImageData:
        return ImageData(data.name, data.images[idx], data.labels[idx], data.num_classes,
                         data.synthetic)

    return part(keep.nonzero().squeeze(1)), part(held)


def nested_positions(total: int, small: int | None, large: int | None, seed: int = 0) -> np.ndarray:
    """Return where the examples of the ``small`` subset sit in the ``large`` one (same seed).

    A record evaluated on ``large`` examples, indexed by these positions, is the record of the
    ``small`` subset: the same images, so no attack has to run again.
    """
    small = total if small is None else min(small, total)
    large = total if large is None else min(large, total)
    if small > large:
        raise ValueError(f"a subset of {small} examples is not inside one of {large}")
    outer = subset_indices(total, large, seed).numpy()
    return np.searchsorted(outer, subset_indices(total, small, seed).numpy())


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    """How many batches an epoch of n examples has."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    return n // batch_size if drop_last else -(-n // batch_size)


def _crop_flip(x: torch.Tensor, shift: torch.Tensor, flip: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Per-example random crop from a zero-padded image, then optional horizontal flip (batched)."""
    b, c, h, w = x.shape
    ar = lambda k: torch.arange(k, device=x.device)  # noqa: E731
    rows = shift[:, :1] + ar(h)  # [B, H]
    cols = shift[:, 1:] + ar(w)  # [B, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    return xp[ar(b)[:, None, None, None], ar(c)[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]


def iterate_batches(data: ImageData, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0,
                    start_batch: int = 0, augment: bool = False, device: str | torch.device = "cpu",
                    drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x float32 in [0,1], y int64) batches on device, in an order fixed by (seed, epoch)."""
    total = num_batches(len(data), batch_size, drop_last)  # validates now, not at the first next()
    if start_batch < 0:
        raise ValueError(f"start_batch must be ≥ 0, got {start_batch}")
    return _batches(data, batch_size, shuffle, seed, epoch, range(start_batch, total), augment, torch.device(device))


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def epoch_order(n: int, *, shuffle: bool, seed: int = 0, epoch: int = 0) -> torch.Tensor:
    """Return the positions of the n examples in the order ``iterate_batches`` yields them."""
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=_epoch_generator(seed, epoch))


def _batches(data: ImageData, batch_size: int, shuffle: bool, seed: int, epoch: int, which: range,
             augment: bool, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    # Everything random for the epoch is drawn up front, per example, so skipping to start_batch
    # reproduces exactly the batches (and augmentations) of an uninterrupted run.
    g = _epoch_generator(seed, epoch)
    order = torch.randperm(len(data), generator=g) if shuffle else torch.arange(len(data))
    if augment:
        shifts = torch.randint(0, 9, (len(data), 2), generator=g)
        flips = torch.rand(len(data), generator=g) < 0.5
    pin = device.type == "cuda"
    for b in which:
        idx = order[b * batch_size:(b + 1) * batch_size]
        x, y = data.images[idx], data.labels[idx]
        x, y = (x.pin_memory(), y.pin_memory()) if pin else (x, y)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if augment:
            pos = slice(b * batch_size, b * batch_size + len(idx))
            x = _crop_flip(x, shifts[pos].to(device, non_blocking=True), flips[pos].to(device, non_blocking=True))
        yield x.float().div_(255), y
