"""rnnbench: a plugin-based benchmark suite for recurrent sequence models."""

import pluggy

from rnnbench.api import SHAPES, Choice, LogUniform, Model, Profile, Published, Task, TaskData, Uniform
from rnnbench.requirements import Requirement

__version__ = "0.3.0"

hookimpl = pluggy.HookimplMarker("rnnbench")
"""Decorator for a plugin's hook implementations (see :mod:`rnnbench.hookspecs`)."""

__all__ = [
    "SHAPES",
    "Choice",
    "LogUniform",
    "Model",
    "Profile",
    "Published",
    "Requirement",
    "Task",
    "TaskData",
    "Uniform",
    "hookimpl",
    "__version__",
]
