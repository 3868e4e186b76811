import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnbench import registry
from rnnbench.registry import PluginError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tinydist(monkeypatch):
    """A third-party plugin with real dist-info metadata on sys.path: found by entry points."""
    monkeypatch.syspath_prepend(str(FIXTURES / "tinydist"))
    yield
    sys.modules.pop("tiny_rnnbench_plugin", None)


def test_builtin_plugins_load_through_entry_points():
    reg = registry.load()
    assert {"elman", "lstm", "gru"} <= set(reg.models)
    assert {"adding-50", "lm-char"} <= set(reg.tasks)
    info = reg.plugin_of("model", "lstm")
    assert info.distribution == "rnnbench" and info.hooks == ["rnnbench_models"]


def test_discovers_an_installed_distribution(tinydist):
    reg = registry.load()
    assert "tiny-elman" in reg.models
    info = reg.plugin_of("model", "tiny-elman")
    assert (info.name, info.distribution, info.version) == ("tiny", "tiny-rnnbench-plugin", "0.1")


def test_plugin_can_be_switched_off_by_name(tinydist):
    assert "tiny-elman" not in registry.load(["no:tiny"]).models
    assert "lstm" not in registry.load(["no:classic-rnn"]).models


def test_plugin_module_from_flag_and_environment(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES.parent))
    reg = registry.load(["fixtures.misbehaving"])
    assert "goes-nan" in reg.models
    assert reg.plugin_of("model", "goes-nan").name == "fixtures.misbehaving"
    monkeypatch.setenv("RNNBENCH_PLUGINS", "fixtures.misbehaving,no:adding")
    reg = registry.load()
    assert "hangs" in reg.models and "adding-50" not in reg.tasks


def test_an_installed_plugin_named_again_with_p_loads_once(tinydist):
    """-p with the module an installed distribution's entry point names (a checkout on
    PYTHONPATH beside its egg-info, say) is the same plugin, not a clash."""
    reg = registry.load(["tiny_rnnbench_plugin"])
    assert "tiny-elman" in reg.models and reg.plugin_of("model", "tiny-elman").name == "tiny"
    assert "tiny_rnnbench_plugin" not in reg.plugins


def test_missing_plugin_module_is_one_line():
    with pytest.raises(PluginError, match=r"--plugin no_such_module_xyz: no such module"):
        registry.load(["no_such_module_xyz"])


def test_misspelled_hook_is_an_error_naming_the_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES.parent))
    with pytest.raises(PluginError) as err:
        registry.load(["fixtures.bad_hook"])
    assert "fixtures.bad_hook" in str(err.value) and "rnnbench_modles" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("duplicate", r"model 'lstm' is already registered by plugin 'classic-rnn'"),
        ("not-a-slug", r"model name 'My Model' is not a slug"),
        ("wrong-type", r"returned str, not an rnnbench.Model instance"),
        ("bad-revision", r"model 'revised' revision '2' is not a whole number >= 0"),
        ("not-a-list", r"must return a list of Model"),
        ("no-metrics", r"rnnbench_tasks\(\) raised TypeError: Can't instantiate abstract class NoMetrics.*metrics"),
        ("raises", r"rnnbench_models\(\) raised RuntimeError: no weights here"),
    ],
)
def test_registration_refuses_bad_contributions(monkeypatch, mode, message):
    """A bad contribution marks its plugin BROKEN (with the reason) and skips all it
    contributes; the other plugins keep working."""
    monkeypatch.syspath_prepend(str(FIXTURES.parent))
    monkeypatch.setenv("BAD_CONTRIBUTION", mode)
    reg = registry.load(["fixtures.bad_contributions"])
    info = reg.plugins["fixtures.bad_contributions"]
    assert info.error is not None and re.search(message, info.error), info.error
    assert "\n" not in info.error
    # names the offending plugin and its distribution
    assert "plugin 'fixtures.bad_contributions'" in info.label
    assert "(not installed) -" in info.label or "rnnbench" in info.label
    assert info.models == [] and info.tasks == [] and "good-model" not in reg.models
    assert reg.plugin_of("model", "lstm").name == "classic-rnn" and "adding-50" in reg.tasks


def test_a_broken_plugin_does_not_take_the_others_down(monkeypatch, tmp_path):
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rnnbench]\nbroken = broken_plugin\n")
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = registry.load()
    assert "lstm" in reg.models
    assert "needs libfoo" in reg.plugins["broken"].error


def test_every_task_declares_the_contract():
    reg = registry.load()
    for task in reg.tasks.values():
        assert set(task.profiles) >= {"smoke", "quick", "full"}, task.name
        assert task.direction in ("min", "max") and task.primary_metric, task.name


@pytest.mark.parametrize(
    "mode, message",
    [
        ("trailing-newline", r"model name 'lstm\\n' is not a slug"),
        ("task-trailing-newline", r"task name 'adding-x\\n' is not a slug"),
        ("task-family", r"task 'fine-task' family '../../x' is not a slug"),
        ("task-profile", r"task 'fine-task' profile '../up' is not a slug"),
        ("task-requirements", r"task 'fine-task' requirements must be a tuple of rnnbench.Requirement"),
        ("task-published-profile", r"task 'fine-task' publishes a result under profile\(s\) it lacks: full-paper"),
        ("task-data-environment", r"task 'fine-task' data_environment must be a tuple of environment variable names"),
        ("task-options", r"task 'fine-task' profile 'smoke' options are list, not a dataclass instance or a mapping"),
    ],
)
def test_names_that_reach_paths_and_pages_must_be_whole_slugs(monkeypatch, mode, message):
    monkeypatch.syspath_prepend(str(FIXTURES.parent))
    monkeypatch.setenv("BAD_NAME", mode)
    reg = registry.load(["fixtures.bad_names"])
    info = reg.plugins["fixtures.bad_names"]
    assert info.error and re.search(message, info.error) and "\n" not in info.error
    assert "lstm\n" not in reg.models and "fine-task" not in reg.tasks and reg.models["lstm"].family == "classic"


def test_name_re_matches_whole_names_only():
    from rnnbench.api import NAME_RE

    assert NAME_RE.match("lstm") and NAME_RE.fullmatch("bi-gru")
    for bad in ("lstm\n", "lstm\nx", "-x", "", "a/b", "..", "Lstm"):
        assert not NAME_RE.match(bad), repr(bad)


def test_a_plugin_that_imports_torch_at_import_time_gets_a_warning_with_its_cost():
    # in a fresh interpreter: torch imported earlier in this one would hide the cost
    code = "from rnnbench.cli import main; main(['list', '-p', 'fixtures.heavy_import'])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES.parent), *sys.path])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    (warning,) = [line for line in proc.stderr.splitlines() if "heavy_import" in line]
    assert re.match(
        r"warning: plugin 'fixtures.heavy_import' \(.*\) imports torch at import time, \d+\.\d s added to every "
        r"rnnbench command; import it inside the functions that use it\Z",
        warning,
    ), warning
    assert "heavy-elman" in proc.stdout


def test_first_party_plugins_import_neither_torch_nor_lightning():
    code = "from rnnbench.registry import load; import sys; load(); print(sys.modules.keys() & {'torch', 'lightning'})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "set()"
    assert not [p.name for p in registry.load().plugins.values() if p.heavy_import]
