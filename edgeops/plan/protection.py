"""Protection of published models: a plan that would unpublish a protected target, delete a
version one serves, or remove every published target is refused unless destruction is allowed.

The planner marks such changes (``Change.blocked_by_protection``, ``Plan.removes_every_target``);
this module turns the marks into the one message users see, and refuses the plan.
"""

from __future__ import annotations

from edgeops.addresses import Address
from edgeops.errors import ProtectionError
from edgeops.plan.definition import Action, Plan

HOW_TO_PROCEED = (
    "To keep a target, put it back in edgeops.yaml. To remove it, first set `protect: false` on "
    "it and apply, then remove it; or pass --allow-destroy to `edgeops plan` and `edgeops apply`."
)


def problems(plan: Plan) -> list[str]:
    """One line per destructive change protection stops (empty when the plan is allowed)."""
    lines = []
    for c in plan.blocked:
        if c.action == Action.UNPUBLISH:
            version = (c.before or {}).get("version")
            lines.append(
                f"{c.address}: would be unpublished; it serves v{version} of "
                f"{Address.parse(c.address).model} and was published with `protect: true`"
            )
        else:
            versions = ", ".join(f"v{v}" for v in (c.after or {}).get("delete_versions", ()))
            lines.append(
                f"{c.address}: would delete {versions}, served by a protected target this plan "
                "unpublishes"
            )
    if plan.removes_every_target:
        gone = [c.address for c in plan.changes if c.action == Action.UNPUBLISH]
        lines.append(
            f"every published target would be removed ({', '.join(gone)}); if edgeops.yaml "
            "lost its `publish:` section by mistake, restore it"
        )
    return lines


def check(plan: Plan, *, allow_destroy: bool = False) -> None:
    """Raise ProtectionError naming what would be destroyed, unless destruction is allowed."""
    if allow_destroy or plan.allow_destroy:
        return
    found = problems(plan)
    if not found:
        return
    raise ProtectionError(
        "this plan would destroy published models, and they are protected:\n"
        + "\n".join(f"  - {line}" for line in found)
        + "\n"
        + HOW_TO_PROCEED
    )
