"""Planner table tests: (DesiredState, LiveState) -> expected changes, built from real objects."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from edgeops.backends import get_backend
from edgeops.config.loader import load_config
from edgeops.config.model import GateSpec, ThresholdRule, VsPublished
from edgeops.errors import EdgeopsError
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import NEW_VERSION, Action, ReasonCode
from edgeops.plan.render import render_text
from edgeops.progress import NullReporter
from edgeops.resolve import resolve
from edgeops.state import DesiredState, LiveDataset, LiveModel, LiveState

from .factories import (
    dataset,
    desired,
    img,
    imgs,
    live,
    live_dataset,
    live_model,
    live_registry,
    model,
    registry,
    version,
)

A = Action

# --- datasets: the images of `pets` before and after an edit of every kind -------------------

BASE = imgs({"cat": range(0, 6), "dog": range(6, 12)})
DS = dataset("pets", BASE)
LDS = live_dataset("pets", BASE)

EDITED = (
    tuple(r for r in BASE if r.sha256 not in {img(0).sha256, img(10).sha256, img(11).sha256})
    + (img(0, "cat", split="validation"),)  # moved split
    + (img(10, "cat"),)  # relabelled dog -> cat; img 11 (a dog) removed
    + imgs({"cat": range(12, 14), "bird": range(14, 17)})  # added, with a new label
)
DS_EDITED = dataset("pets", EDITED)
NO_DOGS = dataset("pets", imgs({"cat": range(0, 6)}))

# --- models ----------------------------------------------------------------------------------

M = model("pets", DS)
M_EDITED = model("pets", DS_EDITED)
M_SMALL_BUDGET = model("pets", DS, node_hours=0.05)
M_BIG_BUDGET = model("pets", DS, node_hours=0.2)
M_MAXF1 = model("pets", DS, threshold=ThresholdRule(max_f1=True))
M_GATE = model("pets", DS, gate=GateSpec(min_precision=0.8))
M_STRICT = model("pets", DS, gate=GateSpec(min_precision=0.99))
M_VS_PUBLISHED = model("pets", DS, gate=GateSpec(vs_published=VsPublished("au_prc", 0.01)))

REG = registry("pets", tags=("a",))

CASES = [
    pytest.param(
        desired(DS),
        live(),
        [("dataset.pets", A.CREATE, "new dataset (12 images, 2 labels)")],
        id="new-dataset",
    ),
    pytest.param(desired(DS), live(LDS), [], id="unchanged-dataset"),
    pytest.param(
        desired(DS_EDITED),
        live(LDS),
        [
            (
                "dataset.pets",
                A.UPDATE,
                "images changed (+5 images, -1 images, 1 relabelled, 1 moved split, "
                "1 new label(s): bird)",
            )
        ],
        id="images-added-removed-relabelled-moved",
    ),
    pytest.param(
        desired(NO_DOGS),
        live(LDS),
        [("dataset.pets", A.UPDATE, "-6 images, label(s) gone: dog")],
        id="label-gone",
    ),
    pytest.param(
        desired(),
        live(LDS),
        [("dataset.pets", A.FORGET, "removed from edgeops.yaml; its images stay")],
        id="dataset-removed-is-forgotten",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS),
        [("model.pets", A.TRAIN, "no trained version yet")],
        id="model-without-versions",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M, 1))),
        [],
        id="model-unchanged",
    ),
    pytest.param(
        desired(DS_EDITED, M_EDITED),
        live(LDS, live_model(version(M, 1))),
        [
            ("dataset.pets", A.UPDATE, "+5 images"),
            ("model.pets", A.TRAIN, "dataset.pets changed (+5 images, -1 images, 1 relabelled"),
        ],
        id="dataset-change-retrains",
    ),
    pytest.param(
        desired(DS_EDITED, M_EDITED),
        live(live_dataset("pets", EDITED), live_model(version(M, 1))),
        [("model.pets", A.TRAIN, "dataset.pets differs from v1's data")],
        id="dataset-imported-but-model-not-retrained",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M_SMALL_BUDGET, 1))),
        [("model.pets", A.TRAIN, "budget.node_hours 0.05 -> 0.1")],
        id="budget-change-retrains",
    ),
    pytest.param(
        desired(DS, M_MAXF1),
        live(LDS, live_model(version(M, 1))),
        [("model.pets", A.EVALUATE, "threshold value 0.5 -> max_f1")],
        id="threshold-change-re-evaluates",
    ),
    pytest.param(
        desired(DS, M_GATE),
        live(LDS, live_model(version(M, 1))),
        [("model.pets", A.EVALUATE, "gate min_precision unset -> 0.8")],
        id="gate-change-re-evaluates",
    ),
    pytest.param(
        desired(DS, M_VS_PUBLISHED),
        live(LDS, live_model(version(M, 1))),
        [("model.pets", A.EVALUATE, "gate vs_published unset -> au_prc max_drop 0.01")],
        id="vs-published-added-re-evaluates",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M_VS_PUBLISHED, 1))),
        [("model.pets", A.EVALUATE, "gate vs_published au_prc max_drop 0.01 -> unset")],
        id="vs-published-removed-re-evaluates",
    ),
    pytest.param(
        desired(),
        live(live_model(version(M, 1), version(M_BIG_BUDGET, 2))),
        [("model.pets", A.FORGET, "its 2 version(s) are kept")],
        id="model-removed-is-forgotten",
    ),
    # --- publish --------------------------------------------------------------------------
    pytest.param(
        desired(DS, M, REG),
        live(LDS),
        [
            ("model.pets", A.TRAIN, "no trained version yet"),
            ("publish.pets.registry", A.CREATE, "the version trained by this apply"),
        ],
        id="publish-new-model",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1))),
        [("publish.pets.registry", A.CREATE, "new registry target -> v1")],
        id="publish-existing-version",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1)), live_registry(REG, 1)),
        [],
        id="publish-unchanged",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1), version(M_BIG_BUDGET, 2)), live_registry(REG, 2)),
        [
            (
                "publish.pets.registry",
                A.UPDATE,
                "v2 -> v1: v1 matches the config (already trained, no retraining)",
            )
        ],
        id="rollback-to-older-fingerprint-no-retraining",
    ),
    pytest.param(
        desired(DS, M_BIG_BUDGET, registry("pets", tags=("a",), pinned=1)),
        live(LDS, live_model(version(M, 1), version(M_BIG_BUDGET, 2)), live_registry(REG, 2)),
        [
            (
                "publish.pets.registry",
                A.UPDATE,
                "v2 -> v1: pinned to v1 (already trained, no retraining)",
            )
        ],
        id="pinned-version",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(LDS, live_model(version(M, 1, blessed=False))),
        [],
        id="unblessed-version-is-not-published",
    ),
    pytest.param(
        desired(DS, M, registry("pets", tags=("a", "b"))),
        live(LDS, live_model(version(M, 1)), live_registry(REG, 1)),
        [("publish.pets.registry", A.UPDATE, "tags[1] added b")],
        id="publish-spec-change",
    ),
    pytest.param(
        desired(DS, M, registry("pets", "pets-v2", tags=("a",))),
        live(LDS, live_model(version(M, 1)), live_registry(REG, 1)),
        [("publish.pets.registry", A.UPDATE, "display_name pets -> pets-v2")],
        id="publish-rename",
    ),
    pytest.param(
        desired(DS, M, REG),
        live(
            LDS,
            live_model(version(M, 1)),
            live_registry(REG, 1, drift=("registry tags changed to ['x']",)),
        ),
        [
            (
                "publish.pets.registry",
                A.UPDATE,
                "restore drift (see Drift)",
            )
        ],
        id="publish-drift",
    ),
    pytest.param(
        desired(DS, M),
        live(LDS, live_model(version(M, 1)), live_registry(REG, 1)),
        [("publish.pets.registry", A.UNPUBLISH, "removed from edgeops.yaml")],
        id="publish-removed",
    ),
    pytest.param(
        desired(DS, M_MAXF1, REG),
        live(LDS, live_model(version(M, 1)), live_registry(REG, 1, eval_fp=M.eval_fingerprint)),
        [
            ("model.pets", A.EVALUATE, "threshold value 0.5 -> max_f1"),
            ("publish.pets.registry", A.UPDATE, "threshold of v1 re-evaluated"),
        ],
        id="re-evaluation-updates-publish",
    ),
]


def _table(plan_changes) -> list[tuple[str, Action]]:
    return [(c.address, c.action) for c in plan_changes]


@pytest.mark.parametrize(("want", "have", "expected"), CASES)
def test_plan_table(
    want: DesiredState, have: LiveState, expected: list[tuple[str, Action, str]]
) -> None:
    plan = build_plan(want, have)
    assert _table(plan.changes) == [(a, act) for a, act, _ in expected]
    for change, (_, _, reason) in zip(plan.changes, expected, strict=True):
        assert reason in change.reason, change.reason
    assert set(plan.serials) == {c.address for c in plan.changes}


# --- details the table does not show ----------------------------------------------------------


def test_new_dataset_counts_added_images_per_label() -> None:
    (change,) = build_plan(desired(DS), live()).changes
    assert change.details["per_label"] == {"cat": {"added": 6}, "dog": {"added": 6}}
    assert change.after is not None and change.after["labels"] == {"cat": 6, "dog": 6}
    assert change.desired_fingerprint == DS.fingerprint


def test_dataset_update_counts_every_kind_of_edit_per_label() -> None:
    (change,) = build_plan(desired(DS_EDITED), live(LDS)).changes
    assert change.details["per_label"] == {
        "bird": {"added": 3},
        "cat": {"added": 2, "relabelled_in": 1, "moved_split": 1},
        "dog": {"removed": 1, "relabelled_out": 1},
    }
    assert change.before is not None and change.before["labels"] == {"cat": 6, "dog": 6}
    assert change.after is not None and change.after["labels"] == {"bird": 3, "cat": 9, "dog": 4}
    assert change.live_serial == LDS.fingerprint


def test_threshold_change_does_not_retrain() -> None:
    plan = build_plan(desired(DS, M_MAXF1), live(LDS, live_model(version(M, 1))))
    (change,) = plan.changes
    assert change.action == A.EVALUATE and change.details == {"version": 1}


def test_new_version_publish_says_it_waits_for_the_gate() -> None:
    plan = build_plan(desired(DS, M, REG), live(LDS))
    publish = plan.changes[-1]
    assert publish.after is not None and publish.after["version"] == NEW_VERSION
    assert "misses its gate" in publish.details["note"]


def test_pinned_to_a_missing_version_names_the_available_ones() -> None:
    want = desired(DS, M, registry("pets", pinned=7))
    have = live(LDS, live_model(version(M_SMALL_BUDGET, 1), version(M, 2)))
    with pytest.raises(EdgeopsError) as info:
        build_plan(want, have)
    message = str(info.value)
    assert "publish.pets.registry" in message and "version 7" in message
    assert "versions: v1, v2" in message


def test_pinned_version_that_never_finished_training_is_refused() -> None:
    want = desired(DS, M, registry("pets", pinned=1))
    have = live(LDS, live_model(version(M, 1, status="failed")))
    with pytest.raises(EdgeopsError, match="version 1 of model.pets does not exist"):
        build_plan(want, have)


def test_unblessed_version_is_blocked_with_a_warning() -> None:
    plan = build_plan(desired(DS, M, REG), live(LDS, live_model(version(M, 1, blessed=False))))
    assert plan.empty
    assert any("v1 of model.pets missed its gate" in w for w in plan.warnings)


def test_unblessed_version_whose_gate_is_relaxed_is_re_evaluated_and_published() -> None:
    # v1 missed the strict gate; the config now has a gate it may pass: the re-evaluation must
    # be followed by the publish in the same apply (the applier re-checks blessed at run time),
    # otherwise the next plan would show a change after a successful apply.
    have = live(LDS, live_model(version(M_STRICT, 1, blessed=False)))
    plan = build_plan(desired(DS, M_GATE, REG), have)
    assert _table(plan.changes) == [
        ("model.pets", A.EVALUATE),
        ("publish.pets.registry", A.CREATE),
    ]


def test_drift_is_listed_in_the_drift_section() -> None:
    lp = live_registry(REG, 1, drift=("registry entry 'pets' was removed",))
    plan = build_plan(desired(DS, M, REG), live(LDS, live_model(version(M, 1)), lp))
    assert plan.drift == (("publish.pets.registry", "registry entry 'pets' was removed"),)


def test_drift_of_a_removed_target_is_listed_too() -> None:
    lp = live_registry(REG, 1, drift=("registry entry 'pets' was removed",))
    plan = build_plan(desired(DS, M), live(LDS, live_model(version(M, 1)), lp))
    assert plan.drift == (("publish.pets.registry", "registry entry 'pets' was removed"),)
    assert _table(plan.changes) == [("publish.pets.registry", A.UNPUBLISH)]


# --- retention ---------------------------------------------------------------------------------

BUDGETS = (0.1, 0.2, 0.3, 0.4)
GENERATIONS = [model("pets", DS, node_hours=h, keep=2) for h in BUDGETS]
HISTORY = live_model(*(version(m, i + 1) for i, m in enumerate(GENERATIONS)))


def _deleted(plan) -> list[int]:
    deletes = [c for c in plan.changes if c.action == A.DELETE]
    return deletes[0].details["delete_versions"] if deletes else []


def test_keep_deletes_old_unpublished_versions() -> None:
    latest = GENERATIONS[-1]
    plan = build_plan(desired(DS, latest, REG), live(LDS, HISTORY, live_registry(REG, 4)))
    assert _table(plan.changes) == [("model.pets", A.DELETE)]
    assert _deleted(plan) == [1, 2]
    assert "keep: 2" in plan.changes[0].reason


def test_keep_counts_the_version_this_apply_trains() -> None:
    new = model("pets", DS, node_hours=0.5, keep=2)
    plan = build_plan(desired(DS, new), live(LDS, HISTORY))
    assert _table(plan.changes) == [("model.pets", A.TRAIN), ("model.pets", A.DELETE)]
    assert _deleted(plan) == [1, 2, 3]


def test_keep_plans_deleting_the_version_a_target_moves_away_from() -> None:
    # v1 is published now, but this apply moves the target to the latest version, so the plan
    # deletes v1 at once (the applier keeps it if it is still published when the delete runs).
    latest = GENERATIONS[-1]
    plan = build_plan(desired(DS, latest, REG), live(LDS, HISTORY, live_registry(REG, 1)))
    assert 1 in _deleted(plan)


def test_keep_spares_a_version_a_target_pins() -> None:
    # the schema: "keep the newest N model versions (and any version a publish target uses or
    # pins)". Here the pin is new in the config: v1 is not live-published yet.
    latest = GENERATIONS[-1]
    pinned = registry("pets", tags=("a",), pinned=1)
    plan = build_plan(desired(DS, latest, pinned), live(LDS, HISTORY, live_registry(REG, 4)))
    assert ("publish.pets.registry", A.UPDATE) in _table(plan.changes)
    assert _deleted(plan) == [2]


def test_keep_spares_the_version_a_target_rolls_back_to() -> None:
    first = model("pets", DS, node_hours=0.1, keep=1)
    plan = build_plan(desired(DS, first, REG), live(LDS, HISTORY, live_registry(REG, 4)))
    assert ("publish.pets.registry", A.UPDATE) in _table(plan.changes)
    assert 1 not in _deleted(plan)
    assert 4 not in _deleted(plan)  # still published until this apply moves it


# --- retention on a backend with resources outside its records (google: Vertex AI) --------------

VERTEX = "projects/p/locations/l/"


def _with_resources(lm: LiveModel, trained_on: dict[int, str]) -> LiveModel:
    """``lm`` as the google backend reads it: each version's Vertex AI model and bucket folder,
    and the Vertex AI dataset it was trained on."""
    return replace(
        lm,
        resources={
            v.version: (f"{VERTEX}models/{v.version}", f"gs://b/models/pets/v{v.version}/")
            for v in lm.versions
        },
        trained_on=trained_on,
    )


def test_keep_names_the_google_resources_it_deletes() -> None:
    latest = GENERATIONS[-1]
    history = _with_resources(HISTORY, {n: f"{VERTEX}datasets/1" for n in (1, 2, 3, 4)})
    lds = replace(LDS, resource=f"{VERTEX}datasets/1")
    plan = build_plan(desired(DS, latest, REG), live(lds, history, live_registry(REG, 4)))
    (delete,) = plan.changes
    assert delete.after == {"delete_versions": [1, 2]}  # the backend deletes what they own
    assert delete.details["deletes"] == [
        f"{VERTEX}models/1",
        "gs://b/models/pets/v1/",
        f"{VERTEX}models/2",
        "gs://b/models/pets/v2/",
    ]
    assert f"deletes {VERTEX}models/1" in render_text(plan)


def test_an_earlier_vertex_dataset_goes_when_no_kept_version_was_trained_on_it() -> None:
    # v1, v2 were trained on datasets/1 (earlier images), v3, v4 on datasets/2 (the current ones)
    trained = {1: f"{VERTEX}datasets/1", 2: f"{VERTEX}datasets/1", 3: f"{VERTEX}datasets/2"}
    history = _with_resources(HISTORY, {**trained, 4: f"{VERTEX}datasets/2"})
    lds = replace(LDS, resource=f"{VERTEX}datasets/2", old_resources=(f"{VERTEX}datasets/1",))
    latest = GENERATIONS[-1]
    plan = build_plan(desired(DS, latest, REG), live(lds, history, live_registry(REG, 4)))
    assert _table(plan.changes) == [("model.pets", A.DELETE), ("dataset.pets", A.DELETE)]
    cleanup = plan.changes[1]
    assert cleanup.after == {"delete_resources": [f"{VERTEX}datasets/1"]}
    assert cleanup.details == {"deletes": [f"{VERTEX}datasets/1"]}
    assert cleanup.reason_codes == (ReasonCode.UNUSED,)
    assert f"deletes {VERTEX}datasets/1" in render_text(plan)

    # a version that stays (keep: 4) still uses it: nothing to delete
    kept = model("pets", DS, node_hours=0.4, keep=4)
    plan = build_plan(desired(DS, kept, REG), live(lds, history, live_registry(REG, 4)))
    assert plan.empty


def test_a_dataset_change_frees_the_current_vertex_dataset_with_the_versions_on_it() -> None:
    # this apply imports new images (a new Vertex dataset) and trains on them; keep: 1 deletes
    # every older version, so the Vertex dataset they were trained on goes too
    history = _with_resources(HISTORY, {n: f"{VERTEX}datasets/1" for n in (1, 2, 3, 4)})
    lds = replace(LDS, resource=f"{VERTEX}datasets/1")
    new = model("pets", DS_EDITED, node_hours=0.4, keep=1)
    plan = build_plan(desired(DS_EDITED, new), live(lds, history))
    assert _table(plan.changes) == [
        ("dataset.pets", A.UPDATE),
        ("model.pets", A.TRAIN),
        ("model.pets", A.DELETE),
        ("dataset.pets", A.DELETE),
    ]
    assert plan.changes[-1].after == {"delete_resources": [f"{VERTEX}datasets/1"]}
    # without keep, the old versions stay, and so does their dataset
    plan = build_plan(desired(DS_EDITED, model("pets", DS_EDITED)), live(lds, history))
    assert A.DELETE not in [a for _, a in _table(plan.changes)]


# --- a default written explicitly plans the same as an omitted one -----------------------------

IMPLICIT = """
    version: 1
    backend:
      local:
        path: .edgeops
    datasets:
      pets:
        source:
          folder: data
    models:
      pets:
        dataset: pets
    publish:
      pets:
        registry:
          display_name: pets
