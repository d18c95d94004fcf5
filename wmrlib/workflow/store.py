"""The results store: trained models and per-example evaluation records, keyed by config hashes.

Layout under the store root::

    runs/<run key>/config.json        the RunConfig
    runs/<run key>/provenance.json    commit, device, versions, wall time, history
    runs/<run key>/model.pt           final weights (not needed to read results)
    runs/<run key>/checkpoint.pt      while training; removed when the run is done
    evals/<run key>/<unit key>.npz    one attack's per-example record on one test subset
    evals/<run key>/<unit key>.json   its provenance

An evaluation is split into units (clean, the unweighted attack, one weighted attack per
alpha_test) so that every experiment reuses the units it shares with another one. Every write
goes to a temporary file and is renamed into place.
"""
from __future__ import annotations

import dataclasses
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..compute import distributed
from ..core.checks import check_int, check_number
from ..compute.checkpoint import atomic_path, load_checkpoint, save_checkpoint
from ..experiment.config import AttackConfig, RunConfig
from ..compute.data import ImageData, load, synthetic
from ..core.datasets import spec
from ..compute.device import default_device, require_native_bf16
from ..core.keys import key_fields, stable_hash
from ..compute.adaptive import unit_provenance
from ..compute.evaluate import attack_record, learning_curve_probe
from ..compute.outcome import FIELDS, AttackRecord, EvalRecord
from ..method.models import build_model
from ..experiment.profiles import MODEL_SELECTION
from .provenance import provenance
from ..compute.train import train_model


class MissingResult(LookupError):
    """A result is not in a read-only store."""


