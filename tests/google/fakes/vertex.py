"""A fake of the Vertex AI v1 REST API (the endpoints edgeops uses), of Firebase ML v1beta2, and
of the OAuth token endpoint, on 127.0.0.1. JSON shapes follow the public REST references.

Datasets import their CSV from (fake) Cloud Storage; training pipelines "train" after
``polls_to_finish`` GETs (or stay RUNNING while ``hold`` is set) and produce a Model whose
evaluation comes from a deterministic scorer; export writes a .tflite and dict.txt to Cloud
Storage. Everything is recorded in ``FakeGoogle`` for assertions.
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

THRESHOLDS = [round(i * 0.05, 2) for i in range(21)]
TYPE = "type.googleapis.com/google.cloud.aiplatform.v1."
TFLITE = b"TFL3" + hashlib.sha256(b"edgeops fake tflite").digest() * 64


def _frac(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def score_items(items: list[dict[str, Any]], labels: list[str], skill: float):
    """Deterministic scores: a fraction ``skill`` of the images get their true label on top."""
    out = []
    for it in items:
        f = _frac(it["uri"])
        correct = _frac(it["uri"] + "#") < skill
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


def confidence_metrics(pairs: list[tuple[float, bool]]) -> list[dict[str, Any]]:
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
            }
        )
    return out


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
        name = f"{self.parent}/datasets/{self.new_id()}"
        ds = {**body, "name": name, "createTime": "2026-01-01T00:00:00Z", "etag": "e1"}
        self.datasets[name] = ds
        self.items[name] = []
        meta = {"@type": TYPE + "CreateDatasetOperationMetadata", "genericMetadata": {}}
        return self.op(name, {"@type": TYPE + "Dataset", **ds}, meta)

    def import_data(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        for cfg in body["importConfigs"]:
            for uri in cfg["gcsSource"]["uris"]:
                bucket, _, path = uri[5:].partition("/")
                text = self.storage_client.bucket(bucket).blob(path).download_as_text()
                known = {it["uri"] for it in self.items[name]}
                for row in csv.reader(io.StringIO(text)):
                    use, gcs, *labels = row
                    assert use in ("TRAINING", "VALIDATION", "TEST"), use
                    assert (
                        self.storage_client.bucket(gcs[5:].partition("/")[0]).get_blob(
                            gcs[5:].partition("/")[2]
                        )
                        is not None
                    ), f"{gcs} is not in the bucket"
                    if gcs not in known:
                        self.items[name].append({"uri": gcs, "labels": labels, "ml_use": use})
        meta = {"@type": TYPE + "ImportDataOperationMetadata", "genericMetadata": {}}
        return self.op(name, {"@type": TYPE + "ImportDataResponse"}, meta)

    def create_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
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

    def _finish(self, p: dict[str, Any]) -> None:
        ds = f"{self.parent}/datasets/{p['inputDataConfig']['datasetId']}"
        inputs = p["trainingTaskInputs"]
        assert inputs["modelType"].startswith("MOBILE_TF_"), inputs
        assert 1000 <= int(inputs["budgetMilliNodeHours"]) <= 100000, inputs
        test = [it for it in self.items[ds] if it["ml_use"] == "TEST"]
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
        cm = confidence_metrics(pairs)
        cm[0]["precisionAt1"] = sum(
            1 for it, t in zip(test, top, strict=True) if t in it["labels"]
        ) / max(1, len(test))
        ev = f"{model}/evaluations/{self.new_id()}"
        self.evaluations[model] = {
            "name": ev,
            "metricsSchemaUri": "gs://google-cloud-aiplatform/schema/modelevaluation/"
            "classification_metrics_1.0.0.yaml",
            "metrics": {
                "auPrc": au_prc(pairs),
                "auRoc": 0.9,
                "logLoss": 0.3,
                "confidenceMetrics": cm,
                "confusionMatrix": {
                    "annotationSpecs": [
                        {"id": str(i), "displayName": lab} for i, lab in enumerate(labels)
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
                    "metrics": {"auPrc": au_prc(lp), "confidenceMetrics": confidence_metrics(lp)},
                }
            )
        p["state"] = "PIPELINE_STATE_SUCCEEDED"
        p["modelToUpload"] = {**p["modelToUpload"], "name": model}
        p["trainingTaskMetadata"] = {
            "costMilliNodeHours": str(int(inputs["budgetMilliNodeHours"]) // 2),
            "successfulStopReason": "MODEL_CONVERGED",
        }
        p["endTime"] = "2026-01-01T01:00:00Z"

    def export(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        model = model.split("@", 1)[0]  # the SDK names the version: models/ID@1
        cfg = body["outputConfig"]
        assert cfg["exportFormatId"] == "tflite", cfg
        dest = cfg["artifactDestination"]["outputUriPrefix"].rstrip("/")
        folder = f"{dest}/model-{model.rsplit('/', 1)[1]}/tflite/2026-01-01T01:00:00.000Z"
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

    # --- Firebase ML handlers -------------------------------------------------------------

    def fb_create(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        name = f"projects/{project}/models/{self.new_id()}"
        model = {
            "name": name,
            "displayName": body["displayName"],
            "tags": body.get("tags", []),
            "state": {"published": False},
            "etag": "1",
            "modelHash": "h",
            "createTime": "2026-01-01T00:00:00.000Z",
            "updateTime": "2026-01-01T00:00:00.000Z",
        }
        self._fb_source(model, body)
        self.firebase[name] = model
        return {"done": True, "response": model}

    def _fb_source(self, model: dict[str, Any], body: dict[str, Any]) -> None:
        if "tfliteModel" in body:
            signed = body["tfliteModel"]["gcsTfliteUri"]
            assert "X-Goog-Signature" in signed, "the model source must be a signed URL"
            path = unquote(urlparse(signed).path).lstrip("/")
            model["tfliteModel"] = {"gcsTfliteUri": f"gs://{path}", "sizeBytes": "100"}

    def fb_patch(self, name: str, body: dict[str, Any], mask: str | None) -> dict[str, Any]:
        model = self.firebase[name]
        if mask == "state.published" or "state" in body:
            model["state"] = {"published": bool(body.get("state", {}).get("published"))}
        if mask != "state.published":
            if "displayName" in body:
                model["displayName"] = body["displayName"]
            if "tags" in body:
                model["tags"] = body["tags"]
            self._fb_source(model, body)
        model["etag"] = str(int(model["etag"]) + 1)
        return {"done": True, "response": model}


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
                try:
                    status, data = self._dispatch(method, path, query, body)
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
