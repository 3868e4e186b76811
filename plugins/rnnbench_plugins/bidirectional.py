"""Bidirectional LSTM and GRU (Schuster & Paliwal 1997) on torch's fused kernels.

One direction reads the sequence forwards, the other backwards from each sequence's real
end (a padded batch is packed), and the two outputs are concatenated, so the core's
output is twice ``hidden_size`` wide. Every output step has seen the whole sequence:
right for classifying or encoding a finished sequence, impossible for predicting the
next token or for a decoder that produces its input one step at a time. Such tasks
require a causal model, and their cells read ``n/a`` with that reason.

A seq2seq task gets the model as its encoder (the ``decoder`` capability): the decoder is
a one-directional core of the same cell, and each of its layers starts from
tanh(W [h_fwd; h_bwd]) of the encoder layer's two final states, as in Bahdanau et al.
(2015) and bentrevett's pytorch-seq2seq tutorial 3 (an LSTM's cell state is bridged the
same way, by its own W).
"""

from rnnbench import Model, hookimpl


def _state_bridge(hidden_size: int, lstm: bool):
    """The module that maps a bidirectional torch RNN's final state to a one-directional
    one's initial state, layer by layer (built here, where torch may be imported)."""
    import torch
    from torch import nn

    class DirectionsBridge(nn.Module):
        def __init__(self):
            super().__init__()
            self.joins = nn.ModuleList(nn.Linear(2 * hidden_size, hidden_size) for _ in range(2 if lstm else 1))

        def forward(self, state):
            parts = state if lstm else (state,)
            # torch orders a bidirectional state [layers * 2, B, H] as (layer 0 fwd, layer 0 bwd, layer 1 fwd ...)
            joined = [
                torch.tanh(join(torch.cat([part[0::2], part[1::2]], -1))) for join, part in zip(self.joins, parts)
            ]
            return tuple(joined) if lstm else joined[0]

    return DirectionsBridge()


class Bidirectional(Model):
    family = "bidirectional"
    provides = frozenset({"decoder"})  # neither causal nor able to continue a sequence from a state

    def __init__(self, name: str, torch_class: str, description: str):
        self.name, self.torch_class, self.description = name, torch_class, description

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from torch import nn

        from rnnbench.nn import FusedCore

        rnn_class = getattr(nn, self.torch_class)
        return FusedCore(
            rnn_class(
                input_size,
                hidden_size,
                num_layers=num_layers,
                batch_first=True,
                bidirectional=True,
                dropout=dropout if num_layers > 1 else 0.0,
            )
        )

    def build_decoder(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench_plugins._fused_rnn import fused_core

        decoder = fused_core(self.torch_class, input_size, hidden_size, num_layers, dropout)
        return decoder, _state_bridge(hidden_size, lstm=self.torch_class == "LSTM")

    def unsupported(self, task):
        if (
            task.shape not in self.cannot_serve
            and "causal" in task.requires
            and "causal" not in self.capabilities(task)
        ):
            return (
                f"{self.name} reads each sequence backwards from its end, so it is not "
                f"causal; {task.name} needs a causal model"
            )
        return super().unsupported(task)


@hookimpl
def rnnbench_models():
    return [
        Bidirectional("bi-lstm", "LSTM", "Bidirectional LSTM (torch nn.LSTM, bidirectional=True); not causal"),
        Bidirectional("bi-gru", "GRU", "Bidirectional GRU (torch nn.GRU, bidirectional=True); not causal"),
    ]
