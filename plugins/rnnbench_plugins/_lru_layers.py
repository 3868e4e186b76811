"""The Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural
Networks for Long Sequences") and the residual block it is stacked in. Imports torch;
the lru plugin imports this module when it builds a core.

One LRU layer with a complex diagonal state ``x`` of size N:

    x_t = lambda * x_{t-1} + gamma * (B u_t)        y_t = Re(C x_t) + D * u_t

``lambda = exp(-exp(nu_log) + i exp(theta_log))`` stays inside the unit disk for any
parameter values (stable exponential parameterisation), initialised uniformly on a ring
``r_min <= |lambda| <= r_max``; ``gamma = sqrt(1 - |lambda|^2)`` normalises the input so
that the state's scale does not grow as ``|lambda|`` approaches one.

Because ``lambda`` does not depend on the input, the recurrence is a linear scan with
one constant coefficient, computed for all steps at once: log2(T) levels of
whole-sequence tensor operations replace the T steps (see ``_scan``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from rnnbench.nn import last_valid


def _scan(lam: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All ``x_t = lam * x_{t-1} + b_t`` from ``x_0 = 0`` by the odd-even recursion
    (Ladner & Fischer 1980): two steps make one, ``lam^2`` times the state plus
    ``lam b_t + b_{t+1}``; scan that half-length sequence, then fill in the even steps.
    log2(T) levels, about 2T multiply-adds in all, and the powers of ``lam`` only
    shrink, so nothing overflows. No autograd."""
    steps = b.size(1)
    if steps == 1:
        return b
    if steps % 2:
        head = _scan(lam, b[:, :-1])
        return torch.cat([head, lam * head[:, -1:] + b[:, -1:]], dim=1)
    even, odd = b[:, 0::2], b[:, 1::2]
    pair_sums = _scan(lam * lam, lam * even + odd)  # the results at odd steps
    x = torch.empty_like(b)
    x[:, 1::2] = pair_sums
    x[:, :1] = even[:, :1]
    x[:, 2::2] = lam * pair_sums[:, :-1] + even[:, 1:]
    return x


class ParallelScan(torch.autograd.Function):
    """The scan with its gradient written out: the adjoint of a linear recurrence is the
    same recurrence run backwards in time with the conjugate coefficient,
    ``G_t = dL/dx_t + conj(lam) G_{t+1}`` (torch's convention for complex gradients), so
    backward is one more parallel scan instead of autograd through every level."""

    @staticmethod
    def forward(ctx, lam, b, x0):
        if x0 is not None:  # the initial state enters as part of the first step's input
            b = torch.cat([(b[:, 0] + lam * x0).unsqueeze(1), b[:, 1:]], dim=1)
        x = _scan(lam, b)
        ctx.save_for_backward(lam, x, x0)
        return x

    @staticmethod
    def backward(ctx, grad_x):
        lam, x, x0 = ctx.saved_tensors
        grad_b = _scan(lam.conj(), grad_x.flip(1)).flip(1)
        x_prev = torch.cat([torch.zeros_like(x[:, :1]) if x0 is None else x0.unsqueeze(1), x[:, :-1]], dim=1)
        grad_lam = (grad_b * x_prev.conj()).sum(dim=(0, 1))
        grad_x0 = lam.conj() * grad_b[:, 0] if x0 is not None and ctx.needs_input_grad[2] else None
        return grad_lam, grad_b, grad_x0


def parallel_scan(lam: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None) -> torch.Tensor:
    """All ``x_t = lam * x_{t-1} + b_t`` of a ``[batch, time, N]`` input, from ``x0``
    (zero when None), with ``lam`` of shape ``[N]``, in log2(T) parallel levels."""
    return ParallelScan.apply(lam, b, x0)


def sequential_scan(lam: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None) -> torch.Tensor:
    """The reference form: one step at a time."""
    x = torch.zeros_like(b[:, 0]) if x0 is None else x0
    out = []
    for t in range(b.size(1)):
        x = lam * x + b[:, t]
        out.append(x)
    return torch.stack(out, dim=1)


