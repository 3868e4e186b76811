"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

The GRU and LSTM stripped until their gates depend on the current input alone:
``h_t = a(x_t) * h_{t-1} + b(x_t)``. The recurrence is then linear in ``h`` and
training computes all time steps at once with a parallel scan in log space (Heinsen
2023) instead of a loop over time; a single step, as a decoder takes, runs the same
recurrence directly. Layers stack as pre-norm residual blocks. See
``_min_rnn_layers.py`` for the equations.
"""

from rnnbench import Model, hookimpl


class MinRNN(Model):
    family = "modern"

    def __init__(self, name: str, layer: str, description: str):
        self.name, self.layer, self.description = name, layer, description

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench_plugins import _min_rnn_layers as layers

        return layers.MinRNNCore(getattr(layers, self.layer), input_size, hidden_size, num_layers, dropout)


@hookimpl
def rnnbench_models():
    return [
        MinRNN("mingru", "MinGRU", "minGRU (Feng et al. 2024): input-only gates, log-space parallel scan"),
        MinRNN("minlstm", "MinLSTM", "minLSTM (Feng et al. 2024): input-only gates, log-space parallel scan"),
    ]
