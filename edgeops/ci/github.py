"""A small GitHub REST API client over urllib: the issue-comment calls `ci comment` needs.

Every request sends ``Authorization: Bearer <token>``; the token never appears in a message.
Errors become :class:`GitHubError` (a user error) saying what went wrong and what to check.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any

from edgeops import __version__
from edgeops.errors import EdgeopsError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(EdgeopsError):
    """GitHub refused a request or could not be reached."""


class GitHub:
    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, *, timeout: float = 30) -> None:
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._origin = urllib.parse.urlsplit(self.api_url)[:2]

    def __repr__(self) -> str:  # no token in tracebacks or logs
        return f"GitHub({self.api_url!r})"

    # --- issue comments (a pull request is an issue) ---------------------------------------

    def issue_comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        """Every comment of issue/PR ``number``, oldest first, following the `Link` pages."""
        yield from self._pages(f"/repos/{repo}/issues/{number}/comments?per_page={PER_PAGE}")

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        data, _ = self._request("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
        return dict(data)

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        data, _ = self._request(
            "PATCH", f"/repos/{repo}/issues/comments/{comment_id}", {"body": body}
        )
        return dict(data)

    # --- plumbing --------------------------------------------------------------------------

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        while url:
            data, headers = self._request("GET", url)
            if not isinstance(data, list):
                raise GitHubError(
                    f"GitHub: GET {_path(url)} returned {type(data).__name__}, not a list"
                )
            yield from data
            match = _NEXT.search(headers.get("Link") or "")
            url = match.group(1) if match else None

    def _request(self, method: str, url: str, body: Any = None) -> tuple[Any, Message]:
        if not url.startswith(("http://", "https://")):
            url = self.api_url + url
        if urllib.parse.urlsplit(url)[:2] != self._origin:  # never send the token elsewhere
            raise GitHubError(f"GitHub: refusing to follow {_path(url)} off {self.api_url}")
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self._token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"edgeops/{__version__}",
                **({"Content-Type": "application/json"} if body is not None else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                headers = response.headers
        except urllib.error.HTTPError as e:
            raise _error(method, url, e.code, e.headers, e.read()) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise GitHubError(
                f"GitHub: cannot reach {self.api_url} ({reason}); check GITHUB_API_URL"
            ) from None
        try:
            return (json.loads(raw) if raw else None), headers
        except ValueError:
            raise GitHubError(
                f"GitHub: {method} {_path(url)} returned something not JSON"
            ) from None


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _error(method: str, url: str, status: int, headers: Message, raw: bytes) -> GitHubError:
    try:
        message = str(json.loads(raw).get("message", "")) if raw else ""
    except (ValueError, AttributeError):
        message = raw[:200].decode("utf-8", "replace")
    what = f"GitHub refused {method} {_path(url)} ({status}{': ' + message if message else ''})"
    if status == 401:
        return GitHubError(
            f"{what}: GITHUB_TOKEN is not valid for {urllib.parse.urlsplit(url).netloc}; in a "
            "workflow pass `GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` in `env:`"
        )
    if status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset")
        when = ""
        if reset and reset.isdigit():
            wait = max(0, int(reset) - int(time.time()))
            when = f"; it resets at {time.strftime('%H:%M:%S UTC', time.gmtime(int(reset)))}"
            when += f" (in {wait // 60 + 1} min)"
        return GitHubError(f"{what}: the GitHub API rate limit is used up{when}; re-run then")
    if status in (403, 429) and (headers.get("retry-after") or "rate limit" in message.lower()):
        after = headers.get("retry-after")
        return GitHubError(
            f"{what}: GitHub's secondary rate limit; retry "
            + (f"after {after} s" if after else "in a minute or more")
        )
    if status == 403:
        return GitHubError(
            f"{what}: the token may not write comments; give the workflow "
            "`permissions: {pull-requests: write}` (pull requests from forks get a read-only token)"
        )
    if status == 404:
        return GitHubError(
            f"{what}: no such repository or pull request, or the token cannot see it; "
            "check --repo/--pr (default: GITHUB_REPOSITORY and the event in GITHUB_EVENT_PATH)"
        )
    return GitHubError(what)


__all__ = ["DEFAULT_API_URL", "GitHub", "GitHubError"]
