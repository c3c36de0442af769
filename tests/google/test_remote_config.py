"""Staged rollouts on the google backend: the Remote Config client against a fake Remote Config
REST API on 127.0.0.1 (ETag concurrency, the parameter and percent condition it writes), and
the firebase publish hook that drives it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fakes.remote_config import FakeRemoteConfig
from fakes.vertex import FakeGoogle

from edgeops.backends.google import remote_config as rc
from edgeops.backends.google.backend import GoogleBackend
from edgeops.config.loader import load_config
from edgeops.errors import EdgeopsError
from edgeops.state import LiveVersion

PROJECT = "my-project"
ROLLOUT = rc.Rollout(display_name="flowers", stable="flowers", candidate="flowers-next",
                     percent=12.5)  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeRemoteConfig]:
    with FakeRemoteConfig() as f:
        yield f


def client(fake: FakeRemoteConfig) -> rc.RemoteConfig:
    """A client whose session carries the token the fake accepts (the backend's is an
    AuthorizedSession: see the firebase hook test below)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fake.token}"
    return rc.RemoteConfig(PROJECT, session, fake.url)


def test_writes_the_parameter_and_a_seeded_percent_condition(fake: FakeRemoteConfig) -> None:
    written = client(fake).write_rollout(ROLLOUT)
    template = fake.templates[PROJECT]
    assert template["conditions"] == [
        {
            "name": "edgeops_rollout_flowers",
            "expression": "percent('flowers') <= 12.5",
            "tagColor": "BLUE",
        }
    ]
    assert template["parameters"]["edgeops_model_flowers"] == {
        "defaultValue": {"value": "flowers"},
        "conditionalValues": {"edgeops_rollout_flowers": {"value": "flowers-next"}},
        "description": "Firebase ML model for 'flowers' (managed by edgeops)",
        "valueType": "STRING",
    }
    assert written["expression"] == "percent('flowers') <= 12.5"
    assert written["template_version"] == "2"
    assert fake.puts == [(PROJECT, f"etag-{PROJECT}-1")]


def test_promotion_and_rollback_rewrite_only_edgeops_entries(fake: FakeRemoteConfig) -> None:
    fake.someone_else_edits(PROJECT)  # a parameter edgeops does not own
    c = client(fake)
    c.write_rollout(ROLLOUT)
    c.write_rollout(rc.Rollout("flowers", "flowers", "flowers-next", 100))
    (condition,) = fake.templates[PROJECT]["conditions"]
    assert condition["expression"] == "percent('flowers') <= 100"
    c.write_rollout(rc.Rollout("flowers", "flowers"))  # rollback: everyone on the stable model
    template = fake.templates[PROJECT]
    assert template["conditions"] == []
    assert template["parameters"]["edgeops_model_flowers"]["defaultValue"] == {"value": "flowers"}
    assert "conditionalValues" not in template["parameters"]["edgeops_model_flowers"]
    assert template["parameters"]["console_flag"] == {"defaultValue": {"value": "on"}}


def test_an_etag_conflict_rereads_and_retries_once(fake: FakeRemoteConfig) -> None:
    fake.interfere = 1  # someone edits the template between edgeops' read and write
    client(fake).write_rollout(ROLLOUT)
    assert [etag for _, etag in fake.puts] == [f"etag-{PROJECT}-1", f"etag-{PROJECT}-2"]
    template = fake.templates[PROJECT]
    assert "console_flag" in template["parameters"]  # their change survived the retry
    assert "edgeops_model_flowers" in template["parameters"]


def test_a_second_conflict_is_a_clear_error(fake: FakeRemoteConfig) -> None:
    fake.interfere = 2
    with pytest.raises(EdgeopsError, match="the template changed twice while edgeops was "
                                           "writing it \\(HTTP 412"):  # fmt: skip
        client(fake).write_rollout(ROLLOUT)
    assert len(fake.puts) == 2
    assert "edgeops_model_flowers" not in fake.templates[PROJECT]["parameters"]


def test_other_errors_name_the_status_and_message(fake: FakeRemoteConfig) -> None:
    bad = rc.RemoteConfig(PROJECT, requests.Session(), fake.url + "/nowhere")
    with pytest.raises(EdgeopsError, match="cannot read the template: HTTP 404"):
        bad.write_rollout(ROLLOUT)


def test_parameter_names_are_remote_config_keys() -> None:
    assert rc.parameter_name("my-model_2") == "edgeops_model_my_model_2"
    assert rc.condition_name("my-model_2") == "edgeops_rollout_my_model_2"


# --- the firebase publish hook -----------------------------------------------------------------

CONFIG = """
version: 1
backend:
  google: {project: my-project, bucket: my-bucket}
datasets:
  flowers:
    source: {csv: data/flowers.csv}
models:
  flowers:
    dataset: flowers
    budget: {node_hours: 1}
  flowers2:
    dataset: flowers
    budget: {node_hours: 1}
publish:
  flowers:
    firebase:
      display_name: flowers
      ROLLOUT
  flowers2:
    firebase: {display_name: flowers_next}
"""


def _backend(tmp_path: Path, rollout: str) -> GoogleBackend:
    path = tmp_path / "edgeops.yaml"
    path.write_text(CONFIG.replace("ROLLOUT", rollout))
    return GoogleBackend(load_config(path, env={}))


