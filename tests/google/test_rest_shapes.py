"""What edgeops sends to and reads from Vertex AI and Firebase ML, in the shapes of the public
REST references (datasets.import, trainingPipelines.create with the AutoML image classification
definition, models.export, model evaluations, Firebase ML projects.models + operations), and
that the fakes refuse what those references refuse, so a divergence fails a test."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from fakes.vertex import THRESHOLDS, FakeGoogle

from edgeops import cli
from edgeops.backends.google import vertex
from edgeops.backends.google.backend import GoogleBackend
from edgeops.errors import EdgeopsError
from edgeops.progress import NullReporter
from edgeops.workflow import open_session


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _bodies(google: FakeGoogle, method: str, suffix: str) -> list[dict]:
    return [b for r, b in google.bodies if r.startswith(method) and r.endswith(suffix)]


def test_requests_follow_the_rest_references(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 0, out

    # datasets.create: the image metadata schema; datasets.import: the single-label ioformat
    (created,) = _bodies(google, "POST", "/datasets")
    assert created["metadataSchemaUri"].endswith("/metadata/image_1.0.0.yaml")
    (imported,) = _bodies(google, "POST", ":import")
    (cfg,) = imported["importConfigs"]
    assert cfg["importSchemaUri"].endswith(
        "/ioformat/image_classification_single_label_io_format_1.0.0.yaml"
    )
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    csv_path = cfg["gcsSource"]["uris"][0].split("/", 3)[3]
    rows = list(csv.reader(io.StringIO(bucket.blob(csv_path).download_as_text())))
    assert {r[0] for r in rows} == {"training", "validation", "test"}  # ML_USE as documented
    assert all(r[1].startswith(f"gs://{google.bucket}/") and len(r) == 3 for r in rows)  # type: ignore[attr-defined]

    # trainingPipelines.create: definition, inputs (int64 as a string), the ml_use filter split
    (pipeline,) = _bodies(google, "POST", "/trainingPipelines")
    assert pipeline["trainingTaskDefinition"] == vertex.TRAINING_DEFINITION
    assert pipeline["trainingTaskInputs"] == {
        "modelType": "MOBILE_TF_LOW_LATENCY_1",
        "budgetMilliNodeHours": "2000",
        "disableEarlyStopping": False,
        "multiLabel": False,
    }
    assert pipeline["inputDataConfig"]["filterSplit"] == {
        "trainingFilter": "labels.aiplatform.googleapis.com/ml_use=training",
        "validationFilter": "labels.aiplatform.googleapis.com/ml_use=validation",
        "testFilter": "labels.aiplatform.googleapis.com/ml_use=test",
    }

    # models.export: tflite into <prefix>/model-export-<displayName>-<timestamp>/
    (export,) = _bodies(google, "POST", ":export")
    assert export["outputConfig"]["exportFormatId"] == "tflite"
    prefix = export["outputConfig"]["artifactDestination"]["outputUriPrefix"]
    assert prefix.startswith(f"gs://{google.bucket}/edgeops/models/objects/v1/")  # type: ignore[attr-defined]

    # the recorded version: cost (int64 string) and stop reason from trainingTaskMetadata
    backend = GoogleBackend(open_session(repo, NullReporter()).config)
    (v1,) = backend.read().models["model.objects"].versions
    assert v1.cost_node_hours == 1.0 and v1.stop_reason == "MODEL_CONVERGED"

    # Firebase ML: create and publish went through long-running operations, polled until done;
    # the model's hash is the SHA-256 of the exported file it serves
    (model,) = google.firebase.values()
    assert "activeOperations" not in model
    polled = [
        r for r in google.requests if r.startswith("GET /v1beta2/projects/") and "/operations/" in r
    ]
    assert len(polled) >= 2
    tflite = bucket.blob(model["tfliteModel"]["gcsTfliteUri"].split("/", 3)[3]).download_as_bytes()
    assert model["modelHash"] == hashlib.sha256(tflite).hexdigest()
    assert "/model-export-edgeops-objects-v1-" in model["tfliteModel"]["gcsTfliteUri"]


def test_the_evaluation_is_read_past_position_threshold_entries(google: FakeGoogle) -> None:
    """The fake's evaluation has a maxPredictions=1 curve (precision 1.0, recall 0.01) after the
    real one, and omits zero values as proto3 JSON does."""
    from fakes.vertex import confidence_metrics

    pairs = [(0.9, True), (0.8, False), (0.3, True), (0.1, False)]
    entries = confidence_metrics(pairs)
    assert len(entries) == 2 * len(THRESHOLDS)
    assert "confidenceThreshold" not in entries[0]  # 0.0 is left out
    from edgeops.backends.google.evaluation import curve_from_confidence_metrics

    curve = curve_from_confidence_metrics(entries)
    # threshold 0.5: only the 0.9 and 0.8 scores pass -> precision 1/2, recall 1/2
    assert curve.precision[50] == 0.5 and curve.recall[50] == 0.5
    assert curve.recall[0] == 1.0  # everything passes at 0.0


def test_a_wrong_ml_use_filter_trains_on_nothing(
    google: FakeGoogle, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake splits by the filters alone, so filters that match no item fail the pipeline
    (what Vertex does with an empty split) instead of passing unnoticed."""
    session = open_session(repo, NullReporter())
    backend = session.backend
    assert isinstance(backend, GoogleBackend) and session.desired is not None
    backend.import_dataset(session.desired.datasets[0], NullReporter())
    ds = backend.state.read_json("state", "datasets", "objects.json").data
    monkeypatch.setattr(vertex, "ML_USE_FILTER", "labels.aiplatform.googleapis.com/ml_use={}X")
    model = session.desired.models[0]
    name = vertex.submit_training(
        backend.clients,
        address=model.address,
        fingerprint=model.fingerprint,
        dataset_name=ds["vertex_dataset"],
        multi_label=False,
        optimize_for="balanced",
        node_hours=1,
        early_stopping=True,
        version=1,
    )
    with pytest.raises(EdgeopsError, match="PIPELINE_STATE_FAILED"):
        vertex.wait_for_pipeline(backend.clients, name, lambda p: None, sleep=lambda s: None)


