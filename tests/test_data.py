"""Tests for wmrlib.compute.data: real MNIST and Fashion-MNIST, tiny IDX / CIFAR-10 / Tiny ImageNet files in their
on-disk formats, batching."""
from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wmrlib.compute import data as D
from wmrlib.core.datasets import NAMES, spec


def _idx_root(folder: str) -> Path | None:
    """The data root (``$WMR_DATA_ROOT`` or the shared one) that holds ``folder``/raw's IDX files, if any."""
    for root in (os.environ.get(D.DATA_ROOT_ENV), Path(__file__).resolve().parents[2] / "shared" / "data"):
        if root and (Path(root) / folder / "raw" / "t10k-labels-idx1-ubyte").is_file():
            return Path(root)
    return None


MNIST_ROOT = _idx_root("MNIST")
needs_mnist = pytest.mark.skipif(MNIST_ROOT is None, reason="MNIST IDX files not found")
FASHION_ROOT = _idx_root("FashionMNIST")
needs_fashion = pytest.mark.skipif(FASHION_ROOT is None, reason="Fashion-MNIST IDX files not found")


# --- helpers that write the real on-disk formats -------------------------------------------------------

class _Py2Pickler(pickle._Pickler):
    """Pickle bytes as Python 2 `str` (BINSTRING), like the real CIFAR batches written by cPickle.

    Such files load with string keys under torchvision's encoding="latin1", and with b"data"/b"labels"
    keys under encoding="bytes" (the loading snippet on the CIFAR-10 web page).
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def _py2_pickle(obj, path: Path) -> None:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    path.write_bytes(buf.getvalue())


def _write_cifar(root: Path, n: int = 4) -> Path:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        img = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        img[0] = 0
        img[0, 0, 5, 9] = 255  # known pixel: R channel, row 5, column 9 of the first image
        labels = [(i + j) % 10 for j in range(n)]
        _py2_pickle({b"batch_label": b"batch", b"labels": labels, b"data": img.reshape(n, 3072),
                     b"filenames": [b"x.png"] * n}, base / name)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    _py2_pickle({b"num_cases_per_batch": n, b"label_names": names, b"num_vis": 3072}, base / "batches.meta")
    return base


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an uncompressed IDX file: magic 0x000008<ndim>, big-endian sizes, the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _write_fashion(root: Path, folder: str = "FashionMNIST") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a tiny Fashion-MNIST (5 train, 3 test images) in <folder>/raw; return split -> (images, labels)."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for split, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.array([(3 * k + 9) % 10 for k in range(n)], dtype=np.uint8)
        _write_idx(raw / f"{split}-images-idx3-ubyte", images)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        written[split] = (images, labels)
    return written


WNIDS = ["n02124075", "n01443537", "n01629819"]  # deliberately unsorted, as in the real wnids.txt


def _write_tiny(root: Path, per_class: int = 2) -> Path:
    base = root / "tiny-imagenet-200"
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    for c, w in enumerate(WNIDS):
        folder = base / "train" / w / "images"
        folder.mkdir(parents=True)
        (base / "train" / w / f"{w}_boxes.txt").write_text("")
        for k in range(per_class):
            Image.new("RGB", (64, 64), (40 * c, 100, 200)).save(folder / f"{w}_{k}.JPEG", quality=95)
    Image.new("L", (64, 64), 128).save(base / "train" / WNIDS[0] / "images" / f"{WNIDS[0]}_gray.JPEG")
    lines = []
    for k, w in enumerate(["n01629819", "n02124075", "n01443537", "n01629819"]):
        mode, color = ("L", 77) if k == 0 else ("RGB", (10, 20, 30))
        Image.new(mode, (64, 64), color).save(base / "val" / "images" / f"val_{k}.JPEG", quality=95)
        lines.append(f"val_{k}.JPEG\t{w}\t0\t1\t60\t61")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return base


# --- loading -----------------------------------------------------------------------------------------------

@needs_mnist
def test_mnist_real_files():
    test = D.load("mnist", MNIST_ROOT, train=False)
    train = D.load("mnist", MNIST_ROOT, train=True)
    assert (len(train), len(test)) == (60000, 10000)
    for d in (train, test):
        assert d.images.dtype == torch.uint8 and d.images.shape[1:] == (1, 28, 28)
        assert d.labels.dtype == torch.int64 and int(d.labels.min()) == 0 and int(d.labels.max()) == 9
        assert d.num_classes == 10 and not d.synthetic
    assert test.labels[:3].tolist() == [7, 2, 1] and train.labels[:3].tolist() == [5, 0, 4]
    assert test.images[0, 0, 0, 0] == 0 and test.images[0].max() == 255
    x, y = test.to_float(slice(0, 5))
    assert x.dtype == torch.float32 and x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert y.tolist() == [7, 2, 1, 0, 4]


@needs_mnist
def test_mnist_default_root_env(monkeypatch):
    monkeypatch.setenv(D.DATA_ROOT_ENV, str(MNIST_ROOT))
    assert D.default_root() == MNIST_ROOT
    assert len(D.load("mnist", train=False)) == 10000
    monkeypatch.delenv(D.DATA_ROOT_ENV)
    assert D.default_root() == Path("data")


def test_cifar10_tiny_files(tmp_path):
    base = _write_cifar(tmp_path)
    with open(base / "data_batch_1", "rb") as f:  # the real format: bytes keys under encoding="bytes"
        assert set(pickle.load(f, encoding="bytes")) >= {b"data", b"labels"}
    train, test = D.load("cifar10", tmp_path), D.load("cifar10", tmp_path, train=False)
    assert (len(train), len(test)) == (20, 4)
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and train.labels[:4].tolist() == [0, 1, 2, 3]
    assert test.labels.tolist() == [5, 6, 7, 8]
    first = test.images[0]
    assert first[0, 5, 9] == 255 and int(first.sum()) == 255  # R channel, row 5, col 9 and nowhere else


def test_tinyimagenet_tiny_tree(tmp_path):
    _write_tiny(tmp_path)
    train, val = D.load("tinyimagenet", tmp_path), D.load("tinyimagenet", tmp_path, train=False)
    assert train.num_classes == 200 and train.images.shape == (7, 3, 64, 64) and train.images.dtype == torch.uint8
    # labels follow the sorted wnids: n01443537 → 0, n01629819 → 1, n02124075 → 2
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert val.labels.tolist() == [1, 2, 0, 1] and val.images.shape == (4, 3, 64, 64)
    gray = val.images[0].int()  # grayscale JPEG becomes three equal channels
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2]) and abs(int(gray[0, 30, 30]) - 77) <= 2
    rgb = val.images[1].int()[:, 30, 30].tolist()
    assert all(abs(a - b) <= 3 for a, b in zip(rgb, [10, 20, 30]))


# --- errors --------------------------------------------------------------------------------------------------

def test_missing_and_unknown(tmp_path):
    with pytest.raises(D.DatasetNotFoundError) as e:
        D.load("cifar10", tmp_path)
    msg = str(e.value)
    assert str(tmp_path.resolve()) in msg and "download" in msg and "cifar-10-batches-py" in msg
    assert D.DATA_ROOT_ENV in msg and isinstance(e.value, FileNotFoundError)
    for name in ("mnist", "tinyimagenet"):
        with pytest.raises(D.DatasetNotFoundError, match="download=True"):
            D.load(name, tmp_path, train=False)
    (_write_cifar(tmp_path) / "test_batch").unlink()  # torchvision wants both splits, even to load one
    with pytest.raises(D.DatasetNotFoundError, match="test_batch"):
        D.load("cifar10", tmp_path, train=True)
    with pytest.raises(ValueError, match="imagenet1k.*'mnist'"):
        D.load("imagenet1k", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        D.synthetic("svhn", 3)


def _mnist_copy(tmp_path: Path) -> Path:
    """Copy the test files (to be damaged) and link the train ones: torchvision wants all four present."""
    raw, src = tmp_path / "MNIST" / "raw", MNIST_ROOT / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / f).write_bytes((src / f).read_bytes())
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / f).symlink_to(src / f)
    return raw


def _damage(images, labels, damage: str, keep: int) -> None:
    """Damage an IDX split in place: truncate the images to ``keep`` bytes, break their magic
    number, cut the labels' header, or write label 12."""
    if damage == "truncate":
        images.write_bytes(images.read_bytes()[:keep])
    elif damage == "magic":
        images.write_bytes(b"\x00\x00\x0a\x03" + images.read_bytes()[4:])
    elif damage == "header":
        labels.write_bytes(labels.read_bytes()[:3])
    else:
        labels.write_bytes(labels.read_bytes()[:-1] + b"\x0c")


