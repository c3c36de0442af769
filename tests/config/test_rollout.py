"""`rollout:` on registry, firebase and gcs targets: loading, defaults and cross-field checks."""

from __future__ import annotations

import pytest

from edgeops.config.loader import load_config
from edgeops.config.model import FirebaseTarget, GcsTarget, RegistryTarget, RolloutSpec

from .conftest import Write, problems
from .test_checks import GOOGLE, LOCAL

ROLLOUT = (
    LOCAL
    + """publish:
  flowers:
    registry:
      display_name: flowers
      rollout: {candidate: pets, percent: PERCENT}
"""
)


@pytest.mark.parametrize(("written", "percent"), [("10", 10.0), ("10.0", 10.0), ("12.5", 12.5),
                                                  ("0", 0.0), ("100", 100.0)])  # fmt: skip
def test_rollout_loads_as_a_float_percent(write: Write, written: str, percent: float) -> None:
    config = load_config(write(ROLLOUT.replace("PERCENT", written)))
    (_kind, target), = config.publish[0].targets  # fmt: skip
    assert isinstance(target, RegistryTarget)
    assert target.rollout == RolloutSpec(candidate="pets", percent=percent)
    assert target.rollout.basis_points == round(percent * 100)


def test_without_rollout_the_target_has_none(write: Write) -> None:
    text = LOCAL + "publish:\n  flowers:\n    registry: {display_name: flowers}\n"
    (_kind, target), = load_config(write(text)).publish[0].targets  # fmt: skip
    assert isinstance(target, RegistryTarget) and target.rollout is None


def test_candidate_must_be_a_declared_model(write: Write) -> None:
    path = write(ROLLOUT.replace("PERCENT", "10").replace("candidate: pets", "candidate: pet"))
    assert problems(path) == [
        "edgeops.yaml:16: publish.flowers.registry.rollout.candidate: unknown model 'pet'; "
        "did you mean 'pets'? (defined models: flowers, pets)"
    ]


def test_candidate_cannot_be_the_entrys_own_model(write: Write) -> None:
    path = write(ROLLOUT.replace("PERCENT", "10").replace("candidate: pets", "candidate: flowers"))
    assert problems(path) == [
        "edgeops.yaml:16: publish.flowers.registry.rollout.candidate: 'flowers' is this entry's "
        "own model: the candidate is another model whose version rolls out under this name; "
        "name one of: pets"
    ]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("12.25", "12.25 has more than one decimal; use a whole number or one decimal, e.g. 12.2"),
        ("101", "101 is greater than the maximum of 100; use a number from 0 to 100, e.g. 10"),
        ("-1", "-1 is less than the minimum of 0; use a number from 0 to 100, e.g. 10"),
        ("'10'", "expected a number, got text '10'; remove the quotes: 10"),
    ],
)
def test_bad_percent(write: Write, written: str, message: str) -> None:
    path = write(ROLLOUT.replace("PERCENT", written))
    where = "edgeops.yaml:16: publish.flowers.registry.rollout.percent"
    assert problems(path) == [f"{where}: {message}"]


def test_rollout_needs_candidate_and_percent(write: Write) -> None:
    path = write(ROLLOUT.replace("{candidate: pets, percent: PERCENT}", "{percent: 5}"))
    assert problems(path) == [
        "edgeops.yaml:16: publish.flowers.registry.rollout.candidate: missing required key "
        "'candidate'; add it, e.g. `candidate: flowers-v2`"
    ]


def test_firebase_targets_take_a_rollout_too(write: Write) -> None:
    second = "  flowers2:\n    dataset: flowers\n    budget: {node_hours: 1}\n"
    text = (
        GOOGLE
        + second
        + "publish:\n  flowers:\n    firebase:\n      display_name: flowers\n"
        + "      rollout: {candidate: flowers2, percent: 25}\n"
    )
    assert problems(write(text)) == [
        "edgeops.yaml:18: publish.flowers.firebase.rollout.candidate: 'flowers2' has no "
        "firebase target: Remote Config rolls out the candidate's Firebase model, so add "
        "`publish.flowers2.firebase` (its display_name is what apps in the rollout download)"
    ]
    text += "  flowers2:\n    firebase: {display_name: flowers_next}\n"
    (_kind, target), = load_config(write(text)).publish[0].targets  # fmt: skip
    assert isinstance(target, FirebaseTarget)
    assert target.rollout == RolloutSpec(candidate="flowers2", percent=25.0)


def test_gcs_targets_take_a_rollout_too(write: Write) -> None:
    second = "  flowers2:\n    dataset: flowers\n    budget: {node_hours: 1}\n"
    text = (
        GOOGLE
        + second
        + "publish:\n  flowers:\n    gcs:\n      path: gs://my-app/models/flowers.tflite\n"
        + "      rollout: {candidate: flowers2, percent: 25}\n"
    )
    assert problems(write(text)) == [
        "edgeops.yaml:18: publish.flowers.gcs.rollout.candidate: 'flowers2' has no gcs target: "
        "Remote Config rolls out the candidate's Cloud Storage file, so add "
        "`publish.flowers2.gcs` (its path and sha256 are what apps in the rollout download)"
    ]
    text += "  flowers2:\n    gcs: {path: gs://my-app/models/flowers2.tflite}\n"
    (_kind, target), = load_config(write(text)).publish[0].targets  # fmt: skip
    assert isinstance(target, GcsTarget)
    assert target.rollout == RolloutSpec(candidate="flowers2", percent=25.0)


def test_bundle_targets_take_no_rollout(write: Write) -> None:
    text = GOOGLE + "publish:\n  flowers:\n    bundle:\n      path: m.tflite\n"
    text += "      rollout: {candidate: flowers, percent: 25}\n"
    assert any("rollout" in p for p in problems(write(text)))
