"""Saved plans: save/load, format checks, and the stale-plan refusal."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edgeops.errors import EdgeopsError, StalePlanError
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import FORMAT_VERSION, Plan
from edgeops.plan.stale import check_not_stale
from edgeops.workflow import load_plan, save_plan

from .factories import dataset, desired, imgs, live, live_dataset, live_model, model, version

ROWS = imgs({"cat": range(0, 10), "dog": range(10, 20)})
MORE = ROWS + imgs({"cat": range(20, 22)})
DS, DS_MORE = dataset("pets", ROWS), dataset("pets", MORE)


def _plan(want=None, have=None) -> Plan:  # noqa: ANN001
    return build_plan(
        want or desired(DS_MORE, model("pets", DS_MORE)),
        have or live(live_dataset("pets", ROWS), live_model(version(model("pets", DS), 1))),
        config_path="/repo/edgeops.yaml",
    )


def test_save_and_load_round_trip_without_temp_files(tmp_path: Path) -> None:
    plan = replace(_plan(), created_at="2026-01-01T00:00:00+00:00", edgeops_version="0.1.0")
    save_plan(plan, tmp_path / "p.json")
    assert load_plan(tmp_path / "p.json") == plan
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such plan file; make one with `edgeops plan --out"),
        ("not json {", "not a plan file saved by `edgeops plan --out`"),
        (b"\xff\xfe\x00", "not a plan file"),
        ("[1, 2]", "plan format_version None is not 1"),
        (json.dumps({"format_version": 99}), "plan format_version 99 is not 1"),
        (json.dumps({"format_version": FORMAT_VERSION}), "the plan file is damaged"),
        (
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "backend": "local",
                    "config_path": "x",
                    "changes": [{"address": "dataset.a", "action": "explode", "reason": ""}],
                }
            ),
            "the plan file is damaged",
        ),
    ],
)
def test_bad_plan_files_are_user_errors(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "p.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(EdgeopsError) as info:
        load_plan(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_an_unchanged_plan_is_not_stale() -> None:
    check_not_stale(_plan(), _plan())


def test_live_state_moved_since_the_plan_is_stale() -> None:
    saved = _plan()
    # someone imported other images meanwhile: the dataset's live serial moved
    other = live(
        live_dataset("pets", ROWS + imgs({"dog": range(30, 31)})),
        live_model(version(model("pets", DS), 1)),
    )
    with pytest.raises(StalePlanError) as info:
        check_not_stale(saved, _plan(have=other))
    message = str(info.value)
    assert "dataset.pets: live state changed since the plan was made" in message
    assert "edgeops plan --out" in message


def test_config_or_data_moved_since_the_plan_is_stale() -> None:
    saved = _plan()
    even_more = dataset("pets", MORE + imgs({"cat": range(40, 41)}))
    with pytest.raises(StalePlanError) as info:
        check_not_stale(saved, _plan(want=desired(even_more, model("pets", even_more))))
    lines = str(info.value).splitlines()
    assert "  dataset.pets: the config or its data changed since the plan was made" in lines
    assert "  model.pets: the config or its data changed since the plan was made" in lines


def test_a_change_that_appeared_or_vanished_makes_the_plan_stale() -> None:
    saved = _plan(want=desired(DS), have=live(live_dataset("pets", ROWS)))
    assert saved.empty
    with pytest.raises(StalePlanError, match="dataset.pets"):
        check_not_stale(saved, _plan(want=desired(DS_MORE), have=live(live_dataset("pets", ROWS))))
    with pytest.raises(StalePlanError, match="dataset.pets"):
        check_not_stale(_plan(want=desired(DS_MORE), have=live(live_dataset("pets", ROWS))), saved)
