"""Staged rollouts in the planner and applier: added, promoted, rolled back, blocked, re-pointed.

`pets` is the stable model of the `pets` registry entry; `kittens` (another model on the same
dataset) is the candidate rolled out under it."""

from __future__ import annotations

import dataclasses

import pytest

from edgeops.config.model import RegistryTarget, RolloutSpec
from edgeops.plan.applier import apply_plan
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import Action, Plan
from edgeops.progress import NullReporter
from edgeops.state import DesiredPublish, DesiredState, LivePublish, LiveState

from .factories import (
    dataset,
    desired,
    imgs,
    live,
    live_dataset,
    live_model,
    model,
    version,
)
from .fake_backend import FakeBackend

A = Action
ROWS = imgs({"cat": range(0, 10), "dog": range(10, 20)})
DS, LDS = dataset("pets", ROWS), live_dataset("pets", ROWS)
PETS = model("pets", DS)
KITTENS = model("kittens", DS, node_hours=0.05)
KITTENS_2 = model("kittens", DS, node_hours=0.08)  # retrained candidate: a new fingerprint


def entry(percent: float | None, candidate: str = "kittens") -> DesiredPublish:
    """The `pets` registry entry, with a rollout of ``candidate`` at ``percent`` (None: none)."""
    rollout = RolloutSpec(candidate, float(percent)) if percent is not None else None
    target = RegistryTarget(display_name="pets", rollout=rollout)
    spec: dict[str, object] = {"display_name": "pets", "tags": [], "published": True}
    if rollout is not None:
        spec["rollout"] = {"candidate": candidate, "percent": float(percent)}  # type: ignore[arg-type]
    return DesiredPublish(
        address="publish.pets.registry",
        model="pets",
        kind="registry",
        target=target,
        spec=spec,
        rollout=rollout,
    )


def live_entry(percent: float | None, candidate_version: int = 1) -> LivePublish:
    """The entry as the backend records it after publishing ``entry(percent)`` (pets v1)."""
    p = entry(percent)
    state: dict[str, object] = {"version": 1, "eval_fingerprint": PETS.eval_fingerprint}
    if percent is not None:
        state["rollout"] = {
            "candidate": "kittens",
            "version": candidate_version,
            "percent": float(percent),
            "eval_fingerprint": KITTENS.eval_fingerprint,
        }
    return LivePublish(p.address, "pets", "registry", 1, dict(p.spec), state)


TRAINED = (LDS, live_model(version(PETS, 1)), live_model(version(KITTENS, 1)))

CASES = [
    pytest.param(
        desired(DS, PETS, KITTENS, entry(10)),
        live(*TRAINED, live_entry(None)),
        [(A.UPDATE, "rollout added: 10% of clients -> model.kittens v1")],
        id="rollout-added",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(10)),
        live(*TRAINED, live_entry(10)),
        [],
        id="rollout-unchanged",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(50)),
        live(*TRAINED, live_entry(10)),
        [(A.UPDATE, "rollout.percent 10 -> 50 (model.kittens v1)")],
        id="percent-changed",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(12.5)),
        live(*TRAINED, live_entry(10)),
        [(A.UPDATE, "rollout.percent 10 -> 12.5 (model.kittens v1)")],
        id="percent-one-decimal",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(100)),
        live(*TRAINED, live_entry(50)),
        [(A.UPDATE, "rollout.percent 50 -> 100 (fully promoted: every client gets the candidate)")],
        id="promoted-to-100",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(None)),
        live(*TRAINED, live_entry(10)),
        [(A.UPDATE, "rollout removed (kittens at 10%): rollback, every client back to v1")],
        id="removed-is-rollback",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(10)),
        live(
            LDS,
            live_model(version(PETS, 1)),
            live_model(version(KITTENS, 1, blessed=False)),
            live_entry(None),
        ),  # fmt: skip
        [],
        id="candidate-not-blessed-is-blocked",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS_2, entry(10)),
        live(*TRAINED, live_entry(10)),
        [
            (A.TRAIN, "budget.node_hours 0.05 -> 0.08"),
            (A.UPDATE, "rollout candidate model.kittens v1 -> the version trained by this apply"),
        ],
        id="candidate-retrained",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS_2, entry(10)),
        live(
            LDS,
            live_model(version(PETS, 1)),
            live_model(version(KITTENS, 1), version(KITTENS_2, 2)),
            live_entry(10),
        ),  # fmt: skip
        [(A.UPDATE, "rollout candidate model.kittens v1 -> v2")],
        id="candidate-version-already-trained",
    ),
    pytest.param(
        desired(DS, PETS, KITTENS, entry(10)),
        live(*TRAINED),
        [
            (
                A.CREATE,
                "new registry target -> v1; rollout added: 10% of clients -> model.kittens v1",
            )
        ],
        id="new-target-with-rollout",
    ),
]


@pytest.mark.parametrize(("want", "have", "expected"), CASES)
def test_rollout_table(
    want: DesiredState, have: LiveState, expected: list[tuple[Action, str]]
) -> None:
    plan = build_plan(want, have)
    assert [c.action for c in plan.changes] == [action for action, _ in expected]
    for change, (_, reason) in zip(plan.changes, expected, strict=True):
        assert reason in change.reason, change.reason


