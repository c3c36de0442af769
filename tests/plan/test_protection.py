"""Protection table tests: which (desired, live) pairs the planner marks as destroying protected
published models, and the one message that refuses them."""

from __future__ import annotations

import dataclasses

import pytest

from edgeops.errors import ProtectionError
from edgeops.plan import protection
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import Action
from edgeops.progress import NullReporter
from edgeops.state import DesiredPublish, LivePublish
from edgeops.workflow import Session

from .factories import (
    dataset,
    desired,
    imgs,
    live,
    live_dataset,
    live_model,
    live_registry,
    model,
    registry,
    version,
)
from .fake_backend import FakeBackend

A = Action
DS = dataset("pets", imgs({"cat": range(0, 6), "dog": range(6, 12)}))
LDS = live_dataset("pets", DS.images)
M = model("pets", DS)
M_KEEP1 = model("pets", DS, keep=1)
M_OLD = model("pets", DS, node_hours=0.05)
REG = registry("pets")
OTHER = dataclasses.replace(registry("pets", "pets-beta"), address="publish.pets.beta")


def _live_reg(p: DesiredPublish, n: int = 1, **state: object) -> LivePublish:
    return dataclasses.replace(live_registry(p, n), state=dict(state))


def _unprotected(p: DesiredPublish) -> DesiredPublish:
    return dataclasses.replace(p, protect=False)


# (desired, live) -> (blocked addresses, removes_every_target)
CASES = [
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M, 1)), _live_reg(REG)),
        ["publish.pets.registry"],
        True,
        id="recorded-before-protect-existed-is-protected",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M, 1)), _live_reg(REG, protect=True)),
        ["publish.pets.registry"],
        True,
        id="recorded-protect-true",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M, 1)), _live_reg(REG, protect=False)),
        [],
        True,
        id="recorded-protect-false-is-not-blocked-but-still-every-target",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1)), _live_reg(REG), _live_reg(OTHER, protect=True)),
        ["publish.pets.beta"],
        False,
        id="one-of-two-removed",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1)), _live_reg(REG), _live_reg(OTHER, protect=False)),
        [],
        False,
        id="unprotected-one-of-two-removed",
    ),
    pytest.param(
        desired(DS, M_KEEP1, REG),
        live(
            LDS,
            live_model(version(M_OLD, 1), version(M_KEEP1, 2)),
            _live_reg(REG, 2),
            _live_reg(OTHER, 1, protect=True),
        ),
        ["model.pets", "publish.pets.beta"],
        False,
        id="retention-deletes-a-version-a-protected-target-being-removed-serves",
    ),
    pytest.param(
        desired(DS, M_KEEP1, REG),
        live(
            LDS,
            live_model(version(M_OLD, 1), version(M_KEEP1, 2)),
            _live_reg(REG, 2),
            _live_reg(OTHER, 1, protect=False),
        ),
        [],
        False,
        id="retention-after-an-unprotected-removal",
    ),
    pytest.param(
        desired(DS, M_KEEP1, REG),
        live(LDS, live_model(version(M_OLD, 1), version(M_KEEP1, 2)), _live_reg(REG, 1)),
        [],
        False,
        id="retention-of-the-version-a-target-moves-away-from-is-not-destruction",
    ),
    pytest.param(desired(DS, M), live(LDS, live_model(version(M, 1))), [], False, id="nothing"),
]


@pytest.mark.parametrize(("want", "have", "blocked", "every"), CASES)
def test_protection_table(want, have, blocked, every) -> None:  # noqa: ANN001
    plan = build_plan(want, have)
    assert sorted(c.address for c in plan.blocked) == blocked
    assert plan.removes_every_target is every


def test_protect_false_in_the_config_is_recorded_by_an_update() -> None:
    plan = build_plan(
        desired(DS, M, _unprotected(REG)),
        live(LDS, live_model(version(M, 1)), _live_reg(REG, protect=True)),
    )
    (change,) = plan.changes
    assert (change.action, change.reason) == (A.UPDATE, "protect true -> false")
    again = build_plan(
        desired(DS, M, _unprotected(REG)),
        live(LDS, live_model(version(M, 1)), _live_reg(REG, protect=False)),
    )
    assert again.empty


def test_a_blocked_plan_round_trips_through_json() -> None:
    plan = build_plan(desired(DS, M), live(LDS, live_model(version(M, 1)), _live_reg(REG)))
    again = type(plan).from_dict(plan.to_dict())
    assert again == plan and again.blocked and again.removes_every_target


# --- the message ---------------------------------------------------------------------------


def test_refusal_names_the_target_its_version_and_how_to_proceed() -> None:
    plan = build_plan(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1)), _live_reg(REG), _live_reg(OTHER, protect=True)),
    )
    with pytest.raises(ProtectionError) as info:
        protection.check(plan)
    message = str(info.value)
    assert "publish.pets.beta: would be unpublished; it serves v1 of model.pets" in message
    assert "publish.pets.registry" not in message
    assert "`protect: false`" in message and "--allow-destroy" in message
    assert "every published target" not in message


def test_removing_every_target_is_refused_even_when_none_is_protected() -> None:
    plan = build_plan(
        desired(DS, M), live(LDS, live_model(version(M, 1)), _live_reg(REG, protect=False))
    )
    assert not plan.blocked
    with pytest.raises(ProtectionError, match=r"every published target would be removed"):
        protection.check(plan)


def test_allow_destroy_lets_any_of_it_through() -> None:
    plan = build_plan(desired(DS, M), live(LDS, live_model(version(M, 1)), _live_reg(REG)))
    protection.check(plan, allow_destroy=True)
    protection.check(dataclasses.replace(plan, allow_destroy=True))


def test_the_engine_never_applies_a_blocked_plan() -> None:
    backend = FakeBackend(live(LDS, live_model(version(M, 1)), _live_reg(REG)))
    session = Session(config=None, backend=backend, reporter=NullReporter(), desired=desired(DS, M))  # type: ignore[arg-type]
    plan = build_plan(desired(DS, M), backend.read())
    with pytest.raises(ProtectionError):
        session.apply(plan)
    assert backend.calls == [] and "publish.pets.registry" in backend.publishes
    session.apply(dataclasses.replace(plan, allow_destroy=True))
    assert backend.calls == [("unpublish", "publish.pets.registry")]
