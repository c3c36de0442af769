"""Firebase ML custom models: create or update by display name, tags, TFLite from Cloud Storage,
publish/unpublish, wait until unlocked; and reading a model back for drift.

Firebase ML model management is deprecated and shuts down on 2027-06-15 (``DEPRECATION``);
the ``gcs`` target plus Remote Config is the successor path.
"""

from __future__ import annotations

import warnings
from contextlib import suppress
from typing import Any

from edgeops.errors import EdgeopsError

DEPRECATION = (
    "Firebase ML model management is deprecated and shuts down on 2027-06-15; "
    "consider the gcs target + Remote Config"
)
UNLOCK_SECONDS = 600


def firebase_app(project: str, credentials: Any) -> Any:
    """The firebase_admin default app, for ``project``, on the backend's ADC.

    It must be the *default* app: firebase-admin 7's ``handle_operation`` reads a model whose
    create/update operation is not done yet with ``get_model(model_id)`` and no app, i.e.
    through the default app (a named app fails there with "The default Firebase app does not
    exist"). Firebase ML returns such operations for every upload it still validates."""
    import firebase_admin
    from firebase_admin import credentials as fb_credentials

    try:
        app = firebase_admin.get_app()
    except ValueError:
        cred = fb_credentials.ApplicationDefault()
        return firebase_admin.initialize_app(cred, {"projectId": project})
    if app.project_id != project:
        raise EdgeopsError(
            f"Firebase ML: this process already uses Firebase project '{app.project_id}', "
            f"not '{project}'; run edgeops for one Firebase project at a time"
        )
    return app


def _find(display_name: str, app: Any) -> Any:
    from firebase_admin import ml

    page = ml.list_models(list_filter=f"display_name={display_name}", app=app)
    return next((m for m in page.iterate_all() if m.display_name == display_name), None)


def publish_model(
    app: Any, display_name: str, tags: list[str], published: bool, gcs_tflite_uri: str
) -> dict[str, Any]:
    """Makes the Firebase model ``display_name`` serve ``gcs_tflite_uri``; returns what it wrote."""
    from firebase_admin import exceptions, ml

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            source = ml.TFLiteGCSModelSource(gcs_tflite_uri, app=app)
            fmt = ml.TFLiteFormat(model_source=source)
            model = _find(display_name, app)
            if model is None:
                model = ml.create_model(
                    ml.Model(display_name=display_name, tags=tags, model_format=fmt), app=app
                )
            else:
                model.tags = tags
                model.model_format = fmt
                model = ml.update_model(model, app=app)
            model.wait_for_unlocked(max_time_seconds=UNLOCK_SECONDS)
            if bool(model.published) != published:
                model = (ml.publish_model if published else ml.unpublish_model)(
                    model.model_id, app=app
                )
                model.wait_for_unlocked(max_time_seconds=UNLOCK_SECONDS)
    except exceptions.FirebaseError as e:
        raise EdgeopsError(f"Firebase ML model '{display_name}': {e.code}: {e}") from None
    return {
        "model_id": model.model_id,
        "tags": sorted(model.tags or []),
        "published": bool(model.published),
        "gcs_tflite_uri": gcs_tflite_uri,
    }


def drift(app: Any, display_name: str, state: dict[str, Any]) -> list[str]:
    """What changed in the Firebase model since edgeops wrote ``state``."""
    from firebase_admin import exceptions, ml

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            model = ml.get_model(state["model_id"], app=app)
    except exceptions.NotFoundError:
        return [f"Firebase model '{display_name}' was deleted"]
    out = []
    tags = sorted(model.tags or [])
    if tags != state.get("tags"):
        out.append(f"Firebase model tags changed to {tags}")
    if bool(model.published) != state.get("published"):
        out.append(f"Firebase model published flag changed to {str(model.published).lower()}")
    source = getattr(model.model_format, "model_source", None)
    uri = getattr(source, "gcs_tflite_uri", None)
    if uri is not None and uri != state.get("gcs_tflite_uri"):
        out.append(f"Firebase model now serves {uri}")
    return out


def delete_model(app: Any, state: dict[str, Any]) -> None:
    from firebase_admin import exceptions, ml

    with suppress(exceptions.NotFoundError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ml.delete_model(state["model_id"], app=app)
