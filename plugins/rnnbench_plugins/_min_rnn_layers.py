"""minGRU and minLSTM layers (Feng et al. 2024, "Were RNNs All We Needed?") and the
log-space parallel scan they train with (Heinsen 2023). Imports torch; the min-rnn
plugin imports this module when it builds a core.

Both layers compute ``h_t = a_t * h_{t-1} + b_t`` where the gates ``a_t`` and inputs
``b_t`` depend on ``x_t`` only, never on ``h_{t-1}``. That is what makes the recurrence a
linear scan, so all T steps are computed at once: with ``A_t = a_1 ... a_t``,
``h_t = A_t * (h_0 + sum_{k<=t} b_k / A_k)``, and in log space, where products become
sums and the ratio cannot overflow, ``log h_t = a*_t + logcumsumexp_k(log b_k - a*_k)``
with ``a*_t = cumsum(log a)_t``. Both ``a_t`` and ``b_t`` are positive (the candidate
goes through ``g``, which is positive), hence so is ``h_t``, and its log exists.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from rnnbench.nn import last_valid

LOG_2 = math.log(2.0)


def g(x: torch.Tensor) -> torch.Tensor:
    """The paper's positive activation for candidate states: x + 1/2 for x >= 0,
    sigmoid(x) below. Written without ``torch.where`` (slow on CPU): for x >= 0 the
    second term is sigmoid(0) = 1/2, for x < 0 the first is 0."""
    return F.relu(x) + torch.sigmoid(-F.relu(-x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x) without taking the log of anything non-positive: for x >= 0,
    log(x + 1/2) + log sigmoid(0) + log 2; for x < 0, log(1/2) + log sigmoid(x) + log 2."""
    return torch.log(F.relu(x) + 0.5) + F.logsigmoid(-F.relu(-x)) + LOG_2


def logcumsumexp(v: torch.Tensor) -> torch.Tensor:
    """``torch.logcumsumexp(v, dim=1)`` by the odd-even recursion (Ladner & Fischer
    1980): combine neighbouring pairs of steps, scan the half-length sequence of pair
    results, then fill in the even steps. log2(T) levels and about 2T ``logaddexp`` in
    all; exact and as stable as torch's kernel, which walks the time axis one element at
    a time and is several times slower on CPU. No autograd: used inside
    ``LogSpaceScan.forward`` only."""
    steps = v.size(1)
    if steps == 1:
        return v
    if steps % 2:
        head = logcumsumexp(v[:, :-1])
        return torch.cat([head, torch.logaddexp(head[:, -1:], v[:, -1:])], dim=1)
    even, odd = v[:, 0::2], v[:, 1::2]
    pair_sums = logcumsumexp(torch.logaddexp(even, odd))  # the results at odd steps
    out = torch.empty_like(v)
    out[:, 1::2] = pair_sums
    out[:, :1] = even[:, :1]
    out[:, 2::2] = torch.logaddexp(pair_sums[:, :-1], even[:, 1:])
    return out


