"""The planner on an mlflow target (plain objects, no server): what its recorded state must hold
for a re-plan to be empty, drift and field changes as updates, and how the plan shows it."""

from __future__ import annotations

from edgeops.config.model import MlflowTarget, RolloutSpec
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import Action, ReasonCode
from edgeops.plan.render import render_text
from edgeops.state import DesiredPublish, LivePublish

from .factories import dataset, desired, imgs, live, live_model, model, version

DS = dataset("pets", imgs({"cat": range(0, 12), "dog": range(12, 24)}))
M = model("pets", DS)
CANDIDATE = model("pets-v2", DS, node_hours=0.2)
URI = "http://127.0.0.1:5000"


def target(rollout: RolloutSpec | None = None, **kw: object) -> DesiredPublish:
    fields = {"tracking_uri": URI, "name": "pets-classifier", "experiment": "edgeops/pets"}
    t = MlflowTarget(**{**fields, "tags": {"team": "mobile"}, "rollout": rollout, **kw})  # type: ignore[arg-type]
    spec = {
        "tracking_uri": t.tracking_uri,
        "name": t.name,
        "experiment": t.experiment,
        "alias": t.alias,
        "tags": dict(t.tags),
    }
    if rollout is not None:
        spec["rollout"] = {"candidate": rollout.candidate, "percent": rollout.percent}
    return DesiredPublish(
        address="publish.pets.mlflow",
        model="pets",
        kind="mlflow",
        target=t,
        spec=spec,
        rollout=rollout,
    )


def recorded(
    p: DesiredPublish, *, drift: tuple[str, ...] = (), rollout_version: int = 0
) -> LivePublish:
    """What the local backend records after publishing ``p`` at v1 (see mlflow_registry)."""
    state = {
        "version": 1,
        "threshold": 0.5,
        "eval_fingerprint": M.eval_fingerprint,
        "protect": True,
        "tracking_uri": URI,
        "name": p.spec["name"],
        "experiment": p.spec["experiment"],
        "alias": p.spec["alias"],
        "tags": p.spec["tags"],
        "model_version": "1",
        "run_id": "r1",
        "sha256": "ab" * 32,
    }
    if rollout_version:
        state["rollout"] = {
            "candidate": "pets-v2",
            "version": rollout_version,
            "percent": p.spec["rollout"]["percent"],
            "eval_fingerprint": CANDIDATE.eval_fingerprint,
            "model_version": "2",
        }
    return LivePublish(p.address, "pets", "mlflow", 1, p.spec, state, drift)


LIVE_MODELS = (live_model(version(M, 1)), live_model(version(CANDIDATE, 1)))


def test_published_as_recorded_plans_nothing() -> None:
    p = target()
    plan = build_plan(desired(DS, M, p), live(*LIVE_MODELS, recorded(p)))
    assert [c for c in plan.changes if c.kind == "publish"] == []


def test_new_target_is_a_create_showing_its_fields() -> None:
    plan = build_plan(desired(DS, M, target()), live(*LIVE_MODELS))
    (c,) = [c for c in plan.changes if c.kind == "publish"]
    assert c.action == Action.CREATE and c.after is not None and c.after["alias"] == "champion"
    text = render_text(plan)
    assert "tags: {team: mobile}" in text and f"tracking_uri: {URI}" in text


def test_alias_moved_outside_edgeops_is_drift_restored_by_an_update() -> None:
    p = target()
    moved = "MLflow alias 'champion' of 'pets-classifier' was moved to version 3 (not 1)"
    plan = build_plan(desired(DS, M, p), live(*LIVE_MODELS, recorded(p, drift=(moved,))))
    (c,) = [c for c in plan.changes if c.kind == "publish"]
    assert c.action == Action.UPDATE and c.reason_codes == (ReasonCode.DRIFT,)
    assert plan.drift == (("publish.pets.mlflow", moved),)


def test_a_renamed_alias_or_changed_tag_is_an_update() -> None:
    before = recorded(target())
    plan = build_plan(desired(DS, M, target(alias="prod")), live(*LIVE_MODELS, before))
    (c,) = [c for c in plan.changes if c.kind == "publish"]
    assert c.reason == "alias champion -> prod"
    plan = build_plan(desired(DS, M, target(tags={"team": "web"})), live(*LIVE_MODELS, before))
    (c,) = [c for c in plan.changes if c.kind == "publish"]
    assert c.reason == "tags.team mobile -> web"


def test_rollout_adds_the_candidate_and_recorded_it_plans_nothing() -> None:
    p = target(RolloutSpec(candidate="pets-v2", percent=10.0))
    before = recorded(target())
    plan = build_plan(desired(DS, M, CANDIDATE, p), live(*LIVE_MODELS, before))
    (c,) = [c for c in plan.changes if c.kind == "publish"]
    assert c.after is not None and c.after["rollout"]["version"] == 1
    assert "rollout added: 10% of clients -> model.pets-v2 v1" in c.reason
    done = recorded(p, rollout_version=1)
    plan = build_plan(desired(DS, M, CANDIDATE, p), live(*LIVE_MODELS, done))
    assert [c for c in plan.changes if c.kind == "publish"] == []
