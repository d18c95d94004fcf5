"""Network architectures used in the paper's experiments.

* ``SmallCNN``  -- the TRADES MNIST network (4 conv + 3 fully-connected layers).
* ``ResNet18``  -- CIFAR-style ResNet-18 (3x3 stem, stride 1, no max-pool), as in TRADES.
* ``ResNet50``  -- Bottleneck ResNet-50 for 64x64 Tiny ImageNet inputs.  The paper does not
  specify the stem; we use the common CIFAR-style adaptation (3x3 stem conv, stride 1, no
  max-pool), so a 64x64 input gives 8x8 feature maps before the global average pool.

All models take inputs in [0, 1] (no normalisation layer), contain no device-specific
code, and work with ``torch.channels_last`` and CPU/CUDA autocast.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Type, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.datasets import NAMES as DATASET_NAMES, spec

__all__ = [
    "SmallCNN",
    "BasicBlock",
    "Bottleneck",
    "ResNet18",
    "ResNet50",
    "MODELS",
    "DEFAULT_MODEL",
    "NUM_CLASSES",
    "build_model",
    "model_for",
    "split_first_layer",
    "count_parameters",
]


class SmallCNN(nn.Module):
    """TRADES MNIST CNN: four 3x3 convs, two max-pools, three linear layers; input [N,1,28,28]."""

    def __init__(self, num_classes: int = 10, drop: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(1, 32, 3)),
            # Out of place: YOPO differentiates through the first layer's output (its split).
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(32, 32, 3)),
            # In place from here: the same numbers, 5-7 % faster (benchmarks/README.md).
            ("relu2", nn.ReLU(inplace=True)),
            ("pool1", nn.MaxPool2d(2)),
            ("conv3", nn.Conv2d(32, 64, 3)),
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(64, 64, 3)),
            ("relu4", nn.ReLU(inplace=True)),
            ("pool2", nn.MaxPool2d(2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(64 * 4 * 4, 200)),
            ("relu1", nn.ReLU(inplace=True)),
            ("drop", nn.Dropout(drop)),
            ("fc2", nn.Linear(200, 200)),
            ("relu2", nn.ReLU(inplace=True)),
            ("fc3", nn.Linear(200, num_classes)),
        ]))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)  # fan_in, gain sqrt(2)
                nn.init.zeros_(m.bias)
        # TRADES zero-initialises the output layer, so initial logits are all zero.
        nn.init.zeros_(self.classifier.fc3.weight)
        nn.init.zeros_(self.classifier.fc3.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits [N, num_classes]."""
        # flatten (not view) so channels_last feature maps are handled correctly
        return self.classifier(torch.flatten(self.features(x), 1))

    def first_layer(self) -> nn.Module:
        """Return the first layer (conv1): ``after_first_layer(first_layer()(x))`` is ``forward(x)``."""
        return self.features.conv1

    def after_first_layer(self, h: torch.Tensor) -> torch.Tensor:
        """Return the logits from the first layer's output ``h`` (the rest of the network)."""
        return self.classifier(torch.flatten(self.features[1:](h), 1))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual forward pass."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand (x4) conv-BN layers with a shortcut."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual forward pass."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


Block = Union[Type[BasicBlock], Type[Bottleneck]]


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    """Identity if shapes match, else a 1x1 strided conv + BN projection."""
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, 1, stride, bias=False),
        nn.BatchNorm2d(out_planes),
    )


class _ResNet(nn.Module):
    """CIFAR-style ResNet: 3x3 stride-1 stem (no max-pool), four stages, global avg pool, linear."""

    def __init__(self, block: Block, num_blocks: List[int], num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes = 64
        stages = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), num_blocks)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(in_planes, planes, stride))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits [N, num_classes]."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(torch.flatten(self.pool(out), 1))

    def first_layer(self) -> nn.Module:
        """Return the first layer (the stem conv, before its batch norm)."""
        return self.conv1

    def after_first_layer(self, h: torch.Tensor) -> torch.Tensor:
        """Return the logits from the stem conv's output ``h`` (the rest of the network)."""
        out = self.layer4(self.layer3(self.layer2(self.layer1(F.relu(self.bn1(h))))))
        return self.linear(torch.flatten(self.pool(out), 1))


def ResNet18(num_classes: int = 10) -> nn.Module:
    """CIFAR ResNet-18 (BasicBlock [2,2,2,2]) for 32x32 inputs."""
    return _ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def ResNet50(num_classes: int = 200) -> nn.Module:
    """ResNet-50 (Bottleneck [3,4,6,3]) with CIFAR-style stem, for 64x64 Tiny ImageNet inputs."""
    return _ResNet(Bottleneck, [3, 4, 6, 3], num_classes)


MODELS: Dict[str, Callable[..., nn.Module]] = {
    "smallcnn": SmallCNN,
    "resnet18": ResNet18,
    "resnet50": ResNet50,
}
# Read from the dataset registry (wmrlib.core.datasets), the one home of these facts.
DEFAULT_MODEL: Dict[str, str] = {name: spec(name).default_model for name in DATASET_NAMES}
NUM_CLASSES: Dict[str, int] = {name: spec(name).num_classes for name in DATASET_NAMES}


def build_model(name: str, num_classes: Optional[int] = None) -> nn.Module:
    """Build a model by (case-insensitive) name; ``num_classes=None`` uses the model's default."""
    key = name.lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {sorted(MODELS)}")
    return MODELS[key]() if num_classes is None else MODELS[key](num_classes=num_classes)


def model_for(dataset: str) -> nn.Module:
    """Build the registry's default model for a dataset (e.g. SmallCNN for mnist)."""
    entry = spec(dataset.lower())
    return build_model(entry.default_model, entry.num_classes)


def split_first_layer(model: nn.Module) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """Return ``(first, rest)`` with ``rest(first(x)) == model(x)``: the split YOPO needs.

    ``first`` is the model's first layer (a module, whose parameters are the model's) and
    ``rest`` maps its output to the logits. A model offers the split through the methods
    ``first_layer()`` and ``after_first_layer(h)`` (SmallCNN and the ResNets do).
    """
    if not (hasattr(model, "first_layer") and hasattr(model, "after_first_layer")):
        raise TypeError(f"{type(model).__name__} cannot be split into a first layer and the rest "
                        "(YOPO needs it); give it first_layer() and after_first_layer(h) methods, "
                        "as SmallCNN and the ResNets have")
    return model.first_layer(), model.after_first_layer


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
