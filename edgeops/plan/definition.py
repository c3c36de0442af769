"""The frozen Plan: a list of Changes, each naming its action, its trigger and its before/after.

The applier and the renderers decide on a change's ``action``, ``before``/``after``, its
``reason_codes`` and its typed ``gates``; ``reason`` and ``details`` are for people (and the JSON
form), never for decisions. The JSON form is versioned (``FORMAT_VERSION``); fields added since
version 1 are optional when a plan is read back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from edgeops.addresses import kind_of

FORMAT_VERSION = 1

# A publish target's (or rollout candidate's) version when the model is (re)trained by the same
# apply: the value of ``after["version"]`` until the applier knows the number.
NEW_VERSION = "new"

# GateOutlook.decided: how the gate of a version a change would serve is known
RECORDED = "recorded"  # the version's stored verdict
PREVIEWED = "previewed"  # judged at plan time from the stored evaluation (a new threshold/gate)
AT_APPLY = "at apply"  # only apply can tell (the version is trained by it)
CANDIDATE = "candidate"  # the candidate trained at plan time that apply adopts


class Action(StrEnum):
    CREATE = "create"  # a new dataset import / registry entry / bundle
    UPDATE = "update"  # change in place (dataset images, publish target)
    TRAIN = "train"  # train a new model version
    EVALUATE = "evaluate"  # re-pick threshold and re-check gate of an existing version
    UNPUBLISH = "unpublish"  # remove a publish target
    FORGET = "forget"  # stop managing a resource; data and versions are kept
    DELETE = "delete"  # old model versions (`keep:`), or copies of earlier images none uses

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.TRAIN: "*",
    Action.EVALUATE: "?",
    Action.UNPUBLISH: "-",
    Action.FORGET: "/",
    Action.DELETE: "x",
}

LEGEND = {
    Action.CREATE: "create",
    Action.UPDATE: "update in place",
    Action.TRAIN: "train a new model version",
    Action.EVALUATE: "re-evaluate (threshold/gate, no retraining)",
    Action.UNPUBLISH: "unpublish",
    Action.FORGET: "forget (stop managing; nothing deleted)",
    Action.DELETE: "delete",
}


class ReasonCode(StrEnum):
    """Why a change is planned, for machines (Terraform's ActionReason); ``Change.reason`` says
    the same in words. A change lists one code per trigger, in the order its reason names them."""

    NEW = "new"  # not in live state yet: a new dataset, model or target
    REMOVED = "removed_from_config"  # forget / unpublish
    IMAGES_CHANGED = "images_changed"  # the dataset's images, labels or splits
    DATASET_CHANGED = "dataset_changed"  # the model's dataset differs from the trained one
    INPUTS_CHANGED = "training_inputs_changed"  # optimize_for, budget, training, trainer version
    THRESHOLD_CHANGED = "threshold_changed"
    GATE_CHANGED = "gate_changed"
    RETENTION = "retention"  # `keep:` deletes old versions
    UNUSED = "no_longer_used"  # a backend's copy of earlier images no kept version was trained on
    VERSION_CHANGED = "version_changed"  # a target moves to another model version
    ROLLBACK = "rollback"  # ... to one already trained (a pin, or the config went back)
    RE_EVALUATED = "re_evaluated"  # the served version's threshold was re-picked
    SPEC_CHANGED = "target_changed"  # the target's own fields (name, tags, path, format)
    ROLLOUT_CHANGED = "rollout_changed"  # added, re-pointed, promoted or rolled back
    PROTECT_CHANGED = "protect_changed"
    DRIFT = "restore_drift"  # changed outside edgeops; apply restores it


@dataclass(frozen=True)
class GateOutlook:
    """The gate of a version a publish change would serve (as stable, or as rollout candidate):
    recorded, or decided when apply runs (then with the threshold rule and bars it uses)."""

    model: str  # the model's name
    version: int | None  # None: the version this apply trains
    decided: str  # RECORDED | PREVIEWED | CANDIDATE | AT_APPLY
    basis: str = "recorded"  # "recorded" | "new_version" (trained by this apply) | "re_evaluated"
    role: str = "stable"  # "stable" | "rollout"
    percent: float | None = None  # the rollout's share of clients
    passed: bool | None = None
    threshold: float | None = None
    threshold_rule: str = ""
    precision: float | None = None
    recall: float | None = None
    au_prc: float | None = None
    bars: dict[str, float | None] = field(default_factory=dict)
    # recorded 95% intervals by metric (Interval.to_dict()); empty for versions recorded before
    intervals: dict[str, dict[str, Any]] = field(default_factory=dict)
    # what the metrics above are: "test_split", or "cross_validation" (gate.evaluate_on)
    evaluated_on: str = "test_split"
    # the `gate.vs_published` row as judged (GateRow.to_dict(): ``ok``, ``interval`` = the change
    # candidate - published with its 95% interval); None when the gate has none or was not judged
    vs_published: dict[str, Any] | None = None

    @property
    def new_version(self) -> bool:
        return self.version is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateOutlook:
        return cls(**d)


def recorded_vs_published(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The ``vs_published`` row of a version's stored gate (None when it was not judged)."""
    rows = (metrics.get("gate") or {}).get("rows") or ()
    return next((r for r in rows if r.get("kind") == "vs_published"), None)


@dataclass(frozen=True)
class DatasetHealth:
    """What `edgeops inspect` warns about a dataset, counted for the plan from the image features
    this machine has cached (a plan never computes one): near-duplicate pairs among the images
    trained on, those straddling train and validation/test, suspected label errors, imbalance."""

    address: str
    inspected: bool  # False: no cached features to judge with; ``note`` says what to run
    near_duplicate_pairs: int = 0
    straddling_pairs: int = 0  # one image in train, the other in validation or test
    suspected_label_errors: int | None = 0  # None: not judged (a multi-label dataset)
    near_duplicate_similarity: float | None = None  # the cosine threshold the pairs reach
    # the largest and smallest labels and their ratio, when above inspect's warning level
    imbalance: dict[str, Any] | None = None
    unlabelled: int = 0
    note: str = ""

    @property
    def warnings(self) -> int:
        """How many of the counted problems are present (0: nothing to look at)."""
        found = (self.near_duplicate_pairs, self.suspected_label_errors, self.imbalance)
        return sum(1 for x in found if x)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetHealth:
        return cls(**d)


@dataclass(frozen=True)
class Change:
    address: str
    action: Action
    reason: str  # the trigger, for people: "dataset.objects changed (+12 images)"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    details: dict[str, Any] = field(
        default_factory=dict
    )  # rendering aids: counts, budget, estimate
    live_serial: str = "absent"  # LiveState.serial(address) when planned
    desired_fingerprint: str = ""  # what the config asked for when planned
    warnings: tuple[str, ...] = ()
    # unpublishes a protected target (or deletes a version one serves): apply refuses the plan
    # unless destruction is allowed (`--allow-destroy`)
    blocked_by_protection: bool = False
    reason_codes: tuple[ReasonCode, ...] = ()  # the triggers of ``reason``, for machines
    gates: tuple[GateOutlook, ...] = ()  # publish: the gate of each version it would serve

    @property
    def kind(self) -> str:
        return kind_of(self.address)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["action"] = self.action.value
        d["warnings"] = list(self.warnings)
        d["reason_codes"] = [c.value for c in self.reason_codes]
        d["gates"] = [g.to_dict() for g in self.gates]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        return cls(
            address=d["address"],
            action=Action(d["action"]),
            reason=d["reason"],
            before=d.get("before"),
            after=d.get("after"),
            details=d.get("details") or {},
            live_serial=d.get("live_serial", "absent"),
            desired_fingerprint=d.get("desired_fingerprint", ""),
            warnings=tuple(d.get("warnings") or ()),
            blocked_by_protection=bool(d.get("blocked_by_protection", False)),
            reason_codes=tuple(ReasonCode(c) for c in d.get("reason_codes") or ()),
            gates=tuple(GateOutlook.from_dict(g) for g in d.get("gates") or ()),
        )


