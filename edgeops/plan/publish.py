"""Planning publish targets: point each at the version the config asks for (or a pinned one),
with its staged rollout; say what reviewers need about the gate of every version it would serve.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgeops.addresses import model_address
from edgeops.errors import EdgeopsError
from edgeops.evaluation.crossval import gated_summary
from edgeops.evaluation.intervals import recorded_bars
from edgeops.plan.definition import (
    AT_APPLY,
    NEW_VERSION,
    RECORDED,
    Action,
    Change,
    GateOutlook,
    ReasonCode,
    recorded_vs_published,
)
from edgeops.plan.wording import fmt, spec_diff_lines, vname
from edgeops.state import DesiredModel, DesiredPublish, LiveModel, LivePublish, LiveState


@dataclass(frozen=True)
class Candidate:
    """The model a target rolls out, and the version it would roll out (int or NEW_VERSION)."""

    model: DesiredModel
    live: LiveModel | None
    version: int | str


def plan_publish(
    p: DesiredPublish,
    m: DesiredModel,
    lm: LiveModel | None,
    current: int | str,
    live: LiveState,
    candidate: Candidate | None = None,
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
    gates = [gate_outlook(m, lm, target_version, eval_fp)]
    details: dict[str, Any] = {
        "kind": p.kind,
        "model": p.model,
        "gate": _gate_details(gates[0], target_version),
    }
    if candidate is not None:
        c_eval = candidate.model.eval_fingerprint
        percent = p.spec["rollout"]["percent"]
        desired_fp += f":rollout={candidate.version}:{c_eval}"
        after["rollout"] = {**p.spec["rollout"], "version": candidate.version}
        outlook = gate_outlook(candidate.model, candidate.live, candidate.version, c_eval)
        gates.append(replace(outlook, role="rollout", percent=percent))
        details["rollout"] = {
            "candidate": candidate.model.spec.name,
            "version": candidate.version,
            "percent": percent,
            "gate": _gate_details(outlook, candidate.version),
        }
    if target_version == NEW_VERSION:
        details["note"] = "if the new version misses its gate, this target is left unchanged"
    elif candidate is not None and candidate.version == NEW_VERSION:
        details["note"] = (
            "if the candidate's new version misses its gate, this target is left unchanged"
        )
    if lp is None:
        reason = f"new {p.kind} target -> {vname(target_version)}"
        if rollback_note:
            reason += f" ({rollback_note})"
        if candidate is not None:
            reason += "; " + rollout_lines(None, after["rollout"], {}, candidate, target_version)[0]
        return (
            Change(
                address=p.address,
                action=Action.CREATE,
                reason=reason,
                reason_codes=(ReasonCode.NEW,),
                gates=tuple(gates),
                after=after,
                details=details,
                live_serial=live.serial(p.address),
                desired_fingerprint=desired_fp,
            ),
            None,
        )

    triggers = []
    codes = []
    if lp.version != target_version:
        if target_version == NEW_VERSION:
            triggers.append(f"model version v{lp.version} -> the version trained by this apply")
            codes.append(ReasonCode.VERSION_CHANGED)
        elif rollback_note:
            triggers.append(f"v{lp.version} -> v{target_version}: {rollback_note}")
            codes.append(ReasonCode.ROLLBACK)
        else:
            triggers.append(f"model version v{lp.version} -> v{target_version}")
            codes.append(ReasonCode.VERSION_CHANGED)
    elif lp.state.get("eval_fingerprint") not in (None, eval_fp):
        triggers.append(f"threshold of v{lp.version} re-evaluated")
        codes.append(ReasonCode.RE_EVALUATED)
    spec_lines = spec_diff_lines(_without_rollout(lp.spec), _without_rollout(p.spec))
    if spec_lines:
        triggers += spec_lines
        codes.append(ReasonCode.SPEC_CHANGED)
    rollout = rollout_lines(
        lp.spec.get("rollout"), after.get("rollout"), lp.state, candidate, target_version
    )
    if rollout:
        triggers += rollout
        codes.append(ReasonCode.ROLLOUT_CHANGED)
    if lp.protect != p.protect:
        triggers.append(f"protect {fmt(lp.protect)} -> {fmt(p.protect)}")
        codes.append(ReasonCode.PROTECT_CHANGED)
    if lp.drift:
        triggers.append("restore drift (see Drift)")
        codes.append(ReasonCode.DRIFT)
    if not triggers:
        return None, None
    return (
        Change(
            address=p.address,
            action=Action.UPDATE,
            reason="; ".join(triggers),
            reason_codes=tuple(codes),
            gates=tuple(gates),
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


def rollout_lines(
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    state: dict[str, Any],
    candidate: Candidate | None,
    stable: int | str,
) -> list[str]:
    """What a rollout change means, for reviewers: added, promoted, re-pointed, rolled back."""
    if old is None and new is None:
        return []
    if new is None:
        assert old is not None
        return [
            f"rollout removed ({old['candidate']} at {fmt(old['percent'])}%): rollback, "
            f"every client back to {vname(stable)}"
        ]
    assert candidate is not None
    name = f"{model_address(new['candidate'])} {vname(new['version'])}"
    if old is None:
        return [f"rollout added: {fmt(new['percent'])}% of clients -> {name}{_promoted(new)}"]
    lines = []
    if old["candidate"] != new["candidate"]:
        lines.append(f"rollout.candidate {old['candidate']} -> {new['candidate']} ({name})")
    else:
        recorded = (state.get("rollout") or {}).get("version")
        if recorded is not None and recorded != new["version"]:
            lines.append(
                f"rollout candidate {model_address(new['candidate'])} v{recorded} -> "
                f"{vname(new['version'])}"
            )
        elif (state.get("rollout") or {}).get("eval_fingerprint") not in (
            None,
            candidate.model.eval_fingerprint,
        ):
            lines.append(f"threshold of rollout candidate {name} re-evaluated")
    if old["percent"] != new["percent"]:
        lines.append(
            f"rollout.percent {fmt(old['percent'])} -> {fmt(new['percent'])}{_promoted(new)}"
            f" ({name})"
        )
    return lines


def _promoted(rollout: dict[str, Any]) -> str:
    if rollout["percent"] >= 100:
        return " (fully promoted: every client gets the candidate)"
    if rollout["percent"] <= 0:
        return " (no client gets the candidate yet)"
    return ""


def gate_outlook(
    m: DesiredModel, lm: LiveModel | None, target: int | str, eval_fp: str
) -> GateOutlook:
    """What reviewers need about the gate of the version a target would serve: the recorded
    precision/recall/AuPRC against the bars, or that the gate is decided when apply runs (with
    the bars and threshold rule it will be decided by)."""
    v = lm.by_version(target) if lm is not None and isinstance(target, int) else None
    if v is None or v.eval_fingerprint != eval_fp:
        return GateOutlook(
            model=m.spec.name,
            version=v.version if v is not None else None,
            decided=AT_APPLY,
            basis="new_version" if v is None else "re_evaluated",
            threshold_rule=m.spec.threshold.describe(),
            bars={
                "min_precision": m.spec.gate.min_precision,
                "min_recall": m.spec.gate.min_recall,
                "min_au_prc": m.spec.gate.min_au_prc,
            },
        )
    summary, evaluated_on = gated_summary(v.metrics)
    return GateOutlook(
        model=m.spec.name,
        version=v.version,
        decided=RECORDED,
        passed=v.blessed,
        threshold=v.threshold,
        threshold_rule=m.spec.threshold.describe(),
        precision=summary.get("precision"),
        recall=summary.get("recall"),
        au_prc=summary.get("au_prc"),
        bars=recorded_bars(v.metrics.get("gate_spec")),
        intervals=dict(summary.get("intervals") or {}),
        evaluated_on=evaluated_on,
        vs_published=recorded_vs_published(v.metrics),
    )


def _gate_details(g: GateOutlook, target: int | str) -> dict[str, Any]:
    """The gate outlook as the change's details show it (for people and the JSON plan)."""
    if g.decided == AT_APPLY:
        why = "trained by this apply" if g.new_version else "re-evaluated by this apply"
        version = target if g.version is None else g.version
        return {
            "version": version,
            "decided": AT_APPLY,
            "threshold_rule": g.threshold_rule,
            "bars": g.bars,
            "why": why,
        }
    return {
        "version": g.version,
        "decided": g.decided,
        "passed": g.passed,
        "threshold": g.threshold,
        "precision": g.precision,
        "recall": g.recall,
        "au_prc": g.au_prc,
        "bars": g.bars,
    }
