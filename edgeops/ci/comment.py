"""`edgeops ci comment`: the plan as ONE pull-request comment, updated in place on every push.

The comment is found again by the hidden marker the markdown plan starts with. When planning
fails (an invalid config, a refused destruction), the comment says so, and the command exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeops import ui, workflow
from edgeops.ci.github import DEFAULT_API_URL, GitHub
from edgeops.errors import EXIT_OK, EdgeopsError
from edgeops.plan import protection
from edgeops.plan.definition import Plan
from edgeops.plan.render import GITHUB_COMMENT_LIMIT, MARKDOWN_MARKER, render_markdown

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class PullRequest:
    api_url: str
    repo: str  # OWNER/REPO
    number: int
    head_sha: str = ""
    run_url: str = ""
    # the uploaded evaluation reports (the plan workflow passes its upload step's artifact-url)
    reports_url: str = ""


def pull_request(repo: str | None, number: int | None, env: Mapping[str, str]) -> PullRequest:
    """The pull request to comment on, from the arguments or the GitHub Actions environment."""
    event = _event(env)
    repo = repo or env.get("GITHUB_REPOSITORY") or ""
    if not _REPO.match(repo):
        what = f"{repo!r} is not OWNER/REPO" if repo else "no repository given"
        raise EdgeopsError(f"ci comment: {what}; pass --repo OWNER/REPO or set GITHUB_REPOSITORY")
    pr = event.get("pull_request") or {}
    if number is None:
        issue = event.get("issue") or {}
        raw = pr.get("number") or (issue.get("number") if issue.get("pull_request") else None)
        if not isinstance(raw, int):
            raise EdgeopsError(
                "ci comment: no pull request number; pass --pr N, or run in a `pull_request` "
                "workflow (GITHUB_EVENT_PATH names the event)"
            )
        number = raw
    server, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
    return PullRequest(
        api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
        repo=repo,
        number=number,
        head_sha=str((pr.get("head") or {}).get("sha") or env.get("GITHUB_SHA") or ""),
        run_url=f"{server}/{repo}/actions/runs/{run}" if server and run else "",
        reports_url=env.get("EDGEOPS_REPORTS_URL") or "",
    )


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise EdgeopsError(f"GITHUB_EVENT_PATH {path}: cannot read the event ({e})") from None
    return data if isinstance(data, dict) else {}


def upsert_comment(client: GitHub, repo: str, number: int, body: str) -> tuple[str, dict[str, Any]]:
    """Update the comment carrying the marker, or create it: ("created"|"updated"|"unchanged")."""
    for comment in client.issue_comments(repo, number):
        if MARKDOWN_MARKER in (comment.get("body") or ""):
            if comment.get("body") == body:
                return "unchanged", comment
            return "updated", client.update_comment(repo, int(comment["id"]), body)
    return "created", client.create_comment(repo, number, body)


def _note(pr: PullRequest) -> str:
    parts = []
    if pr.head_sha:
        parts.append(f"for `{pr.head_sha[:7]}`")
    if pr.run_url:
        parts.append(f"[workflow run and evaluation reports]({pr.run_url})")
    if pr.reports_url:
        parts.append(
            f"[HTML evaluation reports]({pr.reports_url}) (each candidate trained in plan: "
            "against the served version, the images it fixes and breaks)"
        )
    return "Plan " + " · ".join(parts) if parts else ""


def failure_body(message: str, note: str) -> str:
    text = message if len(message) < 20_000 else message[:20_000] + "\n…"
    lines = [MARKDOWN_MARKER, "### edgeops plan", ""]
    if note:
        lines += [note, ""]
    lines += ["**edgeops plan failed**; nothing can be applied until this is fixed:", ""]
    lines += ["```", text.replace("```", "'''"), "```", ""]
    return "\n".join(lines)


def comment_command(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN")
    if not token:
        raise EdgeopsError(
            "ci comment: GITHUB_TOKEN is not set; in a workflow add "
            "`env: {GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}}` to the step"
        )
    pr = pull_request(args.repo, args.pr, env)
    client = GitHub(token, pr.api_url)
    note = _note(pr)
    plan: Plan | None = None
    failure: EdgeopsError | None = None
    try:
        if args.plan:
            plan = workflow.load_plan(Path(args.plan))
        else:
            config = workflow.config_file(args.file)
            session = workflow.open_session(config, ui.ConsoleReporter(quiet=True))
            plan = session.plan(allow_destroy=args.allow_destroy)
    except EdgeopsError as e:
        failure = e
    if plan is not None:
        body = render_markdown(plan, limit=GITHUB_COMMENT_LIMIT - 1, note=note)
    else:
        body = failure_body(str(failure), note)
    action, comment = upsert_comment(client, pr.repo, pr.number, body)
    where = comment.get("html_url") or f"{pr.repo}#{pr.number}"
    ui.print_out(f"{action.capitalize()} the plan comment: {where}\n")
    if failure is not None:
        raise failure
    assert plan is not None
    protection.check(plan)  # the comment shows the refusal; the job fails on it too
    return EXIT_OK


__all__ = ["PullRequest", "comment_command", "pull_request", "upsert_comment"]
