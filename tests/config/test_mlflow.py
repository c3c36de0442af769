"""`mlflow:` publish targets: loading, defaults (the tracking URI from the environment) and the
cross-field checks."""

from __future__ import annotations

import pytest

from edgeops.config.loader import load_config
from edgeops.config.model import MlflowTarget, RolloutSpec

from .conftest import Write, problems
from .test_checks import GOOGLE, LOCAL

ENV = {"MLFLOW_TRACKING_URI": "http://mlflow.internal:5000"}


def target(write: Write, fields: str, env: dict[str, str] | None = None) -> MlflowTarget:
    path = write(LOCAL + f"publish:\n  flowers:\n    mlflow: {{{fields}}}\n")
    (_kind, t), = load_config(path, env=ENV if env is None else env).publish[0].targets  # fmt: skip
    assert isinstance(t, MlflowTarget)
    return t


def test_defaults_are_filled_in(write: Write) -> None:
    t = target(write, "name: objects-classifier")
    assert t == MlflowTarget(
        tracking_uri="http://mlflow.internal:5000",
        name="objects-classifier",
        experiment="edgeops/objects-classifier",
        alias="champion",
        tags={},
        version=None,
        rollout=None,
        protect=True,
    )


def test_defaults_written_out_give_an_equal_target(write: Write) -> None:
    written = target(
        write,
        "name: objects-classifier, tracking_uri: 'http://mlflow.internal:5000/', "
        "experiment: edgeops/objects-classifier, alias: champion, tags: {}, protect: true",
        env={},
    )
    assert written == target(write, "name: objects-classifier")


def test_fields_as_written(write: Write) -> None:
    t = target(
        write,
        "name: objects, tracking_uri: 'https://mlflow.example.com', experiment: /Shared/mobile, "
        "alias: prod, tags: {team: mobile, 'cost center': '42'}, version: 3, "
        "rollout: {candidate: pets, percent: 10}",
        env={},
    )
    assert (t.tracking_uri, t.experiment, t.alias, t.version) == (
        "https://mlflow.example.com",
        "/Shared/mobile",
        "prod",
        3,
    )
    assert t.tags == {"team": "mobile", "cost center": "42"}
    assert t.rollout == RolloutSpec(candidate="pets", percent=10.0)


def test_written_uri_wins_over_the_environment(write: Write) -> None:
    t = target(write, "name: objects, tracking_uri: 'http://127.0.0.1:5000'")
    assert t.tracking_uri == "http://127.0.0.1:5000"


def test_interpolated_uri(write: Write) -> None:
    t = target(write, "name: objects, tracking_uri: '${MLFLOW_TRACKING_URI}'")
    assert t.tracking_uri == "http://mlflow.internal:5000"


def test_no_uri_anywhere_is_a_problem(write: Write) -> None:
    path = write(LOCAL + "publish:\n  flowers:\n    mlflow: {name: objects}\n")
    assert problems(path) == [
        "edgeops.yaml:14: publish.flowers.mlflow: no tracking_uri, and MLFLOW_TRACKING_URI is "
        "not set; add `tracking_uri: http://HOST:5000` (your MLflow tracking server) or export "
        "MLFLOW_TRACKING_URI"
    ]


def test_a_password_in_the_uri_is_refused(write: Write) -> None:
    path = write(
        LOCAL + "publish:\n  flowers:\n    mlflow:\n      name: objects\n"
        "      tracking_uri: 'https://me:secret@mlflow.example.com'\n"
    )
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml:16: publish.flowers.mlflow.tracking_uri: the tracking ")
    assert "MLFLOW_TRACKING_USERNAME" in line and "secret" not in line


def test_challenger_is_the_rollouts_alias(write: Write) -> None:
    path = write(
        LOCAL + "publish:\n  flowers:\n    mlflow:\n      name: objects\n"
        "      alias: challenger\n      rollout: {candidate: pets, percent: 5}\n"
    )
    assert problems(path, ENV) == [
        "edgeops.yaml:16: publish.flowers.mlflow.alias: 'challenger' is the alias a rollout "
        "candidate gets, so it cannot also be this target's alias; use another alias (the "
        "default is champion)"
    ]


def test_rollout_candidate_must_be_a_declared_model(write: Write) -> None:
    path = write(
        LOCAL + "publish:\n  flowers:\n    mlflow:\n      name: objects\n"
        "      rollout: {candidate: pet, percent: 5}\n"
    )
    assert problems(path, ENV) == [
        "edgeops.yaml:16: publish.flowers.mlflow.rollout.candidate: unknown model 'pet'; did "
        "you mean 'pets'? (defined models: flowers, pets)"
    ]


def test_google_backend_refuses_mlflow_targets(write: Write) -> None:
    path = write(GOOGLE + "publish:\n  flowers:\n    mlflow: {name: objects}\n")
    (line,) = problems(path, ENV)
    assert line.startswith(
        "edgeops.yaml:13: publish.flowers.mlflow: `mlflow` targets need the local backend"
    )
    assert "publish with `gcs`, `firebase`, `registry` or `bundle`" in line


def test_each_model_needs_its_own_registered_model(write: Write) -> None:
    path = write(
        LOCAL + "publish:\n  flowers:\n    mlflow: {name: objects}\n"
        "  pets:\n    mlflow: {name: objects}\n"
    )
    assert problems(path, ENV) == [
        "edgeops.yaml:16: publish.pets.mlflow.name: MLflow registered model name 'objects' is "
        "already used by publish.flowers.mlflow (line 14); each model needs its own MLflow "
        "registered model name"
    ]


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ("alias: latest", "publish.flowers.mlflow.alias: 'latest' is not valid"),
        ("alias: v3", "publish.flowers.mlflow.alias: 'v3' is not valid"),
        ("alias: 'two words'", "publish.flowers.mlflow.alias: 'two words' is not valid"),
        ("name: 'a/b'", "publish.flowers.mlflow.name: 'a/b' is not valid"),
        ("tags: {edgeops.version: '1'}", "'edgeops.version' is not a valid key: a tag key is"),
        ("tags: {team: 3}", "publish.flowers.mlflow.tags.team"),
    ],
)
def test_schema_refuses(write: Write, fields: str, wrong: str) -> None:
    fields = fields if fields.startswith("name") else f"name: objects, {fields}"
    path = write(LOCAL + f"publish:\n  flowers:\n    mlflow: {{{fields}}}\n")
    (line,) = problems(path, ENV)
    assert wrong in line, line
