"""A document the schema accepted once on this machine is not validated again."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops.config import schema_errors
from edgeops.config.loader import load_config
from edgeops.errors import ConfigError

from .conftest import MINIMAL, Write


@pytest.fixture
def machine_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "machine-cache"
    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(folder))
    return folder


def _validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = schema_errors.validator

    def counting():  # type: ignore[no-untyped-def]
        calls.append(1)
        return real()

    monkeypatch.setattr(schema_errors, "validator", counting)
    return calls


def test_an_accepted_document_is_validated_once(
    write: Write, machine_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _validations(monkeypatch)
    first = load_config(write(MINIMAL))
    assert calls == [1]
    assert len(list((machine_cache / "config-valid").rglob("*"))) == 2  # a folder, a marker
    assert load_config(write(MINIMAL)) == first
    assert calls == [1]  # not validated again

    # another document (one value changed) is validated, and remembered in turn
    load_config(write(MINIMAL.replace("display_name: flowers", "display_name: roses")))
    assert calls == [1, 1]


def test_a_rejected_document_is_rejected_every_time(
    write: Write, machine_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _validations(monkeypatch)
    bad = MINIMAL.replace("version: 1", "version: 1\nbogus_key: 3")
    for expected in ([1], [1, 1]):
        with pytest.raises(ConfigError, match="bogus_key"):
            load_config(write(bad))
        assert calls == expected
    assert not (machine_cache / "config-valid").exists()


def test_an_unwritable_machine_cache_only_costs_the_validation(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(blocked))
    calls = _validations(monkeypatch)
    load_config(write(MINIMAL))
    load_config(write(MINIMAL))
    assert calls == [1, 1]