def write_json(path: Path, value) -> None:
    """Write ``value`` as JSON to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=1, sort_keys=True, default=str) + "\n")


@dataclass
class Run:
    """A trained model in the store."""

    config: RunConfig
    model: torch.nn.Module | None
    provenance: dict


SYNTHETIC_SIZE = 256  # test examples (and default training examples) of a synthetic run


class Store:
    """Results keyed by config hash; ``get_or_*`` return stored results or compute and store them."""

    def __init__(self, root: str | Path, *, data_root: str | Path | None = None,
                 device: str | torch.device | None = None, readonly: bool = False,
                 progress: bool = True, eval_batch_size: int = 250) -> None:
        self.root = Path(root)
        self.data_root = data_root
        self.device = default_device(device)
        self.readonly = readonly
        self.progress = progress
        self.eval_batch_size = check_int("eval_batch_size", eval_batch_size, low=1)
        self._data: dict[tuple, ImageData] = {}

    def read_only(self) -> "Store":
        """Return a view of the same results that never computes: a missing one raises MissingResult."""
        if self.readonly:
            return self
        view = Store(self.root, data_root=self.data_root, device=self.device, readonly=True,
                     progress=self.progress, eval_batch_size=self.eval_batch_size)
        view._data = self._data  # the loaded datasets are shared, not read again
        return view

    # --- data ---------------------------------------------------------------------------------
    def data(self, config: RunConfig, train: bool) -> ImageData:
        """Return the training or test data a run uses (synthetic tensors when the config says so)."""
        key = (config.dataset, config.synthetic, train)
        if key not in self._data:
            if config.synthetic:
                n = (config.train_size or SYNTHETIC_SIZE) if train else SYNTHETIC_SIZE
                self._data[key] = synthetic(config.dataset, n, train=train, seed=0)
            else:
                self._data[key] = load(config.dataset, self.data_root, train=train)
        return self._data[key]

    def test_size(self, config: RunConfig) -> int:
        """Return the number of test examples of a run's dataset, without loading the data."""
        return SYNTHETIC_SIZE if config.synthetic else spec(config.dataset).test_size

    # --- runs ---------------------------------------------------------------------------------
    def run_dir(self, config: RunConfig) -> Path:
        """Return the folder of ``config``'s run."""
        return self.root / "runs" / config.key()

    def provenance_path(self, config: RunConfig) -> Path:
        """Return the path of ``config``'s training provenance (it marks the run as done)."""
        return self.run_dir(config) / "provenance.json"

    def checkpoint_path(self, config: RunConfig) -> Path:
        """Return the path of ``config``'s checkpoint while it trains."""
        return self.run_dir(config) / "checkpoint.pt"

    def evals_dir(self, config: RunConfig) -> Path:
        """Return the folder of ``config``'s evaluation units."""
        return self.root / "evals" / config.key()

    def compute_log_path(self) -> Path:
        """Return the path of the store's compute log (one entry per ``reproduce`` invocation)."""
        return self.root / "compute.json"

    def notebooks_dir(self) -> Path:
        """Return the folder of the notebooks ``reproduce`` executed against this store."""
        return self.root / "notebooks"

    def has_run(self, config: RunConfig) -> bool:
        """Return whether ``config`` has finished training in this store."""
        return self.provenance_path(config).exists()

    def get_or_train(self, config: RunConfig, *, need_model: bool = True,
                     curve: tuple[AttackConfig, float, int] | None = None,
                     curve_seed: int = 0) -> Run:
        """Return the stored run for ``config``, training (or resuming) it first if needed.

        ``Run.model`` (None unless ``need_model``) is always the model loaded from ``model.pt``,
        also right after training, so that evaluation takes one path however the run was made.

        ``curve = (attack, alpha_test, n)`` records learning curves while training: A_nat, A_rob,
        A_sa and A_tr at ``alpha_test`` on ``n`` fixed test examples after every epoch, in the
        run's history (``curve_*`` keys; see :func:`wmrlib.compute.evaluate.learning_curve_probe`).

        Under ``torchrun`` every process trains (data-parallel, see ``train_model``); rank 0 writes
        the run's files, the others wait for it and read them.
        """
        folder = self.run_dir(config)
        if self.has_run(config):
            if not self.readonly:  # a kill between the provenance and its removal leaves it
                self.checkpoint_path(config).unlink(missing_ok=True)
            info = json.loads(self.provenance_path(config).read_text())
            model = self.load_model(config) if need_model else None
            return Run(config, model, info)
        if self.readonly:
            raise MissingResult(f"run {config.key()} ({config.label} α={config.alpha_train:g}, "
                                f"seed {config.seed}) is not in {self.root}")
        if config.precision == "bf16":  # refuse emulated bf16 before anything is written
            require_native_bf16(self.device)
        distributed.init_from_env(self.device)  # a no-op unless under torchrun
        main = distributed.is_main()
        train_data = self.data(config, train=True)  # a missing dataset fails before any write
        if main:
            write_json(folder / "config.json", dataclasses.asdict(config))
        probe = None
        if curve is not None:
            attack, alpha_test, n = curve
            probe = learning_curve_probe(self.data(config, train=False).subset(n, seed=curve_seed),
                                         attack, alpha_test, batch_size=self.eval_batch_size,
                                         device=self.device, seed=curve_seed)
        result = train_model(config, train_data, device=self.device,
                             checkpoint=self.checkpoint_path(config), progress=self.progress,
                             probe=probe)
        if main:
            save_checkpoint({"config_key": config.key(), "model_name": config.model,
                             "model": result.model.state_dict()}, self.model_path(config))
            info = provenance(self.device, result.wall_time_s, kind="train",
                              config_key=config.key(), config=dataclasses.asdict(config),
                              history=result.history, resumed_from=result.resumed_from,
                              world_size=distributed.world_size(),
                              **({"validation_curve": result.curve,
                                  "selected": result.selection or {"rule": MODEL_SELECTION,
                                                                   "epoch": config.epochs}}
                                 if result.curve else {}))
            write_json(self.provenance_path(config), info)
            self.checkpoint_path(config).unlink(missing_ok=True)
        distributed.barrier()
        if not main:
            info = json.loads(self.provenance_path(config).read_text())
        # One path to every evaluation: the model as stored, never the one left in memory, so a
        # result is the same whether its run was just trained, resumed or trained long ago.
        return Run(config, self.load_model(config) if need_model else None, info)

    def model_path(self, config: RunConfig) -> Path:
        """Return the path of ``config``'s final weights."""
        return self.run_dir(config) / "model.pt"

    def load_model(self, config: RunConfig) -> torch.nn.Module:
        """Return ``config``'s stored model in eval mode (``weights_only`` load, key checked)."""
        state = load_checkpoint(self.model_path(config), config_key=config.key(),
                                model_name=config.model)
        model = build_model(config.model, spec(config.dataset).num_classes)
        model.load_state_dict(state["model"])
        return model.to(self.device).eval()

    # --- evaluations --------------------------------------------------------------------------
    def _unit_key(self, attack: AttackConfig | None, alpha: float, eval_size, eval_seed) -> str:
        attack_part = None if attack is None else key_fields(attack)
        return stable_hash({"attack": attack_part, "alpha": 0.0 if attack is None else float(alpha),
                      "eval_size": eval_size, "eval_seed": eval_seed})

    def unit_path(self, config: RunConfig, attack: AttackConfig | None, alpha: float = 0.0, *,
                  eval_size: int | None = None, eval_seed: int = 0) -> Path:
        """Return the .npz path of one evaluation unit."""
        unit = self._unit_key(attack, alpha, eval_size, eval_seed)
        return self.evals_dir(config) / f"{unit}.npz"

    def has_unit(self, config: RunConfig, attack: AttackConfig | None, alpha: float = 0.0, *,
                 eval_size: int | None = None, eval_seed: int = 0) -> bool:
        """Return whether one evaluation unit is stored."""
        return self.unit_path(config, attack, alpha, eval_size=eval_size,
                              eval_seed=eval_seed).exists()

    def get_or_attack(self, config: RunConfig, attack: AttackConfig | None, alpha: float = 0.0,
                      *, eval_size: int | None = None, eval_seed: int = 0) -> AttackRecord:
        """Return one evaluation unit (clean when ``attack`` is None), computing it if needed."""
        check_number("alpha_test", alpha)  # before anything is trained or written
        path = self.unit_path(config, attack, alpha, eval_size=eval_size, eval_seed=eval_seed)
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                return AttackRecord(*(z[f] for f in FIELDS), extra={
                    k[len("extra/"):]: z[k] for k in z.files if k.startswith("extra/")})
        if self.readonly:
            what = "clean" if attack is None else f"{attack.name} ε={attack.eps:g} α_test={alpha:g}"
            raise MissingResult(f"evaluation {what} of run {config.key()} is not in {self.root}")
        run = self.get_or_train(config)
        data = self.data(config, train=False).subset(eval_size, seed=eval_seed)
        started = time.perf_counter()
        partial = path.with_suffix(".partial.npz")  # finished batches of a long unit (resumable)
        record = attack_record(run.model, data, attack, alpha, batch_size=self.eval_batch_size,
                               device=self.device, seed=eval_seed, progress=self.progress,
                               partial=partial)
        wall = time.perf_counter() - started
        buffer = io.BytesIO()
        np.savez_compressed(buffer, labels=data.labels.numpy(),
                            **{f: getattr(record, f) for f in FIELDS},
                            **{f"extra/{k}": v for k, v in record.extra.items()})
        # The provenance goes first: the .npz marks the unit as done, so a crash between the two
        # writes leaves a unit that is recomputed, never one without provenance.
        write_json(path.with_suffix(".json"), provenance(
            self.device, wall, kind="evaluate", config_key=config.key(),
            attack=None if attack is None else dataclasses.asdict(attack), alpha_test=alpha,
            eval_size=len(data), eval_seed=eval_seed, synthetic=data.synthetic,
            **unit_provenance(attack)))
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())
        partial.unlink(missing_ok=True)
        return record

    def get_or_evaluate(self, config: RunConfig, attack: AttackConfig, alpha_tests=(), *,
                        eval_size: int | None = None, eval_seed: int = 0) -> EvalRecord:
        """Return the EvalRecord of ``config`` under ``attack``: clean, unweighted, each alpha_test."""
        for alpha in alpha_tests:  # all of them before anything is trained or written
            check_number("alpha_test", alpha)
        kw = dict(eval_size=eval_size, eval_seed=eval_seed)
        clean = self.get_or_attack(config, None, **kw)
        uniform = self.get_or_attack(config, attack, 0.0, **kw)
        weighted = {float(a): self.get_or_attack(config, attack, float(a), **kw) for a in alpha_tests}
        labels = self.data_labels(config, eval_size, eval_seed)
        return EvalRecord(attack, labels, clean, uniform, weighted)

    def data_labels(self, config: RunConfig, eval_size, eval_seed) -> np.ndarray:
        """Return the labels of the evaluated subset, from a stored clean unit when possible."""
        unit = self._unit_key(None, 0.0, eval_size, eval_seed)
        path = self.evals_dir(config) / f"{unit}.npz"
        with np.load(path, allow_pickle=False) as z:
            return z["labels"]

    def provenance_of(self, config: RunConfig, attack: AttackConfig | None, alpha: float = 0.0, *,
                      eval_size: int | None = None, eval_seed: int = 0) -> dict:
        """Return the provenance JSON of one stored evaluation unit."""
        unit = self._unit_key(attack, alpha, eval_size, eval_seed)
        return json.loads((self.evals_dir(config) / f"{unit}.json").read_text())
