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


def test_what_a_pause_allocated_is_old_and_its_cycles_still_collected() -> None:
    import weakref

    class Node:
        other: object = None

    with gcpause.paused():
        kept = [[i] for i in range(10_000)]
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the cyclic collector frees it
        gone = weakref.ref(a)
        del a, b
    assert gc.get_count()[0] < 1_000  # not charged to the young generation: no walk of them
    assert any(obj is kept[0] for obj in gc.get_objects(generation=2))
    assert gone() is not None  # uncollected until a full collection
    gc.collect()
    assert gone() is None
