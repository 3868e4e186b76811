"""Kernels: training throughput (forward + backward, tokens/s) of every registered model's
core beside the fused nn.LSTM of the same width, and minGRU/minLSTM's parallel scan against
their own step-by-step form at lengths 64, 256 and 1024.

    python benchmarks/kernels.py [--hidden 128] [--layers 2] [--batch 32] [--steps 128] [--threads 1]
"""

import argparse

import torch
from _common import median_seconds, table

from rnnbench.testing import load_registry


def train_step_seconds(core, x, repeats=5) -> float:
    params = [p for p in core.parameters() if p.requires_grad]

    def step():
        y, _ = core(x)
        y.float().pow(2).mean().backward()
        for p in params:
            p.grad = None

    step()  # warm-up
    return median_seconds(step, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a worker's share of the CPU)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reg = load_registry()
    x = torch.randn(args.batch, args.steps, 64)
    tokens = args.batch * args.steps

    class Fused(torch.nn.LSTM):  # the reference: torch's own module, outside rnnbench
        def forward(self, x):
            return super().forward(x)

    reference = Fused(64, args.hidden, args.layers, batch_first=True)
    ref = train_step_seconds(reference, x)
    params = sum(p.numel() for p in reference.parameters())
    rows = [("nn.LSTM (reference)", f"{params:,}", f"{tokens / ref:,.0f}", "1.00")]
    for name in sorted(reg.models):
        core = reg.models[name].build_core(64, args.hidden, args.layers, 0.0)
        t = train_step_seconds(core, x)
        params = sum(p.numel() for p in core.parameters())
        rows.append((name, f"{params:,}", f"{tokens / t:,.0f}", f"{ref / t:.2f}"))
    table([("model", "core params", "tokens/s (fwd+bwd)", "vs nn.LSTM")] + rows)

    print(f"\nparallel scan vs step-by-step (batch 16, hidden {args.hidden}, 1 layer, fwd+bwd):")
    rows = []
    for name in ("mingru", "minlstm"):
        if name not in reg.models:
            continue
        core = reg.models[name].build_core(64, args.hidden, 1, 0.0)
        for length in (64, 256, 1024):
            xs = torch.randn(16, length, 64)
            core.step_by_step = False
            scan = train_step_seconds(core, xs, repeats=3)
            core.step_by_step = True
            loop = train_step_seconds(core, xs, repeats=3)
            rows.append((name, length, f"{scan * 1e3:.1f}", f"{loop * 1e3:.1f}", f"{loop / scan:.1f}x"))
    table([("model", "length", "scan ms", "step-by-step ms", "scan speed-up")] + rows)


if __name__ == "__main__":
    main()
