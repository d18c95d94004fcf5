"""Faults: a training process killed with SIGKILL resumes bitwise-identically; writes stay atomic
under crashes, kills and concurrent writers; checkpoints load safely (weights only, identity checked).

The processes here are real subprocesses with one torch thread each, so their floating-point
results can be compared bit for bit. They train on synthetic tensors and need no dataset files.
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from wmrlib.compute.checkpoint import (CheckpointError, NonFiniteWeightsError,
                               load_checkpoint, save_checkpoint)
from wmrlib.experiment.config import AttackConfig, RunConfig
from wmrlib.compute.data import num_batches
from wmrlib.compute.outcome import AttackRecord, EvalRecord
from wmrlib.method.models import build_model
from wmrlib.workflow.store import Store, write_json

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
ENV.pop("WORLD_SIZE", None)  # never data-parallel here
needs_posix = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

# 128 synthetic images in batches of 16: 8 batches per epoch, about 0.2 s each on one core.
# TRADES with alpha > 0, SGD with momentum and a multistep schedule: every piece of state the
# checkpoint must carry (model, optimizer, LR position, torch RNG, attack RNG, data position).
KILL_CONFIG = RunConfig(dataset="mnist", synthetic=True, defense="trades", alpha_train=1.0,
                        eps=0.3, step_size=0.1, attack_steps=2, epochs=2, batch_size=16,
                        train_size=128, optimizer="sgd", lr=0.01, momentum=0.9,
                        schedule="multistep", milestones=(0.5,), seed=3)

TRAIN_CHILD = textwrap.dedent("""
    import json, sys, torch
    torch.set_num_threads(1)
    from wmrlib.experiment.config import RunConfig
    from wmrlib.compute.data import synthetic
    from wmrlib.compute.train import train_model
    config = RunConfig.from_dict(json.loads(sys.argv[1]))
    checkpoint, out = sys.argv[2] or None, sys.argv[3]
    data = synthetic(config.dataset, config.train_size, train=True, seed=0)
    result = train_model(config, data, device="cpu", checkpoint=checkpoint,
                         checkpoint_every_s=0.0, progress=False)
    torch.save(result.model.state_dict(), out)
    print(json.dumps({"resumed_from": result.resumed_from, "epochs": len(result.history)}))