def test_the_fake_refuses_what_the_references_refuse(google: FakeGoogle, repo: Path) -> None:
    from google.api_core import exceptions as gexc
    from google.cloud import aiplatform_v1

    session = open_session(repo, NullReporter())
    backend = session.backend
    assert isinstance(backend, GoogleBackend)
    client = backend.clients.vertex("pipeline")

    def create(inputs: dict, dataset_id: str = "1") -> None:
        client.create_training_pipeline(
            parent=backend.clients.parent,
            training_pipeline=aiplatform_v1.TrainingPipeline(
                display_name="x",
                training_task_definition=vertex.TRAINING_DEFINITION,
                training_task_inputs=inputs,
                input_data_config=aiplatform_v1.InputDataConfig(dataset_id=dataset_id),
            ),
        )

    edge = {"modelType": "MOBILE_TF_VERSATILE_1"}
    with pytest.raises(gexc.BadRequest, match="outside 1000..100000"):
        create({**edge, "budgetMilliNodeHours": "500"})
    with pytest.raises(gexc.BadRequest, match="modelType"):
        create({"modelType": "MOBILE_TF_TINY_9", "budgetMilliNodeHours": "1000"})
    with pytest.raises(gexc.BadRequest, match="unknown fields"):
        create({**edge, "budget": 1000})
    with pytest.raises(gexc.BadRequest, match="datasetId"):
        create({**edge, "budgetMilliNodeHours": "1000"}, dataset_id="404")
    assert google.pipelines == {}


def test_a_curve_written_with_its_position_threshold_trains(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The evaluation may write the curve's position threshold out (maxPredictions 2147483647)
    beside the top-1 entries (maxPredictions 1): the curve is read all the same."""
    google.curve_max_predictions = 2**31 - 1
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 0, out
    backend = GoogleBackend(open_session(repo, NullReporter()).config)
    (v1,) = backend.read().models["model.objects"].versions
    assert v1.blessed and v1.metrics["summary"]["recall"] > 0.5
