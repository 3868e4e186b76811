import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench.cli import main

ROOT = Path(__file__).parent.parent


def pip_install_target(source: Path, target: Path) -> None:
    """A real pip install of a plugin distribution (its dist-info and entry points included)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )


def cli(target: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rnnbench.cli", *args], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("kind", ["model", "task"])
def test_new_plugin_writes_an_installable_tested_plugin(tmp_path, kind, capsys):
    assert main(["new-plugin", f"my-{kind}", "--kind", kind, "--dir", str(tmp_path)]) == 0
    root = tmp_path / f"rnnbench-my-{kind}"
    assert (root / "pyproject.toml").exists() and (root / "tests" / f"test_my_{kind}.py").exists()
    pip_install_target(root, tmp_path / "site")
    listed = cli(tmp_path / "site", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert f'"my-{kind}"' in listed.stdout
    # the generated tests pass against the installed plugin
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "OMP_NUM_THREADS": "1"}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_new_plugin_writes_several_contributions_under_a_distribution_name_of_its_own(tmp_path, capsys):
    argv = ["new-plugin", "lab", "--model", "peep-lstm,tiny-gru", "--task", "reverse"]
    assert main([*argv, "--distribution", "acme-rnn-plugins", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "acme-rnn-plugins"
    assert 'name = "acme-rnn-plugins"' in (root / "pyproject.toml").read_text()
    assert sorted(p.name for p in (root / "tests").iterdir()) == [
        "test_peep_lstm.py",
        "test_reverse.py",
        "test_tiny_gru.py",
    ]
    pip_install_target(root, tmp_path / "site")
    listed = cli(tmp_path / "site", "info", "lab")
    assert listed.returncode == 2  # "lab" names the package, not a plugin: each contribution is one
    for name, kind in (("peep-lstm", "model"), ("tiny-gru", "model"), ("reverse", "task")):
        info = cli(tmp_path / "site", "info", name)
        assert info.returncode == 0 and "distribution: acme-rnn-plugins 0.1.0" in info.stdout, info.stdout + info.stderr


def test_new_plugin_refuses_a_bad_name(tmp_path, capsys):
    assert main(["new-plugin", "My Plugin", "--dir", str(tmp_path)]) == 2
    assert "is not a slug" in capsys.readouterr().err


def test_example_plugin_installed_by_pip_reaches_the_leaderboard(tmp_path):
    pip_install_target(ROOT / "plugins" / "rnnbench-example", tmp_path / "site")
    listed = cli(tmp_path / "site", "info", "example")
    assert "distribution: rnnbench-example 0.1.0" in listed.stdout, listed.stderr
    out = tmp_path / "boards"
    run = cli(
        tmp_path / "site", "run", "--task", "parity", "--model", "indrnn,lstm", "--profile", "smoke", "--out", str(out)
    )
    assert run.returncode == 0, run.stderr
    board = (out / "smoke" / "parity.md").read_text()
    assert "| indrnn |" in board and "*coin-flip* (baseline)" in board
    assert "[parity](smoke/parity.md)" in (out / "README.md").read_text()
