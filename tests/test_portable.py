"""Portable compute: the bf16 guard (with faked CPU flags), stable store keys, the epoch probe."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import wmrlib.compute.device as wdevice
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.compute.data import synthetic
from wmrlib.compute.evaluate import learning_curve_probe
from wmrlib.core.keys import config_key
from wmrlib.workflow.store import Store
from wmrlib.compute.train import train_model

REPO = Path(__file__).resolve().parents[1]
TINY = RunConfig(dataset="mnist", synthetic=True, train_size=64, batch_size=32, epochs=2,
                 attack_steps=2, step_size=0.1, optimizer="adam", lr=1e-3, schedule="constant",
                 milestones=())


def _fake_flags(monkeypatch, **flags):
    info = {"model": "Fake CPU", "cores": 2,
            "flags": {f: bool(flags.get(f, False)) for f in wdevice.CPU_FLAGS}}
    monkeypatch.setattr(wdevice, "cpu_info", lambda: info)
    monkeypatch.setattr(wdevice, "_onednn_bf16", lambda: True)  # the flags decide, on any host
    monkeypatch.delenv(wdevice.ALLOW_EMULATED_BF16_ENV, raising=False)


def test_native_bf16_follows_the_cpu_flags(monkeypatch):
    _fake_flags(monkeypatch, avx2=True)
    assert not wdevice.native_bf16("cpu") and wdevice.cpu_kind(wdevice.cpu_info()) == "avx2"
    _fake_flags(monkeypatch, avx2=True, avx512f=True, avx512_bf16=True)
    assert wdevice.native_bf16("cpu") and wdevice.cpu_kind(wdevice.cpu_info()) == "avx512-bf16"
    _fake_flags(monkeypatch, amx_bf16=True)
    assert wdevice.native_bf16("cpu")


def test_an_instruction_set_cap_makes_bf16_emulated(monkeypatch):
    """ONEDNN_MAX_CPU_ISA=AVX2 on an AVX-512 BF16 CPU runs bf16 emulated, as on an AVX2 CPU."""
    _fake_flags(monkeypatch, avx2=True, avx512f=True, avx512_bf16=True)
    monkeypatch.setattr(wdevice, "_onednn_bf16", lambda: False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert not wdevice.native_bf16("cpu")
    with pytest.raises(wdevice.EmulatedBF16Error, match="ONEDNN_MAX_CPU_ISA.*precision fp32"):
        wdevice.require_native_bf16("cpu")
    monkeypatch.undo()
    for name in wdevice.ISA_CAP_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    info = wdevice.cpu_info()  # provenance and plan say the CPU ran capped
    assert info["isa_caps"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert wdevice.cpu_kind(info).endswith("capped by ONEDNN_MAX_CPU_ISA=AVX2")


def test_bf16_without_native_support_is_refused_before_anything_is_written(monkeypatch, tmp_path):
    _fake_flags(monkeypatch, avx2=True)
    store = Store(tmp_path, device="cpu", progress=False)
    with pytest.raises(wdevice.EmulatedBF16Error, match="avx512_bf16.*precision fp32"):
        store.get_or_train(TINY.replace(precision="bf16"))
    assert not any(tmp_path.rglob("*")), "the refused run wrote files"
    with pytest.raises(wdevice.EmulatedBF16Error):
        train_model(TINY.replace(precision="bf16"), synthetic("mnist", 64), device="cpu",
                    progress=False)


def test_bf16_override_and_native_cpu_train(monkeypatch):
    _fake_flags(monkeypatch, avx2=True)
    config = TINY.replace(precision="bf16", epochs=1)
    data = synthetic("mnist", 64)
    assert train_model(config, data, device="cpu", progress=False, allow_emulated_bf16=True).history
    monkeypatch.setenv(wdevice.ALLOW_EMULATED_BF16_ENV, "1")
    assert train_model(config, data, device="cpu", progress=False).history
    _fake_flags(monkeypatch, avx512_bf16=True)
    assert train_model(config, data, device="cpu", progress=False).history


def test_provenance_records_the_cpu_flags(tmp_path):
    info = Store(tmp_path, device="cpu", progress=False).get_or_train(TINY).provenance
    assert set(info["cpu"]["flags"]) == set(wdevice.CPU_FLAGS) and info["cpu"]["model"]


def test_a_new_defaulted_field_keeps_every_key():
    @dataclasses.dataclass(frozen=True)
    class RunConfig2(RunConfig):
        new_knob: int = 0

    @dataclasses.dataclass(frozen=True)
    class AttackConfig2(AttackConfig):
        new_knob: float = 0.0

    assert RunConfig2(seed=3).key() == RunConfig(seed=3).key()
    assert RunConfig2(seed=3, new_knob=1).key() != RunConfig(seed=3).key()
    assert AttackConfig2(steps=7).key() == AttackConfig(steps=7).key()
    assert AttackConfig2(new_knob=0.5).key() != AttackConfig().key()
    assert config_key(RunConfig2()) == config_key(RunConfig())


def test_every_stored_run_still_resolves_to_its_key():
    folders = list((REPO / "results").glob("*/runs/*"))
    assert folders, "no stored runs to check"
    for folder in folders:
        config = RunConfig.from_dict(json.loads((folder / "config.json").read_text()))
        assert config.key() == folder.name, folder


def test_probe_records_learning_curves_in_the_history():
    data = synthetic("mnist", 32, train=False)
    probe = learning_curve_probe(data, AttackConfig(eps=0.3, step_size=0.1, steps=2), 2.0,
                                 device="cpu")
    history = train_model(TINY, synthetic("mnist", 64), device="cpu", progress=False,
                          probe=probe).history
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert h["curve_n"] == 32 and 0 <= h["curve_a_rob"] <= h["curve_a_nat"] <= 100
        assert 0 <= h["curve_a_tr"] <= 100 and 0 <= h["curve_a_sa"] <= 100


def test_pgd_takes_nchw_and_matches_the_channels_last_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 26 * 26, 10)).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    from wmrlib.method.attacks import pgd
    a = pgd(model, x, y, eps=0.3, step_size=0.05, steps=5, random_start="none")
    assert a.is_contiguous() and model[0].weight.is_contiguous()  # caller's layout restored
    model.to(memory_format=torch.channels_last)
    b = pgd(model, x, y, eps=0.3, step_size=0.05, steps=5, random_start="none")
    # Same points up to floating-point order: a sign flip of a near-zero gradient is possible.
    assert (a - b).abs().gt(1e-5).float().mean() < 0.01


def test_attacks_run_an_mnist_model_in_channels_last():
    """MNIST's first convolution has one input channel, whose weight reads as contiguous in both
    layouts; the attacks must still convert the model (they did not, and ran NCHW)."""
    from wmrlib.compute.adaptive import autoattack_batch
    from wmrlib.method.attacks import pgd, trades_attack
    from wmrlib.method.models import SmallCNN
    torch.manual_seed(0)
    model = SmallCNN().eval()
    seen = []

    def record(module, inputs):
        h = inputs[0]
        seen.append(h.is_contiguous(memory_format=torch.channels_last) and not h.is_contiguous())

    model.features.conv2.register_forward_pre_hook(record)
    torch.nn.init.normal_(model.classifier.fc3.weight)  # logits that differ between examples
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        y = model(x).argmax(1)  # every example starts correct, so AutoAttack attacks them all
    seen.clear()
    pgd(model, x, y, eps=0.3, step_size=0.05, steps=1)
    trades_attack(model, x, eps=0.3, step_size=0.05, steps=1)
    assert seen == [True] * 3  # pgd's step; trades' clean pass and step
    autoattack_batch(model, x, y, eps=0.3, steps=1, queries=2)
    assert len(seen) > 4 and all(seen)
    assert model.features.conv2.weight.is_contiguous()  # the caller's layout is restored


def test_weighted_margin_attack_is_refused():
    from wmrlib.method.attacks import pgd
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    with pytest.raises(ValueError, match="margin.*alpha"):
        pgd(model, torch.rand(2, 1, 4, 4), torch.tensor([0, 1]), eps=0.3, step_size=0.1,
            steps=1, loss="margin", alpha=1.0)


def test_automatic_layout_off_leaves_the_callers_layout():
    """bench.py's NCHW baseline needs attacks that do not switch layout; the switch restores itself."""
    from wmrlib.method.attacks import automatic_layout, pgd, trades_attack
    from wmrlib.method.models import SmallCNN
    torch.manual_seed(0)
    model = SmallCNN().eval()
    seen = []
    model.features.conv2.register_forward_pre_hook(
        lambda module, inputs: seen.append(inputs[0].is_contiguous()))
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    with automatic_layout(False):
        a = pgd(model, x, y, eps=0.3, step_size=0.05, steps=2, random_start="none")
        trades_attack(model, x, eps=0.3, step_size=0.05, steps=1)
        with automatic_layout(True):  # nested: on again inside, off again after
            pgd(model, x, y, eps=0.3, step_size=0.05, steps=1, random_start="none")
        pgd(model, x, y, eps=0.3, step_size=0.05, steps=1, random_start="none")
    assert seen == [True, True, True, True, False, True]  # NCHW except the nested call
    seen.clear()
    b = pgd(model, x, y, eps=0.3, step_size=0.05, steps=2, random_start="none")
    assert seen == [False, False]  # on again after the block
    assert (a - b).abs().gt(1e-5).float().mean() < 0.01  # same points up to summation order
    with pytest.raises(TypeError, match="True or False"):
        with automatic_layout("no"):
            pass
