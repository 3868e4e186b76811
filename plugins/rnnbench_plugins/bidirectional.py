"""Bidirectional LSTM and GRU (Schuster & Paliwal 1997) on torch's fused kernels.

One direction reads the sequence forwards, the other backwards from each sequence's real
end (a padded batch is packed), and the two outputs are concatenated, so the core's
output is twice ``hidden_size`` wide. Every output step has seen the whole sequence:
right for classifying or encoding a finished sequence, impossible for predicting the
next token or for a decoder that produces its input one step at a time. Such tasks
require a causal model, and their cells read ``n/a`` with that reason.
"""

from rnnbench import Model, hookimpl


class Bidirectional(Model):
    family = "bidirectional"
    provides = frozenset()  # neither causal nor able to continue a sequence from a state

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

    def unsupported(self, task):
        if task.shape not in self.cannot_serve and "causal" in task.requires:
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
