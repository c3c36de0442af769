"""One root error type for user errors; the CLI boundary maps exceptions to exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class EdgeopsError(Exception):
    """A problem the user can fix: bad config, bad input data, a stale plan, a held lock.

    ``str(err)`` is the full one-screen message shown to the user (no traceback).
    """


class ConfigError(EdgeopsError):
    """edgeops.yaml is invalid. Messages read ``file:line: path: what is wrong; how to fix``."""


class DatasetError(EdgeopsError):
    """A dataset source is rejected. Nothing from a rejected source is imported."""


class LockError(EdgeopsError):
    """Another apply holds the backend lock."""


class StalePlanError(EdgeopsError):
    """A saved plan no longer matches live state or the config."""


class ProtectionError(EdgeopsError):
    """A plan would destroy protected published models and destruction was not allowed."""


class GateFailed(EdgeopsError):
    """A trained model version missed its quality gate; publish targets were left untouched."""