@needs_mnist
@pytest.mark.parametrize("damage, culprit", [
    ("truncate", "t10k-images-idx3-ubyte"), ("magic", "t10k-images-idx3-ubyte"),
    ("header", "t10k-labels-idx1-ubyte"), ("label", "t10k-labels-idx1-ubyte"),
    ("count", "t10k-images-idx3-ubyte.*t10k-labels-idx1-ubyte"),
])
def test_corrupt_mnist(tmp_path, damage, culprit):
    raw = _mnist_copy(tmp_path)
    images, labels = raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte"
    if damage != "count":
        _damage(images, labels, damage, keep=100_000)
    else:  # one label fewer than images, with a consistent header
        b = labels.read_bytes()
        labels.write_bytes(b[:4] + struct.pack(">i", 9999) + b[8:-1])
    with pytest.raises(D.CorruptDatasetError, match=culprit) as e:
        D.load("mnist", tmp_path, train=False)
    assert e.value.__cause__ is not None and isinstance(e.value, ValueError)
    assert "Dataset not found" not in str(e.value.__cause__)  # torchvision got past its existence check


@needs_mnist
def test_mnist_needs_all_four_files(tmp_path):
    (_mnist_copy(tmp_path) / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(D.DatasetNotFoundError, match="train-labels-idx1-ubyte"):
        D.load("mnist", tmp_path, train=False)


# --- Fashion-MNIST ---------------------------------------------------------------------------------------

def test_fashionmnist_registry_entry():
    s = spec("fashionmnist")
    assert NAMES == ("mnist", "cifar10", "tinyimagenet", "fashionmnist")
    assert (s.display_name, s.num_classes, s.shape, s.train_size, s.test_size, s.default_model) == \
        ("Fashion-MNIST", 10, (1, 28, 28), 60000, 10000, "smallcnn")
    assert "FashionMNIST/raw/{train,t10k}-images-idx3-ubyte" in s.layout
    assert s.source == "torchvision.datasets.FashionMNIST"
    assert D.synthetic("fashionmnist", 2).images.shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="'fashion-mnist'.*'mnist', 'cifar10', 'tinyimagenet', 'fashionmnist'"):
        spec("fashion-mnist")
    with pytest.raises(ValueError, match="unknown dataset 'fashion-mnist'"):
        D.load("fashion-mnist")


