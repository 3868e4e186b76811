"""A stack of one-layer fused torch RNNs with optional residual connections and layer
normalisation between layers (imports torch; the deep-rnn and keras-seed plugins import
it when they build a core).

torch's own ``num_layers`` cannot add a residual or a norm between layers, so each layer
is its own fused module; a padded batch is packed once and stays packed through every
layer, the residual sums and norms applying to the packed rows, so padding never reaches
any recurrence and no layer pays for packing again.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def _rows(seq: torch.Tensor | PackedSequence) -> torch.Tensor:
    return seq.data if isinstance(seq, PackedSequence) else seq


def _with_rows(seq: torch.Tensor | PackedSequence, rows: torch.Tensor) -> torch.Tensor | PackedSequence:
    return seq._replace(data=rows) if isinstance(seq, PackedSequence) else rows


class FusedStack(nn.Module):
    """``len(widths)`` fused RNN layers of class ``rnn_class`` (``nn.RNN``/``nn.LSTM``/
    ``nn.GRU``), layer ``i`` of width ``widths[i]``.

    ``residual``: from the second layer on, a layer whose input has its width adds that
    input to its output (Wu et al. 2016, GNMT), so gradients reach the lower layers
    through the identity path. ``layer_norm``: the output of every layer but the last
    is normalised over its features (Ba et al. 2016) before the next layer reads it,
    which keeps each layer's input at a fixed scale; the stack's own output is left as
    the last layer's, like any other core's.
    Dropout applies to the input of every layer after the first.

    The state is a tuple with one entry per layer, each in that layer's torch format.
    """

    def __init__(
        self,
        rnn_class: type[nn.RNNBase],
        input_size: int,
        widths: list[int],
        dropout: float = 0.0,
        residual: bool = False,
        layer_norm: bool = False,
    ):
        super().__init__()
        sizes = [input_size, *widths]
        self.layers = nn.ModuleList(rnn_class(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(widths)))
        self.norms = nn.ModuleList(nn.LayerNorm(w) for w in widths[:-1]) if layer_norm else None
        self.residual = [residual and i > 0 and sizes[i] == sizes[i + 1] for i in range(len(widths))]
        self.drop = nn.Dropout(dropout)
        self.output_size = widths[-1]

    def forward(self, x, state=None, lengths=None):
        seq = x if lengths is None else pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states = []
        for i, rnn in enumerate(self.layers):
            inp = seq if i == 0 else _with_rows(seq, self.drop(_rows(seq)))
            out, layer_state = rnn(inp, None if state is None else state[i])
            rows = _rows(out)
            if self.residual[i]:
                rows = rows + _rows(seq)
            if self.norms is not None and i < len(self.norms):
                rows = self.norms[i](rows)
            seq = _with_rows(out, rows)
            states.append(layer_state)
        if lengths is not None:
            seq, _ = pad_packed_sequence(seq, batch_first=True, total_length=x.size(1))
        return seq, tuple(states)