def test_candidate_not_blessed_is_blocked_with_a_warning() -> None:
    have = live(LDS, live_model(version(PETS, 1)),
                live_model(version(KITTENS, 1, blessed=False)), live_entry(None))  # fmt: skip
    plan = build_plan(desired(DS, PETS, KITTENS, entry(10)), have)
    assert plan.warnings == (
        "publish.pets.registry: rollout candidate v1 of model.kittens missed its gate; the "
        "rollout is blocked and the current target stays as it is",
    )


def test_the_plan_names_the_candidate_version_and_its_gate() -> None:
    plan = build_plan(desired(DS, PETS, KITTENS, entry(50)), live(*TRAINED, live_entry(10)))
    (c,) = plan.changes
    assert c.before is not None and c.after is not None
    assert c.before["rollout"] == {"candidate": "kittens", "percent": 10.0, "version": 1}
    assert c.after["rollout"] == {"candidate": "kittens", "percent": 50.0, "version": 1}
    rollout = c.details["rollout"]
    assert (rollout["candidate"], rollout["version"], rollout["percent"]) == ("kittens", 1, 50.0)
    assert rollout["gate"]["decided"] == "recorded" and rollout["gate"]["passed"] is True


def test_desired_fingerprint_covers_the_rollout() -> None:
    have = live(*TRAINED)
    fps = {
        build_plan(desired(DS, PETS, KITTENS, entry(p)), have).changes[0].desired_fingerprint
        for p in (None, 10, 50)
    }
    assert len(fps) == 3
    retrained = build_plan(desired(DS, PETS, KITTENS_2, entry(10)), have).changes
    assert retrained[-1].desired_fingerprint not in fps


# --- the applier ------------------------------------------------------------------------------


def _apply(want: DesiredState, backend: FakeBackend) -> list[str]:
    plan = build_plan(want, backend.read())
    result = apply_plan(plan, want, backend, NullReporter())
    return result.skipped


def test_rollout_promote_and_rollback_apply_then_plan_nothing() -> None:
    backend = FakeBackend(live(*TRAINED, live_entry(None)))
    for percent, call in (
        (10, "publish.pets.registry v1 + kittens v1 at 10%"),
        (100, "publish.pets.registry v1 + kittens v1 at 100%"),
        (None, "publish.pets.registry v1"),
    ):
        backend.calls.clear()
        want = desired(DS, PETS, KITTENS, entry(percent))
        assert _apply(want, backend) == []
        assert backend.calls == [("publish", call)]
        assert build_plan(want, backend.read()).empty
    assert "rollout" not in backend.publishes["publish.pets.registry"].state


def test_a_candidate_trained_by_the_same_apply_is_rolled_out() -> None:
    backend = FakeBackend(live(*TRAINED, live_entry(10)))
    want = desired(DS, PETS, KITTENS_2, entry(10))
    assert _apply(want, backend) == []
    assert backend.calls == [
        ("train_model", "model.kittens"),
        ("publish", "publish.pets.registry v1 + kittens v2 at 10%"),
    ]
    assert build_plan(want, backend.read()).empty


def test_a_candidate_that_misses_its_gate_at_apply_leaves_the_target_alone() -> None:
    backend = FakeBackend(live(*TRAINED, live_entry(10)))
    backend.passes_gate = False
    skipped = _apply(desired(DS, PETS, KITTENS_2, entry(10)), backend)
    assert skipped == [
        "publish.pets.registry: skipped, rollout candidate model.kittens missed its gate"
    ]
    assert backend.publishes["publish.pets.registry"].state["rollout"]["version"] == 1


def test_retention_keeps_the_candidate_version_a_rollout_serves() -> None:
    kittens_keep = dataclasses.replace(KITTENS_2, spec=dataclasses.replace(KITTENS_2.spec, keep=1))
    backend = FakeBackend(live(*TRAINED, live_entry(10)))
    backend.passes_gate = False  # v2 misses its gate: the rollout keeps serving v1
    _apply(desired(DS, PETS, kittens_keep, entry(10)), backend)
    assert [v.version for v in backend.models["model.kittens"]] == [1, 2]


def test_rendered_plans_show_the_rollout_and_the_candidates_gate() -> None:
    from edgeops.plan.render import render_markdown, render_text

    plan = build_plan(desired(DS, PETS, KITTENS, entry(50)), live(*TRAINED, live_entry(10)))
    text = render_text(plan)
    assert "rollout.percent 10 -> 50 (model.kittens v1)" in text
    assert "rollout: kittens v1 to 50% of clients" in text
    md = render_markdown(plan)
    assert "| `model.kittens` v1 | registry rollout 50% |" in md


@pytest.mark.parametrize(
    "plan",
    [
        build_plan(desired(DS, PETS, KITTENS, entry(50)), live(*TRAINED, live_entry(10))),
        build_plan(desired(DS, PETS, KITTENS_2, entry(10)), live(*TRAINED, live_entry(10))),
    ],
    ids=["recorded-gates", "gate-decided-at-apply"],
)
def test_the_markdown_gates_table_is_decided_by_data_not_prose(plan: Plan) -> None:
    from edgeops.plan.render import render_markdown

    blank = dataclasses.replace(
        plan, changes=tuple(dataclasses.replace(c, details={}) for c in plan.changes)
    )

    def gates(md: str) -> str:
        return md[md.index("**Gates of the versions to publish**") :].split("\n\n")[1]

    assert gates(render_markdown(plan)) == gates(render_markdown(blank))
    assert "| `model.kittens` " in gates(render_markdown(plan))
