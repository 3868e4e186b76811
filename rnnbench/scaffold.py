"""``rnnbench new-plugin NAME``: write a plugin distribution a new author can install,
test and publish: pyproject with one entry point per contribution, a module per model or
task, and their tests. One distribution may carry several models and tasks
(``--model A --task B``); by default it carries one contribution named like it."""

from __future__ import annotations

from pathlib import Path

from rnnbench.api import is_slug

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "rnnbench plugin: {names}"
requires-python = ">=3.10"
dependencies = ["rnnbench"]

[project.optional-dependencies]
test = ["pytest"]

# the entry points are what make rnnbench find the plugins once they are installed:
# one per model or task, each naming the module that registers it
[project.entry-points.rnnbench]
{entry_points}

[tool.setuptools]
packages = ["{package}"]
"""

MODEL = '''"""rnnbench plugin {name}: a model. Replace the core with yours; keep the contract:
forward(x [batch, time, input], state=None, lengths=None) -> (y [batch, time, output_size], state).
"""

from rnnbench import Model, hookimpl


class {cls}(Model):
    name = "{name}"
    family = "custom"
    description = "describe your model here"
    provides = frozenset({{"causal", "stateful"}})  # drop one if your core is not

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from torch import nn  # import torch here, not at module level: `rnnbench list` stays fast

        from rnnbench.nn import FusedCore

        return FusedCore(nn.GRU(input_size, hidden_size, num_layers, batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0))


@hookimpl
def rnnbench_models():
    return [{cls}()]
'''

TASK = '''"""rnnbench plugin {name}: a task. It owns the data, the input adapter, the output head,
the loss, the metrics and the baselines; the model supplies the recurrent core."""

from rnnbench import Profile, Task, TaskData, hookimpl
from rnnbench.data import fingerprint


class {cls}(Task):
    name = "{name}"
    family = "custom"
    shape = "many-to-one"
    description = "is the sum of a random sequence positive? (replace with your task)"
    primary_metric = "accuracy"
    direction = "max"
    profiles = {{
        "smoke": Profile(max_steps=20, batch_size=32, hidden_size=16, val_every=10),
        "quick": Profile.for_leaderboard(max_steps=500, batch_size=64, hidden_size=64, val_every=100),
        "full": Profile(max_steps=5000, batch_size=128, hidden_size=128, val_every=500, seeds=5),
    }}

    def prepare(self, profile, cache_dir):
        import torch
        from torch.utils.data import StackDataset

        def split(size, seed):
            x = torch.randn(size, 20, 1, generator=torch.Generator().manual_seed(seed))
            return StackDataset(x=x, y=(x.sum((1, 2)) > 0).long())

        return TaskData(train=split(2048, 1), val=split(256, 2), test={{"test": split(512, 3)}},
                        fingerprint=fingerprint(self.name, "v1"))

    def metrics(self, data):
        from torchmetrics.classification import BinaryAccuracy

        return {{"accuracy": BinaryAccuracy()}}

    def build(self, data, model, profile):
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import ManyToOne

        core = model.build_core(1, profile.hidden_size, profile.num_layers, profile.dropout)

        def update(metrics, out, batch):
            metrics["accuracy"].update(out.argmax(-1), batch["y"])

        return ManyToOne(nn.Identity(), core, nn.Linear(core.output_size, 2),
                         lambda out, batch: F.cross_entropy(out, batch["y"]), update, self.readout)

    def baselines(self, data):
        return {{"coin-flip": {{"accuracy": 0.5}}}}


@hookimpl
def rnnbench_tasks():
    return [{cls}()]
'''

TEST_MODEL = """from rnnbench.testing import check_model, default_task, fit_smoke


def test_{package}_meets_the_model_contract():
    check_model("{name}")


def test_{package}_trains_on_a_registered_task():
    record = fit_smoke(default_task("{name}"), "{name}")
    assert record["primary"]["value"] is not None
"""

TEST_TASK = """from rnnbench.testing import check_task, default_model, fit_smoke


def test_{package}_meets_the_task_contract():
    check_task("{name}")


def test_{package}_trains_with_a_registered_model():
    record = fit_smoke("{name}", default_model("{name}"))
    assert 0.0 <= record["primary"]["value"] <= 1.0
"""


def write_plugin(dist: str, contributions: list[tuple[str, str]], where: Path, distribution: str | None = None) -> Path:
    """Write the distribution ``distribution`` (default ``rnnbench-<dist>``) into
    ``where/<distribution>``: package ``rnnbench_<dist>`` with one module, one entry point
    and one test file per ``(kind, name)`` contribution (``kind`` is model or task)."""
    for name in [dist] + [name for _, name in contributions]:
        if not is_slug(name):
            raise ValueError(f"plugin name '{name}' is not a slug ([a-z0-9][a-z0-9-]*)")
    names = [name for _, name in contributions]
    if not contributions:
        raise ValueError("name at least one model or task to write")
    if len(set(names)) != len(names):
        raise ValueError(f"each contribution needs its own name: {', '.join(names)}")
    distribution = distribution or f"rnnbench-{dist}"
    if not is_slug(distribution.lower().replace("_", "-").replace(".", "-")):
        raise ValueError(f"distribution name '{distribution}' is not a valid package name")
    package = "rnnbench_" + dist.replace("-", "_")
    root = where / distribution
    if root.exists():
        raise FileExistsError(f"{root} exists already; pick another name or remove it")
    files = {
        f"{package}/__init__.py": f'"""{distribution}: rnnbench plugins {", ".join(names)}."""\n',
        "README.md": f"# {distribution}\n\nrnnbench plugins: {', '.join(names)}. `pip install -e .[test]`, then "
        "`pytest` and `rnnbench list`; "
        + ", ".join(f"`rnnbench run --{kind} {name} --profile smoke`" for kind, name in contributions)
        + " puts them on a leaderboard.\n",
    }
    entry_points = []
    for kind, name in contributions:
        module = name.replace("-", "_")
        cls = "".join(part.capitalize() for part in name.split("-")) + ("Model" if kind == "model" else "Task")
        fields = {"name": name, "package": f"{package}_{module}", "cls": cls}
        files[f"{package}/{module}.py"] = (MODEL if kind == "model" else TASK).format(**fields)
        files[f"tests/test_{module}.py"] = (TEST_MODEL if kind == "model" else TEST_TASK).format(**fields)
        entry_points.append(f'{name} = "{package}.{module}"')
    files["pyproject.toml"] = PYPROJECT.format(
        dist=distribution, names=", ".join(names), entry_points="\n".join(entry_points), package=package
    )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
