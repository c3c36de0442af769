"""The planner: (DesiredState, LiveState) -> Plan. Pure: no I/O, no backend calls.

Every change names its trigger. Removing a resource from the config plans a ``forget`` (data and
model versions are kept) or, for publish targets, an ``unpublish``. Each kind of resource is
planned in its own module (``datasets``, ``models``, ``publish``); this one assembles the plan.
"""

from __future__ import annotations

from dataclasses import replace

from edgeops.addresses import Address, model_address
from edgeops.plan.datasets import plan_dataset, plan_dataset_cleanup
from edgeops.plan.definition import Action, Change, Plan, ReasonCode
from edgeops.plan.models import plan_model
from edgeops.plan.publish import Candidate, plan_publish
from edgeops.state import DesiredState, LiveState


def build_plan(desired: DesiredState, live: LiveState, *, config_path: str = "") -> Plan:
    changes: list[Change] = []
    warnings: list[str] = []
    dataset_summaries: dict[str, str] = {}  # dataset address -> what changed, when it did

    for d in desired.datasets:
        warnings.extend(f"{d.address}: {w}" for w in d.warnings)
        change, summary = plan_dataset(d, live.datasets.get(d.address), live)
        if change:
            changes.append(change)
            dataset_summaries[d.address] = summary
    for address in sorted(set(live.datasets) - {d.address for d in desired.datasets}):
        changes.append(
            Change(
                address=address,
                action=Action.FORGET,
                reason="removed from edgeops.yaml; its images stay in the store",
                reason_codes=(ReasonCode.REMOVED,),
                before={"fingerprint": live.datasets[address].fingerprint},
                live_serial=live.serial(address),
            )
        )

    # model address -> the version publish targets should point at (int, or NEW_VERSION)
    current: dict[str, int | str] = {}
    pins: dict[str, set[int]] = {}  # model name -> versions publish targets pin (kept by `keep`)
    for p in desired.publish:
        if p.pinned_version is not None:
            pins.setdefault(p.model, set()).add(p.pinned_version)
    for model, versions in _stuck_rollouts(desired, live).items():
        pins.setdefault(model, set()).update(versions)
    for m in desired.models:
        model_changes, version = plan_model(
            m,
            live.models.get(m.address),
            dataset_summaries.get(m.dataset_address),
            live,
            pins.get(m.spec.name, set()),
        )
        changes.extend(model_changes)
        current[m.address] = version
    for address in sorted(set(live.models) - {m.address for m in desired.models}):
        lm = live.models[address]
        changes.append(
            Change(
                address=address,
                action=Action.FORGET,
                reason=f"removed from edgeops.yaml; its {len(lm.versions)} version(s) are kept",
                reason_codes=(ReasonCode.REMOVED,),
                live_serial=live.serial(address),
            )
        )

    drift: list[tuple[str, str]] = []
    models_by_name = {m.spec.name: m for m in desired.models}
    for p in desired.publish:
        lp = live.publish.get(p.address)
        if lp:
            drift.extend((p.address, line) for line in lp.drift)
        m = models_by_name[p.model]
        candidate = None
        if p.rollout is not None:
            cm = models_by_name[p.rollout.candidate]
            candidate = Candidate(cm, live.models.get(cm.address), current[cm.address])
        change, warning = plan_publish(
            p, m, live.models.get(m.address), current[m.address], live, candidate
        )
        if change:
            changes.append(change)
        if warning:
            warnings.append(warning)
    desired_publish = {p.address for p in desired.publish}
    removed = sorted(set(live.publish) - desired_publish)
    for address in removed:
        lp = live.publish[address]
        drift.extend((address, line) for line in lp.drift)
        changes.append(
            Change(
                address=address,
                action=Action.UNPUBLISH,
                reason="removed from edgeops.yaml"
                + (" (protected: recorded `protect: true`)" if lp.protect else ""),
                reason_codes=(ReasonCode.REMOVED,),
                before={"version": lp.version, **lp.spec},
                details={"model": lp.model, "version": lp.version, "protect": lp.protect},
                live_serial=live.serial(address),
                blocked_by_protection=lp.protect,
            )
        )
    doomed = {
        (c.address, v)
        for c in changes
        if c.kind == "model" and c.action == Action.DELETE and c.after is not None
        for v in c.after["delete_versions"]
    }
    for d in desired.datasets:
        cleanup = plan_dataset_cleanup(d, live.datasets.get(d.address), live, doomed)
        if cleanup:
            changes.append(cleanup)
    changes = _protect_served_versions(changes)

    serials = {c.address: c.live_serial for c in changes}
    return Plan(
        backend=desired.backend,
        config_path=config_path,
        changes=tuple(changes),
        drift=tuple(drift),
        warnings=tuple(warnings),
        serials=serials,
        removes_every_target=bool(live.publish) and len(removed) == len(live.publish),
    )


def _stuck_rollouts(desired: DesiredState, live: LiveState) -> dict[str, set[int]]:
    """Rollout candidate versions that stay served after this apply: those of live targets whose
    own model's current version missed its gate (such a target is left as it is), by candidate
    model name. Retention keeps them, as it keeps pinned versions."""
    models = {m.spec.name: m for m in desired.models}
    out: dict[str, set[int]] = {}
    for p in live.publish.values():
        rollout = p.state.get("rollout") or {}
        m, lm = models.get(p.model), live.models.get(model_address(p.model))
        if not isinstance(rollout.get("version"), int) or m is None or lm is None:
            continue
        current = lm.by_fingerprint(m.fingerprint)
        if (
            current is not None
            and not current.blessed
            and current.eval_fingerprint == (m.eval_fingerprint)
        ):
            out.setdefault(rollout["candidate"], set()).add(rollout["version"])
    return out


def live_drift(live: LiveState) -> tuple[tuple[str, str], ...]:
    """Everything changed outside edgeops, whatever the config says: (address, what) pairs."""
    return tuple((a, line) for a in sorted(live.publish) for line in live.publish[a].drift)


def _protect_served_versions(changes: list[Change]) -> list[Change]:
    """A retention delete of a version that a protected target being unpublished serves is
    blocked with it (the applier already keeps versions that stay published)."""
    served: dict[str, set[int]] = {}
    for c in changes:
        if c.action == Action.UNPUBLISH and c.blocked_by_protection and c.before is not None:
            model = Address.parse(c.address).model
            served.setdefault(model, set()).add(c.before["version"])
    out = []
    for c in changes:
        if c.kind == "model" and c.action == Action.DELETE and c.after is not None:
            hit = sorted(served.get(c.address, set()) & set(c.after["delete_versions"]))
            if hit:
                c = replace(
                    c,
                    blocked_by_protection=True,
                    warnings=(
                        *c.warnings,
                        "deletes "
                        + ", ".join(f"v{v}" for v in hit)
                        + ", served by a protected target",
                    ),
                )
        out.append(c)
    return out
