"""The applier: carries out exactly the plan's changes, in dependency order.

Order: datasets, then models (train / re-evaluate), then publish targets, then removals (old
versions before the dataset copies only they were trained on).
A model version that misses its gate blocks every publish target of that model (the previous
version stays live); the rest of the plan still runs and apply then reports the gate failure.
Decisions read each change's action, address and ``after``; never its ``reason`` or ``details``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeops.addresses import Address, model_address
from edgeops.backends.base import Backend
from edgeops.errors import EdgeopsError, GateFailed
from edgeops.evaluation.intervals import describe_summary
from edgeops.plan.candidates import vs_published_text
from edgeops.plan.definition import NEW_VERSION, Action, Change, Plan
from edgeops.progress import Reporter
from edgeops.state import DesiredState, LiveState, LiveVersion

_ORDER = {
    ("dataset", Action.CREATE): 0,
    ("dataset", Action.UPDATE): 0,
    ("model", Action.TRAIN): 1,
    ("model", Action.EVALUATE): 1,
    ("publish", Action.CREATE): 2,
    ("publish", Action.UPDATE): 2,
    ("publish", Action.UNPUBLISH): 3,
    ("model", Action.DELETE): 4,
    ("dataset", Action.DELETE): 5,
    ("model", Action.FORGET): 6,
    ("dataset", Action.FORGET): 7,
}


@dataclass
class ApplyResult:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    gate_failures: list[str] = field(default_factory=list)


def apply_plan(
    plan: Plan, desired: DesiredState, backend: Backend, reporter: Reporter
) -> ApplyResult:
    result = ApplyResult()
    datasets = {d.address: d for d in desired.datasets}
    models = {m.address: m for m in desired.models}
    publish = {p.address: p for p in desired.publish}
    trained: dict[str, LiveVersion] = {}  # model address -> version produced by this apply
    blocked: set[str] = set()  # model addresses whose new version missed its gate
    reads: dict[str, LiveState] = {}

    def live_after(phase: str) -> LiveState:
        """Live state as it stands after a phase, read once per phase (a read can be costly:
        drift checks hash published files). "models": publishing, which runs after every
        train/evaluate, changes no version. "publish": deletes, which run after every publish
        and unpublish, change no target. "versions": after the versions' deletes, which
        dataset copies are still used."""
        if phase not in reads:
            reads[phase] = backend.read()
        return reads[phase]

    changes = sorted(plan.changes, key=lambda c: _ORDER.get((c.kind, c.action), 9))
    for c in changes:
        if c.kind == "dataset" and c.action in (Action.CREATE, Action.UPDATE):
            backend.import_dataset(datasets[c.address], reporter)
        elif c.kind == "dataset" and c.action == Action.FORGET:
            backend.forget_dataset(c.address)
        elif c.kind == "model" and c.action == Action.TRAIN:
            m = models[c.address]
            candidate = _after(c).get("candidate")
            if candidate:  # trained in plan and reviewed: adopted byte for byte
                version = backend.adopt_candidate(
                    m, datasets[m.dataset_address], candidate["sha256"], reporter
                )
            else:
                version = backend.train_model(m, datasets[m.dataset_address], reporter)
            trained[c.address] = version
            _note_gate(version, c, result, blocked, reporter)
        elif c.kind == "model" and c.action == Action.EVALUATE:
            m = models[c.address]
            version = backend.evaluate_model(m, int(_after(c)["version"]))
            trained[c.address] = version
            _note_gate(version, c, result, blocked, reporter)
        elif c.kind == "model" and c.action == Action.DELETE:
            want = list(_after(c)["delete_versions"])
            served = live_after("publish").served_versions(Address.parse(c.address).name)
            doomed = [v for v in want if v not in served]
            for v in sorted(set(want) - set(doomed)):
                result.skipped.append(f"{c.address}: kept v{v}, a publish target still serves it")
            if doomed:
                backend.delete_versions(c.address, doomed)
        elif c.kind == "dataset" and c.action == Action.DELETE:
            live = live_after("versions")
            used = live.dataset_resources_in_use()
            current = live.datasets[c.address].resource if c.address in live.datasets else ""
            want = list(_after(c)["delete_resources"])
            doomed = [r for r in want if r not in used and r != current]
            for r in want:
                if r not in doomed:
                    result.skipped.append(f"{c.address}: kept {r}, a model version uses it")
            if doomed:
                backend.delete_dataset_resources(c.address, doomed)
        elif c.kind == "model" and c.action == Action.FORGET:
            backend.forget_model(c.address)
        elif c.kind == "publish" and c.action in (Action.CREATE, Action.UPDATE):
            p = publish[c.address]
            stable = model_address(p.model)
            if stable in blocked:
                result.skipped.append(f"{c.address}: skipped, {stable} missed its gate")
                continue
            version = _version_of(c, stable, _after(c).get("version"), trained, live_after)
            if not version.blessed:
                result.skipped.append(
                    f"{c.address}: skipped, v{version.version} of {stable} is not blessed"
                )
                continue
            candidate = None
            rollout = _after(c).get("rollout")
            if rollout is not None:
                candidate_address = model_address(rollout["candidate"])
                if candidate_address in blocked:
                    result.skipped.append(
                        f"{c.address}: skipped, rollout candidate {candidate_address} missed its "
                        "gate"
                    )
                    continue
                candidate = _version_of(
                    c, candidate_address, rollout.get("version"), trained, live_after
                )
                if not candidate.blessed:
                    result.skipped.append(
                        f"{c.address}: skipped, rollout candidate v{candidate.version} of "
                        f"{candidate_address} is not blessed"
                    )
                    continue
            backend.publish(p, version, reporter, candidate=candidate)
        elif c.kind == "publish" and c.action == Action.UNPUBLISH:
            backend.unpublish(c.address)
        else:  # pragma: no cover - the planner makes no other combination
            raise AssertionError(f"no applier for {c.action.value} {c.address}")
        result.done.append(c.address)
    return result


def _after(c: Change) -> dict[str, Any]:
    if c.after is None:  # pragma: no cover - the planner gives these actions an `after`
        raise AssertionError(f"{c.action.value} {c.address} has no `after`")
    return c.after


def _note_gate(
    version: LiveVersion,
    change: Change,
    result: ApplyResult,
    blocked: set[str],
    reporter: Reporter,
) -> None:
    summary = version.metrics.get("summary", {})
    if summary and version.threshold is not None:
        n = summary.get("test_images")
        on = f" on {n} test images" if n else ""
        cost = (
            f", {version.stop_reason}, {version.cost_node_hours:.4f} node hours"
            if version.stop_reason
            else ""
        )
        reporter.info(
            f"{change.address} v{version.version}: {describe_summary(summary)} at threshold "
            f"{version.threshold:.2f}{on}; gate {'passed' if version.blessed else 'MISSED'}"
            f"{cost}{_versus(version.metrics.get('comparison'))}"
        )
    if version.blessed:
        return
    blocked.add(change.address)
    rows = version.metrics.get("gate", {}).get("rows", [])
    result.gate_failures.append(
        f"{change.address} v{version.version} missed its gate at threshold "
        f"{version.threshold:.2f}:\n" + "\n".join(_gate_row(r) for r in rows)
    )
    reporter.warn(result.gate_failures[-1])


def _versus(comparison: dict[str, Any] | None) -> str:
    """``; vs v1: Δ top-1 -0.291 [-0.392, -0.190], McNemar p = 1.55e-06`` for a version
    compared with the version served when it was trained ("" when it was not)."""
    if not comparison or "metrics" not in comparison or comparison.get("champion") is None:
        return ""
    top1 = next((m for m in comparison["metrics"] if m["metric"] == "top1_accuracy"), None)
    if top1 is None:
        return ""
    d = top1["difference"]
    return (
        f"; vs v{comparison['champion']}: Δ top-1 {d['value']:+.3f} [{d['lo']:+.3f}, "
        f"{d['hi']:+.3f}], McNemar p = {comparison['mcnemar']['p']:.3g}"
    )


def _gate_row(r: dict[str, Any]) -> str:
    """One bar of a missed gate, as ``  precision: 0.500 < 0.800  MISSED``."""
    verdict = "ok" if r["ok"] else "MISSED"
    if r.get("kind") == "vs_published":
        return f"  {vs_published_text(r)}  {verdict}"
    return f"  {r['metric']}: {r['value']:.3f} {'>=' if r['ok'] else '<'} {r['bar']:.3f}  {verdict}"


def _version_of(
    c: Change,
    address: str,
    want: int | str | None,
    trained: dict[str, LiveVersion],
    live_after: Callable[[str], LiveState],
) -> LiveVersion:
    """The version a publish change names: trained by this apply, or an existing one."""
    if want == NEW_VERSION or (address in trained and want == trained[address].version):
        if address not in trained:
            raise EdgeopsError(f"{c.address}: the model version it needs was not trained")
        return trained[address]
    live = live_after("models").models.get(address)
    v = live.by_version(int(want)) if live and want is not None else None
    if v is None:
        raise EdgeopsError(f"{c.address}: v{want} of {address} no longer exists")
    return v


def raise_for_gates(result: ApplyResult) -> None:
    if result.gate_failures:
        raise GateFailed(
            "\n".join(result.gate_failures)
            + "\nNo publish target of these models was touched; the previous version stays live."
        )
