"""A fake of the Vertex AI v1 REST API (the endpoints edgeops uses), of Firebase ML v1beta2, and
of the OAuth token endpoint, on 127.0.0.1. JSON shapes follow the public REST references
(checked against them; what each rule rests on is noted where it is enforced):

- datasets.create needs the image metadata schema; datasets.import needs an image
  classification ioformat schema and reads the CSV ``[ML_USE],GCS_FILE_PATH,LABEL...`` (ML_USE
  ``training``/``validation``/``test``, images at most 30 MB of a format Vertex AI trains on,
  labels that start with a letter: ``PREPARE_DATA``), labelling each item
  ``aiplatform.googleapis.com/ml_use``. datasets.delete and models.delete are long-running
  operations (recorded in ``deleted``).
- trainingPipelines.create checks the AutoML image classification definition and its
  ``trainingTaskInputs`` (modelType enum, ``budgetMilliNodeHours`` an int64 within the edge
  range 1,000..100,000); the split comes from ``inputDataConfig.filterSplit`` alone (first
  match in training, validation, test order; ``-`` matches nothing). A finished pipeline
  reports ``trainingTaskMetadata`` {costMilliNodeHours (int64 as a string),
  successfulStopReason}.
- evaluations carry classification metrics: ``confidenceMetrics`` at 0.00, 0.05 .. 0.95,
  0.96 .. 0.99 at position threshold INT32_MAX (``maxPredictions`` left out, or written as
  2147483647 when ``curve_max_predictions`` is set: the reference allows both), plus entries with
  ``maxPredictions`` 1 (a top-1 curve), rendered as proto3 JSON renders a message (zero values
  omitted); ``confusionMatrix`` {annotationSpecs, rows}; per-label ``annotationSpec`` slices keyed
  by display name.
- models.export needs a format the model lists in ``supportedExportFormats`` and writes into
  ``<outputUriPrefix>/model-export-<displayName>-<timestamp>/``, named by the operation's
  ``metadata.outputInfo.artifactOutputUri``.
- Firebase ML create/patch return long-running operations (``ModelOperationMetadata``) and
  the model lists them in ``activeOperations`` until polled done; ``modelHash`` is the SHA-256
  of the TFLite file; display names follow the REST reference.

Invalid requests get 400 INVALID_ARGUMENT / FAILED_PRECONDITION like the real services, never a
crash. Training pipelines "train" after ``polls_to_finish`` GETs (or stay RUNNING while ``hold``
is set) and produce a Model whose evaluation comes from a deterministic scorer. Everything is
recorded in ``FakeGoogle`` for assertions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

# ClassificationEvaluationMetrics.confidenceMetrics: "0.00,0.05,0.10,...,0.95,0.96,0.97,0.98,0.99"
THRESHOLDS = [round(i * 0.05, 2) for i in range(20)] + [0.96, 0.97, 0.98, 0.99]
IMAGE_METADATA_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"
IOFORMAT = "gs://google-cloud-aiplatform/schema/dataset/ioformat/"
IMPORT_SCHEMAS = {
    IOFORMAT + "image_classification_single_label_io_format_1.0.0.yaml": False,
    IOFORMAT + "image_classification_multi_label_io_format_1.0.0.yaml": True,
}
TRAINING_DEFINITION = (
    "gs://google-cloud-aiplatform/schema/trainingjob/definition/"
    "automl_image_classification_1.0.0.yaml"
)
EDGE_MODEL_TYPES = {"MOBILE_TF_LOW_LATENCY_1", "MOBILE_TF_VERSATILE_1", "MOBILE_TF_HIGH_ACCURACY_1"}
INPUT_KEYS = {
    "modelType",
    "baseModelId",
    "budgetMilliNodeHours",
    "disableEarlyStopping",
    "multiLabel",
    "uptrainBaseModelId",
    "tunableParameter",
}
ML_USE_LABEL = "aiplatform.googleapis.com/ml_use"
# "Prepare image training data for classification":
PREPARE_DATA = "https://cloud.google.com/vertex-ai/docs/image-data/classification/prepare-data"
MAX_IMAGE_BYTES = 30 * 1024 * 1024  # "Maximum file size per image is 30MB"
# "Labels must start with a letter and only contain letters, numbers, and underscores"
VERTEX_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# the image types Vertex AI trains on: JPEG, GIF, PNG, BMP, ICO (no WebP)
IMAGE_TYPES = {
    "image/jpeg",
    "image/gif",
    "image/png",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
}
INT32_MAX = 2**31 - 1
FIREBASE_DISPLAY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")  # REST Model.displayName
FB_OP_TYPE = "type.googleapis.com/google.firebase.ml.v1beta2.ModelOperationMetadata"


class ApiError(Exception):
    """A request the real service would refuse: becomes a google.rpc.Status error body."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def _int64(value: Any, what: str) -> int:
    """int64 fields arrive as JSON strings (canonical) or numbers; anything else is refused."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise invalid(f"{what}: {value!r} is not an int64") from None
    if f != int(f):
        raise invalid(f"{what}: {value!r} is not an int64")
    return int(f)


def proto3_json(entry: dict[str, Any]) -> dict[str, Any]:
    """As proto3 JSON renders a message: fields holding their zero value are left out."""
    return {k: v for k, v in entry.items() if v not in (0, 0.0, "", None, False)}


TYPE = "type.googleapis.com/google.cloud.aiplatform.v1."
TFLITE = b"TFL3" + hashlib.sha256(b"edgeops fake tflite").digest() * 64


def _frac(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def score_items(items: list[dict[str, Any]], labels: list[str], skill: float):
    """Deterministic scores: a fraction ``skill`` of the images get their true label on top.

    Keyed by each image's path inside its bucket, not by the bucket: tests use a random bucket
    name, and a score drawn from it made a gate pass or miss by luck."""
    out = []
    for it in items:
        key = re.sub(r"^gs://[^/]+/", "", it["uri"])
        f = _frac(key)
        correct = _frac(key + "#") < skill
        true = set(it["labels"])
        wrong = next((lab for lab in labels if lab not in true), None)
        s = []
        for lab in labels:
            if lab in true:
                s.append(0.6 + 0.39 * f if correct else 0.05)
            elif lab == wrong and not correct:
                s.append(0.9)
            else:
                s.append(0.3 * f * _frac(lab))
        out.append(s)
    return out


def confidence_metrics(
    pairs: list[tuple[float, bool]],
    at1: dict[str, float] | None = None,
    max_predictions: int | None = None,
) -> list[dict[str, Any]]:
    """Entries at every documented threshold (with ``maxPredictions`` = ``max_predictions``
    when given, else without it), then the same thresholds with maxPredictions 1 (a position
    threshold: "from these no aggregated metrics are computed")."""
    pos = sum(1 for _, y in pairs if y)
    neg = len(pairs) - pos
    out = []
    for t in THRESHOLDS:
        tp = sum(1 for s, y in pairs if s >= t and y)
        fp = sum(1 for s, y in pairs if s >= t and not y)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / pos if pos else 1.0
        out.append(
            {
                "confidenceThreshold": t,
                "precision": p,
                "recall": r,
                "f1Score": 2 * p * r / (p + r) if p + r else 0.0,
                "falsePositiveRate": fp / neg if neg else 0.0,
                "truePositiveCount": str(tp),
                "falsePositiveCount": str(fp),
                **(at1 or {}),
                **({"maxPredictions": max_predictions} if max_predictions else {}),
            }
        )
    # a top-1 curve (maxPredictions: 1) deliberately different from the one above: a reader
    # that mixes the two into one curve gets the wrong answers
    top1 = [{**e, "maxPredictions": 1, "precision": 1.0, "recall": 0.01} for e in out]
    return [proto3_json(e) for e in out + top1]


def au_prc(pairs: list[tuple[float, bool]]) -> float:
    pos = sum(1 for _, y in pairs if y)
    tp = 0
    total = 0.0
    for i, (_, y) in enumerate(sorted(pairs, key=lambda x: -x[0]), 1):
        if y:
            tp += 1
            total += tp / i
    return total / pos if pos else 0.0


@dataclass
class FakeGoogle:
    project: str
    location: str
    storage_client: Any = None  # google.cloud.storage.Client against the fake GCS
    hold: bool = False  # pipelines stay RUNNING while set
    polls_to_finish: int = 1
    skill: float = 0.95  # how good the fake model is (drives gates)
    curve_max_predictions: int | None = None  # INT32_MAX: write the curve's position threshold
    deleted: list[str] = field(default_factory=list)  # resources deleted, in order
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    slices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    firebase: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (request, JSON)
    tokens: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    lock: Any = field(default_factory=threading.Lock)

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def new_id(self) -> str:
        return str(next(self._ids))

    def op(self, parent: str, response: dict[str, Any] | None, metadata: dict[str, Any]):
        name = f"{parent}/operations/{self.new_id()}"
        op = {
            "name": name,
            "done": True,
            "metadata": metadata,
            "response": response or {"@type": "type.googleapis.com/google.protobuf.Empty"},
        }
        self.operations[name] = op
        return op

    # --- Vertex handlers ------------------------------------------------------------------

    def create_dataset(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("metadataSchemaUri") != IMAGE_METADATA_SCHEMA:
            raise invalid(f"metadataSchemaUri {body.get('metadataSchemaUri')!r} is not an image")
        name = f"{self.parent}/datasets/{self.new_id()}"
        ds = {**body, "name": name, "createTime": "2026-01-01T00:00:00Z", "etag": "e1"}
        self.datasets[name] = ds
        self.items[name] = []
        meta = {"@type": TYPE + "CreateDatasetOperationMetadata", "genericMetadata": {}}
        return self.op(name, {"@type": TYPE + "Dataset", **ds}, meta)

    def _object(self, uri: str) -> Any:
        bucket, _, path = uri.removeprefix("gs://").partition("/")
        return self.storage_client.bucket(bucket).get_blob(path)

    def import_data(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name not in self.datasets:
            raise ApiError(404, "NOT_FOUND", f"{name} not found")
        for cfg in body["importConfigs"]:
            schema = cfg.get("importSchemaUri")
            if schema not in IMPORT_SCHEMAS:
                raise invalid(f"importSchemaUri {schema!r} is not an image classification one")
            multi = IMPORT_SCHEMAS[schema]
            for uri in cfg["gcsSource"]["uris"]:
                blob = self._object(uri)
                if blob is None:
                    raise ApiError(400, "FAILED_PRECONDITION", f"{uri} does not exist")
                known = {it["uri"] for it in self.items[name]}
                for n, row in enumerate(csv.reader(io.StringIO(blob.download_as_text())), 1):
                    if row and row[0].lower() in ("training", "validation", "test"):
                        use, gcs, *labels = row
                    else:
                        use, (gcs, *labels) = "", row  # no ML_USE: Vertex assigns one
                    image = self._object(gcs)
                    if image is None or int(image.size) > MAX_IMAGE_BYTES:
                        raise ApiError(400, "FAILED_PRECONDITION", f"{uri} line {n}: {gcs}")
                    ctype = (image.content_type or "").split(";")[0].strip().lower()
                    if ctype not in IMAGE_TYPES:
                        raise invalid(
                            f"{uri} line {n}: {gcs} is {ctype}, not a format Vertex AI trains on"
                        )
                    if not multi and len(labels) != 1:
                        raise invalid(f"{uri} line {n}: single-label rows have one label")
                    bad = [lab for lab in labels if not VERTEX_LABEL.fullmatch(lab)]
                    if bad:
                        raise invalid(f"{uri} line {n}: label {bad[0]!r} is not a Vertex AI label")
                    if gcs not in known:
                        item = {"uri": gcs, "labels": labels, "md5": image.md5_hash}
                        item["dataItemLabels"] = {ML_USE_LABEL: use.lower() or "training"}
                        self.items[name].append(item)
        meta = {"@type": TYPE + "ImportDataOperationMetadata", "genericMetadata": {}}
        return self.op(name, {"@type": TYPE + "ImportDataResponse"}, meta)

    def create_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("trainingTaskDefinition") != TRAINING_DEFINITION:
            raise invalid(f"trainingTaskDefinition {body.get('trainingTaskDefinition')!r}")
        inputs = body.get("trainingTaskInputs") or {}
        unknown = set(inputs) - INPUT_KEYS
        if unknown:
            raise invalid(f"trainingTaskInputs: unknown fields {sorted(unknown)}")
        model_type = inputs.get("modelType", "CLOUD")
        if model_type not in EDGE_MODEL_TYPES | {"CLOUD"}:
            raise invalid(f"trainingTaskInputs.modelType: {model_type!r}")
        budget = _int64(inputs.get("budgetMilliNodeHours", 24000), "budgetMilliNodeHours")
        low, high = (1000, 100_000) if model_type in EDGE_MODEL_TYPES else (8000, 800_000)
        if not low <= budget <= high:
            raise invalid(f"budgetMilliNodeHours {budget} outside {low}..{high} for {model_type}")
        for key in ("disableEarlyStopping", "multiLabel"):
            if not isinstance(inputs.get(key, False), bool):
                raise invalid(f"trainingTaskInputs.{key} must be a boolean")
        data = body.get("inputDataConfig") or {}
        if f"{self.parent}/datasets/{data.get('datasetId')}" not in self.datasets:
            raise invalid(f"inputDataConfig.datasetId {data.get('datasetId')!r} not found")
        split = data.get("filterSplit") or {}
        for key in ("trainingFilter", "validationFilter", "testFilter"):
            if not split.get(key):
                raise invalid(f"inputDataConfig.filterSplit.{key} is required")
        name = f"{self.parent}/trainingPipelines/{self.new_id()}"
        p = {
            **body,
            "name": name,
            "state": "PIPELINE_STATE_RUNNING",
            "createTime": f"2026-01-01T00:00:{len(self.pipelines):02d}Z",
        }
        self.pipelines[name] = p
        self.polls[name] = 0
        return p

    def get_pipeline(self, name: str) -> dict[str, Any]:
        p = self.pipelines[name]
        if p["state"] == "PIPELINE_STATE_RUNNING" and not self.hold:
            self.polls[name] += 1
            if self.polls[name] >= self.polls_to_finish:
                self._finish(p)
        return p

    @staticmethod
    def _matches(item: dict[str, Any], flt: str) -> bool:
        """The one ListDataItems filter form edgeops needs: ``labels.KEY=VALUE``; ``-`` is none."""
        if flt == "-":
            return False
        m = re.fullmatch(r"labels\.([\w./-]+)=(\S+)", flt)
        if m is None:
            raise invalid(f"filter {flt!r} is not supported by this fake")
        return item["dataItemLabels"].get(m.group(1)) == m.group(2)

    def _split(self, p: dict[str, Any], ds: str) -> dict[str, list[dict[str, Any]]]:
        split = p["inputDataConfig"]["filterSplit"]
        out: dict[str, list[dict[str, Any]]] = {"training": [], "validation": [], "test": []}
        for it in self.items[ds]:
            for key, flt in (
                ("training", split["trainingFilter"]),
                ("validation", split["validationFilter"]),
                ("test", split["testFilter"]),
            ):
                if self._matches(it, flt):  # the first set that applies
                    out[key].append(it)
                    break
        return out

    def _finish(self, p: dict[str, Any]) -> None:
        ds = f"{self.parent}/datasets/{p['inputDataConfig']['datasetId']}"
        inputs = p["trainingTaskInputs"]
        sets = self._split(p, ds)
        test = sets["test"]
        if not sets["training"] or not test:
            p["state"] = "PIPELINE_STATE_FAILED"
            p["error"] = {"code": 9, "message": "the filter split left a set empty"}
            return
        labels = sorted({lab for it in self.items[ds] for lab in it["labels"]})
        scores = score_items(test, labels, self.skill)
        model = f"{self.parent}/models/{self.new_id()}"
        self.models[model] = {
            "name": model,
            "displayName": p["modelToUpload"]["displayName"],
            "labels": p["modelToUpload"].get("labels", {}),
            "supportedExportFormats": [
                {"id": "tflite", "exportableContents": ["ARTIFACT"]},
                {"id": "edgetpu-tflite", "exportableContents": ["ARTIFACT"]},
                {"id": "tf-saved-model", "exportableContents": ["ARTIFACT"]},
                {"id": "core-ml", "exportableContents": ["ARTIFACT"]},
                {"id": "tf-js", "exportableContents": ["ARTIFACT"]},
            ],
            "createTime": "2026-01-01T01:00:00Z",
            "updateTime": "2026-01-01T01:00:00Z",
            "versionId": "1",
        }
        pairs = [
            (s, lab in it["labels"])
            for it, row in zip(test, scores, strict=True)
            for lab, s in zip(labels, row, strict=True)
        ]
        top = [labels[row.index(max(row))] for row in scores]
        rows = [
            [
                sum(1 for it, t in zip(test, top, strict=True) if a in it["labels"] and t == b)
                for b in labels
            ]
            for a in labels
        ]
        p_at1 = sum(1 for it, t in zip(test, top, strict=True) if t in it["labels"]) / len(test)
        at1 = {"precisionAt1": p_at1, "recallAt1": p_at1, "f1ScoreAt1": p_at1}
        ev = f"{model}/evaluations/{self.new_id()}"
        self.evaluations[model] = {
            "name": ev,
            "metricsSchemaUri": "gs://google-cloud-aiplatform/schema/modelevaluation/"
            "classification_metrics_1.0.0.yaml",
            "metrics": {
                "auPrc": au_prc(pairs),
                "auRoc": 0.9,
                "logLoss": 0.3,
                "confidenceMetrics": confidence_metrics(pairs, at1, self.curve_max_predictions),
                "confusionMatrix": {
                    "annotationSpecs": [
                        {"id": str(9000 + i), "displayName": lab} for i, lab in enumerate(labels)
                    ],
                    "rows": rows,
                },
            },
            "createTime": "2026-01-01T01:00:00Z",
        }
        self.slices[ev] = []
        for j, lab in enumerate(labels):
            lp = [(row[j], lab in it["labels"]) for it, row in zip(test, scores, strict=True)]
            self.slices[ev].append(
                {
                    "name": f"{ev}/slices/{j}",
                    "slice": {"dimension": "annotationSpec", "value": lab},
                    "metricsSchemaUri": "gs://google-cloud-aiplatform/schema/modelevaluation/"
                    "classification_metrics_1.0.0.yaml",
                    "metrics": {
                        "auPrc": au_prc(lp),
                        "confidenceMetrics": confidence_metrics(
                            lp, None, self.curve_max_predictions
                        ),
                    },
                }
            )
        budget = _int64(inputs["budgetMilliNodeHours"], "budgetMilliNodeHours")
        p["state"] = "PIPELINE_STATE_SUCCEEDED"
        p["modelToUpload"] = {**p["modelToUpload"], "name": model, "versionId": "1"}
        p["trainingTaskMetadata"] = {
            "costMilliNodeHours": str(budget // 2),
            "successfulStopReason": "MODEL_CONVERGED",
        }
        p["endTime"] = "2026-01-01T01:00:00Z"

    def export(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        model = model.split("@", 1)[0]  # the SDK names the version: models/ID@1
        cfg = body["outputConfig"]
        formats = {f["id"] for f in self.models[model]["supportedExportFormats"]}
        if cfg.get("exportFormatId") not in formats:
            raise ApiError(
                400, "FAILED_PRECONDITION", f"export format {cfg.get('exportFormatId')!r}"
            )
        dest = cfg["artifactDestination"]["outputUriPrefix"].rstrip("/")
        display = self.models[model]["displayName"]
        folder = f"{dest}/model-export-{display}-2026-01-01T01:00:00.000Z"
        bucket, _, path = folder[5:].partition("/")
        b = self.storage_client.bucket(bucket)
        b.blob(f"{path}/model.tflite").upload_from_string(TFLITE + model.encode())
        labels = sorted(
            {lab for it in itertools.chain(*self.items.values()) for lab in it["labels"]}
        )
        b.blob(f"{path}/dict.txt").upload_from_string("\n".join(labels) + "\n")
        meta = {
            "@type": TYPE + "ExportModelOperationMetadata",
            "genericMetadata": {},
            "outputInfo": {"artifactOutputUri": folder},
        }
        return self.op(model, {"@type": TYPE + "ExportModelResponse"}, meta)

    def delete(self, name: str) -> dict[str, Any]:
        """datasets.delete / models.delete: a long-running operation (DeleteOperationMetadata);
        the dataset's items and the model's evaluations go with it."""
        if name in self.datasets:
            del self.datasets[name]
            self.items.pop(name, None)
        elif name in self.models:
            del self.models[name]
            self.evaluations.pop(name, None)
        else:
            raise ApiError(404, "NOT_FOUND", f"{name} not found")
        self.deleted.append(name)
        meta = {"@type": TYPE + "DeleteOperationMetadata", "genericMetadata": {}}
        return self.op(name, None, meta)

    # --- Firebase ML handlers -------------------------------------------------------------

    def _fb_operation(self, project: str, model: dict[str, Any], status: str) -> dict[str, Any]:
        """A long-running operation on ``model``, not done until someone polls it."""
        op: dict[str, Any] = {
            "name": f"projects/{project}/operations/{self.new_id()}",
            "metadata": {
                "@type": FB_OP_TYPE,
                "name": model["name"],
                "basicOperationStatus": status,
            },
            "done": False,
        }
        self.operations[op["name"]] = op
        model["activeOperations"] = [{"name": op["name"]}]
        return op

    def fb_poll(self, name: str) -> dict[str, Any]:
        op = self.operations[name]
        if not op["done"]:
            model = self.firebase[op["metadata"]["name"]]
            model.pop("activeOperations", None)
            op["done"] = True
            op["response"] = {"@type": "type.googleapis.com/google.firebase.ml.v1beta2.Model"}
            op["response"].update(model)
        return op

    def fb_create(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        self._fb_check_name(body.get("displayName", ""))
        name = f"projects/{project}/models/{self.new_id()}"
        model = {
            "name": name,
            "displayName": body["displayName"],
            "tags": body.get("tags", []),
            "state": {"published": False},
            "etag": "1",
            "createTime": "2026-01-01T00:00:00.000Z",
            "updateTime": "2026-01-01T00:00:00.000Z",
        }
        self._fb_source(model, body)
        self.firebase[name] = model
        return self._fb_operation(project, model, "BASIC_OPERATION_STATUS_UPLOADING")

    @staticmethod
    def _fb_check_name(display_name: str) -> None:
        # Model.displayName: "up to 32 characters ... ASCII Latin letters A-Z and a-z,
        # underscores(_) and ASCII digits 0-9. It must start with a letter."
        if not FIREBASE_DISPLAY_NAME.fullmatch(display_name):
            raise invalid(f"displayName {display_name!r} is not a valid Firebase ML model name")

    def _fb_source(self, model: dict[str, Any], body: dict[str, Any]) -> None:
        if "tfliteModel" in body:
            signed = body["tfliteModel"]["gcsTfliteUri"]
            if "X-Goog-Signature" not in signed:
                raise invalid("tfliteModel.gcsTfliteUri must be a signed URL")
            path = unquote(urlparse(signed).path).lstrip("/")
            blob = self._object(f"gs://{path}")
            if blob is None:
                raise invalid(f"gs://{path} does not exist")
            data = blob.download_as_bytes()
            model["tfliteModel"] = {"gcsTfliteUri": f"gs://{path}", "sizeBytes": str(len(data))}
            model["modelHash"] = hashlib.sha256(data).hexdigest()

    def fb_patch(self, name: str, body: dict[str, Any], mask: str | None) -> dict[str, Any]:
        model = self.firebase[name]
        paths = set(mask.split(",")) if mask else None  # no updateMask: the fields sent
        if (paths is None and "state" in body) or (paths and "state.published" in paths):
            model["state"] = {"published": bool(body.get("state", {}).get("published"))}
        if (paths is None or "displayName" in paths) and "displayName" in body:
            self._fb_check_name(body["displayName"])
            model["displayName"] = body["displayName"]
        if (paths is None or "tags" in paths) and "tags" in body:
            model["tags"] = body["tags"]
        if paths is None or "tfliteModel.gcsTfliteUri" in paths:
            self._fb_source(model, body)
        model["etag"] = str(int(model["etag"]) + 1)
        project = name.split("/")[1]
        return self._fb_operation(project, model, "BASIC_OPERATION_STATUS_VERIFYING")


def serve(fake: FakeGoogle) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            if self.headers.get("Content-Type", "").startswith("application/x-www-form"):
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            return json.loads(raw) if raw else {}

        def _send(self, status: int, data: Any) -> None:
            blob = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            path = unquote(url.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self._body() if method in ("POST", "PATCH") else {}
            with fake.lock:
                fake.requests.append(f"{method} {path}")
                fake.bodies.append((f"{method} {path}", body))
                try:
                    status, data = self._dispatch(method, path, query, body)
                except ApiError as e:
                    status = e.code
                    data = {"error": {"code": e.code, "message": e.message, "status": e.status}}
                except KeyError as e:
                    status, data = (
                        404,
                        {
                            "error": {
                                "code": 404,
                                "message": f"not found: {e}",
                                "status": "NOT_FOUND",
                            }
                        },
                    )
            self._send(status, data)

        def _dispatch(self, method: str, path: str, q: dict[str, str], body: dict[str, Any]):
            if path == "/token":
                fake.tokens += 1
                return 200, {
                    "access_token": "fake-token",
                    "expires_in": 3600,
                    "token_type": "Bearer",
                }
            m = re.fullmatch(r"/v1beta2/(projects/[^/]+/operations/[^/]+)", path)
            if m and method == "GET":
                return 200, fake.fb_poll(m.group(1))
            m = re.fullmatch(r"/v1beta2/(projects/([^/]+))/models(?:/(\d+))?", path)
            if m:
                project, mid = m.group(2), m.group(3)
                name = f"projects/{project}/models/{mid}"
                if method == "POST":
                    return 200, fake.fb_create(project, body)
                if method == "GET" and mid is None:
                    models = list(fake.firebase.values())
                    f = q.get("filter", "")
                    if f.startswith("display_name="):
                        models = [x for x in models if x["displayName"] == f.split("=", 1)[1]]
                    return 200, {"models": models}
                if method == "GET":
                    return 200, fake.firebase[name]
                if method == "PATCH":
                    return 200, fake.fb_patch(name, body, q.get("updateMask"))
                if method == "DELETE":
                    del fake.firebase[name]
                    return 200, {}
            p = path.removeprefix("/v1/")
            parent = fake.parent
            if method == "POST" and p == f"{parent}/datasets":
                return 200, fake.create_dataset(body)
            if method == "GET" and p == f"{parent}/datasets":
                return 200, {"datasets": list(fake.datasets.values())}
            if method == "POST" and p.endswith(":import"):
                return 200, fake.import_data(p.removesuffix(":import"), body)
            if method == "GET" and p in fake.datasets:
                return 200, fake.datasets[p]
            if method == "DELETE" and (p in fake.datasets or p in fake.models):
                return 200, fake.delete(p)
            if method == "POST" and p == f"{parent}/trainingPipelines":
                return 200, fake.create_pipeline(body)
            if method == "GET" and p == f"{parent}/trainingPipelines":
                return 200, {"trainingPipelines": list(fake.pipelines.values())}
            if method == "GET" and p in fake.pipelines:
                return 200, fake.get_pipeline(p)
            if method == "GET" and p in fake.models:
                return 200, fake.models[p]
            if method == "GET" and p.endswith("/evaluations"):
                return 200, {"modelEvaluations": [fake.evaluations[p.removesuffix("/evaluations")]]}
            if method == "GET" and p.endswith("/slices"):
                return 200, {"modelEvaluationSlices": fake.slices[p.removesuffix("/slices")]}
            if method == "POST" and p.endswith(":export"):
                return 200, fake.export(p.removesuffix(":export"), body)
            if method == "GET" and p in fake.operations:
                return 200, fake.operations[p]
            return 404, {
                "error": {
                    "code": 404,
                    "message": f"no route {method} {path}",
                    "status": "NOT_FOUND",
                }
            }

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