class LRU(nn.Module):
    """One LRU layer, ``size`` features in and out, a complex state of ``state_size``."""

    def __init__(
        self, size: int, state_size: int, r_min: float = 0.9, r_max: float = 0.999, max_phase: float = 2 * math.pi
    ):
        super().__init__()
        # |lambda|^2 uniform on [r_min^2, r_max^2]: uniform over the ring's area
        radius_sq = torch.rand(state_size) * (r_max**2 - r_min**2) + r_min**2
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(radius_sq)))
        self.theta_log = nn.Parameter(torch.log(max_phase * torch.rand(state_size)))
        self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - radius_sq)))
        # complex matrices stored as (real, imaginary) pairs of reals, so parameter counts
        # are honest and each product with them is one real matmul
        self.B = nn.Parameter(torch.randn(state_size, 2, size) / math.sqrt(2 * size))
        self.C = nn.Parameter(torch.randn(size, state_size, 2) / math.sqrt(state_size))
        self.register_buffer("conjugate", torch.tensor([1.0, -1.0]), persistent=False)
        self.D = nn.Parameter(torch.randn(size))
        self.step_by_step = False

    def lam(self) -> torch.Tensor:
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))

    def forward(self, u: torch.Tensor, x0: torch.Tensor | None = None):
        """``u`` [batch, time, size] -> (y [batch, time, size], states x [batch, time, N])."""
        state_size = self.B.size(0)
        bu = F.linear(u, self.B.view(2 * state_size, -1))  # (Re, Im) of B u_t, interleaved
        b = torch.view_as_complex(bu.view(*bu.shape[:-1], state_size, 2)) * torch.exp(self.gamma_log)
        scan = sequential_scan if self.step_by_step or u.size(1) == 1 else parallel_scan
        x = scan(self.lam(), b, x0)
        # Re(C x) = Re(C) Re(x) - Im(C) Im(x): one matmul with (Re C, -Im C) interleaved
        c_conj = (self.C * self.conjugate).view(self.C.size(0), 2 * state_size)
        y = F.linear(torch.view_as_real(x).flatten(-2), c_conj) + self.D * u
        return y, x


class LRUBlock(nn.Module):
    """The paper's residual block: ``u + dropout(GLU(dropout(GELU(LRU(LayerNorm(u))))))``.

    The complex state has ``size // 2`` entries, that is ``size`` real numbers, as many as
    an LSTM's hidden state of that size; the block then has about ``4 size^2`` weights,
    an LSTM layer's count, and costs about as much to run."""

    def __init__(self, size: int, dropout: float, **lru_options):
        super().__init__()
        self.norm = nn.LayerNorm(size)
        self.lru = LRU(size, max(1, size // 2), **lru_options)
        self.mix = nn.Linear(size, 2 * size)  # GLU: half of it gates the other half
        self.drop = nn.Dropout(dropout)

    def forward(self, u, x0=None):
        y, x = self.lru(self.norm(u), x0)
        y = self.drop(F.gelu(y))
        return u + self.drop(F.glu(self.mix(y), dim=-1)), x


class LRUCore(nn.Module):
    """A linear encoder to ``hidden_size`` followed by ``num_layers`` LRU blocks. The
    state is a tuple of each block's last complex state."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float, **lru_options):
        super().__init__()
        self.encoder = nn.Linear(input_size, hidden_size)
        self.blocks = nn.ModuleList(LRUBlock(hidden_size, dropout, **lru_options) for _ in range(num_layers))
        self.output_size = hidden_size

    @property
    def step_by_step(self) -> bool:
        return self.blocks[0].lru.step_by_step

    @step_by_step.setter
    def step_by_step(self, value: bool) -> None:
        for block in self.blocks:
            block.lru.step_by_step = value

    def forward(self, x, state=None, lengths=None):
        h = self.encoder(x)
        states = []
        for i, block in enumerate(self.blocks):
            h, xs = block(h, None if state is None else state[i])
            states.append(last_valid(xs, lengths))
        return h, tuple(states)
