"""Keeps the converters' and LiteRT's own output off the user's terminal.

litert-torch, the MLIR converter, ai-edge-quantizer and the LiteRT interpreter write to the
process's stdout/stderr directly from native code (absl ``I0000 ... flatbuffer_export.cc``
lines, ``WARNING: All log messages before absl::InitializeLog() ...``, ``INFO: Created TensorFlow
Lite XNNPACK delegate for CPU.``), and from Python (torchao's ``Failed to load ..._C_*.so``
logging warnings for kernels of other platforms, torch's pytree deprecation log line, converter
progress). Environment variables do not reach all of them (absl's log level has no environment
variable, and ``TF_CPP_MIN_LOG_LEVEL`` is read only by TensorFlow's own logging), so
:func:`captured` redirects file descriptors 1 and 2 (and ``sys.stdout``/``sys.stderr``) into a
buffer around those calls. The buffer is dropped on success and attached to the exception as a
note on failure (so tracebacks and crash logs show it): nothing useful is lost.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

TAIL_CHARS = 4000  # of captured output shown when the wrapped call fails

# Python-level loggers of the converter stack that warn about things users cannot act on.
_NOISY_LOGGERS = ("torchao", "torch.utils._pytree")


def quiet_loggers() -> None:
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


# File descriptors 1 and 2 are the process's: two threads capturing at once (the server loading
# two models) would each restore what the other redirected, and lose stdout for good.
_ONE_AT_A_TIME = threading.RLock()


@contextlib.contextmanager
def captured(what: str) -> Iterator[None]:
    """Runs the body with stdout/stderr (Python and native) captured; shown only on failure.
    One thread at a time captures: another one waits for it."""
    with _ONE_AT_A_TIME:
        yield from _captured(what)


def _captured(what: str) -> Iterator[None]:
    quiet_loggers()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with tempfile.TemporaryFile() as buf:
        saved: dict[int, int] = {}
        py_out, py_err = io.StringIO(), io.StringIO()
        try:
            for fd in (1, 2):
                try:
                    saved[fd] = os.dup(fd)
                except OSError:  # no such descriptor (e.g. a daemon): nothing to capture
                    continue
                os.dup2(buf.fileno(), fd)
            with contextlib.redirect_stdout(py_out), contextlib.redirect_stderr(py_err):
                yield
        except BaseException as exc:
            _restore(saved)
            saved = {}
            buf.seek(0)
            text = buf.read().decode("utf-8", "replace") + py_out.getvalue() + py_err.getvalue()
            if text.strip() and not isinstance(exc, KeyboardInterrupt):
                tail = text[-TAIL_CHARS:]
                exc.add_note(f"{what}: output of the failed call (last {len(tail)} chars):\n{tail}")
            raise
        finally:
            _restore(saved)


def _restore(saved: dict[int, int]) -> None:
    for fd, dup in saved.items():
        os.dup2(dup, fd)
        os.close(dup)
