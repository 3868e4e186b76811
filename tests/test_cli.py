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
