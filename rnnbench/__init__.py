"""rnnbench: a plugin-based benchmark suite for recurrent sequence models."""

import pluggy

from rnnbench.api import SHAPES, Model, Profile, Task, TaskData
from rnnbench.requirements import Requirement

__version__ = "0.2.0"

hookimpl = pluggy.HookimplMarker("rnnbench")
"""Decorator for a plugin's hook implementations (see :mod:`rnnbench.hookspecs`)."""

__all__ = ["SHAPES", "Model", "Profile", "Requirement", "Task", "TaskData", "hookimpl", "__version__"]