""")


def python(script, *args, **kw):
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=ENV, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc, timeout=300):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    return out


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), name


# --- 1. SIGKILL in the middle of an epoch, then resume -----------------------------------------

@needs_posix
def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path):
    config_json = json.dumps(dataclasses.asdict(KILL_CONFIG))
    per_epoch = num_batches(KILL_CONFIG.train_size, KILL_CONFIG.batch_size, drop_last=False)
    assert per_epoch == 8

    reference = json.loads(finish(python(TRAIN_CHILD, config_json, "", tmp_path / "ref.pt")))
    assert reference == {"resumed_from": None, "epochs": 2}

    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / "checkpoint.pt"
    proc = python(TRAIN_CHILD, config_json, ckpt, tmp_path / "killed.pt")
    deadline = time.monotonic() + 120
    try:
        while True:  # kill as soon as a checkpoint two batches into the first epoch exists
            assert proc.poll() is None, "training finished before it could be killed"
            assert time.monotonic() < deadline, "no mid-epoch checkpoint appeared"
            if ckpt.exists():
                seen = torch.load(ckpt, map_location="cpu", weights_only=True)
                if (seen["epoch"], seen["batch"]) >= (0, 2):
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.01)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed.pt").exists()

    # The kill really landed mid-epoch: the checkpoint left behind is inside epoch 1.
    state = load_checkpoint(ckpt, config_key=KILL_CONFIG.key(), model_name="smallcnn")
    assert state["epoch"] == 0 and 0 < state["batch"] < per_epoch, (state["epoch"], state["batch"])
    assert len(state["history"]) == 0
    # Besides the checkpoint there can only be the temporary file of a write the kill cut short.
    assert all(p.name.startswith(".checkpoint.pt.") and p.suffix == ".tmp"
               for p in run.iterdir() if p != ckpt), list(run.iterdir())

    resumed = json.loads(finish(python(TRAIN_CHILD, config_json, ckpt, tmp_path / "resumed.pt")))
    assert resumed == {"resumed_from": [state["epoch"], state["batch"]], "epochs": 2}
    assert_same_weights(torch.load(tmp_path / "ref.pt", weights_only=True),
                        torch.load(tmp_path / "resumed.pt", weights_only=True))
    final = load_checkpoint(ckpt, config_key=KILL_CONFIG.key())
    assert (final["epoch"], final["batch"]) == (2, 0)


# --- 2a. A write that fails half-way keeps the previous version ----------------------------------

def _half_then_fail(real):
    """Wrap a writer so that it writes half of what it would, then fails like a full disk."""
    def writer(path, data, *args, **kwargs):
        real(path, data[: len(data) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")
    return writer


def _record(value: float) -> EvalRecord:
    rec = AttackRecord(np.array([True, False]), np.array([value, -value]), np.array([0.1, 0.2]))
    return EvalRecord(AttackConfig(), np.array([3, 4]), rec, rec, {1.0: rec})


def _rewrite_json(path, monkeypatch):
    write_json(path, {"version": 1, "rows": list(range(50))})
    monkeypatch.setattr(Path, "write_text", _half_then_fail(Path.write_text))
    return lambda: write_json(path, {"version": 2, "rows": list(range(80))}), \
        lambda: json.loads(path.read_text())["version"] == 1


def _rewrite_checkpoint(path, monkeypatch):
    save_checkpoint({"config_key": "old", "model": {"w": torch.ones(1000)}}, path)
    real = torch.save

    def half_save(obj, f, *args, **kwargs):
        real(obj, f, *args, **kwargs)
        blob = Path(f).read_bytes()
        Path(f).write_bytes(blob[: len(blob) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", half_save)
    return lambda: save_checkpoint({"config_key": "new", "model": {"w": torch.zeros(1000)}}, path), \
        lambda: load_checkpoint(path, config_key="old")["model"]["w"].sum().item() == 1000


def _rewrite_record(path, monkeypatch):
    _record(1.0).save(path)
    monkeypatch.setattr(Path, "write_bytes", _half_then_fail(Path.write_bytes))
    return lambda: _record(2.0).save(path), \
        lambda: EvalRecord.load(path).uniform.margin[0] == 1.0


@pytest.mark.parametrize("writer, name", [
    (_rewrite_json, "provenance.json"), (_rewrite_checkpoint, "model.pt"),
    (_rewrite_record, "record.npz"),
], ids=["json", "checkpoint", "eval-record"])
def test_write_failing_half_way_keeps_the_previous_version(tmp_path, monkeypatch, writer, name):
    path = tmp_path / "store" / name
    rewrite, is_old = writer(path, monkeypatch)
    before = path.read_bytes()
    with pytest.raises(OSError, match="No space"):
        rewrite()
    monkeypatch.undo()
    assert path.read_bytes() == before and is_old()
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary file left


@needs_posix
def test_sigkill_during_a_write_keeps_the_previous_version(tmp_path):
    path = tmp_path / "unit.npz"
    _record(1.0).save(path)
    before = path.read_bytes()
    script = textwrap.dedent("""
        import os, signal, sys
        from wmrlib.compute.checkpoint import atomic_path
        with atomic_path(sys.argv[1]) as tmp:
            tmp.write_bytes(b"half of a new version")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = python(script, path)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before and EvalRecord.load(path).uniform.margin[0] == 1.0
    # A killed process cannot remove its temporary file; it is hidden and never read as a result.
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert [p.name.startswith(".unit.npz.") and p.suffix == ".tmp" for p in leftovers] == [True]
    assert list(tmp_path.glob("*.npz")) == [path]
    _record(2.0).save(path)  # and the next write goes through
    assert EvalRecord.load(path).uniform.margin[0] == 2.0


# --- 2b. Two processes computing the same results into one store at once -----------------------

