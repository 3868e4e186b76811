"""The classic recurrent cores on torch's fused kernels (cuDNN on GPU): Elman, LSTM, GRU.

``elman`` is the seed article's SimpleRNN, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b).
Each stacks ``num_layers`` layers with dropout between them.
"""

from rnnbench import Model, hookimpl
from rnnbench_plugins._fused_rnn import fused_core


class FusedModel(Model):
    family = "classic"
    torch_class = ""

    def __init__(self, name: str, torch_class: str, description: str):
        self.name, self.torch_class, self.description = name, torch_class, description

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        return fused_core(self.torch_class, input_size, hidden_size, num_layers, dropout)


@hookimpl
def rnnbench_models():
    return [
        FusedModel("elman", "RNN", "Elman/SimpleRNN, tanh (torch nn.RNN)"),
        FusedModel("lstm", "LSTM", "Long short-term memory (Hochreiter & Schmidhuber 1997; torch nn.LSTM)"),
        FusedModel("gru", "GRU", "Gated recurrent unit (Cho et al. 2014; torch nn.GRU)"),
    ]