def test_fashionmnist_tiny_files(tmp_path):
    written = _write_fashion(tmp_path)
    for train, split in ((True, "train"), (False, "t10k")):
        d = D.load("fashionmnist", tmp_path, train=train)
        images, labels = written[split]
        assert d.name == "fashionmnist" and d.num_classes == 10 and not d.synthetic
        assert d.images.dtype == torch.uint8 and d.images.shape == (len(labels), 1, 28, 28)
        assert d.labels.dtype == torch.int64 and d.labels.tolist() == labels.tolist()
        assert torch.equal(d.images[:, 0], torch.from_numpy(images))


def test_fashionmnist_missing(tmp_path):
    with pytest.raises(D.DatasetNotFoundError) as e:
        D.load("fashionmnist", tmp_path, train=False)
    msg = str(e.value)
    assert msg.startswith(f"fashionmnist not found in {tmp_path.resolve()}") and "download=True" in msg
    assert "FashionMNIST/raw/{train,t10k}-images-idx3-ubyte" in msg and D.DATA_ROOT_ENV in msg
    _write_fashion(tmp_path / "one-file-short")
    (tmp_path / "one-file-short" / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(D.DatasetNotFoundError, match="FashionMNIST/raw/train-labels-idx1-ubyte"):
        D.load("fashionmnist", tmp_path / "one-file-short", train=False)  # torchvision wants all four files
    _write_fashion(tmp_path / "mnist-only", folder="MNIST")  # files in MNIST/raw are MNIST's, not Fashion-MNIST's
    with pytest.raises(D.DatasetNotFoundError, match="FashionMNIST/raw/train-images-idx3-ubyte"):
        D.load("fashionmnist", tmp_path / "mnist-only")
    assert len(D.load("mnist", tmp_path / "mnist-only")) == 5


def test_fashionmnist_download_goes_through_torchvision(tmp_path, monkeypatch):
    fetched = []

    def fake_download(self) -> None:  # torchvision's FashionMNIST.download, without the network
        fetched.append((type(self).__name__, Path(self.raw_folder)))
        _write_fashion(Path(self.root))

    monkeypatch.setattr(D.torchvision.datasets.FashionMNIST, "download", fake_download)
    d = D.load("fashionmnist", tmp_path, train=False, download=True)
    assert fetched == [("FashionMNIST", tmp_path.resolve() / "FashionMNIST" / "raw")] and len(d) == 3
    D.load("fashionmnist", tmp_path, train=True, download=True)
    assert len(fetched) == 1  # the files are there now: no second download


@pytest.mark.parametrize("damage, culprit", [
    ("truncate", "t10k-images-idx3-ubyte"), ("magic", "t10k-images-idx3-ubyte"),
    ("header", "t10k-labels-idx1-ubyte"), ("label", "t10k-labels-idx1-ubyte"),
])
def test_corrupt_fashionmnist(tmp_path, damage, culprit):
    _write_fashion(tmp_path)
    raw = tmp_path / "FashionMNIST" / "raw"
    images, labels = raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte"
    _damage(images, labels, damage, keep=1000)
    with pytest.raises(D.CorruptDatasetError, match=f"fashionmnist: file .*{culprit} is corrupt") as e:
        D.load("fashionmnist", tmp_path, train=False)
    assert e.value.__cause__ is not None and isinstance(e.value, ValueError)


@needs_fashion
def test_fashionmnist_real_files():
    test = D.load("fashionmnist", FASHION_ROOT, train=False)
    assert len(test) == 10000 and test.images.shape[1:] == (1, 28, 28) and test.images.dtype == torch.uint8
    assert test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    train = D.load("fashionmnist", FASHION_ROOT, train=True)
    assert len(train) == 60000 and train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert torch.bincount(train.labels).tolist() == [6000] * 10


@pytest.mark.parametrize("damage", ["garbage", "truncated", "label"])
def test_corrupt_cifar(tmp_path, damage):
    base = _write_cifar(tmp_path)
    f = base / "data_batch_3"
    if damage == "garbage":
        f.write_bytes(b"this is not a pickle")
    elif damage == "truncated":
        f.write_bytes(f.read_bytes()[:500])
    else:
        _py2_pickle({b"labels": [0, 1, 2, 10], b"data": np.zeros((4, 3072), np.uint8)}, f)
    with pytest.raises(D.CorruptDatasetError, match="data_batch_3") as e:
        D.load("cifar10", tmp_path)
    assert e.value.__cause__ is not None


def test_corrupt_tinyimagenet(tmp_path):
    base = _write_tiny(tmp_path)
    bad = base / "train" / WNIDS[1] / "images" / f"{WNIDS[1]}_0.JPEG"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(D.CorruptDatasetError, match=bad.name):
        D.load("tinyimagenet", tmp_path)
    (base / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(D.CorruptDatasetError, match="val_annotations.txt"):
        D.load("tinyimagenet", tmp_path, train=False)


# --- synthetic, subset, batching ---------------------------------------------------------------------------

def test_synthetic_and_subset():
    a, b = D.synthetic("cifar10", 50, seed=3), D.synthetic("cifar10", 50, seed=3)
    assert a.synthetic and a.images.shape == (50, 3, 32, 32) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, D.synthetic("cifar10", 50, train=False, seed=3).images)
    t = D.synthetic("tinyimagenet", 4)
    assert t.images.shape == (4, 3, 64, 64) and int(t.labels.max()) < 200
    assert D.synthetic("mnist", 2).images.shape == (2, 1, 28, 28)
    s = a.subset(10, seed=1)
    assert len(s) == 10 and torch.equal(s.images, a.subset(10, seed=1).images)
    assert a.subset(None) is a and a.subset(500) is a


def test_a_smaller_subset_sits_inside_a_larger_one():
    a = D.synthetic("mnist", 50, seed=3)
    small, large = a.subset(20, seed=1), a.subset(35, seed=1)
    at = D.nested_positions(50, 20, 35, seed=1)
    assert at.shape == (20,) and (np.diff(at) > 0).all() and at.max() < 35
    assert torch.equal(small.images, large.images[at]) and torch.equal(small.labels, large.labels[at])
    assert torch.equal(a.images[D.nested_positions(50, 20, None, seed=1)], small.images)
    assert (D.nested_positions(50, None, None) == np.arange(50)).all()
    with pytest.raises(ValueError, match="not inside"):
        D.nested_positions(50, 35, 20)


def _epoch(data, bs, **kw):
    return list(D.iterate_batches(data, bs, **kw))


def test_iterate_batches_order_and_resume():
    data = D.synthetic("mnist", 103, seed=1)
    data.labels = torch.arange(103)  # labels as example ids
    batches = _epoch(data, 10, shuffle=True, seed=5, epoch=2)
    assert len(batches) == D.num_batches(103, 10, False) == 11 and len(batches[-1][1]) == 3
    ids = torch.cat([y for _, y in batches])
    assert sorted(ids.tolist()) == list(range(103)) and ids.tolist() != list(range(103))
    x, y = batches[0]
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and torch.equal(x, data.to_float(y)[0])
    again = torch.cat([y for _, y in _epoch(data, 10, shuffle=True, seed=5, epoch=2)])
    assert torch.equal(ids, again)
    assert not torch.equal(ids, torch.cat([y for _, y in _epoch(data, 10, shuffle=True, seed=5, epoch=3)]))
    tail = _epoch(data, 10, shuffle=True, seed=5, epoch=2, start_batch=4)
    assert len(tail) == 7 and all(torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])
                                  for a, b in zip(tail, batches[4:]))
    plain = torch.cat([y for _, y in _epoch(data, 10, shuffle=False)])
    assert plain.tolist() == list(range(103))
    dropped = _epoch(data, 10, shuffle=True, drop_last=True)
    assert len(dropped) == D.num_batches(103, 10, True) == 10 and all(len(y) == 10 for _, y in dropped)
    with pytest.raises(ValueError, match="batch_size"):
        D.iterate_batches(data, 0, shuffle=True)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match="start_batch"):
        D.iterate_batches(data, 10, shuffle=True, start_batch=-1)
    assert _epoch(data, 10, shuffle=True, start_batch=11) == []


def test_iterate_batches_augment():
    data = D.synthetic("cifar10", 64, seed=2)
    data.labels = torch.arange(64)  # labels as example ids
    full = _epoch(data, 16, shuffle=True, augment=True, seed=1)
    for x, y in full:
        assert x.shape == (16, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    x, y = full[0]
    orig = data.to_float(y)[0]
    assert not torch.equal(x, orig)
    # each augmented image is a shifted (and maybe flipped) window of its zero-padded original
    padded = torch.nn.functional.pad(orig, (4, 4, 4, 4))
    for i in range(16):
        hits = [(dy, dx) for dy in range(9) for dx in range(9) for img in (x[i], x[i].flip(2))
                if torch.equal(padded[i, :, dy:dy + 32, dx:dx + 32], img)]
        assert hits
    resumed = _epoch(data, 16, shuffle=True, augment=True, seed=1, start_batch=2)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(resumed, full[2:]))
