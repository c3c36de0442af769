"""The predict hot path: decode each image, run the model, rank its labels.

Runs in a worker thread (decoding and inference block); the route awaits it.
"""

from __future__ import annotations

from typing import Any

from edgeops.serve.errors import ApiError
from edgeops.serve.models import BadImage, LoadedModel, decode_image
from edgeops.serve.requests import PredictRequest
from edgeops.serve.settings import ServeSettings, size_text


def classify(
    model: LoadedModel, req: PredictRequest, settings: ServeSettings
) -> list[dict[str, Any]]:
    """Decode, resize and run every image (in a worker thread: this blocks)."""
    p = model.published
    threshold = p.threshold if req.score_threshold is None else req.score_threshold
    limit = req.max_predictions or settings.max_predictions
    out = []
    for (where, data), key in zip(req.images, req.keys, strict=True):
        if len(data) > settings.max_image_bytes:
            limit_text = size_text(settings.max_image_bytes)
            raise ApiError(413, f"{where}: image is {size_text(len(data))}; at most {limit_text}")
        try:
            pixels = decode_image(data, model.input_size)
        except BadImage as e:
            raise ApiError(400, f"{where}: {e}") from None
        # ranked in Python: a handful of scores, and numpy's argsort lets go of the GIL, which
        # this thread then waits to take back from the event loop (under load, milliseconds)
        scores = model.predict(pixels).tolist()
        names = [p.labels[i] if i < len(p.labels) else str(i) for i in range(len(scores))]
        # stable (ties by id); a NaN score (a broken float model) ranks last, as in argsort
        ranked = sorted(range(len(scores)), key=lambda i: (scores[i] != scores[i], -scores[i]))
        order = [i for i in ranked if scores[i] >= threshold][:limit]
        pred: dict[str, Any] = {
            "displayNames": [names[i] for i in order],
            "confidences": [round(scores[i], 6) for i in order],
            "ids": order,
        }
        if key is not None:
            pred["key"] = key
        out.append(pred)
    return out
