"""IRNN (Le, Jaitly & Hinton 2015): an Elman RNN of rectified linear units whose recurrent
weight matrix starts as the identity.

h_t = relu(W_hh h_{t-1} + W_xh x_t + b), with W_hh = I and b = 0 at the start, and W_xh
drawn from N(0, 0.001^2) as in the paper (its non-recurrent weights; the head here is the
task's, initialised as the task does it). With no input, the state is then copied unchanged
from step to step and the gradient flows back through the identity, neither vanishing nor
exploding, until training moves W_hh away from it. The recurrence is torch's fused
``nn.RNN(nonlinearity="relu")`` (cuDNN on GPU); only its initialisation is the paper's.
Each of ``num_layers`` layers is initialised alike, with dropout between them.

A module of its own, not a fourth ``FusedModel`` in classic_rnn.py: those are torch's
classes as torch initialises them, named by class, and this model is a paper's
initialisation of one of them.
"""

from rnnbench import Model, hookimpl

INPUT_WEIGHT_STD = 0.001
"""Standard deviation of the input-to-hidden weights, the paper's value."""


class IRNN(Model):
    name = "irnn"
    own_initialisation = True
    family = "classic"
    description = "IRNN (Le et al. 2015): ReLU Elman RNN, recurrent weights initialised to the identity"

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from torch import nn

        from rnnbench.nn import FusedCore

        rnn = nn.RNN(
            input_size,
            hidden_size,
            num_layers=num_layers,
            nonlinearity="relu",
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        identity_init(rnn)
        return FusedCore(rnn)


def identity_init(rnn) -> None:
    """Le et al.'s initialisation of every layer of a torch ``nn.RNN``, in place:
    recurrent weights the identity, biases zero, input weights N(0, INPUT_WEIGHT_STD^2)."""
    import torch
    from torch import nn

    with torch.no_grad():
        for name, param in rnn.named_parameters():
            if name.startswith("weight_hh"):
                nn.init.eye_(param)
            elif name.startswith("weight_ih"):
                nn.init.normal_(param, std=INPUT_WEIGHT_STD)
            else:  # bias_ih and bias_hh
                nn.init.zeros_(param)


@hookimpl
def rnnbench_models():
    return [IRNN()]
