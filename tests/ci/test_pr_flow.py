"""Done-when: a sample repository whose pull request has two commits (a data change, then a
threshold change) gets ONE plan comment from the plan workflow's own scripts run locally against
the fake GitHub: created by the first push, updated in place by the second.

The workflow's `plan --train` is turned off here (EDGEOPS_PLAN_TRAIN=false, which the workflow
honours): the sample's v1 is a recorded placeholder, not a model a candidate could be compared
with, and training is tested through the CLI in tests/publish (test_plan_train, test_label_noise).

Both comment bodies are saved next to the test (``tmp_path/comment-1.md``, ``comment-2.md``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from plan.test_apply_local import published  # noqa: F401 (the fixture: v1 published)

from .fake_github import FakeGitHub
from .test_workflows import load, steps

SKIP = {"Install edgeops"}  # edgeops is installed in this environment already


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@example.test",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@example.test",
    }
    proc = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return proc.stdout.decode().strip()


def run_plan_workflow(repo: Path, env: dict[str, str], tmp: Path) -> dict[str, str]:
    """Run the `run:` steps of plan.yml as a GitHub runner would (bash -eo pipefail, later steps
    skipped after a failure unless their `if:` keeps them); return the Plan step's outputs."""
    event = tmp / "event.json"
    sha = _git(repo, "rev-parse", "HEAD")
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": sha}}}))
    bindir = str(Path(sys.executable).parent)
    outputs: dict[str, str] = {}
    failed = False
    for step in steps(load("plan.yml")):
        if "run" not in step or step.get("name") in SKIP:
            continue
        if failed and "!cancelled()" not in str(step.get("if", "")):
            continue
        output_file = tmp / f"output-{step.get('id', 'step')}"
        output_file.write_text("")
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env={
                **os.environ,
                **env,
                "PATH": bindir + os.pathsep + os.environ["PATH"],
                "GITHUB_EVENT_PATH": str(event),
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_SHA": sha,
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        failed = failed or proc.returncode != 0
        if step.get("id") == "plan":
            outputs = dict(
                line.split("=", 1) for line in output_file.read_text().splitlines() if line
            )
            outputs["stdout"] = proc.stdout
    assert not failed
    return outputs


def test_two_pushes_make_one_readable_comment(
    published: Path,  # noqa: F811
    github: FakeGitHub,
    actions_env: dict[str, str],
    make_images,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    repo = published
    (repo / ".gitignore").write_text(".edgeops/\nplan.json\nreports/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "pets v1, published")
    _git(repo, "switch", "-q", "-c", "more-pets")

    # push 1: a data change (5 more cats, a new label with 12 birds)
    make_images(repo / "data", {"cat": 5, "bird": 12})
    _git(repo, "add", "data")
    _git(repo, "commit", "-q", "-m", "more cats, and birds")
    reports = "https://github.test/acme/app/actions/runs/42/artifacts/9"  # upload's artifact-url
    actions_env = {**actions_env, "EDGEOPS_PLAN_TRAIN": "false", "EDGEOPS_REPORTS_URL": reports}
    first = run_plan_workflow(repo, actions_env, tmp_path)
    assert first["exitcode"] == "2"
    assert [r.method for r in github.requests] == ["GET", "POST"]
    (body1,) = github.bodies()
    (tmp_path / "comment-1.md").write_text(body1)
    sha1 = _git(repo, "rev-parse", "--short=7", "HEAD")

    # push 2: the threshold goes up
    config = (repo / "edgeops.yaml").read_text()
    (repo / "edgeops.yaml").write_text(
        config.replace(
            "budget: {node_hours: 0.05}", "budget: {node_hours: 0.05}\n    threshold: {value: 0.7}"
        )
    )
    _git(repo, "commit", "-q", "-am", "stricter threshold")
    github.requests.clear()
    second = run_plan_workflow(repo, actions_env, tmp_path)
    assert second["exitcode"] == "2"
    (comment,) = github.comments[("acme/app", 7)]
    assert [(r.method, r.path) for r in github.requests] == [
        ("GET", "/repos/acme/app/issues/7/comments"),
        ("PATCH", f"/repos/acme/app/issues/comments/{comment['id']}"),
    ]
    body2 = comment["body"]
    (tmp_path / "comment-2.md").write_text(body2)
    sha2 = _git(repo, "rev-parse", "--short=7", "HEAD")

    # what a reviewer reads first: the head of each comment, before any collapsed details
    head1, head2 = body1.split("<details>")[0], body2.split("<details>")[0]
    assert f"Plan for `{sha1}`" in head1 and f"Plan for `{sha2}`" in head2
    for head in (head1, head2):
        assert "**Plan: 0 to create, 3 to update, 1 to train, 0 to remove.**" in head
        assert "dataset.pets changed (+17 images, 1 new label(s): bird)" in head
        assert "| `model.pets` new version | bundle, registry |" in head
        assert "decided at apply (trained by this apply); ⚠️ no gate set" in head
        assert "**Training budget:** 0.05 node hours for 1 model(s)" in head
        assert "label 'bird' has 12 images" in head  # the dataset warning
    assert "threshold value 0.5 -> value 0.7" not in head1
    assert "threshold value 0.5 -> value 0.7" in head2
    assert len(body2) < 10_000  # small plans make short comments
    for head in (head1, head2):
        assert f"[HTML evaluation reports]({reports})" in head
    assert (repo / "reports" / "models.json").exists()  # no candidates, so no candidate report
    assert not list((repo / "reports").glob("*-candidate-*.html"))
