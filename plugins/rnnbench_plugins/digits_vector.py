"""One-to-one: a real 8×8 digit image fed as ONE vector, a length-1 sequence, to its class.

The images are scikit-learn's ``load_digits`` (1,797 handwritten digits, 64 grey levels
0..16, scaled to [0, 1]). The core runs a single step, so there is no recurrence over
time: this shape puts on the leaderboard what a recurrent cell does as a plain
feed-forward layer. The split is stratified by digit with a fixed seed and shared with
``caption-digits``, so both tasks test on the same images.
"""

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.data import fingerprint
from rnnbench_plugins._digits import PIXELS, digit_images, split_tensors
from rnnbench_plugins._labels import majority_label


class DigitsVector(Task):
    name = "digits-vector"
    family = "vision"
    requirements = (Requirement.python("sklearn", pip="rnnbench[digits]"),)
    shape = "one-to-one"
    description = "8×8 digit image (sklearn load_digits) as one vector -> digit class; accuracy"
    primary_metric = "accuracy"
    readout = "last"  # one time step: its output is the final state
    direction = "max"
    profiles = {
        "smoke": Profile(max_steps=10, batch_size=64, hidden_size=32, val_every=5),
        # at a 400-step cap 3 of 39 tuned cells were still gaining accuracy at the last validation
        "quick": Profile.for_leaderboard(
            max_steps=800,
            batch_size=64,
            hidden_size=128,
            lr=3e-3,
            val_every=50,
            param_budget=100_000,
        ),
        "full": Profile(max_steps=3000, batch_size=64, hidden_size=256, lr=1e-3, dropout=0.2, val_every=100, seeds=5),
    }

    def prepare(self, profile, cache_dir):
        from torch.utils.data import StackDataset

        table, fp = digit_images(cache_dir)
        splits = {}
        for split in ("train", "val", "test"):
            x, y = split_tensors(table, split)
            splits[split] = StackDataset(x=x, y=y)
        return TaskData(
            train=splits["train"],
            val=splits["val"],
            test={"test": splits["test"]},
            fingerprint=fingerprint(fp, "v1"),
            info={"train_labels": splits["train"].datasets["y"], "test_labels": splits["test"].datasets["y"]},
        )

    def metrics(self, data):
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

        return {
            "accuracy": MulticlassAccuracy(num_classes=10, average="micro"),
            "macro_f1": MulticlassF1Score(num_classes=10, average="macro"),
        }

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import ManyToOne

        core = model.build_core(PIXELS, profile.hidden_size, profile.num_layers, profile.dropout)

        def loss(out, batch):
            return F.cross_entropy(out, batch["y"])

        def update(metrics, out, batch):
            pred = out.argmax(-1)
            for metric in metrics.values():
                metric.update(pred, batch["y"])

        # [batch, 64] -> [batch, 1, 64]: the whole image is the one and only time step
        as_one_step = nn.Unflatten(1, (1, PIXELS))
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 10))
        return ManyToOne(as_one_step, core, head, loss, update, self.readout)

    def baselines(self, data):
        majority = majority_label(data.info["train_labels"])
        test = data.info["test_labels"]
        accuracy = float((test == majority).float().mean())
        # predicting one class everywhere: F1 is 0 for the other nine classes
        hits = int((test == majority).sum())
        f1_majority = 2 * hits / (hits + len(test))
        return {"majority-class": {"accuracy": accuracy, "macro_f1": f1_majority / 10}}

    def baseline_outcomes(self, data):
        majority = majority_label(data.info["train_labels"])
        test = [int(y) for y in data.info["test_labels"]]
        return {
            "majority-class": {
                "value": [float(y == majority) for y in test],
                "pred": [float(majority)] * len(test),
                "target": [float(y) for y in test],
            }
        }


@hookimpl
def rnnbench_tasks():
    return [DigitsVector()]
