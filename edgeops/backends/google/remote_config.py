"""Staged rollouts through Firebase Remote Config (REST API v1), for ``firebase`` and ``gcs``
targets.

A target with ``rollout: {candidate, percent}`` owns one Remote Config parameter whose value says
which model an app downloads:

- ``firebase``: ``edgeops_model_<display_name>``, a STRING: the Firebase ML model name. Default:
  the target's own (stable) model; for the condition ``edgeops_rollout_<display_name>``: the
  candidate model's Firebase model name.
- ``gcs`` (Firebase ML's successor: models hosted in Cloud Storage for Firebase, chosen with
  Remote Config, https://firebase.google.com/docs/ml/migrate-to-cloud-storage):
  ``edgeops_gcs_<model>``, a JSON value ``{"path", "sha256", "model", "version"}``: the object
  the app downloads and the SHA-256 it must have. Default: the target's own file; for the
  condition ``edgeops_gcs_rollout_<model>``: the candidate model's own gcs file.

The condition is ``percent('<seed>') <= <percent>`` (the Remote Config condition-expression
reference, https://firebase.google.com/docs/remote-config/condition-reference: ``percent`` with
an optional seed, compared with ``<=``, ``>`` or ``between``). The seed is the entry's name (the
Firebase display name, or the model's name for gcs), so other experiments don't correlate with
it, an app instance stays on its side while the percent only grows, and a firebase and a gcs
target of the same name split app instances the same way (a migration keeps each app's side).

Removing the rollout leaves the parameter with its default (every app on the stable model) and
removes the condition; unpublishing the target removes both. Writes use the template's ETag
(``If-Match``): when someone else changed the template in between (409/412), the template is
read again and the change re-applied once; a second conflict is an error that says so. Requests
go through an ``AuthorizedSession`` on the backend's credentials, also against a local fake.

``EDGEOPS_REMOTE_CONFIG_ENDPOINT`` overrides the API's base URL (``http://127.0.0.1:PORT`` for a
local fake).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from edgeops.addresses import model_address
from edgeops.config.model import Config, FirebaseTarget, GcsTarget, RolloutSpec
from edgeops.errors import EdgeopsError
from edgeops.state import LiveVersion

if TYPE_CHECKING:
    from edgeops.plan.definition import Change

ENDPOINT_ENV = "EDGEOPS_REMOTE_CONFIG_ENDPOINT"
DEFAULT_ENDPOINT = "https://firebaseremoteconfig.googleapis.com"
CONFLICT = (409, 412)  # the ETag no longer matches: the template changed since it was read
TIMEOUT = 60


def endpoint() -> str:
    return (os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")


def _key(name: str) -> str:
    """Remote Config keys are letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def parameter_name(display_name: str, kind: str = "firebase") -> str:
    return PARAMETER_PREFIX[kind] + _key(display_name)


def condition_name(display_name: str, kind: str = "firebase") -> str:
    return CONDITION_PREFIX[kind] + _key(display_name)


PARAMETER_PREFIX = {"firebase": "edgeops_model_", "gcs": "edgeops_gcs_"}
CONDITION_PREFIX = {"firebase": "edgeops_rollout_", "gcs": "edgeops_gcs_rollout_"}


def percent_expression(seed: str, percent: float) -> str:
    """The condition: app instances whose percentile (seeded by ``seed``) is at most ``percent``."""
    return f"percent('{seed}') <= {percent:g}"


@dataclass(frozen=True)
class Rollout:
    """What one target asks of Remote Config. ``candidate`` None: no rollout (every app gets
    ``stable``). ``kind`` ``firebase``: the values are Firebase model names; ``gcs``: JSON
    values naming a Cloud Storage file and its sha256 (``file_value``)."""

    display_name: str  # names the parameter and condition, and seeds the percent
    stable: str  # the parameter's default value
    candidate: str | None = None  # its value under the rollout condition
    percent: float = 0.0
    kind: str = "firebase"

    @property
    def parameter(self) -> str:
        return parameter_name(self.display_name, self.kind)

    @property
    def condition(self) -> str:
        return condition_name(self.display_name, self.kind)

    @property
    def description(self) -> str:
        if self.kind == "gcs":
            return (
                f"Cloud Storage model file for '{self.display_name}' as JSON "
                "{path, sha256, model, version} (managed by edgeops)"
            )
        return f"Firebase ML model for '{self.display_name}' (managed by edgeops)"


def file_value(path: str, sha256: str, model: str, version: int) -> str:
    """A gcs parameter value: the object an app downloads and the SHA-256 it must check."""
    value = {"path": path, "sha256": sha256, "model": model, "version": version}
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def apply_rollout(template: dict[str, Any], r: Rollout) -> dict[str, Any]:
    """The template with ``r``'s parameter and condition written; everything else unchanged."""
    out = without_rollout(template, r)
    parameter: dict[str, Any] = {
        "defaultValue": {"value": r.stable},
        "description": r.description,
        "valueType": "JSON" if r.kind == "gcs" else "STRING",
    }
    if r.candidate is not None:
        out["conditions"].append(
            {
                "name": r.condition,
                "expression": percent_expression(r.display_name, r.percent),
                "tagColor": "BLUE",
            }
        )
        parameter["conditionalValues"] = {r.condition: {"value": r.candidate}}
    out["parameters"][r.parameter] = parameter
    return out


