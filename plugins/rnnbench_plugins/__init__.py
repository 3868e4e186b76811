"""rnnbench's first-party plugins. Each module is one plugin, registered through the
``rnnbench`` entry-point group in pyproject.toml exactly as a third-party plugin is."""
