"""Tests for wmrlib.method.models: shapes, parameter counts, init, registry, memory formats, autocast, grads."""

import math

import pytest
import torch
import torch.nn as nn

from wmrlib.core.datasets import NAMES as DATASET_NAMES
from wmrlib.method.models import (
    DEFAULT_MODEL,
    MODELS,
    ResNet18,
    ResNet50,
    SmallCNN,
    build_model,
    count_parameters,
    model_for,
)

# (name, input shape of a batch of 2, number of classes)
CASES = [
    ("smallcnn", (2, 1, 28, 28), 10),
    ("resnet18", (2, 3, 32, 32), 10),
    ("resnet50", (2, 3, 64, 64), 200),
]


@pytest.fixture(scope="module")
def models():
    """Build each model once (eval mode, nonzero SmallCNN head so outputs are informative)."""
    torch.manual_seed(0)
    out = {name: build_model(name, n).eval() for name, _, n in CASES}
    nn.init.normal_(out["smallcnn"].classifier.fc3.weight, std=0.1)
    nn.init.normal_(out["smallcnn"].classifier.fc3.bias, std=0.1)
    return out


@pytest.mark.parametrize("name,shape,n", CASES)
def test_output_shapes(models, name, shape, n):
    with torch.no_grad():
        y = models[name](torch.rand(shape))
    assert y.shape == (shape[0], n)


def test_smallcnn_param_count_by_hand():
    conv = lambda cin, cout: cin * cout * 3 * 3 + cout  # noqa: E731
    fc = lambda fin, fout: fin * fout + fout  # noqa: E731
    expected = (conv(1, 32) + conv(32, 32) + conv(32, 64) + conv(64, 64)
                + fc(64 * 4 * 4, 200) + fc(200, 200) + fc(200, 10))
    assert expected == 312_202
    assert count_parameters(SmallCNN()) == expected


def test_smallcnn_layer_structure():
    m = SmallCNN(num_classes=7)
    got = [(type(l).__name__, tuple(l.weight.shape)) for l in m.modules()
           if isinstance(l, (nn.Conv2d, nn.Linear))]
    assert got == [
        ("Conv2d", (32, 1, 3, 3)),
        ("Conv2d", (32, 32, 3, 3)),
        ("Conv2d", (64, 32, 3, 3)),
        ("Conv2d", (64, 64, 3, 3)),
        ("Linear", (200, 1024)),
        ("Linear", (200, 200)),
        ("Linear", (7, 200)),
    ]
    assert sum(isinstance(l, nn.MaxPool2d) for l in m.modules()) == 2
    drops = [l for l in m.modules() if isinstance(l, nn.Dropout)]
    assert len(drops) == 1 and drops[0].p == 0.5
    assert not any(isinstance(l, nn.BatchNorm2d) for l in m.modules())


def test_smallcnn_init():
    torch.manual_seed(0)
    m = SmallCNN()
    fc3 = m.classifier.fc3
    assert torch.all(fc3.weight == 0) and torch.all(fc3.bias == 0)
    m.train()  # dropout active: logits are still exactly zero
    assert torch.all(m(torch.rand(4, 1, 28, 28)) == 0)
    for conv in (l for l in m.modules() if isinstance(l, nn.Conv2d)):
        assert torch.all(conv.bias == 0)
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        expected = math.sqrt(2.0 / fan_in)
        # smallest conv has 288 weights -> sample-std relative error ~4%; allow 20%
        assert abs(conv.weight.std().item() / expected - 1) < 0.2
        assert abs(conv.weight.mean().item()) < 0.2 * expected


def test_resnet18_param_count():
    assert count_parameters(ResNet18()) == 11_173_962


def test_resnet50_param_count():
    # torchvision ResNet-50 with a 200-way head, minus the 7x7 stem, plus a 3x3 stem.
    expected = 25_557_032 - (2048 * 1000 + 1000) + (2048 * 200 + 200) - 3 * 64 * 49 + 3 * 64 * 9
    assert expected == 23_910_152
    assert count_parameters(ResNet50()) == expected


