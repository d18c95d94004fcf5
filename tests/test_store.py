"""The results store: train once, evaluate in shared units, read-only use, crash safety."""
import dataclasses
import datetime
import json
import os
import re
import stat

import numpy as np
import pytest
import torch

import wmrlib.workflow.store as wstore
from wmrlib.compute.checkpoint import atomic_path
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.workflow.store import MissingResult, Store

from conftest import mnist_root

# Synthetic tensors of MNIST's shape: the store's logic does not depend on the data, so these
# tests run on machines without ../shared too.
CONFIG = RunConfig(dataset="mnist", train_size=128, attack_steps=1, epochs=1, batch_size=64,
                   eps=0.3, step_size=0.1, optimizer="adam", lr=1e-3, schedule="constant",
                   milestones=(), seed=0, synthetic=True)
ATTACK = AttackConfig(eps=0.3, step_size=0.1, steps=2)
EVAL = 48


def new_store(root, **kw):
    return Store(root, data_root=mnist_root(), device="cpu", progress=False, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store holding CONFIG's trained run, and the weights it trained."""
    store = new_store(tmp_path_factory.mktemp("store"))
    run = store.get_or_train(CONFIG)
    weights = {k: v.clone() for k, v in run.model.state_dict().items()}
    return store, run, weights


def unit_files(store, config=CONFIG):
    folder = store.evals_dir(config)
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def stored_unit(store, attack, alpha, eval_seed, config=CONFIG):
    """Find a unit's .npz through the provenance JSON files, without the store's own lookup."""
    wanted = None if attack is None else json.loads(json.dumps(dataclasses.asdict(attack)))
    found = []
    for path in store.evals_dir(config).glob("*.json"):
        info = json.loads(path.read_text())
        if info["attack"] == wanted and info["alpha_test"] == alpha and info["eval_seed"] == eval_seed:
            found.append(path.with_suffix(".npz"))
    assert len(found) == 1, found
    with np.load(found[0]) as z:
        return {k: z[k] for k in z.files}


def count_attacks(monkeypatch):
    calls = []
    real = wstore.attack_record

    def counting(model, data, attack, alpha=0.0, **kw):
        calls.append((None if attack is None else attack.name, float(alpha), len(data)))
        return real(model, data, attack, alpha, **kw)

    monkeypatch.setattr(wstore, "attack_record", counting)
    return calls


# --- runs -------------------------------------------------------------------------------------

def test_get_or_train_writes_config_weights_and_provenance(trained):
    store, run, _ = trained
    folder = store.run_dir(CONFIG)
    assert folder == store.run_dir(CONFIG)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.pt", "provenance.json"]
    assert RunConfig.from_dict(json.loads((folder / "config.json").read_text())) == CONFIG
    info = json.loads(store.provenance_path(CONFIG).read_text())
    assert info == json.loads(json.dumps(run.provenance, default=str))  # tuples become lists
    for field in ("git_commit", "device", "torch", "date", "wall_time_s", "config"):
        assert field in info, field
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", info["git_commit"])
    assert info["device"] == "cpu" and info["torch"] == torch.__version__
    assert datetime.datetime.fromisoformat(info["date"]).tzinfo is not None
    assert info["wall_time_s"] > 0
    assert RunConfig.from_dict(info["config"]) == CONFIG and info["config_key"] == CONFIG.key()
    assert [h["epoch"] for h in info["history"]] == [1]
    assert store.has_run(CONFIG) and not store.has_run(CONFIG.replace(seed=1))


def test_stored_files_have_the_mode_of_ordinary_files(trained):
    """Not mkstemp's owner-only 0600: a results store is read by other users and the book build."""
    store, _, _ = trained
    store.get_or_attack(CONFIG, None, eval_size=EVAL, eval_seed=4)
    umask = os.umask(0)
    os.umask(umask)
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_second_call_loads_the_stored_model_without_training(trained, monkeypatch):
    store, _, weights = trained

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(wstore, "train_model", no_training)
    for again in (new_store(store.root), new_store(store.root, readonly=True)):
        run = again.get_or_train(CONFIG)
        assert not run.model.training
        state = run.model.state_dict()
        assert state.keys() == weights.keys()
        for name, tensor in weights.items():
            assert torch.equal(state[name], tensor), name
    assert again.get_or_train(CONFIG, need_model=False).model is None


def test_readonly_store_raises_missing_result(trained):
    store, _, _ = trained
    readonly = new_store(store.root, readonly=True)
    other = CONFIG.replace(seed=7)
    with pytest.raises(MissingResult, match=other.key()):
        readonly.get_or_train(other)
    with pytest.raises(MissingResult, match="clean"):
        readonly.get_or_attack(CONFIG, None, eval_size=EVAL, eval_seed=99)
    with pytest.raises(MissingResult, match="2-PGD ε=0.3 α_test=1.5"):
        readonly.get_or_attack(CONFIG, ATTACK, 1.5, eval_size=EVAL, eval_seed=99)
    with pytest.raises(MissingResult, match=other.key()):
        readonly.get_or_evaluate(other, ATTACK, (1.0,), eval_size=EVAL)
    assert isinstance(MissingResult("x"), LookupError)
    assert not store.run_dir(other).exists()
    assert not store.evals_dir(other).exists()
    # A writable store's read-only view reads what is stored and computes nothing.
    view = store.read_only()
    assert view.readonly and not store.readonly and view.root == store.root
    assert view.get_or_train(CONFIG, need_model=False).provenance == store.get_or_train(
        CONFIG, need_model=False).provenance
    with pytest.raises(MissingResult, match="clean"):
        view.get_or_attack(CONFIG, None, eval_size=EVAL, eval_seed=99)
    assert not store.has_unit(CONFIG, None, eval_size=EVAL, eval_seed=99)
    assert view.read_only() is view


# --- evaluation units -------------------------------------------------------------------------

def test_evaluation_is_stored_in_units_and_reused(trained, monkeypatch):
    store, run, _ = trained
    calls = count_attacks(monkeypatch)
    before = unit_files(store)
    kw = dict(eval_size=EVAL, eval_seed=1)
    record = store.get_or_evaluate(CONFIG, ATTACK, (1.0, 2.0), **kw)
    assert calls == [(None, 0.0, EVAL), ("2-PGD", 0.0, EVAL), ("2-PGD", 1.0, EVAL),
                     ("2-PGD", 2.0, EVAL)]
    new = sorted(set(unit_files(store)) - set(before))
    assert len(new) == 8 and sum(n.endswith(".npz") for n in new) == 4
    assert sorted(record.weighted) == [1.0, 2.0]

    calls.clear()
    again = store.get_or_evaluate(CONFIG, ATTACK, (2.0,), **kw)
    assert calls == []
    assert sorted(again.weighted) == [2.0]
    for name in ("correct", "margin", "loss"):
        assert np.array_equal(getattr(again.weighted[2.0], name), getattr(record.weighted[2.0], name))
        assert np.array_equal(getattr(again.uniform, name), getattr(record.uniform, name))

    # A read-only store (another process, say) reads the same units.
    readonly = new_store(store.root, readonly=True).get_or_evaluate(CONFIG, ATTACK, (1.0, 2.0), **kw)
    assert readonly.summary() == record.summary()

    # The labels are those of the seeded test subset; A_nat is the model's clean accuracy there.
    subset = store.data(CONFIG, train=False).subset(EVAL, seed=1)
    assert np.array_equal(record.labels, subset.labels.numpy())
    x, y = subset.to_float(slice(None))
    with torch.no_grad():
        accuracy = (run.model(x).argmax(1) == y).float().mean().item()
    assert record.a_nat() == pytest.approx(accuracy)

    # The provenance of a unit says what was computed.
    info = store.provenance_of(CONFIG, ATTACK, 2.0, **kw)
    assert info["attack"] == json.loads(json.dumps(dataclasses.asdict(ATTACK)))
    assert (info["alpha_test"], info["eval_size"], info["eval_seed"]) == (2.0, EVAL, 1)
    assert info["kind"] == "evaluate" and info["synthetic"] == CONFIG.synthetic


def test_a_sa_for_every_alpha_comes_from_the_one_uniform_unit(trained, monkeypatch):
    store, _, _ = trained
    kw = dict(eval_size=EVAL, eval_seed=3)
    record = store.get_or_evaluate(CONFIG, ATTACK, (1.0,), **kw)
    files = unit_files(store)
    calls = count_attacks(monkeypatch)
    unit = stored_unit(store, ATTACK, 0.0, 3)
    correct, margins = unit["correct"].astype(float), unit["margin"].astype(float)
    assert record.a_rob() == pytest.approx(correct.mean())
    assert record.a_sa(0.0) == pytest.approx(correct.mean())
    for alpha in (0.5, 1.0, 1.5, 2.0, 4.0):
        w = np.exp(-alpha * margins)
        assert record.a_sa(alpha) == pytest.approx((w * correct).sum() / w.sum(), rel=1e-9)
    assert calls == [] and unit_files(store) == files  # nothing computed, nothing written
    with pytest.raises(KeyError):
        record.a_tr(1.5)  # A_tr needs its own weighted attack


# --- crash safety and bad locations -----------------------------------------------------------

def test_crash_while_writing_a_unit_leaves_no_partial_file(trained, monkeypatch):
    store, _, _ = trained
    kw = dict(eval_size=EVAL, eval_seed=2)
    store.get_or_attack(CONFIG, None, **kw)  # a unit stored before the crash
    before = unit_files(store)
    real_replace = os.replace

    def disk_full_on_npz(src, dst):
        if str(dst).endswith(".npz"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", disk_full_on_npz)
        with pytest.raises(OSError, match="No space"):
            store.get_or_attack(CONFIG, ATTACK, 0.0, **kw)
    after = unit_files(store)
    assert not [n for n in after if n.endswith(".tmp")]
    assert {n: b for n, b in after.items() if n in before} == before  # earlier files intact
    assert [n for n in after if n not in before and n.endswith(".npz")] == []
    with pytest.raises(MissingResult):  # the unit does not count as done
        new_store(store.root, readonly=True).get_or_attack(CONFIG, ATTACK, 0.0, **kw)

    def crash(*args, **kwargs):
        raise RuntimeError("killed while compressing")

    with monkeypatch.context() as m:
        m.setattr(np, "savez_compressed", crash)
        with pytest.raises(RuntimeError, match="killed"):
            store.get_or_attack(CONFIG, ATTACK, 0.0, **kw)
    assert not [n for n in unit_files(store) if n.endswith(".tmp")]

    # Once the disk is back, the unit is computed and has its provenance.
    calls = count_attacks(monkeypatch)
    rec = store.get_or_attack(CONFIG, ATTACK, 0.0, **kw)
    assert len(calls) == 1 and rec.correct.shape == (EVAL,)
    assert store.provenance_of(CONFIG, ATTACK, 0.0, **kw)["alpha_test"] == 0.0


def test_crash_while_rewriting_a_file_keeps_the_previous_one(trained):
    store, _, _ = trained
    store.get_or_attack(CONFIG, None, eval_size=EVAL, eval_seed=2)
    folder = store.evals_dir(CONFIG)
    path = sorted(folder.glob("*.npz"))[0]
    good = path.read_bytes()
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(good[: len(good) // 2])  # half written, then the process dies
            raise RuntimeError("killed")
    assert path.read_bytes() == good
    assert not list(folder.glob("*.tmp"))
    with np.load(path) as z:
        assert z["correct"].shape == (EVAL,)


def test_results_directory_under_a_file_raises_one_clear_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    store = new_store(afile / "store")
    for call in (lambda: store.get_or_train(CONFIG),
                 lambda: store.get_or_evaluate(CONFIG, ATTACK, (1.0,), eval_size=EVAL)):
        with pytest.raises(OSError) as info:
            call()
        message = str(info.value)
        assert str(afile / "store") in message and "writable" in message
        assert "\n" not in message
    assert afile.read_text() == "not a directory"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores directory permissions")
def test_read_only_results_directory_raises_permission_error(tmp_path):
    root = tmp_path / "locked"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="writable"):
            new_store(root).get_or_train(CONFIG)
    finally:
        root.chmod(0o700)
