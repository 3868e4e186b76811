"""Every hook is documented in CONTRIBUTING.md with the signature it has in hookspecs.py."""

import inspect
from pathlib import Path

from rnnbench import hookspecs

DOCS = (Path(__file__).parent.parent / "CONTRIBUTING.md").read_text()


def hooks():
    return [f for name, f in vars(hookspecs).items() if name.startswith("rnnbench_") and callable(f)]


def test_there_are_hooks_and_each_has_a_docstring():
    assert {f.__name__ for f in hooks()} >= {"rnnbench_tasks", "rnnbench_models"}
    for f in hooks():
        assert f.__doc__ and len(f.__doc__.strip()) > 40, f.__name__


def test_every_hook_is_documented_with_its_signature():
    for f in hooks():
        signature = f"{f.__name__}{inspect.signature(f)}".replace("'", "")
        assert f"`{signature}`" in DOCS, f"CONTRIBUTING.md lacks `{signature}`"
