"""Staged rollouts on the google backend: the Remote Config client against a fake Remote Config
REST API on 127.0.0.1 (ETag concurrency, the parameter and percent condition it writes), and
the firebase publish hook that drives it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fakes.remote_config import FakeRemoteConfig

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
    return rc.RemoteConfig(PROJECT, requests.Session(), fake.url)


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


def test_the_firebase_hook_writes_the_rollout_then_rolls_back(
    fake: FakeRemoteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
