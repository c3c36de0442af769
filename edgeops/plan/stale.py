"""Whether a saved plan still applies: Atlantis's rule that apply does what the reviewed plan
showed. Pure: compares the saved plan with one made now."""

from __future__ import annotations

from edgeops.errors import StalePlanError
from edgeops.plan.definition import Plan


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
