"""The command line: bad input is one ``error:`` line with exit status 2; a smoke training run works.

Three cases are real ``python -m wmrlib`` subprocesses (one bad input, ``--debug`` and a training
run; they start together to share the import cost); the other bad inputs call ``main`` in this
process, which is the same code after the import.
"""
import json
import os
import subprocess
import sys

import pytest

from wmrlib.cli import main
from wmrlib.workflow.store import Store
from wmrlib.experiment.profiles import profile

from conftest import mnist_root

SMOKE_PGD = ["--profile", "smoke", "--defense", "pgd", "--quiet"]


def cases(tmp):
    empty = tmp / "empty-data"
    empty.mkdir()
    afile = tmp / "afile"
    afile.write_text("a regular file")
    out = str(tmp / "results")
    return {  # name -> (argv, substrings the error line must contain)
        "profile": (["train", "--profile", "nope", "--defense", "pgd", "--out", out],
                     ["'nope'", "smoke", "cpu", "paper"]),
        "dataset": (["train", "--profile", "smoke", "--dataset", "svhn", "--defense", "pgd",
                     "--out", out], ["'svhn'", "mnist"]),
        "defense": (["train", "--profile", "smoke", "--defense", "mart", "--out", out],
                    ["defense", "'mart'", "pgd", "trades"]),
        "alpha": (["train", *SMOKE_PGD, "--alpha", "-1", "--out", out], ["alpha_train", "-1"]),
        "loss": (["evaluate", *SMOKE_PGD, "--loss", "cw", "--out", out], ["loss", "'cw'"]),
        "notebook": (["reproduce", "--profile", "smoke", "--only", "nope", "--out", out],
                     ["notebook", "'nope'", "quickstart"]),
        "data": (["train", *SMOKE_PGD, "--data-root", str(empty), "--out", out],
                 ["mnist", str(empty)]),
        "out": (["train", *SMOKE_PGD, "--out", str(afile / "results")],
                [str(afile / "results"), "writable"]),
        "usage": (["train", "--profile", "smoke", "--defense", "pgd", "--alpha", "abc", "--out", out],
                  ["--alpha", "'abc'"]),
        "debug": (["train", "--profile", "smoke", "--defense", "mart", "--out", out, "--debug"], []),
        "train": (["train", *SMOKE_PGD, "--out", str(tmp / "good")], []),
    }


def run_all(argvs):
    env = dict(os.environ, WMR_DATA_ROOT=str(mnist_root()), PYTHONWARNINGS="ignore")
    procs = {name: subprocess.Popen([sys.executable, "-m", "wmrlib", *argv], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, argv in argvs.items()}
    results = {}
    for name, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        results[name] = (proc.returncode, stdout, stderr)
    return results


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    if mnist_root() is None:
        pytest.skip("MNIST files not found (set WMR_DATA_ROOT)")
    tmp = tmp_path_factory.mktemp("cli")
    table = cases(tmp)
    return tmp, table, run_all({name: table[name][0] for name in SUBPROCESS})


SUBPROCESS = ("profile", "debug", "train")  # through the real entry point; the rest in-process


def run_in_process(argv, capsys):
    """Return (status, stdout, stderr) of ``main(argv)`` in this process (argparse exits itself)."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, out.out, out.err


BAD = ["profile", "dataset", "defense", "alpha", "loss", "notebook", "data", "out", "usage"]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_error_line_with_status_2(cli, name, capsys, monkeypatch):
    _, table, results = cli
    if name in SUBPROCESS:
        status, stdout, stderr = results[name]
    else:
        monkeypatch.setenv("WMR_DATA_ROOT", str(mnist_root()))
        status, stdout, stderr = run_in_process(table[name][0], capsys)
    assert status == 2, (stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and stdout == ""
    for part in table[name][1]:
        assert part in lines[0], (part, lines[0])


def test_debug_shows_the_traceback(cli):
    status, _, stderr = cli[2]["debug"]
    assert status not in (0, 2)
    assert "Traceback (most recent call last)" in stderr
    assert "ValueError" in stderr and "'mart'" in stderr


def test_smoke_training_prints_its_run_and_is_found_again(cli, capsys, monkeypatch):
    tmp, _, results = cli
    status, stdout, stderr = results["train"]
    assert status == 0, stderr
    assert "Traceback" not in stderr
    out = json.loads(stdout)
    config = profile("smoke").plan("mnist").run("pgd")
    assert out["run"] == config.key()
    assert (out["label"], out["alpha_train"], out["seed"]) == ("PGD", 0.0, 0)
    assert out["wall_time_s"] > 0 and out["final"]["epoch"] == config.epochs
    assert Store(tmp / "good" / "smoke").provenance_path(config).exists()
    # The same command again finds the stored run and trains nothing: identical output.
    monkeypatch.setenv("WMR_DATA_ROOT", str(mnist_root()))
    again = run_in_process(["train", *SMOKE_PGD, "--out", str(tmp / "good")], capsys)
    assert again[0] == 0 and json.loads(again[1]) == out


# --- --set overrides ---------------------------------------------------------------------------

@pytest.mark.parametrize("item, words", [
    ("nonsense=1", ["unknown field 'nonsense'", "epochs", "attack.steps"]),
    ("epochs=-1", ["epochs must be ≥ 1", "-1"]),
    ("epochs=abc", ["epochs must be an integer"]),
    ("attack.steps=0.5", ["steps must be an integer"]),
    ("milestones=0.5,x", ["comma-separated numbers"]),
    ("attack.loss=hinge", ["loss", "'ce'"]),
    ("seed=3", ["--seed"]),
    ("epochs", ["key=value"]),
])
def test_set_bad_values_are_one_line_with_status_2(item, words, capsys, tmp_path):
    status = main(["train", "--profile", "smoke", "--defense", "pgd", "--out", str(tmp_path),
                   "--set", item])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith("error: ")
    for word in words:
        assert word in err[0], (word, err[0])
    assert not any(tmp_path.iterdir())  # nothing written


def test_set_parses_by_type_and_gives_the_run_its_own_key():
    from wmrlib.experiment.overrides import override_profile, parse_overrides
    from wmrlib.experiment.profiles import profile

    run, attack = parse_overrides(["epochs=3", "lr=0.002", "milestones=0.5,0.75", "augment=true",
                                   "train_size=none", "steps=7", "attack.eps=0.2"])
    assert run == {"epochs": 3, "lr": 0.002, "milestones": (0.5, 0.75), "augment": True,
                   "train_size": None}
    assert attack == {"steps": 7, "eps": 0.2}
    plan = profile("smoke").plan("mnist")
    changed = override_profile(profile("smoke"), {"epochs": 2}, {"steps": 7}).plan("mnist")
    assert changed.run("pgd").epochs == 2 and changed.attack.steps == 7
    assert changed.run("pgd").key() != plan.run("pgd").key()
    assert changed.attack.key() != plan.attack.key()
    assert parse_overrides([]) == ({}, {})
