"""The applier: carries out exactly the plan's changes, in dependency order.

Order: datasets, then models (train / re-evaluate), then publish targets, then removals.
A model version that misses its gate blocks every publish target of that model (the previous
version stays live); the rest of the plan still runs and apply then reports the gate failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edgeops.backends.base import Backend
from edgeops.errors import EdgeopsError, GateFailed
from edgeops.plan.builder import NEW_VERSION, served_versions
from edgeops.plan.definition import Action, Change, Plan
from edgeops.progress import Reporter
from edgeops.state import DesiredState, LiveModel, LiveVersion

_ORDER = {
    ("dataset", Action.CREATE): 0,
    ("dataset", Action.UPDATE): 0,
    ("model", Action.TRAIN): 1,
    ("model", Action.EVALUATE): 1,
    ("publish", Action.CREATE): 2,
    ("publish", Action.UPDATE): 2,
    ("publish", Action.UNPUBLISH): 3,
    ("model", Action.DELETE): 4,
    ("model", Action.FORGET): 5,
    ("dataset", Action.FORGET): 6,
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
    read_models: dict[str, LiveModel] | None = None

    def live_models() -> dict[str, LiveModel]:
        """Model versions as they stand after the model phase, read once: publishing (which
        runs after every train/evaluate) changes no version, and a read can be costly (drift
        checks hash published files)."""
        nonlocal read_models
        if read_models is None:
            read_models = backend.read().models
        return read_models

    changes = sorted(plan.changes, key=lambda c: _ORDER.get((c.kind, c.action), 9))
    for c in changes:
        if c.kind == "dataset" and c.action in (Action.CREATE, Action.UPDATE):
            backend.import_dataset(datasets[c.address], reporter)
        elif c.kind == "dataset" and c.action == Action.FORGET:
            backend.forget_dataset(c.address)
        elif c.kind == "model" and c.action == Action.TRAIN:
            m = models[c.address]
            version = backend.train_model(m, datasets[m.dataset_address], reporter)
            trained[c.address] = version
            _note_gate(version, c, result, blocked, reporter)
        elif c.kind == "model" and c.action == Action.EVALUATE:
            m = models[c.address]
            version = backend.evaluate_model(m, int(c.details["version"]))
            trained[c.address] = version
            _note_gate(version, c, result, blocked, reporter)
        elif c.kind == "model" and c.action == Action.DELETE:
            name = c.address.split(".", 1)[1]
            live_published = served_versions(backend.read(), name)
            doomed = [v for v in c.details["delete_versions"] if v not in live_published]
            for v in sorted(set(c.details["delete_versions"]) - set(doomed)):
                result.skipped.append(f"{c.address}: kept v{v}, a publish target still serves it")
            if doomed:
                backend.delete_versions(c.address, doomed)
        elif c.kind == "model" and c.action == Action.FORGET:
            backend.forget_model(c.address)
        elif c.kind == "publish" and c.action in (Action.CREATE, Action.UPDATE):
            p = publish[c.address]
            model_address = f"model.{p.model}"
            if model_address in blocked:
                result.skipped.append(f"{c.address}: skipped, {model_address} missed its gate")
                continue
            version = _version_of(
                c, model_address, (c.after or {}).get("version"), trained, live_models
            )
            if not version.blessed:
                result.skipped.append(
                    f"{c.address}: skipped, v{version.version} of {model_address} is not blessed"
                )
                continue
            candidate = None
            rollout = (c.after or {}).get("rollout")
            if rollout is not None:
                candidate_address = f"model.{rollout['candidate']}"
                if candidate_address in blocked:
                    result.skipped.append(
                        f"{c.address}: skipped, rollout candidate {candidate_address} missed its "
                        "gate"
                    )
                    continue
                candidate = _version_of(
                    c, candidate_address, rollout.get("version"), trained, live_models
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


def _note_gate(
    version: LiveVersion,
    change: Change,
    result: ApplyResult,
    blocked: set[str],
    reporter: Reporter,
) -> None:
    summary = version.metrics.get("summary", {})
    if summary and version.threshold is not None:
        cost = (
            f", {version.stop_reason}, {version.cost_node_hours:.4f} node hours"
            if version.stop_reason
            else ""
        )
        reporter.info(
            f"{change.address} v{version.version}: precision {summary.get('precision', 0):.3f}, "
            f"recall {summary.get('recall', 0):.3f}, AuPRC {summary.get('au_prc', 0):.3f} at "
            f"threshold {version.threshold:.2f}; gate {'passed' if version.blessed else 'MISSED'}"
            f"{cost}"
        )
    if version.blessed:
        return
    blocked.add(change.address)
    rows = version.metrics.get("gate", {}).get("rows", [])
    lines = [
        f"  {r['metric']}: {r['value']:.3f} {'>=' if r['ok'] else '<'} {r['bar']:.3f}"
        f"  {'ok' if r['ok'] else 'MISSED'}"
        for r in rows
    ]
    result.gate_failures.append(
        f"{change.address} v{version.version} missed its gate at threshold "
        f"{version.threshold:.2f}:\n" + "\n".join(lines)
    )
    reporter.warn(result.gate_failures[-1])


def _version_of(
    c: Change,
    model_address: str,
    want: int | str | None,
    trained: dict[str, LiveVersion],
    live_models: Callable[[], dict[str, LiveModel]],
) -> LiveVersion:
    """The version a publish change names: trained by this apply, or an existing one."""
    if want == NEW_VERSION or (model_address in trained and want == trained[model_address].version):
        if model_address not in trained:
            raise EdgeopsError(f"{c.address}: the model version it needs was not trained")
        return trained[model_address]
    live = live_models().get(model_address)
    v = live.by_version(int(want)) if live and want is not None else None
    if v is None:
        raise EdgeopsError(f"{c.address}: v{want} of {model_address} no longer exists")
    return v


def raise_for_gates(result: ApplyResult) -> None:
    if result.gate_failures:
        raise GateFailed(
            "\n".join(result.gate_failures)
            + "\nNo publish target of these models was touched; the previous version stays live."
        )
