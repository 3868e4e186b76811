"""The Linear Recurrent Unit (Orvieto et al. 2023): a deep state-space-style RNN.

Each layer is a linear recurrence over a complex diagonal state, stable by construction
(``|lambda| < 1`` for any parameters) and normalised so that long memories do not blow
up the state; the non-linearity sits between layers (GELU and a GLU in a pre-norm
residual block), not inside the recurrence. Linear in time, the recurrence trains with a
parallel scan instead of a loop over steps. See ``_lru_layers.py`` for the equations.
"""

from rnnbench import Model, hookimpl


class LRUModel(Model):
    name = "lru"
    own_initialisation = True
    family = "modern"
    description = "Linear Recurrent Unit (Orvieto et al. 2023): complex diagonal linear recurrence, parallel scan"

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench_plugins._lru_layers import LRUCore

        return LRUCore(input_size, hidden_size, num_layers, dropout)


@hookimpl
def rnnbench_models():
    return [LRUModel()]