STORE_CONFIG = RunConfig(dataset="mnist", synthetic=True, train_size=128, batch_size=32,
                         attack_steps=2, epochs=1, eps=0.3, step_size=0.1, optimizer="adam",
                         lr=1e-3, schedule="constant", milestones=(), seed=0)
STORE_ATTACK = AttackConfig(eps=0.3, step_size=0.1, steps=3)

STORE_CHILD = textwrap.dedent("""
    import json, os, sys, time, torch
    torch.set_num_threads(1)
    from pathlib import Path
    from wmrlib.experiment.config import AttackConfig, RunConfig
    from wmrlib.workflow.store import Store
    root, gate = sys.argv[1], Path(sys.argv[2])
    config = RunConfig.from_dict(json.loads(sys.argv[3]))
    attack = AttackConfig(**json.loads(sys.argv[4]))
    store = Store(root, device="cpu", progress=False)
    (gate.parent / f"ready-{os.getpid()}").touch()
    while not gate.exists():  # start the real work together with the other process
        time.sleep(0.002)
    record = store.get_or_evaluate(config, attack, (1.0,), eval_size=64)
    print(json.dumps(record.summary()))
""")


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


def test_two_processes_computing_the_same_key_at_once_do_not_corrupt_the_store(tmp_path):
    args = (json.dumps(dataclasses.asdict(STORE_CONFIG)), json.dumps(dataclasses.asdict(STORE_ATTACK)))
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    (tmp_path / "gate-alone").mkdir()
    (tmp_path / "gate-alone" / "go").touch()
    single = json.loads(finish(python(STORE_CHILD, alone, tmp_path / "gate-alone" / "go", *args)))

    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [python(STORE_CHILD, shared, gate / "go", *args) for _ in range(2)]
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (gate / "go").touch()
    summaries = [json.loads(finish(p)) for p in procs]
    assert summaries == [single, single]

    files, expected = _files(shared), _files(alone)
    assert sorted(files) == sorted(expected)  # same files: no temporary or checkpoint left over
    assert not [n for n in files if n.endswith(".tmp") or n.endswith("checkpoint.pt")]
    for name, path in files.items():
        if path.suffix == ".json":
            json.loads(path.read_text())
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as a, np.load(expected[name], allow_pickle=False) as b:
                assert sorted(a.files) == sorted(b.files)
                for key in a.files:
                    assert np.array_equal(a[key], b[key]), (name, key)
        if path.name == "model.pt":
            got = load_checkpoint(path, config_key=STORE_CONFIG.key(), model_name="smallcnn")
            want = load_checkpoint(expected[name], config_key=STORE_CONFIG.key())
            assert_same_weights(got["model"], want["model"])
        if path.name == "config.json":
            assert path.read_bytes() == expected[name].read_bytes()
    info = json.loads((shared / "runs" / STORE_CONFIG.key() / "provenance.json").read_text())
    assert info["config_key"] == STORE_CONFIG.key() and len(info["history"]) == 1
    # A fresh reader finds every result stored and computes nothing.
    reader = Store(shared, device="cpu", progress=False, readonly=True)
    again = reader.get_or_evaluate(STORE_CONFIG, STORE_ATTACK, (1.0,), eval_size=64)
    assert again.summary() == pytest.approx(single)


def test_a_run_just_trained_is_evaluated_as_loaded_from_its_weights(tmp_path, monkeypatch):
    """Evaluation takes one path: right after training, the unit attacks the model loaded from
    model.pt, as it would after a resume or in a later session, never the one left in memory."""
    import wmrlib.workflow.store as store_module

    store = Store(tmp_path, device="cpu", progress=False)
    loaded, attacked = [], []
    real_load, real_attack = Store.load_model, store_module.attack_record
    monkeypatch.setattr(Store, "load_model",
                        lambda self, config: loaded.append(real_load(self, config)) or loaded[-1])
    monkeypatch.setattr(store_module, "attack_record",
                        lambda model, *a, **k: attacked.append(model) or real_attack(model, *a, **k))
    store.get_or_attack(STORE_CONFIG, STORE_ATTACK, eval_size=16)  # trains first
    assert store.has_run(STORE_CONFIG) and len(loaded) == 1 and attacked == loaded
    assert all(p.grad is None for p in loaded[0].parameters())  # not the trained object


