"""Command line: ``python -m wmrlib {train,evaluate,reproduce,plan} ...``.

Errors are one line on stderr with exit status 2; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .experiment.config import AttackConfig

DEFAULT_OUT = "results"


class CliError(Exception):
    """An error to report on one line."""


def _plan(args):
    from .core.checks import check_choice
    from .experiment.config import DATASETS
    from .experiment.overrides import override_profile, parse_overrides
    from .experiment.profiles import profile

    run, attack = parse_overrides(args.set)
    chosen = sorted({"defense", "alpha_train", "seed"} & set(run))
    if chosen and getattr(args, "defense", None) is not None:
        raise CliError(f"--set {chosen[0]}: this command sets it with --defense, --alpha and --seed")
    prof = override_profile(profile(args.profile), run, attack)
    check_choice("dataset", args.dataset, DATASETS)
    if args.dataset not in prof.plans:
        raise CliError(f"profile {args.profile!r} does not cover dataset {args.dataset!r}; choose "
                       f"one of {', '.join(map(repr, prof.plans))} or another profile")
    return prof.plan(args.dataset)


def _store(args, readonly=False):
    from .workflow.store import Store

    return Store(Path(args.out) / args.profile, data_root=args.data_root, device=args.device,
                 readonly=readonly, progress=not args.quiet)


def cmd_train(args) -> None:
    """Train (or resume, or find stored) one model; data-parallel under ``torchrun``."""
    from .compute import distributed
    from .workflow.campaign import refuse_pending

    plan = _plan(args)
    refuse_pending(args.profile)
    config = plan.run(args.defense, args.alpha, args.seed)
    distributed.init_from_env(args.device)
    main = distributed.is_main()
    try:
        run = _store(args).get_or_train(config, need_model=False)
    finally:
        distributed.shutdown()
    if not main:
        return
    print(json.dumps({"run": config.key(), "label": config.label, "alpha_train": config.alpha_train,
                      "seed": config.seed, "wall_time_s": run.provenance["wall_time_s"],
                      "final": (run.provenance.get("history") or [{}])[-1]}, indent=1))


def cmd_evaluate(args) -> None:
    """Evaluate one model of a profile under the profile's attack (or the one given)."""
    plan = _plan(args)
    config = plan.run(args.defense, args.alpha, args.seed)
    attack = plan.attack
    overrides = {k: v for k, v in (("eps", args.eps), ("steps", args.steps),
                                   ("step_size", args.step_size), ("loss", args.loss),
                                   ("restarts", args.restarts)) if v is not None}
    if overrides:
        attack = AttackConfig(**(attack.__dict__ | overrides))
    alphas = tuple(args.alpha_test) if args.alpha_test is not None else plan.alpha_tests
    record = _store(args).get_or_evaluate(config, attack, alphas, eval_size=plan.eval_size_for(attack),
                                          eval_seed=plan.eval_seed)
    print(json.dumps({"run": config.key(), "attack": attack.name, "eps": attack.eps,
                      "n": int(record.labels.size),
                      **{k: round(v, 2) for k, v in record.summary().items()}}, indent=1))


def cmd_reproduce(args) -> None:
    """Run the notebooks with papermill at a profile, into the copies the book renders."""
    from .workflow.reproduce import reproduce

    from .experiment.overrides import parse_overrides

    overrides = parse_overrides(args.set)
    if args.set and not args.no_notebooks:
        raise CliError("--set changes the configs the notebooks do not know about; add "
                       "--no-notebooks to compute the overridden runs only")
    slurm = {"timeout_min": args.timeout_min}
    if args.partition:
        slurm["slurm_partition"] = args.partition
    from .workflow.campaign import default_layout

    workers, threads = default_layout(args.profile, args.workers, args.threads)
    for path in reproduce(args.profile, only=args.only, results=args.out,
                          data_root=args.data_root, device=args.device, timeout=args.timeout,
                          readonly=args.readonly, workers=workers, threads=threads,
                          executor=args.executor, cluster=args.cluster, slurm=slurm,
                          datasets=args.datasets, notebooks=not args.no_notebooks,
                          budget_min=args.budget_min, overrides=overrides, quiet=args.quiet):
        print(path)


def cmd_plan(args) -> None:
    """List a profile's jobs with their expected wall time on this machine (after a calibration)."""
    from .workflow.campaign import compute_plan, default_layout
    from .experiment.overrides import parse_overrides

    workers, threads = default_layout(args.profile, args.workers, args.threads)
    print(compute_plan(args.profile, results=args.out, datasets=args.datasets,
                       workers=workers, threads=threads, device=args.device,
                       data_root=args.data_root, overrides=parse_overrides(args.set)))


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error:`` line too (exit status 2)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = _Parser(prog="python -m wmrlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--profile", required=True, help="smoke, cpu or paper")
        p.add_argument("--out", default=DEFAULT_OUT, help="results root (default: results)")
        p.add_argument("--data-root", default=None, help="data root (default: $WMR_DATA_ROOT or ./data)")
        p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if present)")
        p.add_argument("--quiet", action="store_true", help="no progress bars or progress lines")
        p.add_argument("--debug", action="store_true", help="show tracebacks")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="change a RunConfig or attack field, e.g. --set epochs=10 "
                            "(repeatable; the changed runs get their own keys)")

    def model(p):
        p.add_argument("--dataset", default="mnist")
        p.add_argument("--defense", required=True, help="pgd, trades, or a Table 4 baseline of the plan: free, yopo, iaat")
        p.add_argument("--alpha", type=float, default=0.0, help="alpha_train (0 = baseline)")
        p.add_argument("--seed", type=int, default=None)

    p = sub.add_parser("train", help="train one model")
    common(p), model(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="evaluate one model")
    common(p), model(p)
    p.add_argument("--alpha-test", type=float, nargs="*", default=None)
    p.add_argument("--eps", type=float, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--step-size", type=float, default=None)
    p.add_argument("--loss", default=None, help="ce or margin")
    p.add_argument("--restarts", type=int, default=None)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("reproduce", help="run the notebooks with papermill")
    common(p)
    p.add_argument("--only", nargs="*", default=None, help="notebook names to run")
    p.add_argument("--timeout", type=int, default=None, help="seconds per notebook cell")
    p.add_argument("--readonly", action="store_true", help="use stored results only; train nothing")
    p.add_argument("--datasets", nargs="*", default=None, help="compute only these datasets")
    p.add_argument("--no-notebooks", action="store_true", help="compute the results only")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes, then notebooks run at once (default: the "
                        "profile's measured layout, else 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    p.add_argument("--executor", default="local", help="local or submitit (one job per run)")
    p.add_argument("--cluster", default=None,
                   help="submitit cluster: slurm (default when sbatch exists), local or debug")
    p.add_argument("--partition", default=None, help="Slurm partition for submitit jobs")
    p.add_argument("--timeout-min", type=int, default=180, help="Slurm time limit per job")
    p.add_argument("--budget-min", type=float, default=None,
                   help="start only the jobs `plan` expects to finish within this many minutes")
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("plan", help="list a profile's jobs and their expected wall time here")
    common(p)
    p.add_argument("--datasets", nargs="*", default=None, help="only these datasets")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the profile's measured layout, else 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    p.set_defaults(func=cmd_plan)
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every error becomes one line unless --debug
        if args.debug:
            raise
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        message = lines[0] if lines else type(e).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0
