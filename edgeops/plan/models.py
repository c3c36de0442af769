"""Planning models: train a new version when what its fingerprint covers changed, re-evaluate one
whose threshold rule or gate changed, and delete old versions that `keep:` no longer retains."""

from __future__ import annotations

from typing import Any

from edgeops.plan.definition import NEW_VERSION, Action, Change, ReasonCode
from edgeops.plan.wording import fmt
from edgeops.state import DesiredModel, LiveModel, LiveState, LiveVersion


def plan_model(
    m: DesiredModel,
    lm: LiveModel | None,
    dataset_summary: str | None,
    live: LiveState,
    pinned: set[int],
) -> tuple[list[Change], int | str]:
    """The model's changes, and the version its publish targets should point at (an int, or
    NEW_VERSION when this apply trains it). ``dataset_summary`` describes the change of the
    model's dataset in this plan (None when the dataset is unchanged)."""
    changes: list[Change] = []
    latest = lm.latest() if lm else None
    match = lm.by_fingerprint(m.fingerprint) if lm else None
    budget: dict[str, Any] = {
        "optimize_for": m.spec.optimize_for,
        "node_hours": m.spec.budget.node_hours,
        "early_stopping": m.spec.budget.early_stopping,
        "images": m.n_images,
        "estimate_seconds": round(m.estimate_seconds, 1),
    }
    if m.estimate_basis:
        budget["estimate_basis"] = m.estimate_basis
    if m.cost_ceiling:
        budget["cost_ceiling"] = m.cost_ceiling
    after = {"fingerprint": m.fingerprint, "eval_fingerprint": m.eval_fingerprint}
    if match is None:
        codes: list[ReasonCode] = []
        if latest is None:
            reason = "no trained version yet"
            codes.append(ReasonCode.NEW)
        else:
            triggers = []
            if latest.metrics.get("inputs", {}).get("dataset") != m.inputs.get("dataset"):
                codes.append(ReasonCode.DATASET_CHANGED)
                if dataset_summary is not None:
                    triggers.append(f"{m.dataset_address} changed ({dataset_summary})")
                else:
                    triggers.append(f"{m.dataset_address} differs from v{latest.version}'s data")
            inputs = input_changes(latest.metrics.get("inputs", {}), m.inputs)
            if inputs:
                codes.append(ReasonCode.INPUTS_CHANGED)
                triggers.extend(inputs)
            old_rule = latest.metrics.get("threshold_rule")
            if old_rule is not None and old_rule != m.spec.threshold.describe():
                codes.append(ReasonCode.THRESHOLD_CHANGED)
                triggers.append(f"threshold {old_rule} -> {m.spec.threshold.describe()}")
            gate_note = gate_change(latest, m)
            if gate_note:
                codes.append(ReasonCode.GATE_CHANGED)
                triggers.append(gate_note.removeprefix("; "))
            reason = "; ".join(triggers) or "training inputs changed"
            if not codes:
                codes.append(ReasonCode.INPUTS_CHANGED)
        changes.append(
            Change(
                address=m.address,
                action=Action.TRAIN,
                reason=reason,
                reason_codes=tuple(codes),
                before=version_summary(latest),
                after={**after, **budget},
                details={**budget, "inputs": m.inputs},
                live_serial=live.serial(m.address),
                desired_fingerprint=m.fingerprint,
            )
        )
        version: int | str = NEW_VERSION
    else:
        version = match.version
        if match.eval_fingerprint != m.eval_fingerprint:
            old_rule = match.metrics.get("threshold_rule", "?")
            gate_note = gate_change(match, m)
            codes = []
            if old_rule != m.spec.threshold.describe():
                codes.append(ReasonCode.THRESHOLD_CHANGED)
            if gate_note or not codes:
                codes.append(ReasonCode.GATE_CHANGED)
            changes.append(
                Change(
                    address=m.address,
                    action=Action.EVALUATE,
                    reason=(
                        f"threshold/gate changed for v{match.version}: threshold "
                        f"{old_rule} -> {m.spec.threshold.describe()}{gate_note}"
                    ),
                    reason_codes=tuple(codes),
                    before=version_summary(match),
                    after={**after, "version": match.version},
                    details={"version": match.version},
                    live_serial=live.serial(m.address),
                    desired_fingerprint=m.fingerprint + m.eval_fingerprint,
                )
            )
    if m.spec.keep is not None and lm is not None:
        delete = _retention(m, lm, version, live, pinned)
        if delete is not None:
            changes.append(delete)
    return changes, version


