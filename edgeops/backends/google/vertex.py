"""Vertex AI AutoML Edge: image datasets, training pipelines, evaluations and TFLite export.

Resources edgeops creates carry the labels ``edgeops-address`` and ``edgeops-fingerprint``;
they are found again by listing and filtering client-side (label filters differ between list
methods). Datasets and export go through the high-level ``google.cloud.aiplatform`` SDK; training
pipelines through the v1 pipeline service directly: the SDK's ``run(sync=False)`` polls in a
non-daemon thread that keeps a Ctrl-C'd process alive until training ends, and edgeops must
record the pipeline before it polls (resume after a kill).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from edgeops.addresses import name_of
from edgeops.backends.google.clients import Clients
from edgeops.errors import EdgeopsError

MODEL_TYPES = {
    "latency": "MOBILE_TF_LOW_LATENCY_1",
    "balanced": "MOBILE_TF_VERSATILE_1",
    "accuracy": "MOBILE_TF_HIGH_ACCURACY_1",
}
# The import CSV's ML_USE column and the ``ml_use`` label Vertex gives each imported item take
# the same values; the training pipeline's filterSplit selects on that label.
ML_USE = {"train": "training", "validation": "validation", "test": "test"}
ML_USE_FILTER = "labels.aiplatform.googleapis.com/ml_use={}"
TRAINING_DEFINITION = (
    "gs://google-cloud-aiplatform/schema/trainingjob/definition/"
    "automl_image_classification_1.0.0.yaml"
)
DONE_STATES = {
    "PIPELINE_STATE_SUCCEEDED",
    "PIPELINE_STATE_FAILED",
    "PIPELINE_STATE_CANCELLED",
}
POLL_SECONDS = 30.0  # between training status polls (tests shorten it)


def label_value(text: str) -> str:
    """A Vertex label value: at most 63 lowercase letters, digits, '_' or '-'."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def edgeops_labels(address: str, fingerprint: str) -> dict[str, str]:
    return {
        "edgeops-address": label_value(address),
        "edgeops-fingerprint": label_value(fingerprint[:32]),
        "managed-by": "edgeops",
    }


def _matches(labels: Any, want: dict[str, str]) -> bool:
    got = dict(labels or {})
    return all(got.get(k) == v for k, v in want.items())


