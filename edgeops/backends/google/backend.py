"""The google backend: the same plan/apply over Vertex AI AutoML Edge, Cloud Storage and
Firebase ML. It keeps no state on this machine: edgeops' records live in the bucket.

Layout under ``gs://<bucket>/<prefix>/``::

    lock.json                          present while an apply runs: names its holder, and
                                       a heartbeat refreshes it (lock.py)
    images/<sha256>.<ext>              images, content-addressed
    datasets/<name>/<fingerprint>.csv  Vertex import files (ML_USE,GCS_PATH,LABEL...)
    models/<name>/v<N>/                evaluation.json, labels.txt, export/ (Vertex's TFLite)
    state/datasets/<name>.json         imported images, Vertex dataset
    state/models/<name>.json           versions, and the training pipeline being polled
    state/publish/<address>.json       what each publish target was made to serve
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edgeops.addresses import Address, model_address, name_of, publish_address
from edgeops.backends import bundle
from edgeops.backends.base import TrainerFacts
from edgeops.backends.google import TRAINER_VERSION, firebase, vertex
from edgeops.backends.google import lock as bucket_lock
from edgeops.backends.google.bucket import Record, StateBucket
from edgeops.backends.google.clients import Clients
from edgeops.backends.google.evaluation import evaluation_from_vertex
from edgeops.backends.google.rules import VERTEX_FORMATS, VertexDataRules, format_problem
from edgeops.backends.layout import EVALUATION_JSON, LABELS_TXT, labels_text, version_folder
from edgeops.backends.records import VERSION_FIELDS, target_fields, verdict
from edgeops.config.model import BundleTarget, Config, FirebaseTarget, GcsTarget, ModelSpec
from edgeops.errors import EdgeopsError
from edgeops.files import sha256_bytes
from edgeops.progress import Reporter
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    ImageRow,
    LiveCandidate,
    LiveDataset,
    LiveModel,
    LivePublish,
    LiveState,
    LiveVersion,
)

if TYPE_CHECKING:
    from edgeops.backends.google.gcs_source import GcsRows
    from edgeops.backends.google.remote_config import RemoteConfig
    from edgeops.evaluation import Evaluation
    from edgeops.plan.definition import Plan

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "ico": "image/x-icon",
}
# Vertex AI exports an AutoML Edge classifier as one TFLite file and offers no float/quantized
# choice: `format` cannot change what a bundle/gcs target publishes (README, "Model format").
FLOAT32_NOTE = (
    "{address}: format float32 has no effect on the google backend: Vertex AI exports one "
    "TFLite model (export format tflite) and that file is published as it is; set format: "
    "int8 (the default) to say so"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class GoogleBackend:
    name = "google"

    def __init__(self, config: Config) -> None:
        assert config.backend.google is not None
        self.config = config
        self.spec = config.backend.google
        self.clients = Clients(self.spec)
        self._state: StateBucket | None = None

    @property
    def state(self) -> StateBucket:
        if self._state is None:
            self._state = StateBucket(self.clients.storage, self.spec.bucket, self.spec.prefix)
            self._state.check_exists()
        return self._state

    def plan_warnings(self, plan: Plan) -> list[str]:
        """Plan-wide notes only this backend knows: Firebase ML's shutdown date (when the plan
        touches a firebase target), the Remote Config parameter each rollout change writes,
        and, on every plan, bundle/gcs targets asking for float32."""
        from edgeops.backends.google.remote_config import plan_note

        touched = any(
            c.kind == "publish" and Address.parse(c.address).target == "firebase"
            for c in plan.changes
        )
        notes = [firebase.DEPRECATION] if touched else []
        for c in plan.changes:
            a = Address.parse(c.address)
            if c.kind == "publish" and a.target in ("firebase", "gcs") and c.after is not None:
                note = plan_note(self.config, a.name, a.target, c)
                notes += [note] if note else []
        for spec in self.config.publish:
            for kind, target in spec.targets:
                if isinstance(target, BundleTarget | GcsTarget) and target.format == "float32":
                    notes.append(FLOAT32_NOTE.format(address=publish_address(spec.model, kind)))
        return notes

    def trainer_facts(self, spec: ModelSpec, n_images: int) -> TrainerFacts:
        # Vertex AI AutoML Edge: the budget bounds both the wall time and the cost
        node_hours = spec.budget.node_hours
        return TrainerFacts(
            TRAINER_VERSION,
            estimate_seconds=node_hours * 3600,
            cost_ceiling=f"${node_hours * self.spec.price_per_node_hour:,.2f}",
        )

    def remote_rows(self) -> GcsRows:
        """gs:// rows of csv sources are imported from where they are (gcs_source.py)."""
        from edgeops.backends.google.gcs_source import GcsRows

        return GcsRows(lambda: self.clients.storage)

    def data_rules(self) -> VertexDataRules:
        """Vertex AI's label and image-format rules (rules.py), checked when datasets are
        scanned, so a refused label or WebP image is a plan-time error naming its file."""
        return VertexDataRules()

    # --- read ------------------------------------------------------------------------------

    def read(self) -> LiveState:
        st = self.state
        datasets = {}
        vertex_datasets: dict[str, str] = {}  # dataset fingerprint -> its Vertex AI dataset
        for rec in st.list_json("state", "datasets"):
            d = rec.data
            old = d.get("old_vertex_datasets", {})  # name -> fingerprint
            datasets[d["address"]] = LiveDataset(
                address=d["address"],
                fingerprint=d["fingerprint"],
                images=tuple(ImageRow(s, tuple(lab), sp) for s, lab, sp in d["images"]),
                updated_at=d.get("updated_at", ""),
                resource=d.get("vertex_dataset", ""),
                old_resources=tuple(sorted(old)),
            )
            vertex_datasets.update({fp: name for name, fp in old.items()})
            vertex_datasets[d["fingerprint"]] = d.get("vertex_dataset", "")
        models = {}
        for rec in st.list_json("state", "models"):
            d = rec.data
            rows = [v for v in d.get("versions", []) if v.get("status") == "ready"]
            models[d["address"]] = LiveModel(
                address=d["address"],
                versions=tuple(_live_version(d["address"], v) for v in d.get("versions", [])),
                resources={v["version"]: self._owned(d["address"], v) for v in rows},
                trained_on={
                    v["version"]: name
                    for v in rows
                    # versions recorded before edgeops kept it: the Vertex dataset of the
                    # dataset fingerprint they were trained on (one per fingerprint)
                    if (name := v.get("vertex_dataset") or vertex_datasets.get(_data_of(v), ""))
                },
            )
        publish = {}
        for rec in st.list_json("state", "publish"):
            d = rec.data
            publish[d["address"]] = LivePublish(
                address=d["address"],
                model=d["model"],
                kind=d["kind"],
                version=int(d["version"]),
                spec=d["spec"],
                state=d["state"],
                drift=tuple(self._drift(d["kind"], d["spec"], d["state"])),
            )
        return LiveState(backend=self.name, datasets=datasets, models=models, publish=publish)

    def _owned(self, address: str, row: dict[str, Any]) -> tuple[str, ...]:
        """What deleting a version deletes besides its record: its Vertex AI model and its
        folder in the bucket (the TFLite export, evaluation and labels)."""
        folder = self.state.uri(*version_folder(name_of(address), row["version"])) + "/"
        return (row["vertex_model"], folder) if row.get("vertex_model") else (folder,)

    def _drift(self, kind: str, spec: dict[str, Any], state: dict[str, Any]) -> list[str]:
        if kind == "bundle":
            return list(bundle.drift(self.config.root, state))
        if kind == "gcs":
            out = []
            for uri, (md5, _gen) in sorted(state.get("objects", {}).items()):
                now = self.state.stat_uri(uri)
                if now is None:
                    out.append(f"{uri} was deleted")
                elif now[0] != md5:
                    out.append(f"{uri} was edited or replaced")
            return out
        if kind == "firebase":
            return firebase.drift(self._firebase_app(), spec.get("display_name", ""), state)
        return []

    # --- lock ------------------------------------------------------------------------------

    @contextmanager
    def lock(self, command: str) -> Iterator[None]:
        """The bucket lease for the whole apply; its heartbeat keeps it through hours of
        training, and every bucket write checks first that it is still ours."""
        st = self.state
        with bucket_lock.bucket_lease(st, command, self.spec.lock) as lease:
            st.before_write = lease.check
            try:
                yield
            finally:
                st.before_write = None

    def force_unlock(self) -> dict[str, Any] | None:
        return bucket_lock.force_unlock(self.state)

    # --- datasets --------------------------------------------------------------------------

    def import_dataset(self, dataset: DesiredDataset, reporter: Reporter) -> None:
        from edgeops.datasets import iter_image_bytes

        st = self.state
        manifest = dataset.manifest
        # gs:// rows of a csv source are imported from where they are (gcs_source.py); every
        # other image is uploaded content-addressed into the bucket
        names = {r.sha256: st.image_name(r.sha256, r.format) for r in manifest.images}
        uris = {
            r.sha256: r.locator
            if r.locator.startswith("gs://")
            else f"gs://{st.name}/{names[r.sha256]}"
            for r in manifest.images
        }
        local = [r for r in manifest.images if not r.locator.startswith("gs://")]
        refused = next((r for r in local if r.format not in VERTEX_FORMATS), None)
        if refused is not None:  # the scan refuses these (data_rules); never upload one
            raise EdgeopsError(f"{refused.source}: {format_problem(refused.format)}")
        have = st.existing_images() if local else set()
        missing = [r for r in local if names[r.sha256] not in have]
        if missing:
            with reporter.task(f"uploading {dataset.address}", len(missing)) as task:
                for record, data in iter_image_bytes(dataset.spec, missing, root=self.config.root):
                    name = names[record.sha256]
                    st.upload(name, data, CONTENT_TYPES.get(name.rsplit(".", 1)[1], ""))
                    task.advance()
        csv_name = st.path("datasets", name_of(dataset.address), f"{dataset.fingerprint}.csv")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")  # quotes a URI that holds a comma
        for r in manifest.images:
            writer.writerow([vertex.ML_USE[r.split], uris[r.sha256], *r.labels])
        st.put_bytes(csv_name, out.getvalue().encode(), "text/csv")
        rec = st.read_json("state", "datasets", f"{name_of(dataset.address)}.json")
        existing = vertex.find_dataset(self.clients, dataset.address, dataset.fingerprint)
        with reporter.task(f"importing {dataset.address} into Vertex AI", None):
            vertex_name = vertex.create_and_import_dataset(
                self.clients,
                dataset.address,
                dataset.fingerprint,
                f"gs://{st.name}/{csv_name}",
                dataset.spec.multi_label,
                existing,
            )
        old = dict(rec.data.get("old_vertex_datasets", {}))  # name -> fingerprint
        if rec.data.get("vertex_dataset") not in (None, "", vertex_name):
            old[rec.data["vertex_dataset"]] = rec.data["fingerprint"]  # deleted once unused
        old.pop(vertex_name, None)  # the images went back to an earlier fingerprint
        st.write_json(
            rec,
            {
                "address": dataset.address,
                "fingerprint": dataset.fingerprint,
                "old_vertex_datasets": old,
                "multi_label": dataset.spec.multi_label,
                "images": [[r.sha256, list(r.labels), r.split] for r in manifest.images],
                "vertex_dataset": vertex_name,
                "csv": f"gs://{st.name}/{csv_name}",
                "updated_at": _now(),
            },
        )
        reporter.info(
            f"{dataset.address}: {len(manifest.images)} images ({len(missing)} uploaded, "
            f"{len(manifest.images) - len(local)} referenced in place), "
            f"Vertex dataset {vertex_name}"
        )

    def forget_dataset(self, address: str) -> None:
        self.state.delete("state", "datasets", f"{name_of(address)}.json")

    # --- models ----------------------------------------------------------------------------

    def _model_record(self, address: str) -> Record:
        return self.state.read_json("state", "models", f"{name_of(address)}.json")

    def train_model(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveVersion:
        st = self.state
        ds = st.read_json("state", "datasets", f"{name_of(dataset.address)}.json").data
        if ds.get("fingerprint") != model.inputs.get("dataset") or not ds.get("vertex_dataset"):
            raise EdgeopsError(
                f"{model.address}: {dataset.address} in the backend is not the data this plan "
                "trains on; run `edgeops plan` again"
            )
        rec = self._model_record(model.address)
        data = rec.data or {"address": model.address, "versions": [], "pending": None}
        pending = data.get("pending")
        if pending and pending.get("fingerprint") == model.fingerprint:
            version, pipeline = int(pending["version"]), pending["pipeline"]
            reporter.info(f"{model.address}: resuming training pipeline {pipeline}")
        else:
            version = max([v["version"] for v in data["versions"]] + [0]) + 1
            pipeline = vertex.find_pipeline(self.clients, model.address, model.fingerprint)
            if pipeline is not None:
                reporter.info(f"{model.address}: found training pipeline {pipeline}; resuming")
            else:
                pipeline = vertex.submit_training(
                    self.clients,
                    address=model.address,
                    fingerprint=model.fingerprint,
                    dataset_name=ds["vertex_dataset"],
                    multi_label=dataset.spec.multi_label,
                    optimize_for=model.spec.optimize_for,
                    node_hours=model.spec.budget.node_hours,
                    early_stopping=model.spec.budget.early_stopping,
                    version=version,
                )
                reporter.info(f"{model.address}: submitted training pipeline {pipeline}")
            data["pending"] = {
                "version": version,
                "pipeline": pipeline,
                "fingerprint": model.fingerprint,
                "submitted_at": _now(),
            }
            rec = st.write_json(rec, data)  # recorded before polling: a killed apply resumes
        seen: list[str] = []

        def on_poll(p: dict[str, Any]) -> None:
            state = p.get("state", "")
            if not seen or seen[-1] != state:
                seen.append(state)
                reporter.info(f"{model.address}: {pipeline} {state}")

        try:
            with reporter.task(f"training {model.address} v{version} on Vertex AI", None):
                p = vertex.wait_for_pipeline(self.clients, pipeline, on_poll)
        except EdgeopsError:
            data["versions"].append(self._version_row(model, version, "failed", pipeline))
            data["pending"] = None
            st.write_json(rec, data)
            raise
        row = self._finish_version(model, dataset, version, pipeline, p, reporter)
        row["vertex_dataset"] = ds["vertex_dataset"]  # kept while this version is
        data["versions"].append(row)
        data["pending"] = None
        st.write_json(rec, data)
        return _live_version(model.address, row)

    def _version_row(
        self, model: DesiredModel, version: int, status: str, pipeline: str
    ) -> dict[str, Any]:
        return {
            "version": version,
            "fingerprint": model.fingerprint,
            "eval_fingerprint": model.eval_fingerprint,
            "status": status,
            "blessed": False,
            "threshold": None,
            "metrics": {"inputs": model.inputs},
            "stop_reason": "",
            "cost_node_hours": 0.0,
            "created_at": _now(),
            "files": {},
            "pipeline": pipeline,
        }

    def _finish_version(
        self,
        model: DesiredModel,
        dataset: DesiredDataset,
        version: int,
        pipeline: str,
        p: dict[str, Any],
        reporter: Reporter,
    ) -> dict[str, Any]:
        st = self.state
        vertex_model = p.get("modelToUpload", {}).get("name", "")
        meta = p.get("trainingTaskMetadata") or {}
        cost_milli = float(meta.get("costMilliNodeHours", 0) or 0)
        metrics, slices = vertex.model_evaluation(self.clients, vertex_model)
        labels = tuple(sorted({lab for r in dataset.images for lab in r.labels}))
        evaluation = evaluation_from_vertex(
            metrics,
            slices,
            multi_label=dataset.spec.multi_label,
            labels=labels,
            extra={"vertex_model": vertex_model, "pipeline": pipeline},
        )
        vdir = version_folder(name_of(model.address), version)
        st.put_bytes(
            st.path(*vdir, EVALUATION_JSON),
            json.dumps(evaluation.to_dict()).encode(),
            "application/json",
        )
        with reporter.task(f"exporting {model.address} v{version} as TFLite", None):
            folder = vertex.export_tflite(self.clients, vertex_model, st.uri(*vdir, "export"))
        tflite = sorted(u for u in st.list_uris(folder) if u.endswith(".tflite"))
        if not tflite:
            raise EdgeopsError(f"{model.address} v{version}: the export wrote no .tflite file")
        blob = st.get_bytes(tflite[0])
        dict_txt = [u for u in st.list_uris(folder) if u.endswith("dict.txt")]
        model_labels = st.get_bytes(dict_txt[0]).decode().split() if dict_txt else list(labels)
        st.put_bytes(st.path(*vdir, LABELS_TXT), labels_text(model_labels), "text/plain")
        row = self._version_row(model, version, "ready", pipeline)
        row.update(verdict(model, evaluation))
        row["stop_reason"] = str(meta.get("successfulStopReason", ""))
        row["cost_node_hours"] = cost_milli / 1000
        row["metrics"]["cost_milli_node_hours"] = cost_milli
        row["files"] = {"model.tflite": sha256_bytes(blob)}
        row["vertex_model"] = vertex_model
        row["tflite_uri"] = tflite[0]
        row["labels"] = model_labels
        return row

    def evaluation_of(self, address: str, version: int) -> tuple[Evaluation, dict[str, str]]:
        from edgeops.evaluation import Evaluation

        st = self.state
        uri = st.uri(*version_folder(name_of(address), version), EVALUATION_JSON)
        return Evaluation.from_dict(json.loads(st.get_bytes(uri))), {}

    # --- candidates: Vertex AI trains only inside apply -------------------------------------

    def candidate(self, address: str, fingerprint: str) -> LiveCandidate | None:
        return None

    def train_candidate(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveCandidate:
        raise EdgeopsError(
            f"{model.address}: `edgeops plan --train` trains candidates with the local backend; "
            "on the google backend training happens in apply (Vertex AI AutoML Edge)"
        )

    def adopt_candidate(
        self, model: DesiredModel, dataset: DesiredDataset, sha256: str, reporter: Reporter
    ) -> LiveVersion:
        raise EdgeopsError(f"{model.address}: the google backend has no candidates to adopt")

    def evaluate_model(self, model: DesiredModel, version: int) -> LiveVersion:
        evaluation, _ = self.evaluation_of(model.address, version)
        rec = self._model_record(model.address)
        data = rec.data
        row = next(v for v in data["versions"] if v["version"] == version)
        judged = verdict(model, evaluation)
        row.update({**judged, "metrics": {**row["metrics"], **judged["metrics"]}})
        self.state.write_json(rec, data)
        return _live_version(model.address, row)

    def delete_versions(self, address: str, versions: list[int]) -> None:
        """Deletes each version's Vertex AI model and files first, then its record: an
        interrupted delete leaves the versions recorded, and the next apply deletes them again
        (what is already gone is skipped), so nothing is left behind untracked."""
        rec = self._model_record(address)
        data = rec.data
        for row in data["versions"]:
            if row["version"] in versions:
                if row.get("vertex_model"):
                    vertex.delete_resource(self.clients, row["vertex_model"])
                prefix = self.state.uri(*version_folder(name_of(address), row["version"])) + "/"
                for uri in self.state.list_uris(prefix):
                    self.state.delete_uri(uri)
        data["versions"] = [v for v in data["versions"] if v["version"] not in versions]
        self.state.write_json(rec, data)

    def delete_dataset_resources(self, address: str, resources: list[str]) -> None:
        """Deletes Vertex AI datasets that held this dataset's earlier images (only those its
        record lists as such), then forgets them."""
        rec = self.state.read_json("state", "datasets", f"{name_of(address)}.json")
        old = dict(rec.data.get("old_vertex_datasets", {}))
        gone = [name for name in resources if name in old]
        for name in gone:
            vertex.delete_resource(self.clients, name)
        if gone:
            self.state.write_json(
                rec,
                {
                    **rec.data,
                    "old_vertex_datasets": {k: v for k, v in old.items() if k not in gone},
                },
            )

    def forget_model(self, address: str) -> None:
        self.state.delete("state", "models", f"{name_of(address)}.json")

    # --- publish ---------------------------------------------------------------------------

    def _firebase_app(self) -> Any:
        return firebase.firebase_app(
            self.spec.firebase_project or self.spec.project, self.clients.credentials
        )

    def _version_row_of(self, address: str, version: int) -> dict[str, Any]:
        data = self._model_record(address).data
        row = next((v for v in data.get("versions", []) if v["version"] == version), None)
        if row is None or row.get("status") != "ready":
            raise EdgeopsError(f"{address}: v{version} is not a trained version")
        return row

    def publish(
        self,
        target: DesiredPublish,
        version: LiveVersion,
        reporter: Reporter,
        candidate: LiveVersion | None = None,
    ) -> None:
        st = self.state
        row = self._version_row_of(model_address(target.model), version.version)
        tflite_uri, labels = row["tflite_uri"], row["labels"]
        fields = target_fields(target, version)
        t = target.target
        rec = st.read_json("state", "publish", f"{target.address}.json")
        from edgeops.backends.google import remote_config as rc

        old = rec.data.get("state", {})
        if isinstance(t, FirebaseTarget):
            written = firebase.publish_model(
                self._firebase_app(), t.display_name, list(t.tags), t.published, tflite_uri
            )
            if old.get("model_id") not in (None, written["model_id"]):
                firebase.delete_model(self._firebase_app(), old)  # renamed display_name
            state = {**fields, **written}
            if t.rollout is not None or old.get("rollout"):
                state["rollout"] = self._remote_config_rollout(t, candidate)
                state["parameter"] = rc.parameter_name(t.display_name)
            elif old.get("parameter"):
                state["parameter"] = old["parameter"]  # left at the stable model; kept
        elif isinstance(t, GcsTarget):
            data = st.get_bytes(tflite_uri)
            card = _card(target.model, version, t.format, labels, data)
            model_uri, labels_uri, card_uri = bundle.companions(t.path)
            objects = {}
            for uri, blob, ctype in (
                (model_uri, data, "application/octet-stream"),
                (labels_uri, labels_text(labels), "text/plain"),
                (card_uri, card, "application/json"),  # last: it names the model's hash
            ):
                gen = st.write_uri(uri, blob, ctype)
                stat = st.stat_uri(uri)
                objects[uri] = [stat[0] if stat else "", gen]
            for uri, (_md5, gen) in old.get("objects", {}).items():
                if uri not in objects:
                    st.delete_uri(uri, generation=int(gen))
            state = {**fields, "objects": objects, "sha256": sha256_bytes(data)}
            if t.rollout is not None or old.get("parameter"):
                # the default names the stable file's sha256: rewritten on every publish
                stable = (version.version, state["sha256"])
                want = rc.gcs_rollout(self.config, target.model, t, stable, candidate)
                written = self._remote_config().write_rollout(want)
                state["rollout"] = rc.rollout_state(written, t.rollout, candidate)
                state["parameter"] = want.parameter
        elif isinstance(t, BundleTarget):
            data = st.get_bytes(tflite_uri)
            card = _card(target.model, version, t.format, labels, data)
            state = {**fields, **bundle.publish(self.config.root, t.path, data, labels, card, old)}
        else:
            raise EdgeopsError(
                f"{target.address}: the google backend cannot publish to '{target.kind}'; "
                "use firebase, gcs or bundle targets"
            )
        st.write_json(
            rec,
            {
                "address": target.address,
                "model": target.model,
                "kind": target.kind,
                "version": version.version,
                "spec": target.spec,
                "state": state,
            },
        )
        reporter.info(f"{target.address}: now serves v{version.version}")

    def _remote_config(self) -> RemoteConfig:
        from edgeops.backends.google import remote_config as rc

        project = self.spec.firebase_project or self.spec.project
        return rc.RemoteConfig(project, rc.session_for(lambda: self.clients.credentials))

    def _remote_config_rollout(
        self, t: FirebaseTarget, candidate: LiveVersion | None
    ) -> dict[str, Any] | None:
        """Write the Remote Config parameter that splits apps between the stable and candidate
        Firebase models (or, the rollout removed, sends every app back to the stable one)."""
        from edgeops.backends.google import remote_config as rc

        assert t.rollout is None or candidate is not None, "the applier passes the candidate"
        written = self._remote_config().write_rollout(rc.firebase_rollout(self.config, t))
        return rc.rollout_state(written, t.rollout, candidate)

    def unpublish(self, address: str) -> None:
        rec = self.state.read_json("state", "publish", f"{address}.json")
        if not rec.data:
            return
        kind, state = rec.data["kind"], rec.data["state"]
        if state.get("parameter") or state.get("rollout"):  # apps stop being sent to it
            from edgeops.backends.google.remote_config import recorded_rollout

            owned = recorded_rollout(kind, rec.data["model"], rec.data["spec"])
            self._remote_config().remove_rollout(owned)
        if kind == "firebase":
            firebase.delete_model(self._firebase_app(), state)
        elif kind == "gcs":
            for uri, (_md5, gen) in state.get("objects", {}).items():
                self.state.delete_uri(uri, generation=int(gen))  # never someone else's object
        elif kind == "bundle":
            bundle.unpublish(self.config.root, state)
        self.state.delete("state", "publish", f"{address}.json")


def _card(model: str, version: LiveVersion, fmt: str, labels: list[str], data: bytes) -> bytes:
    """The card of a bundle or gcs target: ``format`` is the target's setting; the file is
    always Vertex's tflite export."""
    return bundle.card(
        model,
        version,
        fmt,
        labels,
        data,
        vertex_export_format="tflite",
        trainer="vertex-automl-edge",
    )


def _data_of(row: dict[str, Any]) -> str:
    """The dataset fingerprint a version row was trained on."""
    return str((row.get("metrics") or {}).get("inputs", {}).get("dataset", ""))


def _live_version(address: str, row: dict[str, Any]) -> LiveVersion:
    """A version row of ``state/models/<name>.json``; ``model`` is the model's name, as on
    every backend (the address would not match publish targets' and rollouts' model names)."""
    return LiveVersion(model=name_of(address), **{k: row[k] for k in VERSION_FIELDS})
