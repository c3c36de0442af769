"""The planner: (DesiredState, LiveState) -> Plan. Pure: no I/O, no backend calls.

Every change names its trigger. Removing a resource from the config plans a ``forget`` (data and
model versions are kept) or, for publish targets, an ``unpublish``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from deepdiff import DeepDiff

from edgeops.errors import EdgeopsError
from edgeops.plan.definition import Action, Change, Plan
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    DesiredState,
    ImageRow,
    LiveDataset,
    LiveModel,
    LivePublish,
    LiveState,
    LiveVersion,
    short,
)

NEW_VERSION = "new"  # a publish target's version when the model is (re)trained by the same apply


def build_plan(desired: DesiredState, live: LiveState, *, config_path: str = "") -> Plan:
    changes: list[Change] = []
    warnings: list[str] = []
    dataset_changes: dict[str, Change] = {}

    for d in desired.datasets:
        warnings.extend(f"{d.address}: {w}" for w in d.warnings)
        change = _plan_dataset(d, live.datasets.get(d.address), live)
        if change:
            changes.append(change)
            dataset_changes[d.address] = change
    for address in sorted(set(live.datasets) - {d.address for d in desired.datasets}):
        changes.append(
            Change(
                address=address,
                action=Action.FORGET,
                reason="removed from edgeops.yaml; its images stay in the store",
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
    for m in desired.models:
        lm = live.models.get(m.address)
        model_changes, version = _plan_model(
            m, lm, dataset_changes.get(m.dataset_address), live, pins.get(m.spec.name, set())
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
            candidate = _Candidate(cm, live.models.get(cm.address), current[cm.address])
        change, warning = _plan_publish(
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
        protected = recorded_protect(lp.state)
        changes.append(
            Change(
                address=address,
                action=Action.UNPUBLISH,
                reason="removed from edgeops.yaml"
                + (" (protected: recorded `protect: true`)" if protected else ""),
                before={"version": lp.version, **lp.spec},
                details={"model": lp.model, "version": lp.version, "protect": protected},
                live_serial=live.serial(address),
                blocked_by_protection=protected,
            )
        )
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


def live_drift(live: LiveState) -> tuple[tuple[str, str], ...]:
    """Everything changed outside edgeops, whatever the config says: (address, what) pairs."""
    return tuple((a, line) for a in sorted(live.publish) for line in live.publish[a].drift)


def served_versions(live: LiveState, model: str) -> set[int]:
    """Versions of ``model`` live publish targets serve: their own, and as rollout candidates."""
    out = {p.version for p in live.publish.values() if p.model == model}
    for p in live.publish.values():
        rollout = p.state.get("rollout") or {}
        if rollout.get("candidate") == model and isinstance(rollout.get("version"), int):
            out.add(rollout["version"])
    return out


def recorded_protect(state: dict[str, Any]) -> bool:
    """The `protect` a target had when it was published; targets recorded before edgeops
    recorded it are protected (the safe default)."""
    return state.get("protect") is not False


def _protect_served_versions(changes: list[Change]) -> list[Change]:
    """A retention delete of a version that a protected target being unpublished serves is
    blocked with it (the applier already keeps versions that stay published)."""
    served: dict[str, set[int]] = {}
    for c in changes:
        if c.action == Action.UNPUBLISH and c.blocked_by_protection:
            served.setdefault(f"model.{c.details['model']}", set()).add(c.details["version"])
    out = []
    for c in changes:
        hit = sorted(served.get(c.address, set()) & set(c.details.get("delete_versions", ())))
        if c.action == Action.DELETE and hit:
            c = replace(
                c,
                blocked_by_protection=True,
                warnings=(
                    *c.warnings,
                    "deletes " + ", ".join(f"v{v}" for v in hit) + ", served by a protected target",
                ),
            )
        out.append(c)
    return out


# --- datasets ----------------------------------------------------------------------------------


def dataset_diff(
    desired: tuple[ImageRow, ...], live: tuple[ImageRow, ...]
) -> dict[str, dict[str, int]]:
    """Per label: images added, removed, relabelled (to or from this label), moved split."""
    want = {r.sha256: r for r in desired}
    have = {r.sha256: r for r in live}
    per: dict[str, Counter[str]] = {}

    def bump(label: str, what: str) -> None:
        per.setdefault(label, Counter())[what] += 1

    for sha, r in want.items():
        old = have.get(sha)
        if old is None:
            for label in r.labels:
                bump(label, "added")
        elif old.labels != r.labels:
            for label in set(r.labels) - set(old.labels):
                bump(label, "relabelled_in")
            for label in set(old.labels) - set(r.labels):
                bump(label, "relabelled_out")
        elif old.split != r.split:
            for label in r.labels:
                bump(label, "moved_split")
    for sha, old in have.items():
        if sha not in want:
            for label in old.labels:
                bump(label, "removed")
    return {label: dict(c) for label, c in sorted(per.items())}


def summarize_dataset_diff(diff: dict[str, dict[str, int]]) -> str:
    added = sum(c.get("added", 0) for c in diff.values())
    removed = sum(c.get("removed", 0) for c in diff.values())
    relabelled = sum(c.get("relabelled_in", 0) for c in diff.values())
    moved = sum(c.get("moved_split", 0) for c in diff.values())
    parts = []
    if added:
        parts.append(f"+{added} images")
    if removed:
        parts.append(f"-{removed} images")
    if relabelled:
        parts.append(f"{relabelled} relabelled")
    if moved:
        parts.append(f"{moved} moved split")
    return ", ".join(parts) or "no image changes"


def _label_counts(rows: tuple[ImageRow, ...]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for r in rows:
        c.update(r.labels)
    return dict(sorted(c.items()))


def _plan_dataset(d: DesiredDataset, ld: LiveDataset | None, live: LiveState) -> Change | None:
    labels = _label_counts(d.images)
    after = {
        "fingerprint": d.fingerprint,
        "images": len(d.images),
        "labels": labels,
        "unlabelled": d.unlabelled,
    }
    if ld is None:
        n_labels = len(labels)
        return Change(
            address=d.address,
            action=Action.CREATE,
            reason=f"new dataset ({len(d.images)} images, {n_labels} labels)",
            after=after,
            details={"per_label": dataset_diff(d.images, ())},
            live_serial=live.serial(d.address),
            desired_fingerprint=d.fingerprint,
        )
    if ld.fingerprint == d.fingerprint:
        return None
    diff = dataset_diff(d.images, ld.images)
    summary = summarize_dataset_diff(diff)
    old_labels = set(_label_counts(ld.images))
    new_labels = sorted(set(labels) - old_labels)
    gone_labels = sorted(old_labels - set(labels))
    if new_labels:
        summary += f", {len(new_labels)} new label(s): {', '.join(new_labels)}"
    if gone_labels:
        summary += f", label(s) gone: {', '.join(gone_labels)}"
    return Change(
        address=d.address,
        action=Action.UPDATE,
        reason=f"images changed ({summary})",
        before={
            "fingerprint": ld.fingerprint,
            "images": len(ld.images),
            "labels": _label_counts(ld.images),
        },
        after=after,
        details={"per_label": diff},
        live_serial=live.serial(d.address),
        desired_fingerprint=d.fingerprint,
    )


# --- models ------------------------------------------------------------------------------------


def _input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
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
                    out.append(f"{key}.{sub} {_fmt(a.get(sub))} -> {_fmt(b.get(sub))}")
        else:
            out.append(f"{key} {_fmt(a)} -> {_fmt(b)}")
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _plan_model(
    m: DesiredModel,
    lm: LiveModel | None,
    dataset_change: Change | None,
    live: LiveState,
    pinned: set[int],
) -> tuple[list[Change], int | str]:
    changes: list[Change] = []
    latest = lm.latest() if lm else None
    match = lm.by_fingerprint(m.fingerprint) if lm else None
    train_details: dict[str, Any] = {
        "optimize_for": m.spec.optimize_for,
        "node_hours": m.spec.budget.node_hours,
        "early_stopping": m.spec.budget.early_stopping,
        "images": m.n_images,
        "estimate_seconds": round(m.estimate_seconds, 1),
        "inputs": m.inputs,
    }
    if m.cost_ceiling:
        train_details["cost_ceiling"] = m.cost_ceiling
    after = {"fingerprint": m.fingerprint, "eval_fingerprint": m.eval_fingerprint}
    if match is None:
        if latest is None:
            reason = "no trained version yet"
        else:
            triggers = []
            if latest.metrics.get("inputs", {}).get("dataset") != m.inputs.get("dataset"):
                if dataset_change is not None:
                    triggers.append(
                        f"{m.dataset_address} changed ({_dataset_short(dataset_change)})"
                    )
                else:
                    triggers.append(f"{m.dataset_address} differs from v{latest.version}'s data")
            triggers.extend(_input_changes(latest.metrics.get("inputs", {}), m.inputs))
            old_rule = latest.metrics.get("threshold_rule")
            if old_rule is not None and old_rule != m.spec.threshold.describe():
                triggers.append(f"threshold {old_rule} -> {m.spec.threshold.describe()}")
            gate_note = _gate_change(latest, m)
            if gate_note:
                triggers.append(gate_note.removeprefix("; "))
            reason = "; ".join(triggers) or "training inputs changed"
        changes.append(
            Change(
                address=m.address,
                action=Action.TRAIN,
                reason=reason,
                before=_version_summary(latest),
                after=after,
                details=train_details,
                live_serial=live.serial(m.address),
                desired_fingerprint=m.fingerprint,
            )
        )
        version: int | str = NEW_VERSION
    else:
        version = match.version
        if match.eval_fingerprint != m.eval_fingerprint:
            old_rule = match.metrics.get("threshold_rule", "?")
            changes.append(
                Change(
                    address=m.address,
                    action=Action.EVALUATE,
                    reason=(
                        f"threshold/gate changed for v{match.version}: threshold "
                        f"{old_rule} -> {m.spec.threshold.describe()}"
                        f"{_gate_change(match, m)}"
                    ),
                    before=_version_summary(match),
                    after={**after, "version": match.version},
                    details={"version": match.version},
                    live_serial=live.serial(m.address),
                    desired_fingerprint=m.fingerprint + m.eval_fingerprint,
                )
            )
    if m.spec.keep is not None and lm is not None:
        ready = [v for v in lm.versions if v.status == "ready"]
        keep_n = m.spec.keep - (1 if version == NEW_VERSION else 0)
        # After this apply every target of the model points at `version` or at a pinned one;
        # a version still published when the delete runs (say the new one missed its gate) is
        # kept by the applier.
        published = set(pinned)
        current_version = lm.by_version(version) if isinstance(version, int) else None
        if current_version is not None and not current_version.blessed:
            # the current version missed its gate: targets stay where they are
            published |= served_versions(live, m.spec.name)
        candidates = ready[: max(0, len(ready) - keep_n)]
        doomed = [
            v.version for v in candidates if v.version not in published and v.version != version
        ]
        if doomed:
            changes.append(
                Change(
                    address=m.address,
                    action=Action.DELETE,
                    reason=f"keep: {m.spec.keep} retains the newest versions; published ones stay",
                    before={"versions": [v.version for v in ready]},
                    after={"delete_versions": doomed},
                    details={"delete_versions": doomed},
                    live_serial=live.serial(m.address),
                    desired_fingerprint=f"keep{m.spec.keep}",
                )
            )
    return changes, version


def _gate_change(v: LiveVersion, m: DesiredModel) -> str:
    old = v.metrics.get("gate_spec")
    new = {
        "min_precision": m.spec.gate.min_precision,
        "min_recall": m.spec.gate.min_recall,
        "min_au_prc": m.spec.gate.min_au_prc,
    }
    if old is None or old == new:
        return ""
    diffs = [f"{k} {_fmt(old.get(k))} -> {_fmt(new[k])}" for k in new if old.get(k) != new[k]]
    return "; gate " + ", ".join(diffs)


def _dataset_short(change: Change) -> str:
    r = change.reason
    return r[r.find("(") + 1 : r.rfind(")")] if "(" in r else r


def _version_summary(v: LiveVersion | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "version": v.version,
        "fingerprint": v.fingerprint,
        "blessed": v.blessed,
        "threshold": v.threshold,
    }


# --- publish -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """The model a target rolls out, and the version it would roll out (int or NEW_VERSION)."""

    model: DesiredModel
    live: LiveModel | None
    version: int | str


def _plan_publish(
    p: DesiredPublish,
    m: DesiredModel,
    lm: LiveModel | None,
    current: int | str,
    live: LiveState,
    candidate: _Candidate | None = None,
) -> tuple[Change | None, str | None]:
    lp = live.publish.get(p.address)
    target_version: int | str = current
    rollback_note = ""
    eval_fp = m.eval_fingerprint
    if p.pinned_version is not None:
        pinned = lm.by_version(p.pinned_version) if lm else None
        if pinned is None or pinned.status != "ready":
            have = ", ".join(f"v{v.version}" for v in (lm.versions if lm else ())) or "none"
            raise EdgeopsError(
                f"{p.address}: version {p.pinned_version} of {m.address} does not exist "
                f"(versions: {have}); pin an existing version or remove `version:`"
            )
        target_version = pinned.version
        eval_fp = pinned.eval_fingerprint
        rollback_note = f"pinned to v{pinned.version} (already trained, no retraining)"
    elif isinstance(current, int) and lm is not None:
        latest = lm.latest()
        if latest is not None and latest.version != current:
            rollback_note = f"v{current} matches the config (already trained, no retraining)"

    # a version that exists but missed its gate blocks the publish; the old model stays live.
    # One this apply re-evaluates (new threshold/gate) is decided by the applier afterwards.
    if isinstance(target_version, int) and lm is not None:
        v = lm.by_version(target_version)
        if v is not None and not v.blessed and v.eval_fingerprint == eval_fp:
            return None, (
                f"{p.address}: v{v.version} of {m.address} missed its gate; "
                "publish is blocked and the current target stays as it is"
            )

    if candidate is not None and isinstance(candidate.version, int) and candidate.live:
        cv = candidate.live.by_version(candidate.version)
        c_eval = candidate.model.eval_fingerprint
        if cv is not None and not cv.blessed and cv.eval_fingerprint == c_eval:
            return None, (
                f"{p.address}: rollout candidate v{cv.version} of {candidate.model.address} "
                "missed its gate; the rollout is blocked and the current target stays as it is"
            )

    desired_fp = f"{target_version}:{eval_fp}:{sorted(p.spec.items())}"
    after = {"version": target_version, **p.spec}
    details: dict[str, Any] = {
        "kind": p.kind,
        "model": p.model,
        "gate": _gate_outlook(m, lm, target_version, eval_fp),
    }
    if candidate is not None:
        c_eval = candidate.model.eval_fingerprint
        desired_fp += f":rollout={candidate.version}:{c_eval}"
        after["rollout"] = {**p.spec["rollout"], "version": candidate.version}
        details["rollout"] = {
            "candidate": candidate.model.spec.name,
            "version": candidate.version,
            "percent": p.spec["rollout"]["percent"],
            "gate": _gate_outlook(candidate.model, candidate.live, candidate.version, c_eval),
        }
    if target_version == NEW_VERSION:
        details["note"] = "if the new version misses its gate, this target is left unchanged"
    elif candidate is not None and candidate.version == NEW_VERSION:
        details["note"] = (
            "if the candidate's new version misses its gate, this target is left unchanged"
        )
    if lp is None:
        reason = f"new {p.kind} target -> {_vname(target_version)}"
        if rollback_note:
            reason += f" ({rollback_note})"
        if candidate is not None:
            reason += (
                "; " + _rollout_lines(None, after["rollout"], {}, candidate, target_version)[0]
            )
        return (
            Change(
                address=p.address,
                action=Action.CREATE,
                reason=reason,
                after=after,
                details=details,
                live_serial=live.serial(p.address),
                desired_fingerprint=desired_fp,
            ),
            None,
        )

    triggers = []
    if lp.version != target_version:
        if target_version == NEW_VERSION:
            triggers.append(f"model version v{lp.version} -> the version trained by this apply")
        elif rollback_note:
            triggers.append(f"v{lp.version} -> v{target_version}: {rollback_note}")
        else:
            triggers.append(f"model version v{lp.version} -> v{target_version}")
    elif lp.state.get("eval_fingerprint") not in (None, eval_fp):
        triggers.append(f"threshold of v{lp.version} re-evaluated")
    spec_diff = DeepDiff(_without_rollout(lp.spec), _without_rollout(p.spec), verbose_level=2)
    for line in _deepdiff_lines(spec_diff):
        triggers.append(line)
    triggers += _rollout_lines(
        lp.spec.get("rollout"), after.get("rollout"), lp.state, candidate, target_version
    )
    if recorded_protect(lp.state) != p.protect:
        triggers.append(f"protect {_fmt(recorded_protect(lp.state))} -> {_fmt(p.protect)}")
    if lp.drift:
        triggers.append("restore drift (see Drift)")
    if not triggers:
        return None, None
    return (
        Change(
            address=p.address,
            action=Action.UPDATE,
            reason="; ".join(triggers),
            before=_live_before(lp),
            after=after,
            details=details,
            live_serial=live.serial(p.address),
            desired_fingerprint=desired_fp,
        ),
        None,
    )


def _live_before(lp: LivePublish) -> dict[str, Any]:
    before = {"version": lp.version, **lp.spec}
    if "rollout" in lp.spec:
        before["rollout"] = {
            **lp.spec["rollout"],
            "version": (lp.state.get("rollout") or {}).get("version"),
        }
    return before


def _without_rollout(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "rollout"}


def _rollout_lines(
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    state: dict[str, Any],
    candidate: _Candidate | None,
    stable: int | str,
) -> list[str]:
    """What a rollout change means, for reviewers: added, promoted, re-pointed, rolled back."""
    if old is None and new is None:
        return []
    if new is None:
        assert old is not None
        return [
            f"rollout removed ({old['candidate']} at {_fmt(old['percent'])}%): rollback, "
            f"every client back to {_vname(stable)}"
        ]
    assert candidate is not None
    name = f"model.{new['candidate']} {_vname(new['version'])}"
    if old is None:
        return [f"rollout added: {_fmt(new['percent'])}% of clients -> {name}{_promoted(new)}"]
    lines = []
    if old["candidate"] != new["candidate"]:
        lines.append(f"rollout.candidate {old['candidate']} -> {new['candidate']} ({name})")
    else:
        recorded = (state.get("rollout") or {}).get("version")
        if recorded is not None and recorded != new["version"]:
            lines.append(
                f"rollout candidate model.{new['candidate']} v{recorded} -> "
                f"{_vname(new['version'])}"
            )
        elif (state.get("rollout") or {}).get("eval_fingerprint") not in (
            None,
            candidate.model.eval_fingerprint,
        ):
            lines.append(f"threshold of rollout candidate {name} re-evaluated")
    if old["percent"] != new["percent"]:
        lines.append(
            f"rollout.percent {_fmt(old['percent'])} -> {_fmt(new['percent'])}{_promoted(new)}"
            f" ({name})"
        )
    return lines


def _promoted(rollout: dict[str, Any]) -> str:
    if rollout["percent"] >= 100:
        return " (fully promoted: every client gets the candidate)"
    if rollout["percent"] <= 0:
        return " (no client gets the candidate yet)"
    return ""


def _gate_outlook(
    m: DesiredModel, lm: LiveModel | None, target: int | str, eval_fp: str
) -> dict[str, Any]:
    """What reviewers need about the gate of the version a target would serve: the recorded
    precision/recall/AuPRC against the bars, or that the gate is decided when apply runs (with
    the bars and threshold rule it will be decided by)."""
    v = lm.by_version(target) if lm is not None and isinstance(target, int) else None
    at_apply = {
        "decided": "at apply",
        "threshold_rule": m.spec.threshold.describe(),
        "bars": {
            "min_precision": m.spec.gate.min_precision,
            "min_recall": m.spec.gate.min_recall,
            "min_au_prc": m.spec.gate.min_au_prc,
        },
    }
    if v is None:
        return {"version": target, **at_apply, "why": "trained by this apply"}
    if v.eval_fingerprint != eval_fp:
        return {"version": v.version, **at_apply, "why": "re-evaluated by this apply"}
    summary = v.metrics.get("summary") or {}
    return {
        "version": v.version,
        "decided": "recorded",
        "passed": v.blessed,
        "threshold": v.threshold,
        "precision": summary.get("precision"),
        "recall": summary.get("recall"),
        "au_prc": summary.get("au_prc"),
        "bars": dict(v.metrics.get("gate_spec") or {}),
    }


def _vname(v: int | str) -> str:
    return "the version trained by this apply" if v == NEW_VERSION else f"v{v}"


def _deepdiff_lines(diff: DeepDiff) -> list[str]:
    """DeepDiff's structural diff of two spec dicts, as 'field old -> new' lines."""
    lines = []
    for path, change in diff.get("values_changed", {}).items():
        lines.append(f"{_ddpath(path)} {_fmt(change['old_value'])} -> {_fmt(change['new_value'])}")
    for path, change in diff.get("type_changes", {}).items():
        lines.append(f"{_ddpath(path)} {_fmt(change['old_value'])} -> {_fmt(change['new_value'])}")
    for key in ("dictionary_item_added", "iterable_item_added"):
        for path, value in (diff.get(key) or {}).items():
            lines.append(f"{_ddpath(path)} added {_fmt(value)}")
    for key in ("dictionary_item_removed", "iterable_item_removed"):
        for path, value in (diff.get(key) or {}).items():
            lines.append(f"{_ddpath(path)} removed {_fmt(value)}")
    return sorted(lines)


def _ddpath(path: str) -> str:
    # root['tags'][1] -> tags[1]
    out = path.removeprefix("root")
    out = out.replace("']['", ".").replace("['", "").replace("']", "")
    return out.lstrip(".") or "spec"


__all__ = [
    "NEW_VERSION",
    "build_plan",
    "dataset_diff",
    "live_drift",
    "recorded_protect",
    "served_versions",
    "short",
]
