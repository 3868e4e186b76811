"""Harness overhead: rnnbench's time to train a cell against a plain PyTorch loop that does
the same optimiser steps on the same batches with the same net, and the same validation
passes with the same torchmetrics, keeping the best weights in memory as a checkpoint.
Measured side by side in one run, on the quick profile. Target: ≤ 1.10x per cell.

The two sides alternate, and each cell's ratio is of the fastest run on each side: the
speed of this machine's cores drifts by ±30 % over tens of seconds, and the fastest
run is the one least disturbed. First, the fixed cost Lightning's loop adds to every
step is measured on a net too small to cost anything itself: a cell whose steps take less
than ten times that cannot be within 10 %.

    python benchmarks/harness_overhead.py [--models lstm,gru | all] [--tasks ...] [--repeats 3]
"""

import argparse
import copy
import logging
import time
import warnings

import torch
from _common import table

from rnnbench.data import default_cache_dir
from rnnbench.testing import load_registry
from rnnbench.training import fit_cell, loader


def plain_loop(task, model, profile, seed, data, steps: int) -> float:
    """``steps`` optimiser steps, as many as rnnbench took (it may stop early at ``stop_at``)."""
    torch.manual_seed(seed)
    torch.set_flush_denormal(True)  # as fit_cell does: without it adding-200 runs ~10x slower
    net = task.build(data, model, profile)
    metrics = task.metrics(data)
    opt = torch.optim.Adam(net.parameters(), lr=profile.lr)
    train = loader(data, data.train, profile.batch_size, True, False)
    val = loader(data, data.val, profile.batch_size, False, False)
    reset = net.reset_state
    best, step = None, 0
    sign = 1 if task.direction == "min" else -1
    start = time.perf_counter()
    net.train()
    while step < steps:
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
                    # what rnnbench's checkpoint does at a new best, so both sides pay for it
                    best, _ = value, copy.deepcopy(net.state_dict())
                net.train()
            if step >= steps:
                break
    return time.perf_counter() - start


def lightning_step_floor(steps: int = 2000, repeats: int = 3) -> tuple[float, float]:
    """Milliseconds per step of a default Trainer and of a plain loop, on an 8-to-1 linear net."""
    import pytorch_lightning as pl

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    batches = torch.utils.data.DataLoader(
        [(torch.randn(8, 8), torch.randn(8, 1)) for _ in range(steps)], batch_size=None
    )

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(8, 1)

        def training_step(self, batch, batch_idx):
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters())

    def trainer() -> float:
        t = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_steps=steps,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            num_sanity_val_steps=0,
        )
        start = time.perf_counter()
        t.fit(Tiny(), train_dataloaders=batches)
        return time.perf_counter() - start

    def loop() -> float:
        net = torch.nn.Linear(8, 1)
        opt = torch.optim.Adam(net.parameters())
        start = time.perf_counter()
        for x, y in batches:
            loss = torch.nn.functional.mse_loss(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    a, b = zip(*[(trainer(), loop()) for _ in range(repeats)])
    return min(a) / steps * 1e3, min(b) / steps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", help="comma-separated (default: every task)")
    ap.add_argument("--models", default="lstm", help='comma-separated, or "all"')
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per side (the fastest counts)")
    ap.add_argument("--profile", default="quick")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lightning_ms, loop_ms = lightning_step_floor()
    print(
        f"per-step cost on an 8-to-1 linear net: Trainer {lightning_ms:.3f} ms, plain loop {loop_ms:.3f} ms; "
        f"Lightning adds {lightning_ms - loop_ms:.3f} ms a step",
        flush=True,
    )
    reg = load_registry()
    tasks = args.tasks.split(",") if args.tasks else sorted(reg.tasks)
    rows = [("task", "model", "steps", "ms/step", "rnnbench s", "plain loop s", "ratio", "target ≤ 1.10")]
    totals = [0.0, 0.0]
    ratios = []
    for t in tasks:
        task = reg.tasks[t]
        prof = task.profiles[args.profile]
        data = task.prepare(prof, default_cache_dir())
        for m in sorted(reg.models) if args.models == "all" else args.models.split(","):
            model = reg.models[m]
            if model.unsupported(task):
                continue
            result = fit_cell(task, model, prof, 0, data, accelerator="cpu")
            steps = result["steps"]
            ours, plain = [result["train_seconds"]], [plain_loop(task, model, prof, 0, data, steps)]
            for i in range(1, args.repeats):  # alternating, so drift hits both sides alike
                sides = [
                    lambda: ours.append(fit_cell(task, model, prof, 0, data, accelerator="cpu")["train_seconds"]),
                    lambda: plain.append(plain_loop(task, model, prof, 0, data, steps)),
                ]
                for run in sides[::-1] if i % 2 else sides:
                    run()
            a, b = min(ours), min(plain)
            totals[0] += a
            totals[1] += b
            ratios.append(a / b)
            rows.append(
                (
                    t,
                    m,
                    steps,
                    f"{b / steps * 1e3:.1f}",
                    f"{a:.2f}",
                    f"{b:.2f}",
                    f"{a / b:.3f}x",
                    "met" if a / b <= 1.10 else "MISSED",
                )
            )
            print(rows[-1], flush=True)
    table(rows)
    met = sum(r <= 1.10 for r in ratios)
    print(
        f"{met}/{len(ratios)} cells within 1.10x; worst {max(ratios):.3f}x; "
        f"all cells together {totals[0] / totals[1]:.3f}x ({totals[0]:.1f} s vs {totals[1]:.1f} s)"
    )


if __name__ == "__main__":
    main()