@dataclass(frozen=True)
class Plan:
    backend: str
    config_path: str
    changes: tuple[Change, ...] = ()
    drift: tuple[tuple[str, str], ...] = ()  # (address, what changed outside edgeops)
    warnings: tuple[str, ...] = ()  # plan-wide notes (dataset warnings, deprecations)
    serials: dict[str, str] = field(default_factory=dict)  # address -> live serial at plan time
    removes_every_target: bool = False  # every published target would be unpublished
    health: tuple[DatasetHealth, ...] = ()  # each dataset's inspect warnings, counted
    allow_destroy: bool = False  # made with --allow-destroy: protected removals may be applied
    created_at: str = ""
    edgeops_version: str = ""

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def blocked(self) -> tuple[Change, ...]:
        """Changes protection stops unless destruction is allowed."""
        return tuple(c for c in self.changes if c.blocked_by_protection)

    def counts(self) -> dict[Action, int]:
        out = {a: 0 for a in Action}
        for c in self.changes:
            out[c.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "edgeops_version": self.edgeops_version,
            "created_at": self.created_at,
            "backend": self.backend,
            "config_path": self.config_path,
            "summary": {a.value: n for a, n in self.counts().items()},
            "changes": [c.to_dict() for c in self.changes],
            "drift": [{"address": a, "what": w} for a, w in self.drift],
            "warnings": list(self.warnings),
            "serials": dict(self.serials),
            "removes_every_target": self.removes_every_target,
            "health": [h.to_dict() for h in self.health],
            "allow_destroy": self.allow_destroy,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(
            backend=d["backend"],
            config_path=d["config_path"],
            changes=tuple(Change.from_dict(c) for c in d.get("changes", [])),
            drift=tuple((x["address"], x["what"]) for x in d.get("drift", [])),
            warnings=tuple(d.get("warnings", [])),
            serials=dict(d.get("serials", {})),
            created_at=d.get("created_at", ""),
            edgeops_version=d.get("edgeops_version", ""),
            removes_every_target=bool(d.get("removes_every_target", False)),
            health=tuple(DatasetHealth.from_dict(h) for h in d.get("health") or ()),
            allow_destroy=bool(d.get("allow_destroy", False)),
        )