def linear_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All ``h_t = a_t h_{t-1} + b_t`` from ``h_0 = 0``, for ``0 <= a <= 1`` and ``b`` of
    any sign, by the same odd-even recursion: two steps make one with decay
    ``a_{t+1} a_t`` and input ``a_{t+1} b_t + b_{t+1}``. Decays only shrink and sums stay
    bounded, so no log space is needed. No autograd."""
    steps = b.size(1)
    if steps == 1:
        return b
    if steps % 2:
        head = linear_scan(a[:, :-1], b[:, :-1])
        return torch.cat([head, a[:, -1:] * head[:, -1:] + b[:, -1:]], dim=1)
    a_even, a_odd, b_even, b_odd = a[:, 0::2], a[:, 1::2], b[:, 0::2], b[:, 1::2]
    pair_sums = linear_scan(a_even * a_odd, a_odd * b_even + b_odd)  # the results at odd steps
    out = torch.empty_like(b)
    out[:, 1::2] = pair_sums
    out[:, :1] = b_even[:, :1]
    out[:, 2::2] = a_even[:, 1:] * pair_sums[:, :-1] + b_even[:, 1:]
    return out


class LogSpaceScan(torch.autograd.Function):
    """``h_t = a_t h_{t-1} + b_t`` for all t at once, from ``log a`` and ``log b``
    (``[batch, time, features]``) and an optional positive ``h0``.

    Forward is Heinsen's log-space scan: with ``a*_t = cumsum(log a)_t``,
    ``log h_t = a*_t + log(h0 + sum_{k<=t} exp(log b_k - a*_k))``, the sum taken by
    logcumsumexp. Backward is the adjoint recurrence, the same linear recurrence run
    backwards in time, ``G_t = dL/dh_t + a_{t+1} G_{t+1}`` (then ``dL/db_t = G_t`` and
    ``dL/da_t = G_t h_{t-1}``); gradients have either sign, so it runs in ordinary space,
    stable because ``a <= 1``. Hand-written, it stores only ``h`` and costs a fraction of
    differentiating through the log-space ops.
    """

    @staticmethod
    def forward(ctx, log_a, log_b, h0):
        a_star = torch.cumsum(log_a, dim=1)
        log_sum = logcumsumexp(log_b - a_star)
        if h0 is not None:
            log_h0 = h0.clamp_min(torch.finfo(h0.dtype).tiny).log()
            log_sum = torch.logaddexp(log_h0.unsqueeze(1), log_sum)
        h = torch.exp(a_star + log_sum)
        ctx.save_for_backward(log_a, log_b, h, h0)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        log_a, log_b, h, h0 = ctx.saved_tensors
        a = log_a.exp()
        a_next = F.pad(a[:, 1:], (0, 0, 0, 1))  # a_{t+1}; nothing follows the last step
        grad_sum = linear_scan(a_next.flip(1), grad_h.flip(1)).flip(1)  # G_t
        h_prev = F.pad(h[:, :-1], (0, 0, 1, 0)) if h0 is None else torch.cat([h0.unsqueeze(1), h[:, :-1]], 1)
        grad_log_a = grad_sum * a * h_prev
        grad_log_b = grad_sum * log_b.exp()
        grad_h0 = a[:, 0] * grad_sum[:, 0] if h0 is not None and ctx.needs_input_grad[2] else None
        return grad_log_a, grad_log_b, grad_h0


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """All ``h_t = a_t h_{t-1} + b_t`` of ``[batch, time, features]`` inputs given as
    ``log a``, ``log b``, from ``h0`` (positive; zero when None), in one parallel pass."""
    return LogSpaceScan.apply(log_a, log_b, h0)


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The same recurrence, one step at a time in ordinary space: the reference form,
    and the cheaper one for a single decoding step."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(b.size(1)):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


class MinGRU(nn.Module):
    """``z_t = sigmoid(W_z x_t)``, ``h_t = (1 - z_t) h_{t-1} + z_t g(W_h x_t)``."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(input_size, 2 * hidden_size)  # gate and candidate in one matmul

    def log_coefficients(self, x):
        k, pre_h = self.linear(x).chunk(2, dim=-1)
        log_z = F.logsigmoid(k)
        return log_z - k, log_z + log_g(pre_h)  # log(1 - z) = log sigmoid(-k) = log z - k

    def coefficients(self, x):
        k, pre_h = self.linear(x).chunk(2, dim=-1)
        z = torch.sigmoid(k)
        return 1 - z, z * g(pre_h)


class MinLSTM(nn.Module):
    """``f_t, i_t = sigmoid(W_f x_t), sigmoid(W_i x_t)``, normalised to sum to one
    (the paper's length-independent scaling), ``h_t = f'_t h_{t-1} + i'_t g(W_h x_t)``."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(input_size, 3 * hidden_size)

    def log_coefficients(self, x):
        k_f, k_i, pre_h = self.linear(x).chunk(3, dim=-1)
        # f' = f / (f + i) = sigmoid(log f - log i), likewise i'
        diff = F.logsigmoid(k_i) - F.logsigmoid(k_f)  # log i - log f
        return F.logsigmoid(-diff), F.logsigmoid(diff) + log_g(pre_h)

    def coefficients(self, x):
        k_f, k_i, pre_h = self.linear(x).chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        return f / (f + i), i / (f + i) * g(pre_h)


class MinRNNCore(nn.Module):
    """``num_layers`` min-RNN layers. The first maps the input to ``hidden_size``; each
    further one is a pre-norm residual block, ``h + dropout(layer(LayerNorm(h)))``, as the
    paper stacks them. The state is a tuple of each layer's last hidden state.

    ``step_by_step = True`` switches every layer to the sequential reference form (used
    by the tests; a one-step input, as in decoding, always takes it).
    """

    def __init__(
        self, layer_class: type[nn.Module], input_size: int, hidden_size: int, num_layers: int, dropout: float
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            layer_class(input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_layers - 1))
        self.drop = nn.Dropout(dropout)
        self.output_size = hidden_size
        self.step_by_step = False

    def _run(self, layer, x, h0):
        if self.step_by_step or x.size(1) == 1:
            return sequential_scan(*layer.coefficients(x), h0)
        return log_space_scan(*layer.log_coefficients(x), h0)

    def forward(self, x, state=None, lengths=None):
        states = []
        h = x
        for i, layer in enumerate(self.layers):
            h0 = None if state is None else state[i]
            if i == 0:
                out = self._run(layer, x, h0)
                h = out
            else:
                out = self._run(layer, self.norms[i - 1](h), h0)
                h = h + self.drop(out)
            states.append(last_valid(out, lengths))
        return h, tuple(states)
