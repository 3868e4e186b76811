"""The GPU leaderboard workflow cannot run here: check that it parses and that every
command it calls exists with the options it passes."""

import re
import shlex
from pathlib import Path

import yaml

from rnnbench.cli import build_parser

ROOT = Path(__file__).parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "leaderboards.yml").read_text())


def run_lines():
    return [step["run"] for job in WORKFLOW["jobs"].values() for step in job["steps"] if "run" in step]


def test_workflow_parses_and_is_manual():
    assert "workflow_dispatch" in WORKFLOW[True]  # YAML reads the key `on` as True
    steps = WORKFLOW["jobs"]["regenerate"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/upload-artifact") for u in uses)
    assert any(u.startswith("peter-evans/create-pull-request") for u in uses)


def test_every_rnnbench_command_in_it_parses():
    parser = build_parser()
    calls = [line for line in run_lines() if "rnnbench " in line]
    assert len(calls) == 4
    for line in calls:
        argv = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "full", line))
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown option


def test_a_change_of_committed_results_gets_the_comparison_posted():
    assert "pull_request" in WORKFLOW[True]
    steps = WORKFLOW["jobs"]["compare"]["steps"]
    runs = [s.get("run", "") for s in steps]
    compare = next(i for i, r in enumerate(runs) if "rnnbench compare" in r)
    post = next(i for i, r in enumerate(runs) if r.startswith("gh pr comment"))
    assert compare < post and "--body-file" in runs[post]
    regenerate = WORKFLOW["jobs"]["regenerate"]["steps"]
    assert any("body-path" in s.get("with", {}) for s in regenerate)


def test_make_targets_it_calls_exist():
    makefile = (ROOT / "Makefile").read_text()
    for line in run_lines():
        if line.startswith("make "):
            target = line.split()[1]
            assert re.search(rf"^{target}:", makefile, re.M), target


def test_the_regeneration_installs_the_community_plugins_before_it_runs():
    runs = [s.get("run", "") for s in WORKFLOW["jobs"]["regenerate"]["steps"]]
    community = runs.index("make community")
    run = next(i for i, r in enumerate(runs) if "rnnbench run --all" in r)
    assert runs.index("make setup TORCH='torch>=2.4'") < community < run
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^community:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert target and "-m rnnbench.community install community-plugins.txt" in target.group(1)
    # `make run` installs nothing from third parties
    assert "community" not in re.search(r"^run:.*$", makefile, re.M).group(0)


def test_a_pull_request_gets_the_community_list_checked():
    assert "community-plugins.txt" in WORKFLOW[True]["pull_request"]["paths"]
    runs = [s.get("run", "") for s in WORKFLOW["jobs"]["compare"]["steps"]]
    assert ".venv/bin/python -m rnnbench.community check community-plugins.txt" in runs


def test_the_comparison_against_a_base_without_results_says_so_and_does_not_fail(tmp_path, monkeypatch):
    """A base branch (or a first regeneration) with no leaderboards/results yet: each
    compare step, run as the workflow runs it, exits 0 and writes a comment that says
    there is nothing to compare against."""
    import numpy as np

    from rnnbench import store
    from rnnbench.cli import main
    from rnnbench.outcomes import Outcomes

    repo = tmp_path / "repo"
    value = {"schema": 2, "task": "digits", "model": "lstm", "seed": 0, "profile": "full", "status": "ok"}
    value |= {"primary": {"name": "accuracy", "value": 0.5, "direction": "max"}, "metrics": {"accuracy": 0.5}}
    value |= {"provenance": {"data_fingerprint": "d"}, "outcomes": None}
    out = repo / "leaderboards"
    store.write_record(out, store.write_outcomes(out, value, Outcomes("mean", {"value": np.array([1.0, 0.0])})))
    (tmp_path / "base" / "leaderboards").mkdir(parents=True)  # checked out, but no results/
    (tmp_path / "before").mkdir()  # `cp -r leaderboards/results` found nothing to keep
    monkeypatch.chdir(repo)
    calls = [line for line in run_lines() if "rnnbench compare" in line]
    assert len(calls) == 2
    for line in calls:
        line = line.replace("${{ runner.temp }}", str(tmp_path)).replace("${{ inputs.profile }}", "full")
        argv = shlex.split(line)
        (tmp_path / "compare.md").unlink(missing_ok=True)
        assert main(argv[1:]) == 0, line
        md = (tmp_path / "compare.md").read_text()
        assert "Nothing to compare against" in md and "full/digits: lstm" in md