def _to_dict(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    pb = getattr(message, "_pb", message)
    return json_format.MessageToDict(pb)  # type: ignore[no-any-return]


def import_schema(multi_label: bool) -> str:
    from google.cloud import aiplatform

    io = aiplatform.schema.dataset.ioformat.image
    return str(io.multi_label_classification if multi_label else io.single_label_classification)


# --- datasets ----------------------------------------------------------------------------------


def find_dataset(clients: Clients, address: str, fingerprint: str) -> str | None:
    want = edgeops_labels(address, fingerprint)
    for ds in clients.vertex("dataset").list_datasets(parent=clients.parent):
        if _matches(ds.labels, want):
            return str(ds.name)
    return None


def create_and_import_dataset(
    clients: Clients,
    address: str,
    fingerprint: str,
    csv_uri: str,
    multi_label: bool,
    existing: str | None,
) -> str:
    """Creates (unless ``existing``) the image dataset and imports ``csv_uri`` into it.

    Import is idempotent in Vertex (an image already in the dataset is not added twice), so a
    resumed apply simply imports again."""
    aiplatform = clients.sdk()
    if existing is None:
        ds = aiplatform.ImageDataset.create(
            display_name=f"edgeops {address} {fingerprint[:12]}",
            labels=edgeops_labels(address, fingerprint),
            sync=True,
        )
    else:
        ds = aiplatform.ImageDataset(existing)
    ds.import_data(gcs_source=[csv_uri], import_schema_uri=import_schema(multi_label), sync=True)
    return str(ds.resource_name)


def dataset_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


# --- training ----------------------------------------------------------------------------------


def find_pipeline(clients: Clients, address: str, fingerprint: str) -> str | None:
    """The newest training pipeline of this model fingerprint that did not fail."""
    want = edgeops_labels(address, fingerprint)
    found = []
    for p in clients.vertex("pipeline").list_training_pipelines(parent=clients.parent):
        state = p.state.name if hasattr(p.state, "name") else str(p.state)
        if _matches(p.labels, want) and state not in (
            "PIPELINE_STATE_FAILED",
            "PIPELINE_STATE_CANCELLED",
        ):
            found.append((str(p.create_time), str(p.name)))
    return max(found)[1] if found else None


def submit_training(
    clients: Clients,
    *,
    address: str,
    fingerprint: str,
    dataset_name: str,
    multi_label: bool,
    optimize_for: str,
    node_hours: float,
    early_stopping: bool,
    version: int,
) -> str:
    from google.cloud import aiplatform_v1

    milli = int(round(node_hours * 1000))
    if not 1000 <= milli <= 100_000:
        raise EdgeopsError(
            f"{address}: budget {node_hours:g} node hours is outside AutoML Edge's 1 to 100"
        )
    labels = edgeops_labels(address, fingerprint)
    name = name_of(address)
    pipeline = aiplatform_v1.TrainingPipeline(
        display_name=f"edgeops {address} v{version}",
        training_task_definition=TRAINING_DEFINITION,
        training_task_inputs={
            "modelType": MODEL_TYPES[optimize_for],
            "budgetMilliNodeHours": str(milli),  # int64: a string in proto3 JSON
            "disableEarlyStopping": not early_stopping,
            "multiLabel": multi_label,
        },
        input_data_config=aiplatform_v1.InputDataConfig(
            dataset_id=dataset_id(dataset_name),
            filter_split=aiplatform_v1.FilterSplit(
                training_filter=ML_USE_FILTER.format(ML_USE["train"]),
                validation_filter=ML_USE_FILTER.format(ML_USE["validation"]),
                test_filter=ML_USE_FILTER.format(ML_USE["test"]),
            ),
        ),
        model_to_upload=aiplatform_v1.Model(
            display_name=f"edgeops-{name}-v{version}", labels=labels
        ),
        labels=labels,
    )
    created = clients.vertex("pipeline").create_training_pipeline(
        parent=clients.parent, training_pipeline=pipeline
    )
    return str(created.name)


def wait_for_pipeline(
    clients: Clients,
    name: str,
    on_poll: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Polls a training pipeline until it ends; returns it as REST JSON."""
    client = clients.vertex("pipeline")
    while True:
        p = _to_dict(client.get_training_pipeline(name=name))
        on_poll(p)
        if p.get("state") in DONE_STATES:
            break
        (sleep or time.sleep)(POLL_SECONDS)
    if p.get("state") != "PIPELINE_STATE_SUCCEEDED":
        err = p.get("error", {}).get("message", "") or p.get("state", "")
        raise EdgeopsError(f"training pipeline {name} ended {p.get('state')}: {err}")
    return p


# --- evaluation and export -----------------------------------------------------------------------


def model_evaluation(clients: Clients, model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(overall metrics, label -> slice metrics) of a trained model's first evaluation."""
    client = clients.vertex("model")
    evals = list(client.list_model_evaluations(parent=model_name))
    if not evals:
        raise EdgeopsError(f"{model_name}: Vertex AI recorded no evaluation for this model")
    ev = _to_dict(evals[0])
    slices: dict[str, Any] = {}
    for s in client.list_model_evaluation_slices(parent=ev["name"]):
        d = _to_dict(s)
        if d.get("slice", {}).get("dimension") == "annotationSpec":
            slices[d["slice"]["value"]] = d.get("metrics", {})
    return ev.get("metrics", {}), slices


def export_tflite(clients: Clients, model_name: str, destination: str) -> str:
    """Exports the model as TFLite under ``destination`` (gs://...); returns the folder URI."""
    aiplatform = clients.sdk()
    model = aiplatform.Model(model_name)
    out = model.export_model(export_format_id="tflite", artifact_destination=destination)
    return str(out.get("artifactOutputUri") or destination)


# --- deleting ----------------------------------------------------------------------------------


def delete_resource(clients: Clients, name: str) -> None:
    """Deletes a Vertex AI model or dataset (``projects/../models/ID``, ``../datasets/ID``) and
    waits for the operation; one already gone is skipped."""
    from google.api_core import exceptions as gexc

    if "/models/" in name:
        call = clients.vertex("model").delete_model
    elif "/datasets/" in name:
        call = clients.vertex("dataset").delete_dataset
    else:
        raise EdgeopsError(f"{name}: not a Vertex AI model or dataset")
    with suppress(gexc.NotFound):
        call(name=name).result()
