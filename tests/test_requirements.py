"""Requirement: where a task's offline needs are found, and the one line that fixes them."""

import pytest

from rnnbench import Requirement
from rnnbench.data import DataUnavailable
from rnnbench.requirements import missing, require


def test_a_path_is_the_first_candidate_that_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    second = tmp_path / "b"
    second.mkdir()
    req = Requirement.path("recordings", str(tmp_path / "a"), "~/b", apt="some-package")
    assert req.locate() == str(second)
    (tmp_path / "a").mkdir()
    assert req.locate() == str(tmp_path / "a")


def test_binary_and_python_module_are_located_without_importing():
    assert Requirement.binary("sh", apt="dash").locate()
    assert Requirement.python("json", pip="-").locate()
    assert Requirement.python("rnnbench_no_such_module", pip="x").locate() is None


def test_missing_things_say_which_package_installs_them():
    tool = Requirement.binary("rnnbench-no-such-tool", apt="rnnbench-no-such-package")
    corpus = Requirement.path("the corpus", "/nonexistent/c.txt", apt="rnnbench-corpus")
    module = Requirement.python("rnnbench_no_such_module", pip="rnnbench-dist")
    assert missing([tool, corpus, module, Requirement.binary("sh", apt="dash")]) == [tool, corpus, module]
    assert tool.unavailable() == "rnnbench-no-such-tool is not installed: sudo apt-get install rnnbench-no-such-package"
    assert corpus.unavailable() == "the corpus (/nonexistent/c.txt) is missing: sudo apt-get install rnnbench-corpus"
    assert module.unavailable() == "Python module rnnbench_no_such_module is not installed: pip install rnnbench-dist"
    with pytest.raises(DataUnavailable, match="^rnnbench-no-such-tool is not installed"):
        require(tool)


def test_an_installed_package_that_lacks_the_file_is_reinstalled():
    # dpkg itself is installed on every Debian machine; telling the user to install it
    # again (what the speech plugin once did) would not help
    req = Requirement.path("a file dpkg does not ship", "/nonexistent/x", apt="dpkg")
    assert req.fix() == "sudo apt-get install --reinstall dpkg"


def test_a_path_requirement_needs_a_path():
    with pytest.raises(ValueError):
        Requirement.path("nothing", apt="x")
