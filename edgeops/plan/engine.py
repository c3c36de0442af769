"""Plan and apply as one workflow: load the config, resolve desired state, read live state,
build the plan, refuse stale saved plans, apply under the backend lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from edgeops import __version__
from edgeops.backends import get_backend
from edgeops.backends.base import Backend
from edgeops.config.model import Config
from edgeops.errors import EdgeopsError, StalePlanError
from edgeops.plan import protection
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import FORMAT_VERSION, Plan
from edgeops.plan.evaluator import ApplyResult, apply_plan, raise_for_gates
from edgeops.progress import Reporter
from edgeops.state import DesiredState


@dataclass
class Session:
    config: Config
    backend: Backend
    reporter: Reporter
    desired: DesiredState | None = None
    _plan: Plan | None = field(default=None, repr=False)

    def plan(self, *, allow_destroy: bool = False) -> Plan:
        """The plan; ``allow_destroy`` is recorded in it (a saved plan made with
        --allow-destroy applies its protected removals). Protection is checked by the caller
        (``protection.check``) so that a refused plan can still be shown."""
        assert self.desired is not None
        live = self.backend.read()
        plan = build_plan(self.desired, live, config_path=str(self.config.path))
        self._plan = replace(
            plan,
            warnings=(*plan.warnings, *self.backend.plan_warnings(plan)),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            edgeops_version=__version__,
            allow_destroy=allow_destroy,
        )
        return self._plan

    @contextmanager
    def locked(self, command: str) -> Iterator[None]:
        with self.backend.lock(command):
            yield

    def apply(self, plan: Plan) -> ApplyResult:
        assert self.desired is not None
        protection.check(plan)  # whatever path led here, a blocked plan is never applied
        return apply_plan(plan, self.desired, self.backend, self.reporter)


def open_session(config_file: Path, reporter: Reporter, *, resolve: bool = True) -> Session:
    from edgeops.config.loader import load_config

    config = load_config(config_file)
    backend = get_backend(config)
    session = Session(config=config, backend=backend, reporter=reporter)
    if resolve:
        from edgeops.resolve import resolve as resolve_desired

        session.desired = resolve_desired(config, backend, reporter)
    return session


def save_plan(plan: Plan, path: Path) -> None:
    from edgeops.files import atomic_write

    atomic_write(path, (json.dumps(plan.to_dict(), indent=2) + "\n").encode())


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgeopsError(
            f"{path}: no such plan file; make one with `edgeops plan --out {path}`"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise EdgeopsError(f"{path}: not a plan file saved by `edgeops plan --out` ({e})") from None
    got = data.get("format_version") if isinstance(data, dict) else None
    if got != FORMAT_VERSION:
        raise EdgeopsError(
            f"{path}: plan format_version {got} is not {FORMAT_VERSION}; "
            f"make a new plan with this edgeops ({__version__})"
        )
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError, ValueError) as e:
        raise EdgeopsError(f"{path}: the plan file is damaged ({e}); make a new plan") from None


def check_not_stale(saved: Plan, now: Plan) -> None:
    """Refuse a saved plan when live state or the config moved since it was made."""
    moved = []
    for address in sorted(set(saved.serials) | set(now.serials)):
        if saved.serials.get(address) != now.serials.get(address):
            moved.append(f"  {address}: live state changed since the plan was made")
    saved_changes = {c.address: c for c in saved.changes}
    now_changes = {c.address: c for c in now.changes}
    for address in sorted(set(saved_changes) | set(now_changes)):
        a, b = saved_changes.get(address), now_changes.get(address)
        if (
            a is None
            or b is None
            or a.action != b.action
            or a.desired_fingerprint != b.desired_fingerprint
        ):
            line = f"  {address}: the config or its data changed since the plan was made"
            if not any(m.startswith(f"  {address}:") for m in moved):
                moved.append(line)
    if moved:
        raise StalePlanError(
            "the saved plan is stale; these resources moved:\n"
            + "\n".join(moved)
            + "\nRun `edgeops plan --out FILE` again and apply the new plan."
        )


__all__ = [
    "Session",
    "check_not_stale",
    "load_plan",
    "open_session",
    "raise_for_gates",
    "save_plan",
]