def _retention(
    m: DesiredModel, lm: LiveModel, version: int | str, live: LiveState, pinned: set[int]
) -> Change | None:
    assert m.spec.keep is not None
    ready = [v for v in lm.versions if v.status == "ready"]
    keep_n = m.spec.keep - (1 if version == NEW_VERSION else 0)
    # After this apply every target of the model points at `version` or at a pinned one;
    # a version still published when the delete runs (say the new one missed its gate) is
    # kept by the applier.
    published = set(pinned)
    current_version = lm.by_version(version) if isinstance(version, int) else None
    if current_version is not None and not current_version.blessed:
        # the current version missed its gate: targets stay where they are
        published |= live.served_versions(m.spec.name)
    candidates = ready[: max(0, len(ready) - keep_n)]
    doomed = [v.version for v in candidates if v.version not in published and v.version != version]
    if not doomed:
        return None
    details: dict[str, Any] = {"delete_versions": doomed}
    deletes = [r for v in doomed for r in lm.resources.get(v, ())]
    if deletes:  # what the backend deletes with them (a Vertex AI model, its files)
        details["deletes"] = deletes
    return Change(
        address=m.address,
        action=Action.DELETE,
        reason=f"keep: {m.spec.keep} retains the newest versions; published ones stay",
        reason_codes=(ReasonCode.RETENTION,),
        before={"versions": [v.version for v in ready]},
        after={"delete_versions": doomed},
        details=details,
        live_serial=live.serial(m.address),
        desired_fingerprint=f"keep{m.spec.keep}",
    )


def input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Which fingerprint inputs differ, as 'field: old -> new' lines (dataset named by address)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "dataset":
            continue  # described by the dataset change itself
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in sorted(set(a) | set(b)):
                if a.get(sub) != b.get(sub):
                    out.append(f"{key}.{sub} {fmt(a.get(sub))} -> {fmt(b.get(sub))}")
        else:
            out.append(f"{key} {fmt(a)} -> {fmt(b)}")
    return out


def gate_change(v: LiveVersion, m: DesiredModel) -> str:
    """``; gate min_recall 0.5 -> 0.6, vs_published unset -> au_prc max_drop 0.01`` when the
    version was judged by other bars than the config's ("" when the same, or not recorded)."""
    old = v.metrics.get("gate_spec")
    new = m.spec.gate.fingerprint_inputs()  # what the version recorded (records.version_metrics)
    if old is None or old == new:
        return ""
    default = {"evaluate_on": "test_split"}  # recorded only when not the default
    old, new = {**default, **old}, {**default, **new}
    keys = [*new, *(k for k in old if k not in new)]
    diffs = [
        f"{k} {_bar(old.get(k))} -> {_bar(new.get(k))}" for k in keys if old.get(k) != new.get(k)
    ]
    return "; gate " + ", ".join(diffs)


def _bar(value: Any) -> str:
    if isinstance(value, dict):  # vs_published: {metric, max_drop}
        return f"{value.get('metric')} max_drop {fmt(value.get('max_drop'))}"
    return fmt(value)


def version_summary(v: LiveVersion | None) -> dict[str, Any] | None:
    if v is None:
        return None
    summary = v.metrics.get("summary") or {}
    return {
        "version": v.version,
        "fingerprint": v.fingerprint,
        "blessed": v.blessed,
        "threshold": v.threshold,
        **{k: summary[k] for k in ("precision", "recall", "au_prc") if k in summary},
    }
