"""The seed article's Keras model, made real in PyTorch, with its own leaderboard row.

The article builds::

    model = Sequential([
        SimpleRNN(128, return_sequences=True),
        SimpleRNN(64),
        Dense(...),
    ])

that is, two tanh Elman layers, the second half as wide as the first, and a dense head.
Here the head is the task's, and the widths scale with the profile's ``hidden_size``
(``hidden_size`` and ``hidden_size // 2``; 128 and 64 at the article's size) so that the
parameter budget can size it like any other model. The depth is the article's two
layers whatever the profile's ``num_layers``; ``dropout`` applies between them.
"""

from rnnbench import Model, hookimpl


class KerasSeed(Model):
    name = "keras-seed"
    family = "classic"
    description = "The seed article's Keras model: SimpleRNN(h, return_sequences) -> SimpleRNN(h/2)"

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from torch import nn

        from rnnbench_plugins._deep_rnn_layers import FusedStack

        if hidden_size < 2:
            raise ValueError(f"keras-seed needs hidden_size >= 2 (its second layer is half as wide), got {hidden_size}")
        return FusedStack(nn.RNN, input_size, [hidden_size, hidden_size // 2], dropout)


@hookimpl
def rnnbench_models():
    return [KerasSeed()]
