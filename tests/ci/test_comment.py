"""`edgeops ci comment` against a fake GitHub API on 127.0.0.1: one comment, created once and
updated in place on every push; pagination; the auth header; errors mapped to clear messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plan.test_apply_local import published  # noqa: F401 (the fixture)

from edgeops import cli
from edgeops.plan.definition import Action, Change, Plan
from edgeops.plan.render import GITHUB_COMMENT_LIMIT, MARKDOWN_MARKER
from edgeops.workflow import save_plan

from .fake_github import FakeGitHub


def _plan_file(tmp_path: Path, n_changes: int = 1, name: str = "plan.json") -> Path:
    changes = tuple(
        Change(address=f"dataset.d{i}", action=Action.UPDATE, reason=f"images changed (+{i})")
        for i in range(n_changes)
    )
    path = tmp_path / name
    save_plan(Plan(backend="local", config_path="edgeops.yaml", changes=changes), path)
    return path


def _comment(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["ci", "comment", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _calls(github: FakeGitHub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in github.requests]


LIST = ("GET", "/repos/acme/app/issues/7/comments")


def test_first_run_creates_then_every_push_updates_the_same_comment(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.add_comment("acme/app", 7, "LGTM, but please retrain")  # a human's comment
    code, out, _ = _comment(capsys, "--plan", str(_plan_file(tmp_path, 1)))
    assert code == 0 and out.startswith("Created the plan comment: https://github.test/acme/app")
    assert _calls(github) == [LIST, ("POST", "/repos/acme/app/issues/7/comments")]
    first = github.bodies()[1]
    assert first.startswith(MARKDOWN_MARKER)
    assert "Plan for `abc1234` · [workflow run and evaluation reports]" in first
    assert "https://github.test/acme/app/actions/runs/42" in first
    assert "**Plan: 0 to create, 1 to update" in first

    github.requests.clear()
    code, out, _ = _comment(capsys, "--plan", str(_plan_file(tmp_path, 3)))
    assert code == 0 and out.startswith("Updated the plan comment:")
    (comment_id,) = [c["id"] for c in github.comments[("acme/app", 7)] if c["body"] != first][1:]
    assert _calls(github) == [LIST, ("PATCH", f"/repos/acme/app/issues/comments/{comment_id}")]
    assert len(github.bodies()) == 2 and github.bodies()[0] == "LGTM, but please retrain"
    assert "**Plan: 0 to create, 3 to update" in github.bodies()[1]

    github.requests.clear()
    code, out, _ = _comment(capsys, "--plan", str(_plan_file(tmp_path, 3)))
    assert code == 0 and out.startswith("Unchanged the plan comment:")
    assert _calls(github) == [LIST]


def test_every_request_carries_the_token_and_the_api_version(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _comment(capsys, "--plan", str(_plan_file(tmp_path)))[0] == 0
    assert len(github.requests) == 2
    for r in github.requests:
        assert r.headers["authorization"] == f"Bearer {github.token}"
        assert r.headers["accept"] == "application/vnd.github+json"
        assert r.headers["x-github-api-version"] == "2022-11-28"
        assert r.headers["user-agent"].startswith("edgeops/")
    assert github.requests[1].body.keys() == {"body"}


def test_the_marker_is_found_on_a_later_page(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for i in range(230):
        github.add_comment("acme/app", 7, f"comment {i}")
    ours = github.add_comment("acme/app", 7, f"{MARKDOWN_MARKER}\nold plan")
    for i in range(20):
        github.add_comment("acme/app", 7, f"later {i}")
    assert _comment(capsys, "--plan", str(_plan_file(tmp_path)))[0] == 0
    gets = [r for r in github.requests if r.method == "GET"]
    assert [r.query.get("page", ["1"])[0] for r in gets] == ["1", "2", "3"]
    assert all(r.query["per_page"] == ["100"] for r in gets)
    assert _calls(github)[-1] == ("PATCH", f"/repos/acme/app/issues/comments/{ours}")
    assert len(github.bodies()) == 251


def test_without_a_marker_every_page_is_read_before_creating(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for i in range(150):
        github.add_comment("acme/app", 7, f"comment {i}")
    assert _comment(capsys, "--plan", str(_plan_file(tmp_path)))[0] == 0
    assert [m for m, _ in _calls(github)] == ["GET", "GET", "POST"]


def test_arguments_override_the_environment(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.repos.add("acme/other")
    plan = str(_plan_file(tmp_path))
    assert _comment(capsys, "--plan", plan, "--repo", "acme/other", "--pr", "12")[0] == 0
    assert _calls(github)[-1] == ("POST", "/repos/acme/other/issues/12/comments")


def test_a_huge_plan_fits_one_comment(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _comment(capsys, "--plan", str(_plan_file(tmp_path, 3000)))[0] == 0
    (body,) = github.bodies()
    assert len(body) < GITHUB_COMMENT_LIMIT and "were truncated" in body


# --- errors ------------------------------------------------------------------------------------


def _fails(
    capsys: pytest.CaptureFixture[str], github: FakeGitHub, *args: str
) -> tuple[str, FakeGitHub]:
    code, out, err = _comment(capsys, *args)
    assert code == 1, (out, err)
    assert github.token not in out + err
    assert "Traceback" not in err
    return " ".join(err.split()), github


@pytest.mark.parametrize(
    ("status", "headers", "payload", "message"),
    [
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4102444800"},
            {"message": "API rate limit exceeded for installation ID 1."},
            "the GitHub API rate limit is used up; it resets at 00:00:00 UTC",
        ),
        (
            429,
            {"retry-after": "60"},
            {"message": "You have exceeded a secondary rate limit."},
            "GitHub's secondary rate limit; retry after 60 s",
        ),
        (
            403,
            {},
            {"message": "Resource not accessible by integration"},
            "permissions: {pull-requests: write}",
        ),
        (500, {}, {"message": "boom"}, "GitHub refused GET /repos/acme/app/issues/7/comments"),
    ],
    ids=["rate-limit", "secondary-rate-limit", "forbidden", "server-error"],
)
def test_api_errors_are_clear(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    status: int,
    headers: dict[str, str],
    payload: dict[str, str],
    message: str,
) -> None:
    github.fail.append((status, headers, payload))
    err, _ = _fails(capsys, github, "--plan", str(_plan_file(tmp_path)))
    assert message in err
    assert github.bodies() == []


def test_a_bad_token_is_401_and_never_printed(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong-secret-value")
    err, _ = _fails(capsys, github, "--plan", str(_plan_file(tmp_path)))
    assert "(401: Bad credentials)" in err and "GITHUB_TOKEN is not valid" in err
    assert "ghs_wrong-secret-value" not in err


def test_an_unknown_repository_is_404(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    err, _ = _fails(capsys, github, "--plan", str(_plan_file(tmp_path)), "--repo", "acme/nope")
    assert "(404: Not Found)" in err and "check --repo/--pr" in err


def test_a_missing_token_is_named(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    err, _ = _fails(capsys, github, "--plan", str(_plan_file(tmp_path)))
    assert "GITHUB_TOKEN is not set" in err
    assert github.requests == []


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"GITHUB_REPOSITORY": ""}, (), "no repository given"),
        ({}, ("--repo", "not-a-repo"), "'not-a-repo' is not OWNER/REPO"),
        ({"GITHUB_EVENT_PATH": ""}, (), "no pull request number; pass --pr N"),
        ({"GITHUB_API_URL": "http://127.0.0.1:9"}, (), "cannot reach http://127.0.0.1:9"),
    ],
    ids=["no-repo", "bad-repo", "no-pr", "unreachable"],
)
def test_missing_context_is_named(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: tuple[str, ...],
    message: str,
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    err, _ = _fails(capsys, github, "--plan", str(_plan_file(tmp_path)), *args)
    assert message in err


def test_the_pr_number_of_an_issue_comment_event(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path(actions_env["GITHUB_EVENT_PATH"]).write_text(
        json.dumps({"issue": {"number": 9, "pull_request": {"url": "x"}}})
    )
    assert _comment(capsys, "--plan", str(_plan_file(tmp_path)))[0] == 0
    assert _calls(github)[-1] == ("POST", "/repos/acme/app/issues/9/comments")


def test_a_plan_that_fails_is_reported_in_the_comment(
    github: FakeGitHub,
    actions_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "edgeops.yaml"
    config.write_text("version: 1\nbackend: {local: {path: .edgeops}}\nmodels: {m: {dataset: x}}\n")
    err, _ = _fails(capsys, github, "-f", str(config))
    (body,) = github.bodies()
    assert body.startswith(MARKDOWN_MARKER) and "**edgeops plan failed**" in body
    assert "edgeops.yaml:3" in body and "edgeops.yaml:3" in err


def test_a_plan_refused_by_protection_is_commented_and_fails_the_job(
    github: FakeGitHub,
    actions_env: dict[str, str],
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (published / "edgeops.yaml").read_text()
    (published / "edgeops.yaml").write_text(
        text.replace("    bundle:\n      path: app/pets.tflite\n", "")
    )
    err, _ = _fails(capsys, github)
    (body,) = github.bodies()
    assert "> **Blocked by protection**: apply refuses this plan." in body
    assert "publish.pets.bundle: would be unpublished" in body
    assert "publish.pets.bundle: would be unpublished" in err
    assert _comment(capsys, "--allow-destroy")[0] == 0
    assert "**Destroys published models** (allowed by --allow-destroy)" in github.bodies()[0]
