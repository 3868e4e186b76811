"""The plugin contract: every hook rnnbench calls, documented here and nowhere else.

A plugin is a module (or object) with functions decorated ``@rnnbench.hookimpl`` whose
names match the specs below. It is found through the entry-point group ``rnnbench``
(first-party plugins load exactly the same way), through ``--plugin MODULE`` or through
the ``RNNBENCH_PLUGINS`` environment variable. A plugin module must import cheaply:
import torch inside the methods that build things, never at module level.
"""

from __future__ import annotations

import pluggy

from rnnbench.api import Model, Task

hookspec = pluggy.HookspecMarker("rnnbench")


@hookspec
def rnnbench_tasks() -> list[Task]:
    """Contribute tasks.

    Return a list of :class:`rnnbench.api.Task` instances. Each name must be a slug
    (``[a-z0-9][a-z0-9-]*``) that no other plugin uses; the task must define the
    ``smoke``, ``quick`` and ``full`` profiles, its shape, and its primary metric with
    its direction.
    """


@hookspec
def rnnbench_models() -> list[Model]:
    """Contribute models.

    Return a list of :class:`rnnbench.api.Model` instances, each with a unique slug
    name. A model builds the recurrent core and declares what it cannot serve through
    ``provides`` and ``cannot_serve``; those cells become ``n/a`` with the reason.
    """
