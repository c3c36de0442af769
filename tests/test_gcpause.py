"""gcpause: the cyclic collector is off while a scan runs, and back as it was after."""

from __future__ import annotations

import gc
import threading

import pytest

from edgeops import gcpause


def test_paused_nests_and_restores() -> None:
    assert gc.isenabled()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_collector_off_before_stays_off() -> None:
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_restored_after_an_error_and_on_overlapping_threads() -> None:
    @gcpause.pausing
    def fails() -> None:
        assert not gc.isenabled()
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fails()
    assert gc.isenabled()

    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with gcpause.paused():
            inside.set()
            leave.wait()

    t = threading.Thread(target=other)
    t.start()
    inside.wait()
    with gcpause.paused():
        pass
    assert not gc.isenabled()  # the other thread's pause goes on
    leave.set()
    t.join()
    assert gc.isenabled()
