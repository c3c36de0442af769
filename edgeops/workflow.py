"""The workflow: the one door to a config. Load and validate it, pick its backend, resolve the
desired state, plan against live state, apply under the backend's lock, save and load plans.

Commands (``commands.py``, ``review``, ``serve``, ``ci``) come through here; ``plan/`` below it
is pure (state and config model in, Plan out) and never loads a file or picks a backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from edgeops import __version__
from edgeops.backends import get_backend
from edgeops.backends.base import Backend
from edgeops.config.model import Config
from edgeops.errors import EdgeopsError
from edgeops.evaluation.intervals import recorded_bars
from edgeops.plan import protection
from edgeops.plan.applier import ApplyResult, apply_plan
from edgeops.plan.builder import build_plan
from edgeops.plan.candidates import with_candidates
from edgeops.plan.definition import (
    FORMAT_VERSION,
    PREVIEWED,
    Action,
    GateOutlook,
    Plan,
    recorded_vs_published,
)
from edgeops.plan.preview import previewed
from edgeops.progress import Reporter
from edgeops.state import DesiredState, LiveCandidate, LiveState

DEFAULT_CONFIG = "edgeops.yaml"


def config_file(file: str | None, *, saved: Plan | None = None) -> Path:
    """The config a command reads: ``-f FILE`` when given, else the one a saved plan was made
    from, else ``./edgeops.yaml``."""
    if file is not None:
        return Path(file)
    if saved is not None and saved.config_path:
        return Path(saved.config_path)
    return Path(DEFAULT_CONFIG)


def load_config(path: Path) -> Config:
    """The config at ``path``, validated (schema and cross-field rules); EdgeopsError naming
    the file and line otherwise."""
    from edgeops.config.loader import load_config as load

    return load(path)


@dataclass
class Session:
    config: Config
    backend: Backend
    reporter: Reporter
    desired: DesiredState | None = None
    _plan: Plan | None = field(default=None, repr=False)

    def plan(self, *, allow_destroy: bool = False, train: bool = False) -> Plan:
        """The plan; ``allow_destroy`` is recorded in it (a saved plan made with
        --allow-destroy applies its protected removals). Protection is checked by the caller
        (``protection.check``) so that a refused plan can still be shown. ``train``: train a
        candidate for every model the plan would retrain that has none yet (`plan --train`);
        candidates already trained for a change's fingerprint are shown either way."""
        assert self.desired is not None
        live = self.backend.read()
        plan = build_plan(self.desired, live, config_path=str(self.config.path))
        plan = previewed(plan, self._verdicts(plan, live))
        plan = with_candidates(plan, self._candidates(plan, train))
        from edgeops.health.summary import dataset_health

        self._plan = replace(
            plan,
            warnings=(*plan.warnings, *self.backend.plan_warnings(plan)),
            health=tuple(dataset_health(d, self.backend) for d in self.desired.datasets),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            edgeops_version=__version__,
            allow_destroy=allow_destroy,
        )
        return self._plan

    def _candidates(self, plan: Plan, train: bool) -> dict[str, LiveCandidate]:
        assert self.desired is not None
        models = {m.address: m for m in self.desired.models}
        datasets = {d.address: d for d in self.desired.datasets}
        out: dict[str, LiveCandidate] = {}
        for c in plan.changes:
            m = models.get(c.address)
            if c.action != Action.TRAIN or m is None:
                continue
            found = self.backend.candidate(c.address, m.fingerprint)
            if found is None and train:
                found = self.backend.train_candidate(m, datasets[m.dataset_address], self.reporter)
            if found is not None:
                out[c.address] = found
        return out

    def _verdicts(self, plan: Plan, live: LiveState) -> dict[str, GateOutlook]:
        """The verdict of every re-evaluation, judged now from the stored evaluation (and the
        version's recorded comparison with the served version, for ``gate.vs_published``) by
        the same rules apply uses (so apply records exactly what the plan shows)."""
        assert self.desired is not None
        models = {m.address: m for m in self.desired.models}
        out: dict[str, GateOutlook] = {}
        for c in plan.changes:
            if c.action != Action.EVALUATE or c.after is None or c.address not in models:
                continue
            from edgeops.backends.records import verdict
            from edgeops.evaluation.crossval import gated_summary

            m, version = models[c.address], int(c.after["version"])
            try:
                evaluation, _ = self.backend.evaluation_of(c.address, version)
            except EdgeopsError:
                continue  # its evaluation is gone: decided at apply, as before
            lm = live.models.get(c.address)
            stored = lm.by_version(version) if lm is not None else None
            judged = verdict(m, evaluation, stored.metrics.get("comparison") if stored else None)
            metrics = judged["metrics"]
            summary, evaluated_on = gated_summary(metrics)  # what the bars read
            out[c.address] = GateOutlook(
                model=m.spec.name,
                version=version,
                decided=PREVIEWED,
                basis="re_evaluated",
                passed=judged["blessed"],
                threshold=judged["threshold"],
                threshold_rule=m.spec.threshold.describe(),
                precision=summary["precision"],
                recall=summary["recall"],
                au_prc=summary["au_prc"],
                bars=recorded_bars(metrics.get("gate_spec")),
                intervals=dict(summary.get("intervals") or {}),
                evaluated_on=evaluated_on,
                vs_published=recorded_vs_published(metrics),
            )
        return out

    def apply(self, plan: Plan) -> ApplyResult:
        assert self.desired is not None
        protection.check(plan)  # whatever path led here, a blocked plan is never applied
        return apply_plan(plan, self.desired, self.backend, self.reporter)


def open_session(config_file: Path, reporter: Reporter, *, resolve: bool = True) -> Session:
    """Load the config and its backend; with ``resolve``, scan the datasets into the desired
    state (the only step of planning that reads dataset files)."""
    config = load_config(config_file)
    backend = get_backend(config)
    session = Session(config=config, backend=backend, reporter=reporter)
    if resolve:
        from edgeops.resolve import resolve as resolve_desired

        session.desired = resolve_desired(config, backend, reporter)
    return session


def save_plan(plan: Plan, path: Path) -> None:
    from edgeops.files import atomic_write

    atomic_write(path, (json.dumps(plan.to_dict(), indent=2) + "\n").encode())


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgeopsError(
            f"{path}: no such plan file; make one with `edgeops plan --out {path}`"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise EdgeopsError(f"{path}: not a plan file saved by `edgeops plan --out` ({e})") from None
    got = data.get("format_version") if isinstance(data, dict) else None
    if got != FORMAT_VERSION:
        raise EdgeopsError(
            f"{path}: plan format_version {got} is not {FORMAT_VERSION}; "
            f"make a new plan with this edgeops ({__version__})"
        )
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError, ValueError) as e:
        raise EdgeopsError(f"{path}: the plan file is damaged ({e}); make a new plan") from None