"""

EXPLICIT = """
    version: 1
    backend:
      local:
        path: .edgeops
    datasets:
      pets:
        source:
          folder: data
        multi_label: false
        split: {train: 80, validation: 10, test: 10}
    models:
      pets:
        dataset: pets
        optimize_for: latency
        budget: {node_hours: 0.1, early_stopping: true}
        threshold: {value: 0.5}
    publish:
      pets:
        registry:
          display_name: pets
          tags: []
          published: true
"""


def test_explicit_defaults_plan_the_same_as_omitted_ones(repo: Path) -> None:
    pytest.importorskip("edgeops.backends.local.ml", reason="resolve needs the ML estimates")
    states = []
    for name, text in (("implicit.yaml", IMPLICIT), ("explicit.yaml", EXPLICIT)):
        (repo / name).write_text(textwrap.dedent(text).lstrip())
        config = load_config(repo / name)
        states.append(resolve(config, get_backend(config), NullReporter()))
    implicit, explicit = states
    plans = [build_plan(s, LiveState(backend="local")) for s in states]
    assert [c.to_dict() for c in plans[0].changes] == [c.to_dict() for c in plans[1].changes]
    assert implicit.models[0].fingerprint == explicit.models[0].fingerprint
    assert implicit.models[0].eval_fingerprint == explicit.models[0].eval_fingerprint
    assert implicit.publish[0].spec == explicit.publish[0].spec
    # and a live state made from one is "no changes" for the other
    d, m = implicit.datasets[0], implicit.models[0]
    trained = version(m, 1)
    have = LiveState(
        backend="local",
        datasets={d.address: LiveDataset(d.address, d.fingerprint, d.images)},
        models={m.address: live_model(trained)},
        publish={"publish.pets.registry": live_registry(implicit.publish[0], 1)},
    )
    assert build_plan(explicit, have).empty
