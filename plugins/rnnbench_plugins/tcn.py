"""A causal temporal convolutional network (Bai et al. 2018; dilations as in WaveNet,
van den Oord et al. 2016): the non-recurrent reference, showing what recurrence buys.

Eight residual levels of kernel-2 causal convolutions with dilations 1 ... 128 see the
last 256 steps; inputs further back are out of reach (the adding problem at T = 200 is
just inside). The channel count is half the profile's ``hidden_size``: eight levels of
``2 * (hidden/2)^2`` weights come to ``4 * hidden^2``, the parameter count of an LSTM of
that hidden size, so the default leaderboard compares like with like (and
``--param-budget`` matches counts to ±10 %). The depth is fixed by the receptive field,
so the profile's ``num_layers`` does not apply. A convolution has no hidden state to carry
from one batch to the next, so tasks trained by truncated backpropagation through time
(language modeling) or decoded one step at a time read ``n/a``.
"""

from rnnbench import Model, hookimpl

LEVELS = 8
KERNEL_SIZE = 2
RECEPTIVE_FIELD = 1 + (KERNEL_SIZE - 1) * (2**LEVELS - 1)


class TCN(Model):
    name = "tcn"
    family = "convolutional"
    description = (
        f"Causal dilated TCN, {LEVELS} levels of kernel {KERNEL_SIZE}, receptive field "
        f"{RECEPTIVE_FIELD} steps: the non-recurrent reference"
    )
    provides = frozenset({"causal"})

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench_plugins._tcn_layers import TCNCore

        if hidden_size < 2:
            raise ValueError(f"tcn needs hidden_size >= 2 (it uses hidden_size // 2 channels), got {hidden_size}")
        return TCNCore(input_size, hidden_size // 2, LEVELS, KERNEL_SIZE, dropout)

    def unsupported(self, task):
        if task.shape not in self.cannot_serve and "stateful" in task.requires:
            return (
                f"{self.name} is a convolution with no hidden state to carry across batches "
                f"or decoding steps; {task.name} needs a stateful model"
            )
        return super().unsupported(task)


@hookimpl
def rnnbench_models():
    return [TCN()]