CANDIDATE = LiveVersion(model="flowers2", version=3, fingerprint="f", eval_fingerprint="e",
                        status="ready", blessed=True, threshold=0.4)  # fmt: skip


def test_a_request_without_credentials_is_refused(fake: FakeRemoteConfig) -> None:
    plain = rc.RemoteConfig(PROJECT, requests.Session(), fake.url)
    with pytest.raises(EdgeopsError, match="cannot read the template: HTTP 401"):
        plain.write_rollout(ROLLOUT)


def test_the_firebase_hook_writes_the_rollout_then_rolls_back(
    google: FakeGoogle, fake: FakeRemoteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the backend's real AuthorizedSession: a service-account token from the token
    endpoint on loopback (the google fixture's credentials), sent on every request."""
    monkeypatch.setenv(rc.ENDPOINT_ENV, fake.url)
    backend = _backend(tmp_path, "rollout: {candidate: flowers2, percent: 10}")
    (_, target), = backend.config.publish[0].targets  # fmt: skip
    state = backend._remote_config_rollout(target, CANDIDATE)  # type: ignore[arg-type]
    assert state is not None
    assert (state["candidate"], state["version"], state["percent"]) == ("flowers2", 3, 10.0)
    assert (
        state["candidate_model"] == "flowers_next" and state["parameter"] == "edgeops_model_flowers"
    )
    (condition,) = fake.templates[PROJECT]["conditions"]
    assert condition["expression"] == "percent('flowers') <= 10"

    backend = _backend(tmp_path, "")  # the rollout removed from the config
    (_, target), = backend.config.publish[0].targets  # fmt: skip
    assert backend._remote_config_rollout(target, None) is None  # type: ignore[arg-type]
    assert fake.templates[PROJECT]["conditions"] == []
    parameter = fake.templates[PROJECT]["parameters"]["edgeops_model_flowers"]
    assert parameter["defaultValue"] == {"value": "flowers"}
    assert google.tokens >= 1
    assert fake.authorizations and set(fake.authorizations) == {"Bearer fake-token"}


# --- the fake's condition expressions (fakes/remote_config.py) --------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "percent('flowers') <= 12.5",
        "percent <= 10",
        "percent('seed') > 90",
        'percent("seed") between 10 and 20',
        "(percent('a') <= 5 || percent('b') > 95) && !false",
        rc.percent_expression("objects", 100),
        rc.percent_expression("objects", 0),
    ],
)
def test_the_fake_parses_the_percent_conditions_of_the_reference(expression: str) -> None:
    from fakes.remote_config import parse

    parse(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "percent('a') < 10",  # the percent element compares with <=, > or between only
        "percent('a') >= 10",
        "percent(a) <= 10",  # the seed is a quoted string
        "percent('a') <= 101",
        "percent('a') between 10",
        "device.os == 'ios'",  # an element this fake does not know
    ],
)
def test_the_fake_refuses_other_expressions(fake: FakeRemoteConfig, expression: str) -> None:
    template = {
        "conditions": [{"name": "c", "expression": expression}],
        "parameters": {
            "p": {"defaultValue": {"value": "x"}, "conditionalValues": {"c": {"value": "y"}}}
        },
    }
    session = client(fake).session
    etag = session.get(client(fake).url).headers["ETag"]
    r = session.put(client(fake).url, data=json.dumps(template), headers={"If-Match": etag})
    assert r.status_code == 400 and "VALIDATION_ERROR" in r.json()["error"]["message"]


def test_the_fake_evaluates_percent_like_the_admin_sdk(fake: FakeRemoteConfig) -> None:
    """An instance's percentile is stable per seed, independent across seeds, and a percent
    that grows keeps every instance that was already in."""
    from fakes.remote_config import evaluate, micro_percentile

    ids = [f"i{n}" for n in range(5000)]
    at = {p: {i for i in ids if evaluate(f"percent('s') <= {p}", i)} for p in (10, 12.5, 50)}
    assert at[10] <= at[12.5] <= at[50]
    assert 0.08 < len(at[10]) / len(ids) < 0.12 and 0.46 < len(at[50]) / len(ids) < 0.54
    other = {i for i in ids if evaluate("percent('t') <= 10", i)}
    assert 0 < len(other & at[10]) < len(at[10]) / 4  # another seed splits independently
    assert evaluate("percent('s') between 10 and 50", ids[0]) == (ids[0] in at[50] - at[10])
    assert all(0 <= micro_percentile("s", i) < 100_000_000 for i in ids[:10])

    client(fake).write_rollout(ROLLOUT)  # 12.5% of the instances on the candidate
    got = {i for i in ids if fake.value_for(PROJECT, "edgeops_model_flowers", i) != "flowers"}
    assert got == {i for i in ids if evaluate("percent('flowers') <= 12.5", i)}


def test_a_json_parameter_needs_json_values(fake: FakeRemoteConfig) -> None:
    gcs = rc.Rollout("objects", "not json", kind="gcs")
    with pytest.raises(EdgeopsError, match="HTTP 400 .*must be JSON"):
        client(fake).write_rollout(gcs)
    ok = rc.Rollout(
        "objects", rc.file_value("gs://b/o.tflite", "ab" * 32, "objects", 1), kind="gcs"
    )
    written = client(fake).write_rollout(ok)
    assert written["parameter"] == "edgeops_gcs_objects"
    assert fake.templates[PROJECT]["parameters"]["edgeops_gcs_objects"]["valueType"] == "JSON"
