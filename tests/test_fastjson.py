"""edgeops.fastjson: orjson where it can, the standard library for what orjson refuses."""

from __future__ import annotations

import json

import pytest

from edgeops import fastjson


def test_round_trip_is_compact_json() -> None:
    value = {"names": ("a.png", "é.jpg"), "stats": [1, 2**62, -3], "nested": [[], {}]}
    text = fastjson.dumps(value)
    assert isinstance(text, str)
    assert " " not in text
    assert fastjson.loads(text) == json.loads(text) == {**value, "names": ["a.png", "é.jpg"]}


@pytest.mark.parametrize(
    "value",
    [
        ["caf\udce9.jpg"],  # a file name that is not UTF-8 (os.fsdecode's surrogateescape)
        [2**70],  # past orjson's 64-bit integers
    ],
)
def test_what_orjson_refuses_goes_through_the_standard_library(value: list[object]) -> None:
    text = fastjson.dumps(value)
    assert fastjson.loads(text) == value


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        fastjson.loads("{not json")
