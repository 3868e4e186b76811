"""A contract test kit for plugin authors (and rnnbench's own tests).

Call these from your own pytest suite::

    from rnnbench.testing import fit_smoke
    def test_my_task_trains():
        record = fit_smoke("my-task", "lstm")
        assert record["primary"]["value"] is not None
"""

from __future__ import annotations

import functools
import os
from typing import Any

from rnnbench import registry as _registry


@functools.lru_cache(maxsize=None)
def load_registry(*plugin_args: str) -> _registry.Registry:
    """The registry as ``rnnbench`` itself would load it (cached per process)."""
    return _registry.load(plugin_args)


def fit_smoke(task: str, model: str, seed: int = 0, profile: str = "smoke",
              cache_dir: str | None = None, plugins: tuple[str, ...] = ()) -> dict[str, Any]:
    """Prepare, train, validate and test one cell in this process on the CPU; return the
    measured part of its result record (metrics, primary, params, curve, samples ...)."""
    from rnnbench.data import default_cache_dir
    from rnnbench.training import fit_cell

    reg = load_registry(*plugins)
    t, m = reg.tasks[task], reg.models[model]
    reason = m.unsupported(t)
    if reason:
        raise AssertionError(f"{model} cannot serve {task}: {reason}")
    prof = t.profiles[profile]
    data = t.prepare(prof, cache_dir or default_cache_dir())
    return fit_cell(t, m, prof, seed, data, accelerator="cpu")
