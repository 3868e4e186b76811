"""Small torch helpers that any task or model plugin may use (imports torch)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class FusedCore(nn.Module):
    """Adapt a fused torch RNN (``nn.RNN``/``nn.LSTM``/``nn.GRU``, cuDNN on GPU) to the
    core contract ``forward(x, state=None, lengths=None) -> (y, state)``.

    With ``lengths`` the batch is packed, so padding never reaches the recurrence and a
    bidirectional core's backward pass starts at each sequence's real end.
    """

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        if not rnn.batch_first:
            raise ValueError("FusedCore needs batch_first=True")
        self.rnn = rnn
        self.output_size = rnn.hidden_size * (2 if rnn.bidirectional else 1)

    def last_state(self, y: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """The sequence's final state: for a bidirectional core, the forward half after
        the last valid step joined to the backward half after reading back to step 0
        (each direction's final hidden state, as ``h_n`` holds them)."""
        if not self.rnn.bidirectional:
            return last_valid(y, lengths)
        half = self.rnn.hidden_size
        return torch.cat([last_valid(y[..., :half], lengths), y[:, 0, half:]], -1)

    def forward(self, x, state=None, lengths=None):
        if lengths is None:
            return self.rnn(x, state)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, state = self.rnn(packed, state)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.size(1))
        return y, state


def last_valid(y: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``y[b, lengths[b] - 1]`` for each sequence: the output after its last real step."""
    if lengths is None:
        return y[:, -1]
    idx = (lengths.to(y.device) - 1).clamp(min=0)
    return y[torch.arange(y.size(0), device=y.device), idx]


def read_out(core: nn.Module, y: torch.Tensor, lengths: torch.Tensor | None, readout: str) -> torch.Tensor:
    """One vector per sequence from the core's outputs ``y`` (``rnnbench.api.READOUTS``):
    ``last`` asks the core for its final state (``core.last_state(y, lengths)`` where the
    core defines one, else the output after the last valid step); ``mean`` averages the
    valid steps."""
    if readout == "mean":
        if lengths is None:
            return y.mean(1)
        mask = length_mask(lengths.to(y.device), y.size(1)).unsqueeze(-1)
        return (y * mask).sum(1) / mask.sum(1).clamp(min=1)
    if readout != "last":
        raise ValueError(f"readout {readout!r} is not 'last' or 'mean'")
    last_state = getattr(core, "last_state", None)
    return last_state(y, lengths) if callable(last_state) else last_valid(y, lengths)


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Boolean ``[batch, max_len]`` mask, True at valid steps."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def detach_state(state):
    """Detach a hidden state (tensor, tuple of tensors, or None) for TBPTT."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)
