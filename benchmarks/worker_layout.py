"""Which local layout trains more campaign models per hour here: 1 worker × 2 threads or 2 × 1?

Each worker trains the same B minibatches of one campaign model (default: cpu-20epoch's TRADES+ours
α 2, full ε, no validation probe) in a process of its own; the script times the training only
(data loading and imports excluded). Layout "1x2" runs one worker with two threads, layout "2x1"
two workers with one thread each, side by side. Throughput = minibatches trained per second by
all workers together; the ratio 2x1 / 1x2 says which layout a campaign should use on this CPU.

    python benchmarks/worker_layout.py --batches 40 --out benchmarks/worker-layout.md

Run it on a quiet machine: anything else running takes cores from one layout and not the other.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> None:
    """Train ``args.batches`` minibatches with ``args.threads`` threads; print the seconds as JSON."""
    import torch

    from wmrlib.compute.data import load
    from wmrlib.compute.train import train_model
    from wmrlib.experiment.profiles import profile

    torch.set_num_threads(args.threads)
    plan = profile(args.profile).plan("mnist")
    config = plan.run(args.defense, args.alpha).replace(
        train_size=args.batches * plan.base.batch_size, epochs=1, eps_ramp=0.0, val_size=0,
        selection="final", val_alpha_test=0.0)
    data = load("mnist", os.environ.get("WMR_DATA_ROOT", str(ROOT / "data")), train=True)
    start = time.perf_counter()
    train_model(config, data, device="cpu", progress=False)
    print(json.dumps({"seconds": time.perf_counter() - start, "batches": args.batches}))


def run_layout(workers: int, threads: int, args: argparse.Namespace) -> dict:
    """Run ``workers`` children side by side with ``threads`` threads each; return throughput."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--child", "--threads", str(threads), "--batches",
           str(args.batches), "--profile", args.profile, "--defense", args.defense,
           "--alpha", str(args.alpha)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(workers)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a worker of layout {workers}x{threads} failed")
    seconds = [o["seconds"] for o in outs]
    return {"layout": f"{workers}x{threads}", "seconds per worker": seconds,
            "batches per s": sum(o["batches"] for o in outs) / max(seconds)}


def cpu_name() -> str:
    """Return the CPU model and whether it has native bf16 (avx512_bf16 / amx_bf16)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown CPU")
    flags = sorted({f for f in ("avx512_bf16", "amx_bf16", "avx512f", "avx2") if f in text.split()})
    return f"{model} ({', '.join(flags) or 'no AVX flags'}), {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    """Measure both layouts (interleaved, ``--rounds`` times) and print a markdown report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=40, help="minibatches each worker trains")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved repetitions of each layout")
    ap.add_argument("--profile", default="cpu-20epoch")
    ap.add_argument("--defense", default="trades")
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="also write the report to this file")
    args = ap.parse_args(argv)
    if args.batches < 1 or args.rounds < 1:
        ap.error("--batches and --rounds must be at least 1")
    if args.child:
        child(args)
        return 0
    rows = []
    for _ in range(args.rounds):
        for workers, threads in ((1, 2), (2, 1)):
            rows.append(run_layout(workers, threads, args))
            print(rows[-1], file=sys.stderr, flush=True)
    best = {lay: max(r["batches per s"] for r in rows if r["layout"] == lay) for lay in ("1x2", "2x1")}
    ratio = best["2x1"] / best["1x2"]
    lines = [f"# Worker layout: {args.profile} {args.defense} α {args.alpha:g}",
             "", f"CPU: {cpu_name()}. {args.batches} minibatches per worker, {args.rounds} rounds, "
             f"best round per layout. `python benchmarks/worker_layout.py --batches {args.batches} "
             f"--rounds {args.rounds}`.", "",
             "| layout | minibatches per second, all workers | each round |", "|---|---|---|"]
    for lay in ("1x2", "2x1"):
        each = ", ".join(f"{r['batches per s']:.3f}" for r in rows if r["layout"] == lay)
        lines.append(f"| {lay} (workers × threads) | {best[lay]:.3f} | {each} |")
    faster = "2x1" if ratio > 1 else "1x2"
    lines += ["", f"2x1 / 1x2 = {ratio:.2f}: **{faster}** trains more per hour here."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
