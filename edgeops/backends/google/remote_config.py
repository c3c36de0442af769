"""Staged rollouts of Firebase models through Firebase Remote Config (REST API v1).

A firebase target with ``rollout: {candidate, percent}`` owns one Remote Config parameter,
``edgeops_model_<display_name>``, whose value is the Firebase ML model name an app downloads:

- default value: the target's own (stable) Firebase model, ``<display_name>``;
- conditional value for the condition ``edgeops_rollout_<display_name>``: the candidate model's
  Firebase model name. The condition is ``percent('<display_name>') <= <percent>``, so the app
  instance's pseudo-random percentile (seeded by the entry name, so other experiments don't
  correlate with it) decides, and an instance stays on its side while the percent only grows.

Removing the rollout leaves the parameter with its default (every app on the stable model) and
removes the condition. Writes use the template's ETag (``If-Match``): when someone else changed
the template in between (409/412), the template is read again and the change re-applied once;
a second conflict is an error that says so.

``EDGEOPS_REMOTE_CONFIG_ENDPOINT`` overrides the API's base URL (``http://127.0.0.1:PORT`` for a
local fake).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeops.addresses import model_address
from edgeops.config.model import Config, FirebaseTarget
from edgeops.errors import EdgeopsError

ENDPOINT_ENV = "EDGEOPS_REMOTE_CONFIG_ENDPOINT"
DEFAULT_ENDPOINT = "https://firebaseremoteconfig.googleapis.com"
CONFLICT = (409, 412)  # the ETag no longer matches: the template changed since it was read
TIMEOUT = 60


def endpoint() -> str:
    return (os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")


def parameter_name(display_name: str) -> str:
    """Remote Config keys are letters, digits and underscores."""
    return "edgeops_model_" + re.sub(r"[^A-Za-z0-9_]", "_", display_name)


def condition_name(display_name: str) -> str:
    return "edgeops_rollout_" + re.sub(r"[^A-Za-z0-9_]", "_", display_name)


def percent_expression(seed: str, percent: float) -> str:
    """The condition: app instances whose percentile (seeded by ``seed``) is at most ``percent``."""
    return f"percent('{seed}') <= {percent:g}"


@dataclass(frozen=True)
class Rollout:
    """What one firebase target asks of Remote Config. ``candidate`` None: no rollout (every
    app gets ``stable``)."""

    display_name: str
    stable: str  # the stable Firebase model name
    candidate: str | None = None  # the candidate's Firebase model name
    percent: float = 0.0

    @property
    def parameter(self) -> str:
        return parameter_name(self.display_name)

    @property
    def condition(self) -> str:
        return condition_name(self.display_name)


def apply_rollout(template: dict[str, Any], r: Rollout) -> dict[str, Any]:
    """The template with ``r``'s parameter and condition written; everything else unchanged."""
    out = {k: v for k, v in template.items() if k != "version"}  # version is output only
    conditions = [c for c in out.get("conditions", []) if c.get("name") != r.condition]
    parameters = dict(out.get("parameters", {}))
    parameter: dict[str, Any] = {
        "defaultValue": {"value": r.stable},
        "description": f"Firebase ML model for '{r.display_name}' (managed by edgeops)",
        "valueType": "STRING",
    }
    if r.candidate is not None:
        conditions.append(
            {
                "name": r.condition,
                "expression": percent_expression(r.display_name, r.percent),
                "tagColor": "BLUE",
            }
        )
        parameter["conditionalValues"] = {r.condition: {"value": r.candidate}}
    parameters[r.parameter] = parameter
    out["conditions"] = conditions
    out["parameters"] = parameters
    return out


class RemoteConfig:
    """The project's Remote Config template over a ``requests``-like session (an
    ``AuthorizedSession`` on the backend's credentials in production)."""

    def __init__(self, project: str, session: Any, base: str | None = None) -> None:
        self.project = project
        self.session = session
        self.url = f"{base or endpoint()}/v1/projects/{project}/remoteConfig"

    def read(self) -> tuple[dict[str, Any], str]:
        r = self.session.get(self.url, timeout=TIMEOUT)
        if r.status_code != 200:
            raise self._error("read", r)
        etag = r.headers.get("ETag") or r.headers.get("etag")
        if not etag:
            raise EdgeopsError(f"Remote Config ({self.project}): the template came without an ETag")
        return r.json(), etag

    def write_rollout(self, rollout: Rollout) -> dict[str, Any]:
        """Write ``rollout`` (read, change, PUT with If-Match; one retry on a conflict).
        Returns what was written, for the publish target's state."""
        for attempt in (1, 2):
            template, etag = self.read()
            body = apply_rollout(template, rollout)
            r = self.session.put(
                self.url,
                data=json.dumps(body),
                headers={"If-Match": etag, "Content-Type": "application/json; UTF-8"},
                timeout=TIMEOUT,
            )
            if r.status_code == 200:
                version = (r.json().get("version") or {}).get("versionNumber")
                written = {
                    "parameter": rollout.parameter,
                    "default": rollout.stable,
                    "template_version": version,
                }
                if rollout.candidate is not None:
                    written.update(
                        condition=rollout.condition,
                        expression=percent_expression(rollout.display_name, rollout.percent),
                        candidate_model=rollout.candidate,
                    )
                return written
            if r.status_code not in CONFLICT or attempt == 2:
                raise self._error("write", r, conflict=r.status_code in CONFLICT)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, what: str, r: Any, *, conflict: bool = False) -> EdgeopsError:
        if conflict:
            return EdgeopsError(
                f"Remote Config ({self.project}): the template changed twice while edgeops "
                f"was writing it (HTTP {r.status_code}: ETag mismatch): someone else is "
                "editing it (console or another deploy); run `edgeops apply` again when they "
                "are done"
            )
        try:
            message = r.json().get("error", {}).get("message", "")
        except ValueError:
            message = r.text[:200]
        return EdgeopsError(
            f"Remote Config ({self.project}): cannot {what} the template: HTTP "
            f"{r.status_code} {message}".rstrip()
        )


def session_for(credentials: Callable[[], Any]) -> Any:
    """An authorized session on the backend's credentials; a plain one for a local fake
    (``EDGEOPS_REMOTE_CONFIG_ENDPOINT=http://127.0.0.1:...``), which needs none."""
    import requests

    if os.environ.get(ENDPOINT_ENV, "").startswith("http://127.0.0.1"):
        return requests.Session()
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(credentials())


def firebase_name_of(config: Config, model: str) -> str:
    """The Firebase model name the candidate ``model`` is published as (its own firebase
    target; the config checks make sure it has one)."""
    for spec in config.publish:
        if spec.model == model:
            for kind, target in spec.targets:
                if kind == "firebase" and isinstance(target, FirebaseTarget):
                    return target.display_name
    raise EdgeopsError(f"{model_address(model)} has no firebase target to roll out; add one")
