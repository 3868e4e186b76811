"""An example third-party rnnbench plugin: two tasks and one model, nothing else.

- ``parity``: is the number of ones in a random bit string odd? A many-to-one
  diagnostic that needs the whole sequence (every bit flips the answer).
- ``reverse`` (in ``reverse.py``): a digit string reversed, a seq2seq task built on
  ``rnnbench.seq2seq``'s encoder-decoder, so that it writes no decoder of its own.
- ``indrnn``: the independently recurrent network (Li et al. 2018),
  h_t = relu(W x_t + u * h_{t-1} + b), with a diagonal recurrence ``u``.

Install it with ``pip install plugins/rnnbench-example`` and it appears in
``rnnbench list``; ``rnnbench run --task parity --profile smoke`` puts it on the leaderboard.
"""

from rnnbench import Model, Profile, Task, TaskData, hookimpl
from rnnbench.data import fingerprint
from rnnbench_example.reverse import Reverse


class Parity(Task):
    name = "parity"
    family = "diagnostic"
    shape = "many-to-one"
    description = "Parity of a 16-bit string (odd number of ones?)"
    primary_metric = "accuracy"
    direction = "max"
    profiles = {
        "smoke": Profile(max_steps=20, batch_size=32, hidden_size=16, val_every=10),
        "quick": Profile(max_steps=600, batch_size=64, hidden_size=64, lr=3e-3, val_every=100, seeds=3),
        "full": Profile(max_steps=5000, batch_size=128, hidden_size=128, val_every=500, seeds=5),
    }

    def prepare(self, profile, cache_dir):
        import torch
        from torch.utils.data import StackDataset

        def split(size, seed):
            g = torch.Generator().manual_seed(seed)
            bits = torch.randint(0, 2, (size, 16), generator=g)
            return StackDataset(x=bits.float().unsqueeze(-1), y=bits.sum(1) % 2)

        return TaskData(
            train=split(4096, 1),
            val=split(512, 2),
            test={"test": split(1024, 3)},
            fingerprint=fingerprint("parity", 16, "v1"),
        )

    def metrics(self, data):
        from torchmetrics.classification import BinaryAccuracy

        return {"accuracy": BinaryAccuracy()}

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import ManyToOne

        core = model.build_core(1, profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(out, batch):
            return F.cross_entropy(out, batch["y"])

        def update(metrics, out, batch):
            metrics["accuracy"].update(out.argmax(-1), batch["y"])

        def samples(net):
            import torch

            bits = torch.tensor([1.0, 0.0, 1.0, 1.0] * 4, device=next(net.parameters()).device)
            with torch.no_grad():
                odd = net.eval()({"x": bits.view(1, 16, 1)}).argmax(-1).item()
            return {"1011" * 4: "odd" if odd else "even"}

        return ManyToOne(
            nn.Identity(), core, nn.Linear(core.output_size, 2), loss, update, self.readout, samples=samples
        )

    def baselines(self, data):
        return {"coin-flip": {"accuracy": 0.5}}


class IndRNN(Model):
    name = "indrnn"
    family = "example"
    description = "IndRNN (Li et al. 2018): diagonal recurrence, relu"

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        import torch
        from torch import nn

        class IndRNNCore(nn.Module):
            def __init__(self):
                super().__init__()
                self.output_size = hidden_size
                self.inputs = nn.Linear(input_size, hidden_size)
                self.u = nn.Parameter(torch.empty(hidden_size).uniform_(0, 1))

            def forward(self, x, state=None, lengths=None):
                h = x.new_zeros(x.size(0), hidden_size) if state is None else state
                wx, outputs = self.inputs(x), []
                for t in range(x.size(1)):  # causal: padding after a sequence's end is never read back
                    h = torch.relu(wx[:, t] + self.u * h)
                    outputs.append(h)
                return torch.stack(outputs, 1), h

        return IndRNNCore()


@hookimpl
def rnnbench_tasks():
    return [Parity(), Reverse()]


@hookimpl
def rnnbench_models():
    return [IndRNN()]