def test_a_bad_fault_spec_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WMR_FAULT", "renamed:model.pt")
    with pytest.raises(ValueError, match=r"WMR_FAULT='renamed:model.pt' is not "
                                         r"'<written\|renamed>:<file name pattern>@<n>'"):
        write_json(tmp_path / "x.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left
    monkeypatch.setenv("WMR_FAULT", "renamed:other.json@1")  # another file: no effect
    write_json(tmp_path / "x.json", {"a": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}


# --- 3. Checkpoint loading ------------------------------------------------------------------------

class _Payload:
    """Pickles to a call of os.mkdir: loading it with plain pickle would create a folder."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return os.mkdir, (self.target,)


def _small_state(config_key="k" * 16, model_name="smallcnn"):
    torch.manual_seed(0)
    return {"config_key": config_key, "model_name": model_name,
            "model": build_model(model_name, 10).state_dict()}


def test_checkpoints_are_loaded_with_weights_only(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_checkpoint(_small_state(), path)
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_checkpoint(path)
    assert calls == [True]


def test_checkpoint_carrying_code_is_refused_and_the_code_never_runs(tmp_path):
    path, marker = tmp_path / "evil.pt", tmp_path / "code-ran"
    torch.save({**_small_state(), "extra": _Payload(marker)}, path)
    torch.load(path, weights_only=False)  # the payload is live: a plain load runs it
    assert marker.is_dir()
    marker.rmdir()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "pickled" in message and "weights_only" in message
    assert not marker.exists()

    # The results store refuses it too when it loads a stored model.
    store = Store(tmp_path / "store", device="cpu", progress=False, readonly=True)
    folder = store.run_dir(STORE_CONFIG)
    folder.mkdir(parents=True)
    torch.save({**_small_state(STORE_CONFIG.key()), "extra": _Payload(marker)}, folder / "model.pt")
    write_json(folder / "provenance.json", {"config_key": STORE_CONFIG.key()})
    with pytest.raises(CheckpointError, match="pickled"):
        store.get_or_train(STORE_CONFIG)
    assert not marker.exists()


def test_checkpoint_of_another_architecture_is_refused_naming_both(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(_small_state(model_name="smallcnn"), path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, model_name="resnet18")
    message = str(info.value)
    assert "model_name 'smallcnn'" in message and "'resnet18' was expected" in message

    # Through the store: a run whose config names ResNet-18 but whose model.pt holds a SmallCNN.
    config = STORE_CONFIG.replace(model="resnet18")
    store = Store(tmp_path / "store", device="cpu", progress=False, readonly=True)
    folder = store.run_dir(config)
    folder.mkdir(parents=True)
    save_checkpoint(_small_state(config.key(), "smallcnn"), folder / "model.pt")
    write_json(folder / "provenance.json", {"config_key": config.key()})
    with pytest.raises(CheckpointError) as info:
        store.get_or_train(config)
    assert "'smallcnn'" in str(info.value) and "'resnet18'" in str(info.value)


def test_checkpoint_of_another_config_is_refused_naming_both(tmp_path):
    other = STORE_CONFIG.replace(seed=5)
    store = Store(tmp_path / "store", device="cpu", progress=False, readonly=True)
    folder = store.run_dir(STORE_CONFIG)
    folder.mkdir(parents=True)
    save_checkpoint(_small_state(other.key()), folder / "model.pt")  # copied from another run
    write_json(folder / "provenance.json", {"config_key": STORE_CONFIG.key()})
    with pytest.raises(CheckpointError) as info:
        store.get_or_train(STORE_CONFIG)
    message = str(info.value)
    assert f"config_key {other.key()!r}" in message
    assert f"{STORE_CONFIG.key()!r} was expected" in message
    assert str(folder / "model.pt") in message and "\n" not in message


def test_non_finite_weights_are_never_saved_and_never_loaded(tmp_path):
    path = tmp_path / "checkpoint.pt"
    good = _small_state()
    save_checkpoint(good, path)
    before = path.read_bytes()
    bad = {**good, "model": {**good["model"]}}
    name = next(iter(bad["model"]))
    bad["model"][name] = bad["model"][name].clone()
    bad["model"][name].view(-1)[0] = float("nan")
    with pytest.raises(NonFiniteWeightsError) as info:
        save_checkpoint(bad, path)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, ValueError)
    assert name in str(info.value) and "learning rate" in str(info.value)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]

    torch.save(bad, path)  # written by something else, e.g. an older version
    with pytest.raises(CheckpointError, match="NaN or infinite") as info:
        load_checkpoint(path)
    assert name in str(info.value) and "delete it" in str(info.value)


# --- 4. A campaign killed at any point resumes to the results of an uninterrupted one ---------------

# One smoke job (PGD-AT seed 0: training with its learning-curve probe, then 22 units, the
# robustness check's AutoAttack, weighted APGD and logit-scaling units among them) on synthetic
# MNIST, shrunk by overrides so that it takes seconds.
FAULT_RUN = {"synthetic": True, "epochs": 2, "train_size": 128, "batch_size": 32}
FAULT_ATTACK = {"steps": 1}

# Runs the job into a store once per entry of argv[2]: each run is a fork of this process, which
# imports wmrlib but computes nothing itself, with WMR_FAULT set to the entry (None: no fault);
# after each run it records how the run ended and which files the store holds.
CAMPAIGN_DRIVER = textwrap.dedent("""
    import json, os, sys, traceback
    from pathlib import Path
    import torch
    from wmrlib.experiment.overrides import override_profile
    from wmrlib.workflow.campaign import compute
    from wmrlib.workflow.jobs import plan_jobs
    from wmrlib.workflow.store import Store
    # Robustness units of 16 images in two batches, so that the adaptive ones keep a partial file.
    Store.__init__.__kwdefaults__["eval_batch_size"] = 8
    root, faults, overrides = Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
    job, = [j for j in plan_jobs("smoke", ["mnist"], tuple(overrides))
            if j.config.defense == "pgd" and not j.config.alpha_train and j.config.seed == 0]
    ended = []
    for fault in faults:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                torch.set_num_threads(1)
                if fault:
                    os.environ["WMR_FAULT"] = fault
                compute("smoke", results=str(root), jobs=[job], progress=False,
                        log_progress=False)
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        ended.append({"fault": fault,
                      "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                      "files": sorted(str(p.relative_to(root)) for p in root.rglob("*")
                                      if p.is_file())})
    print(json.dumps(ended))
""")


def _fault_job():
    from wmrlib.workflow.jobs import plan_jobs

    job, = [j for j in plan_jobs("smoke", ["mnist"], (FAULT_RUN, FAULT_ATTACK))
            if j.config.defense == "pgd" and not j.config.alpha_train and j.config.seed == 0]
    return job


def _drive(root: Path, faults: list[str | None]) -> list[dict]:
    out = finish(python(CAMPAIGN_DRIVER, root, json.dumps(faults),
                        json.dumps([FAULT_RUN, FAULT_ATTACK])))
    return json.loads(out)


def _same_results(got: Path, want: Path) -> None:
    """Assert that two stores hold the same files (the logs, provenance and hidden temporary files
    aside) and that their weights, configs and evaluation records are bit-identical."""
    def visible(root):
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()
                and not p.name.startswith(".") and p.name not in ("compute.json", "compute.lock")}

    files, expected = visible(got), visible(want)
    assert sorted(files) == sorted(expected)
    compared = 0
    for name, path in files.items():
        if path.name == "model.pt":
            a, b = (torch.load(p, weights_only=True)["model"] for p in (path, expected[name]))
            assert_same_weights(a, b)
        elif path.name == "config.json":
            assert path.read_bytes() == expected[name].read_bytes()
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as x, np.load(expected[name], allow_pickle=False) as y:
                assert sorted(x.files) == sorted(y.files), name
                for key in x.files:
                    assert np.array_equal(x[key], y[key]), (name, key)
        else:
            continue
        compared += 1
    assert compared == len([n for n in files if n.endswith((".npz", "model.pt", "config.json"))])


@needs_posix
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_campaign_killed_at_every_stage_resumes_to_the_uninterrupted_results(tmp_path):
    """A job killed (SIGKILL, at a named write: tests set WMR_FAULT) mid-training, mid-write of
    the weights, between training and evaluation, after some units, mid-write of a unit, inside
    an AutoAttack unit's partial file, mid-write of a partial file and inside the logit-scaling
    unit's partial file, then run to the end, stores what an uninterrupted run stores, bit for
    bit. Each evaluation runs in another process than the training, so a unit that read
    anything the process did before (its global random stream, a model left in memory) differs."""
    job = _fault_job()
    config = job.config
    store = Store(tmp_path / "run" / "smoke", progress=False, readonly=True)
    unit = [store.unit_path(config, a, alpha, eval_size=n, eval_seed=job.eval_seed).name
            for a, alpha, n in job.units]
    kinds = [(None if a is None else a.kind, alpha, n) for a, alpha, n in job.units]
    autoattack = unit[kinds.index(("autoattack", 0.0, 16))]
    weighted_apgd = unit[next(i for i, (k, alpha, _) in enumerate(kinds)
                              if k == "autoattack" and alpha > 0)]
    logit = unit[kinds.index(("logit-scale", 0.0, 16))]
    partial = lambda name: name.replace(".npz", ".partial.npz")  # noqa: E731
    stages = [  # (WMR_FAULT, what must be in the store after the kill)
        ("renamed:checkpoint.pt@1", ["checkpoint.pt"]),                    # mid-training
        ("written:model.pt@1", ["checkpoint.pt", ".model.pt."]),           # mid-write of the weights
        ("renamed:provenance.json@1", ["checkpoint.pt", "model.pt", "provenance.json"]),
        (f"renamed:{unit[2]}@1", unit[:3]),                               # after three units
        (f"written:{unit[3]}@1", [unit[3].replace(".npz", ".json"), f".{unit[3]}."]),
        (f"renamed:{partial(autoattack)}@1", [partial(autoattack)]),      # inside AutoAttack
        (f"written:{partial(weighted_apgd)}@1", [f".{partial(weighted_apgd)}."]),
        (f"renamed:{partial(logit)}@1", [partial(logit)]),                # inside logit scaling
    ]
    ended = _drive(tmp_path / "ref", [None]) + _drive(tmp_path / "run", [f for f, _ in stages] + [None])
    reference, killed, last = ended[0], ended[1:-1], ended[-1]
    assert reference["exit"] == 0 and last["exit"] == 0, (reference, last)

    run_dir = f"runs/{config.key()}/"
    for (fault, present), end in zip(stages, killed):
        assert end["signal"] == signal.SIGKILL, end  # the named write was reached, and killed it
        names = [Path(f).name for f in end["files"]]
        for name in present:  # a name ending in "." is the prefix of a hidden temporary file
            assert any(n == name or (name.endswith(".") and n.startswith(name)) for n in names), \
                (fault, name, names)
    files = {s[0]: end["files"] for s, end in zip(stages, killed)}
    assert not any(f.endswith("model.pt") for f in files["written:model.pt@1"])
    assert not any(f.startswith("evals/") for f in files["renamed:provenance.json@1"])
    # The next run removes the checkpoint the kill left beside the finished run.
    assert run_dir + "checkpoint.pt" not in files[f"renamed:{unit[2]}@1"]
    assert not any(f.endswith(unit[3]) for f in files[f"written:{unit[3]}@1"])

    info = json.loads((tmp_path / "run" / "smoke" / run_dir / "provenance.json").read_text())
    assert info["resumed_from"] == [2, 0]  # the run that finished it resumed after epoch 2 of 2
    _same_results(tmp_path / "run" / "smoke", tmp_path / "ref" / "smoke")
    leftovers = [f for f in last["files"] if Path(f).name.startswith(".")]
    assert len(leftovers) == 3 and all(f.endswith(".tmp") for f in leftovers)  # the three mid-writes


def test_the_provenance_says_in_which_process_each_probe_unit_was_computed(tmp_path):
    """A hand-written store: a unit written while the invocation that trained its model ran, one
    written by an invocation that only evaluated, and one no logged invocation covers."""
    from wmrlib.book.records import evaluation_processes, evaluation_path_note

    root = tmp_path / "smoke"
    write_json(root / "compute.json", [
        {"date": "2026-01-01T10:00:00+00:00", "wall_time_s": 3600.0, "results": [
            {"key": "a" * 16, "trained": True, "units_computed": 3},
            {"key": "b" * 16, "trained": False, "units_computed": 0}]},
        {"date": "2026-01-01T12:00:00+00:00", "wall_time_s": 1800.0, "results": [
            {"key": "b" * 16, "trained": False, "units_computed": 2}]}])
    logit = {"kind": "logit-scale"}
    for key, unit, attack, date in [("a", "u1", logit, "09:30"), ("b", "u2", logit, "11:45"),
                                    ("c", "u3", logit, "13:00"), ("a", "u4", {"kind": "pgd"}, "09:40")]:
        write_json(root / "evals" / (key * 16) / f"{unit}.json",
                   {"config_key": key * 16, "attack": attack, "wall_time_s": 120.0,
                    "date": f"2026-01-01T{date}:00+00:00"})
    write_json(root / "runs" / ("a" * 16) / "provenance.json", {"resumed_from": [0, 5]})
    write_json(root / "runs" / ("b" * 16) / "provenance.json", {"resumed_from": None})
    assert evaluation_processes(tmp_path, "smoke") == {
        "units": 3, "same process as training": 1, "evaluation-only process": 1,
        "cannot be told": 1, "resumed runs": 1, "minutes": 6.0}
    assert evaluation_path_note(tmp_path, ("smoke", "cpu")) == (
        "`smoke`: of its 3 logit-scaling units, 1 were computed in the process that had just "
        "trained (or resumed) their model, 1 in a process that only evaluated and 1 where the "
        "compute log cannot tell; 1 of those models resumed training from a checkpoint; "
        "computing them took 6 min.")


def test_a_unit_is_stale_when_it_predates_a_change_of_its_kind(tmp_path, monkeypatch):
    """UNIT_CHANGES: a logit-scaling unit computed before the declared commit is stale, one
    computed at it or after is not, other kinds never are, and git's ignorance is None; a store's
    units are counted so."""
    import subprocess

    from wmrlib.workflow import staleness

    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q"), git("config", "user.email", "t@t"), git("config", "user.name", "t")
    commits = []
    for i in range(3):
        (repo / "f.txt").write_text(str(i))
        git("add", "."), git("commit", "-qm", str(i))
        commits.append(git("rev-parse", "HEAD"))
    monkeypatch.setattr(staleness, "UNIT_CHANGES", {commits[1]: ("logit-scale", "a fix")})
    staleness._is_ancestor.cache_clear()
    assert [staleness.unit_stale(c, "logit-scale", repo) for c in commits] == [True, False, False]
    assert staleness.unit_stale(commits[0][:7] + "-dirty", "logit-scale", repo) is True
    assert staleness.unit_stale(commits[1][:7], "logit-scale", repo) is False
    assert staleness.unit_stale(commits[0], "autoattack", repo) is False
    assert staleness.unit_stale("0" * 40, "logit-scale", repo) is None
    assert staleness.unit_stale("unknown", "logit-scale", repo) is None

    store = tmp_path / "smoke"
    for unit, kind, commit in [("u1", "logit-scale", commits[0]), ("u2", "logit-scale", commits[2]),
                               ("u3", "logit-scale", "unknown"), ("u4", "autoattack", commits[0])]:
        write_json(store / "evals" / "k" / f"{unit}.json",
                   {"attack": {"kind": kind}, "git_commit": commit})
    assert staleness.stale_units(store, "logit-scale", repo) == {"units": 3, "stale": 1, "unknown": 1}
    assert staleness.stale_units(store, "autoattack", repo) == {"units": 1, "stale": 0, "unknown": 0}
