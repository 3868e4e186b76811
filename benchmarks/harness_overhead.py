"""Harness overhead: rnnbench's time to train a cell against a plain PyTorch loop that does
the same optimiser steps on the same batches with the same net, and the same validation
passes with the same torchmetrics, keeping the best weights in memory as a checkpoint.
Measured side by side in one run, on the quick profile. Target: ≤ 1.10x per cell.

    python benchmarks/harness_overhead.py [--models lstm,gru] [--tasks ...] [--repeats 3]
"""

import argparse
import copy
import statistics
import time

import torch

from _common import table
from rnnbench.data import default_cache_dir
from rnnbench.testing import load_registry
from rnnbench.training import fit_cell, loader


def plain_loop(task, model, profile, seed, data) -> float:
    torch.manual_seed(seed)
    net = task.build(data, model, profile)
    metrics = task.metrics(data)
    opt = torch.optim.Adam(net.parameters(), lr=profile.lr)
    train = loader(data, data.train, profile.batch_size, True, False)
    val = loader(data, data.val, profile.batch_size, False, False)
    reset = getattr(net, "reset_state", lambda split: None)
    best, best_state, step = None, None, 0
    sign = 1 if task.direction == "min" else -1
    start = time.perf_counter()
    net.train()
    while step < profile.max_steps:
        reset("train")
        for batch in train:
            loss = net.training_loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if profile.grad_clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), profile.grad_clip)
            opt.step()
            step += 1
            if step % min(profile.val_every, profile.max_steps) == 0:
                net.eval()
                reset("val")
                with torch.no_grad():
                    for vb in val:
                        net.evaluate(vb, metrics)
                value = float(metrics[task.primary_metric].compute())
                for m in metrics.values():
                    m.reset()
                if best is None or sign * value < sign * best:
                    best, best_state = value, copy.deepcopy(net.state_dict())
                net.train()
            if step >= profile.max_steps:
                break
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", help="comma-separated (default: every task)")
    ap.add_argument("--models", default="lstm")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--profile", default="quick")
    args = ap.parse_args()
    torch.set_num_threads(1)
    reg = load_registry()
    tasks = args.tasks.split(",") if args.tasks else sorted(reg.tasks)
    rows = [("task", "model", "steps", "rnnbench s", "plain loop s", "ratio", "target ≤ 1.10")]
    ratios = []
    for t in tasks:
        task = reg.tasks[t]
        prof = task.profiles[args.profile]
        data = task.prepare(prof, default_cache_dir())
        for m in args.models.split(","):
            model = reg.models[m]
            if model.unsupported(task):
                continue
            ours, plain = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both sides alike
                ours.append(fit_cell(task, model, prof, 0, data, accelerator="cpu")["train_seconds"])
                plain.append(plain_loop(task, model, prof, 0, data))
            a, b = statistics.median(ours), statistics.median(plain)
            ratios.append(a / b)
            rows.append((t, m, prof.max_steps, f"{a:.2f}", f"{b:.2f}", f"{a / b:.3f}x", "met" if a / b <= 1.10 else "MISSED"))
            print(rows[-1], flush=True)
    table(rows)
    print(f"median ratio {statistics.median(ratios):.3f}x, worst {max(ratios):.3f}x over {len(ratios)} cell(s)")


if __name__ == "__main__":
    main()
