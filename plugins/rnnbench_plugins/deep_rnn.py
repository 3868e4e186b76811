"""Deep LSTM stacks that train well past two layers: residual and layer-normalised.

``residual-lstm`` adds each layer's input to its output from the second layer on, as
GNMT does (Wu et al. 2016); ``layernorm-lstm`` normalises each layer's output over its
features before the next layer reads it (layer normalisation, Ba et al. 2016, applied
between layers rather than inside the cell, so that each layer still runs on torch's
fused LSTM kernel). A deep variant is only a variant with depth, so both use at least
``MIN_DEPTH`` layers, or the profile's ``num_layers`` when it asks for more.
"""

from rnnbench import Model, hookimpl

MIN_DEPTH = 2


class DeepLSTM(Model):
    family = "deep"

    def __init__(self, name: str, description: str, residual: bool, layer_norm: bool):
        self.name, self.description = name, description
        self.residual, self.layer_norm = residual, layer_norm

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from torch import nn

        from rnnbench_plugins._deep_rnn_layers import FusedStack

        depth = max(num_layers, MIN_DEPTH)
        return FusedStack(
            nn.LSTM, input_size, [hidden_size] * depth, dropout, residual=self.residual, layer_norm=self.layer_norm
        )


@hookimpl
def rnnbench_models():
    return [
        DeepLSTM(
            "residual-lstm",
            f"Stacked LSTM, residual connections between layers (GNMT); >= {MIN_DEPTH} layers",
            residual=True,
            layer_norm=False,
        ),
        DeepLSTM(
            "layernorm-lstm",
            f"Stacked LSTM, layer normalisation between layers; >= {MIN_DEPTH} layers",
            residual=False,
            layer_norm=True,
        ),
    ]
