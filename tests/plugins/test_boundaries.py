"""Each first-party plugin is a unit: it imports the core, its own modules and the shared
private helpers (``rnnbench_plugins._*``), never another plugin."""

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins" / "rnnbench_plugins"


def imported_plugin_modules(tree: ast.AST):
    """``(line, first name under rnnbench_plugins)`` of every import of the package."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "rnnbench_plugins" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rnnbench_plugins":
            parts = node.module.split(".")
            for name in [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]:
                yield node.lineno, name


def test_no_plugin_imports_another():
    crossings = []
    for source in sorted(PLUGINS.rglob("*.py")):
        unit = source.relative_to(PLUGINS).parts[0].removesuffix(".py")
        for line, name in imported_plugin_modules(ast.parse(source.read_text())):
            if not name.startswith("_") and name != unit:
                crossings.append(f"{source.relative_to(PLUGINS)}:{line} imports {name}")
    assert not crossings, crossings
