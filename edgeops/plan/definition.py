"""The frozen Plan: a list of Changes, each naming its action, its trigger and its before/after.

The applier does exactly what these changes say. ``reason`` is for people, never for decisions.
The JSON form is versioned (``FORMAT_VERSION``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"  # a new dataset import / registry entry / bundle
    UPDATE = "update"  # change in place (dataset images, publish target)
    TRAIN = "train"  # train a new model version
    EVALUATE = "evaluate"  # re-pick threshold and re-check gate of an existing version
    UNPUBLISH = "unpublish"  # remove a publish target
    FORGET = "forget"  # stop managing a resource; data and versions are kept
    DELETE = "delete"  # delete old model versions (only with an explicit `keep:`)

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

    @property
    def kind(self) -> str:
        return self.address.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["action"] = self.action.value
        d["warnings"] = list(self.warnings)
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
            allow_destroy=bool(d.get("allow_destroy", False)),
        )
