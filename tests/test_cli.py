import json
import subprocess
import sys

import pytest

from rnnbench.cli import main


def test_list_and_help_never_import_torch():
    code = ("import sys; from rnnbench.cli import main; main(['list']); "
            "assert not {'torch', 'pytorch_lightning', 'datasets'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    code = "import sys; from rnnbench.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\nassert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_list_json_describes_tasks_models_plugins(capsys):
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tasks"]["lm-char"]["shape"] == "many-to-many"
    assert "many-to-one" in data["models"]["lstm"]["serves"]
    assert data["plugins"]["classic-rnn"]["models"] == ["elman", "lstm", "gru"]


@pytest.mark.parametrize("argv, expected", [
    (["run", "--task", "lm-chr"], "unknown task 'lm-chr'; did you mean 'lm-char'"),
    (["run", "--all", "--model", "lstn"], "unknown model 'lstn'; did you mean 'lstm'"),
    (["run", "--all", "--profile", "quik"], "unknown profile 'quik'; did you mean 'quick'"),
    (["run"], "say what to run"),
    (["info", "clasic-rnn"], "unknown plugin 'clasic-rnn'; did you mean 'classic-rnn'"),
    (["run", "--all", "-p", "no_such_plugin_module"], "--plugin no_such_plugin_module: no such module"),
    (["run", "--all", "--workers", "0"], "--workers must be at least 1"),
    (["run", "--all", "--workers", "-3"], "--workers must be at least 1"),
    (["run", "--all", "--timeout", "0"], "--timeout must be a positive number of seconds"),
    (["run", "--all", "--timeout", "-5"], "--timeout must be a positive number of seconds"),
    (["run", "--all", "--timeout", "nan"], "--timeout must be a positive number of seconds"),
])
def test_user_mistakes_get_one_line_and_exit_2(capsys, argv, expected, tmp_path):
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "run" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len([l for l in err if not l.startswith("warning:")]) == 1
    assert expected in err[-1] and err[-1].startswith("rnnbench: error:")


def test_leaderboard_without_results_says_what_to_do(capsys, tmp_path):
    assert main(["leaderboard", "--out", str(tmp_path)]) == 2
    assert "run `rnnbench run --all" in capsys.readouterr().err


def test_info_shows_a_plugin(capsys):
    assert main(["info", "classic-rnn"]) == 0
    out = capsys.readouterr().out
    assert "distribution: rnnbench" in out and "model lstm" in out


def test_a_plugin_whose_hook_raises_does_not_block_list(monkeypatch, tmp_path, capsys):
    """An installed plugin whose hook raises is BROKEN and skipped, with one warning line."""
    dist = tmp_path / "raising_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: raising-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rnnbench]\nraising = raising_plugin\n")
    (tmp_path / "raising_plugin.py").write_text(
        "from rnnbench import hookimpl\n\n@hookimpl\ndef rnnbench_models():\n    raise KeyError('weights')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["list"]) == 0
    captured = capsys.readouterr()
    assert "lstm" in captured.out and "BROKEN" in captured.out
    (warning,) = [line for line in captured.err.splitlines() if "raising" in line]
    assert warning.startswith("warning: plugin 'raising' (raising-plugin 1.0)")
    assert "rnnbench_models() raised KeyError" in warning and "-p no:raising" in warning
    assert main(["list", "-p", "no:raising"]) == 0
    assert "raising" not in capsys.readouterr().err