def test_resnet50_param_count_vs_torchvision():
    tv = pytest.importorskip("torchvision")
    ref = count_parameters(tv.models.resnet50(num_classes=200))
    assert count_parameters(ResNet50(200)) == ref - 3 * 64 * 49 + 3 * 64 * 9


def test_build_model_registry():
    assert isinstance(build_model("SmallCNN"), SmallCNN)
    assert build_model("ResNet18", num_classes=5).linear.out_features == 5
    with pytest.raises(ValueError) as err:
        build_model("vgg16")
    msg = str(err.value)
    assert "vgg16" in msg and all(n in msg for n in MODELS)


def test_model_for():
    assert set(DEFAULT_MODEL) == set(DATASET_NAMES) >= {"mnist", "cifar10", "tinyimagenet", "fashionmnist"}
    assert isinstance(model_for("mnist"), SmallCNN)
    assert model_for("cifar10").linear.out_features == 10
    m = model_for("tinyimagenet")
    assert m.linear.out_features == 200
    with torch.no_grad():
        assert m.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 200)
    with pytest.raises(ValueError, match="svhn"):
        model_for("svhn")


@pytest.mark.parametrize("name,shape,n", CASES)
def test_channels_last_and_bf16_autocast(models, name, shape, n):
    m = models[name]
    torch.manual_seed(1)
    x = torch.rand(shape)
    with torch.no_grad():
        ref = m(x)
        scale = ref.abs().max().item()
        assert scale > 0
        m_cl = m.to(memory_format=torch.channels_last)
        try:
            y_cl = m_cl(x.to(memory_format=torch.channels_last))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y_bf = m_cl(x.to(memory_format=torch.channels_last))
        finally:
            m.to(memory_format=torch.contiguous_format)
    assert torch.isfinite(y_cl).all() and torch.isfinite(y_bf).all()
    assert y_bf.dtype == torch.bfloat16
    torch.testing.assert_close(y_cl, ref, rtol=1e-4, atol=1e-5 * max(scale, 1.0))
    assert (y_bf.float() - ref).abs().max().item() <= 0.05 * scale + 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_cuda_forward():
    m = SmallCNN().cuda()
    assert m(torch.rand(2, 1, 28, 28, device="cuda")).device.type == "cuda"


@pytest.mark.parametrize("name,shape,n", CASES[:2])
def test_input_gradient_flows(models, name, shape, n):
    m = models[name]  # SmallCNN's zero head was perturbed in the fixture
    x = torch.rand(shape, requires_grad=True)
    y = torch.arange(shape[0]) % n
    loss = nn.functional.cross_entropy(m(x), y)
    (g,) = torch.autograd.grad(loss, x)
    assert g.shape == x.shape and torch.isfinite(g).all() and g.abs().sum() > 0


def test_zero_head_gives_zero_input_gradient_for_logit_sum():
    # sanity check of why the gradient test perturbs the head: a fresh SmallCNN is input-invariant
    m = SmallCNN().eval()
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    (g,) = torch.autograd.grad(m(x).sum(), x)
    assert torch.all(g == 0)


def test_in_place_relus_change_no_number():
    """SmallCNN's in-place ReLUs (a speed-up) give bit-identical outputs, gradients and PGD."""
    import copy

    from wmrlib.method.attacks import pgd

    torch.manual_seed(0)
    model = SmallCNN()
    torch.nn.init.normal_(model.classifier.fc3.weight, std=0.1)
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, torch.nn.ReLU):
            module.inplace = False
    assert any(m.inplace for m in model.modules() if isinstance(m, torch.nn.ReLU))
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    outs = []
    for net in (model, reference):
        torch.manual_seed(1)
        out = net.train()(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        outs.append(out)
    assert torch.equal(*outs)
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(model.parameters(), reference.parameters()))
    advs = [pgd(net.eval(), x, y, eps=0.3, step_size=0.01, steps=5, alpha=1.0,
                generator=torch.Generator().manual_seed(3)) for net in (model, reference)]
    assert torch.equal(*advs)
