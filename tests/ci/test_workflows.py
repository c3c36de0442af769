"""The GitHub Actions templates in examples/ci/github: triggers, permissions, the concurrency
group, and every edgeops command in them parses with edgeops' own command line."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeops.cli import build_parser

WORKFLOWS = Path(__file__).resolve().parents[2] / "examples" / "ci" / "github"
HOSTED = WORKFLOWS.parent / "github-hosted"  # state in a bucket, GitHub-hosted runners
TEMPLATES = [f"{folder}/{name}" for folder in ("github", "github-hosted") for name in
             ("plan.yml", "apply.yml")]  # fmt: skip


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (WORKFLOWS.parent / name).read_text() if "/" in name else (WORKFLOWS / name).read_text()
    )
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def edgeops_commands(workflow: dict[str, Any]) -> list[list[str]]:
    """Every `edgeops ...` command line in the run scripts, cut at redirections and pipes."""
    out = []
    for step in steps(workflow):
        for line in step.get("run", "").splitlines():
            line = line.split(" #")[0].strip()
            if "edgeops " not in line or line.startswith("#"):
                continue
            words = shlex.split(line[line.index("edgeops ") :])
            for i, w in enumerate(words):
                if w in ("|", "||", "&&", ">", ")"):
                    words = words[:i]
                    break
            out.append(words)
    return out


def test_plan_runs_on_pull_requests_with_write_access_to_comments() -> None:
    wf = load("plan.yml")
    assert list(wf["on"]) == ["pull_request"]
    assert wf["permissions"]["pull-requests"] == "write"
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in wf["concurrency"]["group"]


def test_plan_validates_plans_comments_and_uploads_reports_in_order() -> None:
    wf = load("plan.yml")
    commands = [" ".join(c[:2]) for c in edgeops_commands(wf)]
    for expected in ("edgeops validate", "edgeops plan", "edgeops ci", "edgeops eval"):
        assert expected in commands, commands
    order = [commands.index(c) for c in ("edgeops validate", "edgeops plan", "edgeops ci")]
    assert order == sorted(order)
    plan = next(c for c in edgeops_commands(wf) if c[1] == "plan")
    assert {"--out", "plan.json", "--detailed-exitcode"} <= set(plan)
    assert any(c[1:4] == ["ci", "comment", "--plan"] for c in edgeops_commands(wf))
    assert any("--html" in c for c in edgeops_commands(wf))

    comment = next(s for s in steps(wf) if "edgeops ci comment" in s.get("run", ""))
    assert comment["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "!cancelled()" in comment["if"]  # runs when plan failed, to say why
    upload = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "reports/" and "!cancelled()" in upload["if"]


def test_apply_runs_on_push_to_main_one_at_a_time() -> None:
    wf = load("apply.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["concurrency"] == {"group": "edgeops-apply", "cancel-in-progress": False}
    assert edgeops_commands(wf) == [["edgeops", "apply", "--auto-approve"]]
    assert "pull-requests" not in wf["permissions"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_edgeops_command_parses(name: str) -> None:
    commands = edgeops_commands(load(name))
    assert commands
    for words in commands:
        build_parser().parse_args(words[1:])  # argparse exits (fails the test) on a bad flag


@pytest.mark.parametrize("name", TEMPLATES)
def test_run_scripts_are_valid_bash(name: str) -> None:
    for step in steps(load(name)):
        if "run" in step:
            subprocess.run(["bash", "-n", "-c", step["run"]], check=True)


def test_hosted_templates_run_anywhere_with_oidc_and_a_machine_cache() -> None:
    plan, apply = load("github-hosted/plan.yml"), load("github-hosted/apply.yml")
    for wf in (plan, apply):
        (job,) = wf["jobs"].values()
        assert job["runs-on"] == "ubuntu-latest"
        assert wf["permissions"]["id-token"] == "write"
        uses = [s.get("uses", "") for s in steps(wf)]
        assert any(u.startswith("aws-actions/configure-aws-credentials") for u in uses)
    assert apply["concurrency"] == {"group": "edgeops-apply", "cancel-in-progress": False}
    cache = next(s for s in steps(apply) if s.get("uses", "").startswith("actions/cache"))
    (job,) = apply["jobs"].values()
    assert cache["with"]["path"] == job["env"]["EDGEOPS_CACHE_DIR"]
    assert edgeops_commands(apply)[-1] == ["edgeops", "apply", "--auto-approve"]
    assert ["edgeops", "plan", "--out", "plan.json", "--detailed-exitcode"] in edgeops_commands(
        plan
    )
