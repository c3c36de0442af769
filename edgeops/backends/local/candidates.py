"""Candidates: models trained at plan time (``edgeops plan --train``) so a pull request shows the
real evaluation of what a merge would ship, and the apply on merge adopts them byte for byte.

A candidate is kept for its training fingerprint, outside the registry, under
``candidates/<model>/<fingerprint>/`` (its model files, evaluation, card and ``candidate.json``;
with state in a bucket the files are content-addressed objects and the rest lives under that
key prefix). Two pull requests training different candidates write different keys and never
collide, and training needs no lock: only adoption (a registry write) happens under apply's.

Retention: adoption removes the adopted candidate (it is a version now); a model with `keep: N`
keeps at most its N newest other candidates (those of pull requests not merged); nothing
published is ever a candidate.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeops.addresses import model_address
from edgeops.backends.layout import EVALUATION_JSON, MODEL_INT8, REPORT_HTML
from edgeops.backends.records import against_published, version_metrics
from edgeops.errors import EdgeopsError
from edgeops.files import atomic_write
from edgeops.objectstore import PreconditionFailed
from edgeops.progress import Reporter
from edgeops.state import DesiredDataset, DesiredModel, LiveCandidate, LiveVersion

if TYPE_CHECKING:
    from edgeops.backends.local.backend import LocalBackend

CANDIDATE_JSON = "candidate.json"
DOCS = ("evaluation.json", "model_card.json", "report.html")


def _report(
    out: Path,
    model: DesiredModel,
    outcome: Any,
    gate: Any,
    comparison: dict[str, Any],
    examples: list[Any],
    champion: int | None,
) -> None:
    """report.html again, now with the gate against the served version and the comparison with
    it: every metric of both, and thumbnails of the images the candidate fixes and breaks."""
    from edgeops.backends.local.ml.card import thumbnail, thumbnail_ids
    from edgeops.evaluation import render_html
    from edgeops.evaluation.compare import comparison_of

    c = comparison_of(comparison)
    evaluation = outcome.evaluation
    paths = {Path(e.image_path).name: Path(e.image_path) for e in examples if e.split == "test"}
    thumbs = {i: thumbnail(paths[i]) for i in thumbnail_ids(evaluation, c) if i in paths}
    (out / REPORT_HTML).write_text(
        render_html(
            evaluation,
            title=f"{model.address} candidate (int8 sha256 {outcome.sha256[MODEL_INT8][:12]}) "
            f"vs v{champion}",
            threshold=outcome.threshold,
            gate=gate,
            thumbnails=thumbs,
            comparison=c,
        )
    )


def _prefix(model: str, fingerprint: str) -> str:
    return f"candidates/{model}/{fingerprint}"


class Candidates:
    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend

    def folder(self, model: str, fingerprint: str) -> Path:
        return self.backend.root / "candidates" / model / fingerprint

    # --- read ----------------------------------------------------------------------------------

    def get(self, model: str, fingerprint: str) -> LiveCandidate | None:
        remote = self.backend.remote
        if remote is not None:
            blob = remote.store.get(f"{_prefix(model, fingerprint)}/{CANDIDATE_JSON}")
            return LiveCandidate.from_dict(json.loads(blob.data)) if blob is not None else None
        path = self.folder(model, fingerprint) / CANDIDATE_JSON
        if not path.exists():
            return None
        return LiveCandidate.from_dict(json.loads(path.read_text()))

    def files_of(self, candidate: LiveCandidate) -> Path:
        """The candidate's folder on this machine (fetched from the bucket when needed)."""
        folder = self.folder(candidate.model, candidate.fingerprint)
        remote = self.backend.remote
        if remote is not None:
            for name, sha in candidate.files.items():
                if not (folder / name).exists():
                    remote.fetch_blob(sha, folder / name)
            prefix = _prefix(candidate.model, candidate.fingerprint)
            for name in DOCS:
                if not (folder / name).exists():
                    remote.store.get_file(f"{prefix}/{name}", folder / name)
        return folder

    def report(self, candidate: LiveCandidate) -> Path | None:
        """The candidate's report.html on this machine (fetched from the bucket when needed)."""
        path = self.folder(candidate.model, candidate.fingerprint) / REPORT_HTML
        remote = self.backend.remote
        if remote is not None and not path.exists():
            prefix = _prefix(candidate.model, candidate.fingerprint)
            remote.store.get_file(f"{prefix}/{REPORT_HTML}", path)
        return path if path.exists() else None

    # --- train ---------------------------------------------------------------------------------

    def train(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveCandidate:
        from edgeops.backends.local.ml import trainer
        from edgeops.datasets import iter_image_bytes

        found = self.get(model.spec.name, model.fingerprint)
        if found is not None:
            return found
        store = self.backend.store
        manifest = dataset.manifest
        missing = [r for r in manifest.images if not store.has(r.sha256)]
        if missing:  # content-addressed: storing images changes no live state
            with reporter.task(f"storing {dataset.address}'s new images", len(missing)) as task:
                for record, data in iter_image_bytes(
                    dataset.spec, missing, root=self.backend.config.root
                ):
                    store.put(record.sha256, data)
                    task.advance()
        examples = [
            trainer.TrainingExample(
                image_path=store.path(r.sha256), labels=tuple(r.labels), split=r.split
            )
            for r in manifest.images
        ]
        labels = sorted({label for r in manifest.images for label in r.labels})
        folder = self.folder(model.spec.name, model.fingerprint)
        work = Path(tempfile.mkdtemp(prefix=".candidate-", dir=self.backend.root))
        try:
            outcome = trainer.train_and_export(
                examples,
                labels,
                dataset.spec.multi_label,
                model.spec,
                work / "out",
                version=0,
                dataset_fingerprint=dataset.fingerprint,
                reporter=reporter,
                cache_dir=self.backend.root / "cache" / "ml",
            )
            champion, comparison = self.compare_with_served(
                model, dataset.spec.multi_label, work / "out", examples, outcome
            )
            gate = against_published(outcome.gate, comparison, model)
            metrics = version_metrics(model, outcome.evaluation, outcome.threshold, gate)
            metrics["timings"] = outcome.timings
            if comparison is not None:
                metrics["comparison"] = {"champion": champion, **comparison}
                _report(work / "out", model, outcome, gate, comparison, examples, champion)
            candidate = LiveCandidate(
                model=model.spec.name,
                fingerprint=model.fingerprint,
                eval_fingerprint=model.eval_fingerprint,
                trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
                sha256=outcome.sha256[MODEL_INT8],
                blessed=bool(gate.passed),
                threshold=float(outcome.threshold),
                metrics=metrics,
                stop_reason=outcome.stop_reason,
                cost_node_hours=float(outcome.cost_node_hours),
                files=dict(outcome.sha256),
                champion=champion,
                comparison=comparison,
            )
            atomic_write(
                work / "out" / CANDIDATE_JSON,
                (json.dumps(candidate.to_dict(), indent=1, sort_keys=True) + "\n").encode(),
            )
            if folder.exists():
                shutil.rmtree(folder)
            folder.parent.mkdir(parents=True, exist_ok=True)
            (work / "out").rename(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return self._publish_record(candidate, folder)

    def _publish_record(self, candidate: LiveCandidate, folder: Path) -> LiveCandidate:
        """With state in a bucket: its files, then its record (create-only: when another job
        trained the same fingerprint first, theirs is the candidate)."""
        remote = self.backend.remote
        if remote is None:
            return candidate
        for name, sha in candidate.files.items():
            remote.put_blob(sha, folder / name)
        prefix = _prefix(candidate.model, candidate.fingerprint)
        for name in DOCS:
            if (folder / name).exists():
                remote.store.put_file(f"{prefix}/{name}", folder / name)
        try:
            remote.store.put_file(
                f"{prefix}/{CANDIDATE_JSON}", folder / CANDIDATE_JSON, if_absent=True
            )
        except PreconditionFailed:
            shutil.rmtree(folder, ignore_errors=True)
            found = self.get(candidate.model, candidate.fingerprint)
            assert found is not None
            return found
        return candidate

    def compare_with_served(
        self,
        model: DesiredModel,
        multi_label: bool,
        out: Path,
        examples: list[Any],
        outcome: Any,
    ) -> tuple[int | None, dict[str, Any] | None]:
        """The version this model's publish targets serve, and how the candidate compares with
        it on the candidate's test images (both int8 files in LiteRT, same preprocessing)."""
        backend = self.backend
        if not backend._has_registry():
            return None, None
        served = {
            p.version
            for p in backend.registry.publish_rows().values()
            if p.model == model.spec.name
        }
        if not served:
            return None, None
        champion = max(served)
        test = [e for e in examples if e.split == "test"]
        if not test:
            return champion, None
        from edgeops.backends.local.ml.score import score_files
        from edgeops.evaluation.compare import compare

        labels = list(outcome.labels)
        champion_dir = backend.version_files(model_address(model.spec.name), champion)
        champion_labels = (champion_dir / "labels.txt").read_text().split()
        if champion_labels != labels:
            return champion, {"note": "the labels changed since the served version: no comparison"}
        paths = [e.image_path for e in test]
        old = score_files(champion_dir / MODEL_INT8, paths)
        new = score_files(out / MODEL_INT8, paths)
        version = backend.registry.version(model_address(model.spec.name), champion)
        result = compare(
            old,
            new,
            [tuple(e.labels) for e in test],
            labels,
            multi_label=multi_label,
            champion_threshold=float(version.threshold) if version and version.threshold else 0.5,
            candidate_threshold=float(outcome.threshold),
            image_ids=[Path(e.image_path).name for e in test],
        )
        return champion, result.to_dict()

    # --- adopt ---------------------------------------------------------------------------------

    def adopt(
        self, model: DesiredModel, dataset: DesiredDataset, sha256: str, reporter: Reporter
    ) -> LiveVersion:
        backend = self.backend
        candidate = self.get(model.spec.name, model.fingerprint)
        if candidate is None or candidate.sha256 != sha256:
            raise EdgeopsError(
                f"{model.address}: the candidate trained in plan (int8 sha256 {sha256[:12]}) "
                + ("is gone" if candidate is None else f"changed (now {candidate.sha256[:12]})")
                + "; what was reviewed can no longer ship. Run `edgeops plan --train` again."
            )
        folder = self.files_of(candidate)
        from edgeops.evaluation import Evaluation

        evaluation = Evaluation.from_dict(json.loads((folder / EVALUATION_JSON).read_text()))
        from edgeops.evaluation import judge

        # the config's rules now (a new threshold rule too), and the comparison reviewed
        judgement = judge(evaluation, model.spec)
        gate = against_published(judgement.gate, candidate.comparison, model)
        reg = backend.registry
        version = reg.begin_version(model.address, model.fingerprint, model.eval_fingerprint)
        out_dir = backend.version_dir(model.address, version)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(folder, out_dir, ignore=shutil.ignore_patterns(CANDIDATE_JSON))
        metrics = {
            **candidate.metrics,
            **version_metrics(model, evaluation, judgement.threshold, gate),
            "adopted": {"trained_at": candidate.trained_at, "sha256": candidate.sha256},
        }
        adopted = backend.record_ready(
            model,
            version,
            out_dir,
            blessed=bool(gate.passed),
            threshold=float(judgement.threshold),
            metrics=metrics,
            stop_reason=candidate.stop_reason,
            cost_node_hours=candidate.cost_node_hours,
            files=dict(candidate.files),
        )
        reporter.info(
            f"{model.address} v{version}: adopted the candidate trained in plan at "
            f"{candidate.trained_at} (int8 sha256 {candidate.sha256[:12]}); no training"
        )
        self.remove(candidate)
        self.prune(model)
        return adopted

    # --- retention -----------------------------------------------------------------------------

    def remove(self, candidate: LiveCandidate) -> None:
        shutil.rmtree(self.folder(candidate.model, candidate.fingerprint), ignore_errors=True)
        remote = self.backend.remote
        if remote is not None:
            prefix = _prefix(candidate.model, candidate.fingerprint)
            for name in (*DOCS, CANDIDATE_JSON):
                remote.store.delete(f"{prefix}/{name}")

    def prune(self, model: DesiredModel) -> None:
        """`keep: N` keeps the N newest candidates of the model (unmerged pull requests')."""
        if model.spec.keep is None:
            return
        for candidate in self.all(model.spec.name)[model.spec.keep :]:
            self.remove(candidate)

    def all(self, model: str) -> list[LiveCandidate]:
        """The model's candidates, newest first."""
        remote = self.backend.remote
        found: list[LiveCandidate] = []
        if remote is not None:
            for key in remote.store.list(f"candidates/{model}/"):
                if key.endswith(f"/{CANDIDATE_JSON}"):
                    blob = remote.store.get(key)
                    if blob is not None:
                        found.append(LiveCandidate.from_dict(json.loads(blob.data)))
        else:
            for path in (self.backend.root / "candidates" / model).glob(f"*/{CANDIDATE_JSON}"):
                found.append(LiveCandidate.from_dict(json.loads(path.read_text())))
        return sorted(found, key=lambda c: c.trained_at, reverse=True)
