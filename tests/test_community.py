"""The community plugin list: only pinned name==version lines, installed and checked."""

import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from rnnbench import community
from rnnbench.community import CommunityListError, Entry, InstallError

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "plugins" / "rnnbench-example"
VERSION = re.search(r'^version = "([^"]+)"', (EXAMPLE / "pyproject.toml").read_text(), re.M).group(1)


def test_the_committed_list_parses():
    assert community.main(["check", str(ROOT / community.LIST)]) == 0


def test_a_list_is_pins_comments_and_blank_lines():
    text = "# a comment\n\nrnnbench-example==0.1.0   # the in-repo example\n  Rnnbench_Other == 2.0.1rc1\n"
    assert community.parse(text) == [Entry("rnnbench-example", "0.1.0", 3), Entry("Rnnbench_Other", "2.0.1rc1", 4)]
    assert [e.requirement for e in community.parse(text)] == ["rnnbench-example==0.1.0", "Rnnbench_Other==2.0.1rc1"]


@pytest.mark.parametrize(
    "line, says",
    [
        ("--index-url http://evil.example/simple", "pip options are not allowed"),
        ("--extra-index-url=http://evil.example", "pip options are not allowed"),
        ("-e git+https://evil.example/x.git#egg=x", "pip options are not allowed"),
        ("-r other.txt", "pip options are not allowed"),
        ("https://evil.example/x-1.0-py3-none-any.whl", "a URL or path is not allowed"),
        ("rnnbench-x @ https://evil.example/x.tar.gz", "a URL or path is not allowed"),
        ("./plugins/rnnbench-example", "a URL or path is not allowed"),
        ("rnnbench-x", "expected name==version"),
        ("rnnbench-x>=1.0", "expected name==version"),
        ("rnnbench-x[extra]==1.0", "expected name==version"),
        ("rnnbench-x==1.0 --hash=sha256:00", "expected name==version"),
        ("rnnbench-x==1.0; python_version<'4'", "expected name==version"),
        ("rnnbench-x==1.0;python_version<'4'", "expected name==version"),
        ("rnnbench-x==1.0.post1+cu121", "not an exact public version"),
        ("rnnbench x==1.0", "expected name==version"),
        ("rnnbench-x===1.0", "not an exact public version"),
        ("rnnbench-x==1.*", "not an exact public version"),
        ("rnnbench-x==1.0+local", "not an exact public version"),
        ("rnnbench==0.3.0", "rnnbench itself"),
    ],
)
def test_anything_but_a_pin_is_refused_naming_its_line(tmp_path, capsys, line, says):
    listed = tmp_path / "list.txt"
    listed.write_text(f"# ok so far\nrnnbench-example==0.1.0\n{line}\n")
    with pytest.raises(CommunityListError, match=rf"list\.txt:3: .*{re.escape(says)}"):
        community.read(listed)
    assert community.main(["check", str(listed)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {listed}:3: ") and err.count("\n") == 1 and says in err


def test_a_distribution_listed_twice_is_refused():
    with pytest.raises(CommunityListError, match=r":2: rnnbench_example is listed already \(line 1\)"):
        community.parse("rnnbench-example==0.1.0\nrnnbench_example==0.2.0\n")


def test_an_installed_library_that_is_no_plugin_is_refused_before_pip_runs(tmp_path):
    ran = []
    (tmp_path / "list.txt").write_text("pytest==1.0\n")
    entries = community.read(tmp_path / "list.txt")
    with pytest.raises(CommunityListError, match="pytest is installed here and declares no rnnbench plugin"):
        community.install(entries, run=lambda argv: ran.append(argv))
    assert ran == []


def _fake_pip(code=0):
    calls = []

    def run(argv):
        calls.append(argv)
        return types.SimpleNamespace(returncode=code)

    return run, calls


def test_pip_gets_exactly_the_validated_pins_and_the_callers_options(tmp_path):
    entries = community.parse("rnnbench-example==0.1.0\nrnnbench-other==1.0\n")
    run, calls = _fake_pip()
    with pytest.raises(InstallError, match="rnnbench-example==0.1.0: not installed after pip ran"):
        community.install(entries, ["--no-index"], path=[str(tmp_path)], run=run)
    assert calls == [
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-index"]
        + ["rnnbench-example==0.1.0", "rnnbench-other==1.0"]
    ]
    run, calls = _fake_pip(code=1)
    with pytest.raises(InstallError, match=r"pip install failed \(exit 1\)"):
        community.install(entries, path=[str(tmp_path)], run=run)
    run, calls = _fake_pip()
    community.install([], run=run)
    assert calls == []  # an empty list installs nothing


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """The in-repo example distribution as a wheel in a local index, installed from it by
    its pin through ``community.install`` (offline: --no-index --find-links)."""
    tmp = tmp_path_factory.mktemp("community")
    source = tmp / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    wheels, site = tmp / "wheels", tmp / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    listed = tmp / "community-plugins.txt"
    listed.write_text(f"# a sample list\nrnnbench-example=={VERSION}\n")
    options = ["-q", "--no-index", "--find-links", str(wheels), "--no-deps", "--target", str(site)]
    community.install(community.read(listed), options, path=[str(site)])
    return site


def test_the_example_distribution_installs_from_its_pin_and_declares_a_plugin(example_site):
    (entry,) = community.parse(f"rnnbench-example=={VERSION}")
    community.check_installed([entry], path=[str(example_site)])
    plugins = community.installed([str(example_site)])
    assert [ep.name for ep in plugins["rnnbench-example"].entry_points if ep.group == "rnnbench"] == ["example"]


def test_a_pin_matches_the_installed_version_as_pep_440_compares_them(example_site):
    (entry,) = community.parse(f"rnnbench-example=={VERSION}.0")  # 0.1.0.0 is 0.1.0, as pip resolves it
    community.check_installed([entry], path=[str(example_site)])


def test_another_version_than_the_listed_one_is_an_error(example_site):
    run, _ = _fake_pip()  # pip "succeeds", but the example's own version is what is there
    with pytest.raises(
        InstallError, match=rf"rnnbench-example==99\.0: version {re.escape(VERSION)} is installed instead"
    ):
        community.install(community.parse("rnnbench-example==99.0"), path=[str(example_site)], run=run)


def test_a_listed_distribution_without_an_rnnbench_entry_point_is_an_error(tmp_path):
    info = tmp_path / "rnnbench_plain-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rnnbench-plain\nVersion: 1.0\n")
    run, _ = _fake_pip()
    with pytest.raises(CommunityListError, match="rnnbench-plain is installed here and declares no rnnbench plugin"):
        community.install(community.parse("rnnbench-plain==1.0"), path=[str(tmp_path)], run=run)
    with pytest.raises(InstallError, match="rnnbench-plain==1.0: declares no rnnbench plugin"):
        community.check_installed(community.parse("rnnbench-plain==1.0"), path=[str(tmp_path)])
