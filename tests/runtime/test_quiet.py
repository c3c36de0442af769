"""captured(): native and Python output kept off the terminal, and fds 1/2 given back intact."""

from __future__ import annotations

import os
import threading

from edgeops.runtime.quiet import captured


def fd_target(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def test_threads_capturing_at_once_give_stdout_back() -> None:
    # Two threads loading models at once (the server's two rollout arms) both capture. The one
    # that started first used to finish first and restore the terminal, then the other restored
    # what it had found, the first one's buffer: fd 1 stayed on a deleted temp file.
    before = fd_target(1), fd_target(2)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with captured("first"):
            first_in.set()
            os.write(1, b"native noise\n")
            second_in.wait(timeout=0.5)  # never set while it holds the capture: it waits
        first_out.set()

    def second() -> None:
        first_in.wait(timeout=5)
        with captured("second"):
            second_in.set()
            first_out.wait(timeout=5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (fd_target(1), fd_target(2)) == before


def test_nested_capture_in_one_thread() -> None:
    before = fd_target(1)
    with captured("outer"), captured("inner"):
        os.write(1, b"noise\n")
    assert fd_target(1) == before