def without_rollout(template: dict[str, Any], r: Rollout) -> dict[str, Any]:
    """The template without ``r``'s parameter and condition; everything else unchanged."""
    out = {k: v for k, v in template.items() if k != "version"}  # version is output only
    out["conditions"] = [c for c in out.get("conditions", []) if c.get("name") != r.condition]
    out["parameters"] = {k: v for k, v in out.get("parameters", {}).items() if k != r.parameter}
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
        version = self._edit(lambda template: apply_rollout(template, rollout))
        written = {
            "parameter": rollout.parameter,
            "default": rollout.stable,
            "template_version": version,
        }
        if rollout.candidate is not None:
            written.update(
                condition=rollout.condition,
                expression=percent_expression(rollout.display_name, rollout.percent),
            )
            if rollout.kind == "gcs":
                written["candidate_file"] = rollout.candidate
            else:
                written["candidate_model"] = rollout.candidate
        return written

    def remove_rollout(self, rollout: Rollout) -> None:
        """Remove ``rollout``'s parameter and condition (the target is unpublished)."""
        self._edit(lambda template: without_rollout(template, rollout))

    def _edit(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
        """Read the template, ``change`` it, PUT it with If-Match (one retry on a conflict);
        returns the new template version."""
        for attempt in (1, 2):
            template, etag = self.read()
            r = self.session.put(
                self.url,
                data=json.dumps(change(template)),
                headers={"If-Match": etag, "Content-Type": "application/json; UTF-8"},
                timeout=TIMEOUT,
            )
            if r.status_code == 200:
                return (r.json().get("version") or {}).get("versionNumber")
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
    """An authorized session on the backend's credentials (a local fake checks the token too)."""
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(credentials())


def firebase_rollout(config: Config, t: FirebaseTarget) -> Rollout:
    """What a firebase target asks: its own model for every app, and with a rollout the
    candidate's Firebase model for ``percent`` of them."""
    want = Rollout(display_name=t.display_name, stable=t.display_name)
    if t.rollout is None:
        return want
    candidate = firebase_name_of(config, t.rollout.candidate)
    return replace(want, candidate=candidate, percent=t.rollout.percent)


def gcs_rollout(
    config: Config,
    model: str,
    t: GcsTarget,
    stable: tuple[int, str],
    candidate: LiveVersion | None,
) -> Rollout:
    """What a gcs target of ``model`` asks: its own file (``stable``: version, sha256) for every
    app, and with a rollout the candidate model's own gcs file for ``percent`` of them."""
    version, sha256 = stable
    want = Rollout(model, file_value(t.path, sha256, model, version), kind="gcs")
    if t.rollout is None:
        return want
    assert candidate is not None, "the applier passes the candidate version"
    path = gcs_path_of(config, t.rollout.candidate)
    value = file_value(path, candidate.files["model.tflite"], candidate.model, candidate.version)
    return replace(want, candidate=value, percent=t.rollout.percent)


def plan_note(config: Config, model: str, kind: str, change: Change) -> str | None:
    """What a publish change of a firebase or gcs target does to Remote Config, for the plan
    (reviewers see the parameter apps read beside the target it serves); None: nothing."""
    after, before = (change.after or {}).get("rollout"), (change.before or {}).get("rollout")
    if after is None and before is None:
        return None
    target = _target_of(config, model, kind)
    assert isinstance(target, FirebaseTarget | GcsTarget)
    own = target.display_name if isinstance(target, FirebaseTarget) else target.path
    name = own if kind == "firebase" else model
    what = "Firebase model" if kind == "firebase" else "file (JSON: path, sha256)"
    parameter = parameter_name(name, kind)
    if after is None:
        return (
            f"{change.address}: Remote Config parameter {parameter} names the {what} {own} "
            f"for every app instance (condition {condition_name(name, kind)} removed)"
        )
    candidate = (
        firebase_name_of(config, after["candidate"])
        if kind == "firebase"
        else gcs_path_of(config, after["candidate"])
    )
    return (
        f"{change.address}: Remote Config parameter {parameter} names the {what} {candidate} "
        f"for app instances where {percent_expression(name, after['percent'])} (condition "
        f"{condition_name(name, kind)}), {own} for the others"
    )


def recorded_rollout(kind: str, model: str, spec: dict[str, Any]) -> Rollout:
    """The parameter and condition a recorded target owns (to remove them)."""
    name = spec.get("display_name", model) if kind == "firebase" else model
    return Rollout(display_name=name, stable="", kind=kind)


def rollout_state(
    written: dict[str, Any], rollout: RolloutSpec | None, candidate: LiveVersion | None
) -> dict[str, Any] | None:
    """A target's ``rollout`` state: what was written, and the candidate version it serves."""
    if rollout is None or candidate is None:
        return None
    return {
        **written,
        "candidate": candidate.model,
        "version": candidate.version,
        "percent": rollout.percent,
        "eval_fingerprint": candidate.eval_fingerprint,
    }


def firebase_name_of(config: Config, model: str) -> str:
    """The Firebase model name the candidate ``model`` is published as (its own firebase
    target; the config checks make sure it has one)."""
    target = _target_of(config, model, "firebase")
    assert isinstance(target, FirebaseTarget)
    return target.display_name


def gcs_path_of(config: Config, model: str) -> str:
    """The Cloud Storage file the candidate ``model`` is published as (its own gcs target; the
    config checks make sure it has one)."""
    target = _target_of(config, model, "gcs")
    assert isinstance(target, GcsTarget)
    return target.path


def _target_of(config: Config, model: str, kind: str) -> object:
    for spec in config.publish:
        if spec.model == model:
            for k, target in spec.targets:
                if k == kind:
                    return target
    raise EdgeopsError(f"{model_address(model)} has no {kind} target to roll out; add one")
