"""The local backend: local training, no account; state in a folder or a bucket.

Layout under the backend path (default ``.edgeops/`` beside edgeops.yaml; with state in a bucket,
this machine's working copy of it, see ``remote.py``)::

    registry.sqlite      datasets, model versions, publish targets, registry entries (WAL)
    store/ab/<sha256>    images, content-addressed
    models/<name>/vN/    one folder per trained model version (tflite files, labels, model card)
    cache/               hash and feature caches (safe to delete)
    lock.json            present while an apply runs; names its holder
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeops.addresses import model_address, name_of
from edgeops.backends import bundle, mlflow_registry
from edgeops.backends.base import TrainerFacts
from edgeops.backends.layout import (
    EVALUATION_JSON,
    LABELS_TXT,
    MODEL_CARD,
    MODEL_FILES,
    MODEL_INT8,
    version_folder,
)
from edgeops.backends.local import lock as lockfile
from edgeops.backends.local.candidates import Candidates
from edgeops.backends.local.registry import Registry
from edgeops.backends.local.remote import RemoteState
from edgeops.backends.local.store import BlobStore
from edgeops.backends.records import against_published, target_fields, verdict, version_metrics
from edgeops.config.model import (
    BundleTarget,
    Config,
    MlflowTarget,
    ModelSpec,
    OnlineTarget,
    RegistryTarget,
)
from edgeops.errors import EdgeopsError
from edgeops.files import atomic_write, sha256_file
from edgeops.progress import Reporter
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    LiveCandidate,
    LivePublish,
    LiveState,
    LiveVersion,
)

if TYPE_CHECKING:
    from edgeops.evaluation import Evaluation
    from edgeops.plan.definition import Plan


class LocalBackend:
    name = "local"

    def __init__(self, config: Config) -> None:
        local = config.backend.local
        assert local is not None
        self.config = config
        self.root = local.path
        self._registry: Registry | None = None
        # state in a bucket: the truth is there, `root` is this machine's working copy
        self.remote = RemoteState(local) if local.remote else None
        self._pulled = False

    # --- plumbing --------------------------------------------------------------------------

    def _sync(self) -> None:
        """With state in a bucket: make the working copy's registry the bucket's (one request
        when it already is); connections to a replaced file are reopened."""
        if self.remote is None:
            return
        if self.remote.pull() and self._registry is not None:
            self._registry.close()
            self._registry = None
        self._pulled = True

    def _has_registry(self) -> bool:
        if self.remote is not None and not self._pulled:
            self._sync()
        return (self.root / "registry.sqlite").exists()

    @property
    def registry(self) -> Registry:
        if self.remote is not None and not self._pulled:
            self._sync()
        if self._registry is None:
            on_commit = self.remote.push if self.remote is not None else None
            self._registry = Registry(self.root / "registry.sqlite", on_commit=on_commit)
        return self._registry

    @property
    def store(self) -> BlobStore:
        return BlobStore(self.root / "store", remote=self.remote)

    def version_dir(self, address: str, version: int) -> Path:
        """The folder of a version of the model at ``address`` (``model.NAME``)."""
        return self.root.joinpath(*version_folder(name_of(address), version))

    def version_files(self, address: str, version: int) -> Path:
        """The folder of a trained version, its files on this machine (with state in a bucket,
        fetched into the working copy when missing)."""
        folder = self.version_dir(address, version)
        if self.remote is not None:
            v = self.registry.version(address, version)
            if v is not None and v.status == "ready":
                self.remote.fetch_version(name_of(address), version, folder, v.files)
        return folder

    def registry_entries(self) -> dict[str, dict[str, Any]]:
        """The local model registry's entries by display name (for `edgeops models`)."""
        if not self._has_registry():
            return {}
        return self.registry.registry_entries()

    def model_file(self, address: str, version: int) -> Path:
        """The int8 .tflite of a version (for `edgeops models`; it may have been removed)."""
        return self.version_files(address, version) / MODEL_INT8

    def prepare_serving(self) -> Path:
        """The registry ``edgeops serve`` reads, with the files of every published version on
        this machine (with state in a bucket: fetched into the working copy)."""
        if self.remote is not None:
            self._sync()
            if self._has_registry():
                for p in self.registry.publish_rows().values():
                    self.version_files(model_address(p.model), p.version)
                    rollout = p.state.get("rollout") or {}
                    if isinstance(rollout.get("version"), int):
                        self.version_files(model_address(rollout["candidate"]), rollout["version"])
        return self.root / "registry.sqlite"

    # --- read ------------------------------------------------------------------------------

    def read(self) -> LiveState:
        self._sync()
        if not self._has_registry():
            return LiveState(backend=self.name)
        reg = self.registry
        entries = reg.registry_entries()
        publish = {
            address: replace(p, drift=tuple(self._drift(p, entries)))
            for address, p in reg.publish_rows().items()
        }
        return LiveState(
            backend=self.name,
            datasets=reg.datasets(),
            models=reg.models(),
            publish=publish,
        )

    def _drift(self, p: LivePublish, entries: dict[str, dict[str, Any]]) -> Iterator[str]:
        kind, spec, state = p.kind, p.spec, p.state
        if kind == "bundle":
            yield from bundle.drift(self.config.root, state)
        elif kind == "mlflow":
            yield from mlflow_registry.drift(p.address, state)
        elif kind == "registry":
            entry = entries.get(spec.get("display_name", ""))
            if entry is None:
                yield f"registry entry '{spec.get('display_name')}' was removed"
            else:
                if entry["tags"] != state.get("tags"):
                    yield f"registry tags changed to {entry['tags']}"
                if entry["published"] != state.get("published"):
                    yield f"registry published flag changed to {str(entry['published']).lower()}"
                if entry["version"] != state.get("version"):
                    yield f"registry entry points at v{entry['version']}"
                want = state.get("rollout") or {}
                have = {
                    "candidate": entry["candidate_model"],
                    "version": entry["candidate_version"],
                    "percent": entry["rollout_percent"],
                }
                if have != {k: want.get(k) for k in have}:
                    yield (
                        f"registry rollout changed to {have['candidate']} "
                        f"v{have['version']} at {have['percent']}%"
                        if have["candidate"]
                        else "registry rollout was removed"
                    )

    def plan_warnings(self, plan: Plan) -> list[str]:
        return []

    def trainer_facts(self, spec: ModelSpec, n_images: int) -> TrainerFacts:
        from edgeops.backends.local.ml import TRAINER_VERSION, machine_estimate

        estimate = machine_estimate(n_images, spec.optimize_for)
        return TrainerFacts(TRAINER_VERSION, estimate.seconds, estimate_basis=estimate.basis)

    def remote_rows(self) -> None:
        return None  # gs:// rows of csv sources stay an error here

    def data_rules(self) -> None:
        return None  # the local trainer takes what edgeops' own rules accept

    # --- lock ------------------------------------------------------------------------------

    @contextmanager
    def lock(self, command: str) -> Iterator[None]:
        if self.remote is not None:
            with self.remote.locked(command):
                self._sync()  # what the last holder wrote
                yield
            return
        with lockfile.file_lock(self.root / "lock.json", command):
            yield

    def force_unlock(self) -> dict[str, Any] | None:
        if self.remote is not None:
            return self.remote.force_unlock()
        return lockfile.force_unlock(self.root / "lock.json")

    # --- datasets --------------------------------------------------------------------------

    def import_dataset(self, dataset: DesiredDataset, reporter: Reporter) -> None:
        from edgeops.datasets import iter_image_bytes

        manifest = dataset.manifest
        store = self.store
        missing = [r for r in manifest.images if not store.has(r.sha256)]
        if missing:
            with reporter.task(f"importing {dataset.address}", len(missing)) as task:
                for record, data in iter_image_bytes(dataset.spec, missing, root=self.config.root):
                    store.put(record.sha256, data)
                    task.advance()
        rows = [(r.sha256, tuple(r.labels), r.split, r.source) for r in manifest.images]
        self.registry.replace_dataset(
            dataset.address, dataset.fingerprint, dataset.spec.multi_label, rows
        )
        reporter.info(
            f"{dataset.address}: {len(manifest.images)} images ({len(missing)} new in the store)"
        )

    def forget_dataset(self, address: str) -> None:
        self.registry.delete_dataset(address)

    def image_features(
        self, images: Sequence[tuple[str, Callable[[], bytes]]], reporter: Reporter
    ) -> tuple[str, Any]:
        from edgeops.backends.local.features import image_features

        return image_features(self.root / "cache" / "ml", images, reporter)

    def cached_image_features(self, shas: Sequence[str]) -> tuple[str, Any] | None:
        from edgeops.backends.local.features import cached_image_features

        return cached_image_features(self.root / "cache" / "ml", shas)

    def health_cache(self) -> Path:
        return self.root / "cache" / "health"

    def version_scores(
        self, address: str, version: int, images: Sequence[tuple[str, Callable[[], bytes]]]
    ) -> tuple[list[str], Any]:
        from edgeops.backends.local.ml.score import score_images

        folder = self.version_files(address, version)
        labels = (folder / LABELS_TXT).read_text().splitlines()
        return labels, score_images(folder / MODEL_INT8, [read for _, read in images])

    # --- models ----------------------------------------------------------------------------

    def train_model(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveVersion:
        from edgeops.backends.local.ml import trainer

        reg = self.registry
        live = reg.datasets().get(dataset.address)
        if live is None or live.fingerprint != model.inputs.get("dataset"):
            raise EdgeopsError(
                f"{model.address}: {dataset.address} in the backend is not the data this plan "
                "trains on; run `edgeops plan` again"
            )
        examples = [
            trainer.TrainingExample(
                image_path=self.store.path(r.sha256), labels=r.labels, split=r.split
            )
            for r in live.images
        ]
        labels = sorted({label for r in live.images for label in r.labels})
        version = reg.begin_version(model.address, model.fingerprint, model.eval_fingerprint)
        out_dir = self.version_dir(model.address, version)
        try:
            outcome = trainer.train_and_export(
                examples,
                labels,
                dataset.spec.multi_label,
                model.spec,
                out_dir,
                version=version,
                dataset_fingerprint=dataset.fingerprint,
                reporter=reporter,
                cache_dir=self.root / "cache" / "ml",
            )
        except BaseException:
            reg.finish_version(
                model.address,
                version,
                status="failed",
                eval_fingerprint=model.eval_fingerprint,
                blessed=False,
                threshold=None,
                metrics={"inputs": model.inputs},
                stop_reason="",
                cost_node_hours=0.0,
                files={},
            )
            raise
        champion, comparison = self.candidates.compare_with_served(
            model, dataset.spec.multi_label, out_dir, examples, outcome
        )
        gate = against_published(outcome.gate, comparison, model)
        metrics = version_metrics(model, outcome.evaluation, outcome.threshold, gate)
        metrics["timings"] = outcome.timings
        metrics["estimate"] = {"seconds": model.estimate_seconds, "basis": model.estimate_basis}
        if model.estimate_seconds:
            from edgeops.views.text import timing_lines

            timed = [(version, outcome.cost_node_hours, metrics["estimate"])]
            reporter.info(timing_lines(timed, model.address)[0])
        if comparison is not None:
            metrics["comparison"] = {"champion": champion, **comparison}
        return self.record_ready(
            model,
            version,
            out_dir,
            blessed=bool(gate.passed),
            threshold=float(outcome.threshold),
            metrics=metrics,
            stop_reason=outcome.stop_reason,
            cost_node_hours=float(outcome.cost_node_hours),
            files=dict(outcome.sha256),
        )

    def record_ready(
        self,
        model: DesiredModel,
        version: int,
        out_dir: Path,
        *,
        blessed: bool,
        threshold: float,
        metrics: dict[str, Any],
        stop_reason: str,
        cost_node_hours: float,
        files: dict[str, str],
    ) -> LiveVersion:
        """Record a version whose files are in ``out_dir`` as ready: with state in a bucket the
        files first, then the registry that names them."""
        if self.remote is not None:
            self.remote.put_version(model.spec.name, version, out_dir, files)
        self.registry.finish_version(
            model.address,
            version,
            status="ready",
            eval_fingerprint=model.eval_fingerprint,
            blessed=blessed,
            threshold=threshold,
            metrics=metrics,
            stop_reason=stop_reason,
            cost_node_hours=cost_node_hours,
            files=files,
        )
        v = self.registry.version(model.address, version)
        assert v is not None
        return v

    # --- candidates (plan --train) ------------------------------------------------------------

    @property
    def candidates(self) -> Candidates:
        return Candidates(self)

    def candidates_of(self, address: str) -> list[LiveCandidate]:
        return self.candidates.all(name_of(address))

    def candidate(self, address: str, fingerprint: str) -> LiveCandidate | None:
        return self.candidates.get(name_of(address), fingerprint)

    def candidate_report(self, candidate: LiveCandidate) -> Path | None:
        return self.candidates.report(candidate)

    def train_candidate(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveCandidate:
        return self.candidates.train(model, dataset, reporter)

    def adopt_candidate(
        self, model: DesiredModel, dataset: DesiredDataset, sha256: str, reporter: Reporter
    ) -> LiveVersion:
        return self.candidates.adopt(model, dataset, sha256, reporter)

    def evaluate_model(self, model: DesiredModel, version: int) -> LiveVersion:
        reg = self.registry
        evaluation = self._evaluation(model.address, version)
        old = reg.version(model.address, version)
        assert old is not None
        judged = verdict(model, evaluation, old.metrics.get("comparison"))
        reg.update_evaluation(
            model.address, version, **{**judged, "metrics": {**old.metrics, **judged["metrics"]}}
        )
        card = self.version_files(model.address, version) / MODEL_CARD
        if card.exists():
            data = json.loads(card.read_text())
            data["threshold"] = judged["threshold"]
            data["blessed"] = judged["blessed"]
            atomic_write(card, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
            if self.remote is not None:
                self.remote.put_doc(model.spec.name, version, card)
        v = reg.version(model.address, version)
        assert v is not None
        return v

    def _evaluation(self, address: str, version: int) -> Evaluation:
        from edgeops.evaluation import Evaluation

        out_dir = self.version_files(address, version)
        try:
            data = json.loads((out_dir / EVALUATION_JSON).read_text())
        except FileNotFoundError:
            raise EdgeopsError(
                f"{address} v{version}: no {EVALUATION_JSON} in {out_dir}; "
                "the version folder was removed or damaged"
            ) from None
        return Evaluation.from_dict(data)

    def evaluation_of(self, address: str, version: int) -> tuple[Evaluation, dict[str, str]]:
        """The stored evaluation of a version and thumbnails of its worst mistakes and of the
        test images it fixed or broke against the version served when it was trained."""
        from edgeops.backends.local.ml.card import thumbnail, thumbnail_ids
        from edgeops.evaluation.compare import stored_comparison

        evaluation = self._evaluation(address, version)
        row = self.registry.version(address, version)
        comparison = stored_comparison(row.metrics) if row is not None else None
        thumbs = {}
        for image_id in thumbnail_ids(evaluation, comparison):
            path = self.store.path(image_id)
            if path.exists():
                thumbs[image_id] = thumbnail(path)
        return evaluation, thumbs

    def delete_versions(self, address: str, versions: list[int]) -> None:
        mlflow_states = [
            p.state for p in self.registry.publish_rows().values() if p.kind == "mlflow"
        ]
        if mlflow_states:  # first: a server that fails leaves the versions for the next apply
            mlflow_registry.delete_versions(address, versions, mlflow_states)
        self.registry.delete_versions(address, versions)
        for v in versions:
            shutil.rmtree(self.version_dir(address, v), ignore_errors=True)
            if self.remote is not None:
                self.remote.delete_version(name_of(address), v)

    def delete_dataset_resources(self, address: str, resources: list[str]) -> None:
        return None  # the local backend keeps no copy of a dataset outside its registry

    def forget_model(self, address: str) -> None:
        self.registry.unmanage_model(address)

    # --- publish ---------------------------------------------------------------------------

    def publish(
        self,
        target: DesiredPublish,
        version: LiveVersion,
        reporter: Reporter,
        candidate: LiveVersion | None = None,
    ) -> None:
        vdir = self.version_files(model_address(target.model), version.version)
        labels = (vdir / LABELS_TXT).read_text().splitlines()
        old = self.registry.publish_rows().get(target.address)
        fields = target_fields(target, version)
        record = partial(  # record(state, ...): the target's row, once published
            self.registry.set_publish,
            target.address,
            target.model,
            target.kind,
            version.version,
            target.spec,
        )
        if isinstance(target.target, RegistryTarget):
            t = target.target
            model_file = vdir / MODEL_INT8
            sha = sha256_file(model_file)
            state: dict[str, Any] = {
                **fields,
                "tags": list(t.tags),
                "published": t.published,
                "sha256": sha,
            }
            entry: dict[str, Any] = {
                "display_name": t.display_name,
                "model": target.model,
                "version": version.version,
                "tags": list(t.tags),
                "published": t.published,
                "file": str(model_file),
                "sha256": sha,
                "size": model_file.stat().st_size,
                "threshold": version.threshold,
            }
            if t.rollout is not None:
                candidate = _rollout_candidate(target, candidate)
                cfile = self.model_file(model_address(candidate.model), candidate.version)
                rollout = {
                    "candidate": candidate.model,
                    "version": candidate.version,
                    "sha256": sha256_file(cfile),
                    "threshold": candidate.threshold,
                    "percent": t.rollout.percent,
                    "eval_fingerprint": candidate.eval_fingerprint,
                }
                state["rollout"] = rollout
                entry.update(
                    candidate_model=candidate.model,
                    candidate_version=candidate.version,
                    candidate_file=str(cfile),
                    candidate_sha256=rollout["sha256"],
                    candidate_threshold=candidate.threshold,
                    rollout_percent=t.rollout.percent,
                )
            record(
                state,
                registry_entry=entry,
                replaces_entry=old.spec.get("display_name") if old else None,
            )
        elif isinstance(target.target, BundleTarget):
            t2 = target.target
            data = (vdir / MODEL_FILES[t2.format]).read_bytes()
            card = bundle.card(target.model, version, t2.format, labels, data)
            written = bundle.publish(
                self.config.root, t2.path, data, labels, card, old.state if old else {}
            )
            record({**fields, **written})
        elif isinstance(target.target, MlflowTarget):
            t4 = target.target
            challenger = None
            if t4.rollout is not None:
                c = _rollout_candidate(target, candidate)
                cfolder = self.version_files(model_address(c.model), c.version)
                challenger = mlflow_registry.Release(c, cfolder)
            written = mlflow_registry.publish(
                target.address,
                t4,
                mlflow_registry.Release(version, vdir),
                challenger,
                old.state if old and old.kind == "mlflow" else {},
                warn=reporter.warn,
            )
            reporter.info(
                f"{target.address}: {t4.name}@{t4.alias} is MLflow version "
                f"{written['model_version']} at {t4.tracking_uri}"
            )
            record({**fields, **written})
        elif isinstance(target.target, OnlineTarget):
            t3 = target.target
            model_file = vdir / MODEL_FILES[t3.format]
            state = {
                **fields,
                "name": t3.name,
                "file": str(model_file),
                "sha256": sha256_file(model_file),
                "labels": labels,
            }
            record(state)
        else:
            raise EdgeopsError(
                f"{target.address}: the local backend cannot publish to '{target.kind}'; "
                "use registry, bundle, online or mlflow targets"
            )
        reporter.info(f"{target.address}: now serves v{version.version}")

    def unpublish(self, address: str) -> None:
        row = self.registry.publish_rows().get(address)
        if row is None:
            return
        if row.kind == "bundle":
            bundle.unpublish(self.config.root, row.state)
        elif row.kind == "mlflow":
            mlflow_registry.unpublish(address, row.state)
        self.registry.delete_publish(
            address, row.spec.get("display_name") if row.kind == "registry" else None
        )


def _rollout_candidate(target: DesiredPublish, candidate: LiveVersion | None) -> LiveVersion:
    """The version a target with a rollout rolls out, as the applier passed it."""
    assert target.rollout is not None
    if candidate is None or candidate.model != target.rollout.candidate:
        raise EdgeopsError(
            f"{target.address}: rolling out {target.rollout.candidate} needs its version "
            "(a bug: the applier passes it)"
        )
    return candidate
