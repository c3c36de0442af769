"""Credentials and API clients of the google backend (Application Default Credentials).

``EDGEOPS_VERTEX_API_ENDPOINT`` overrides the Vertex AI endpoint (a Private Service Connect
endpoint, or ``http://127.0.0.1:PORT`` for a local fake); ``STORAGE_EMULATOR_HOST`` is the
Cloud Storage client's own override. Vertex is always spoken to over REST.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from edgeops.config.model import GoogleBackendSpec
from edgeops.errors import EdgeopsError

VERTEX_ENDPOINT_ENV = "EDGEOPS_VERTEX_API_ENDPOINT"

ADC_HELP = (
    "The google backend needs Google Cloud credentials (Application Default Credentials), "
    "and none were found{detail}.\n"
    "  On a workstation:  gcloud auth application-default login\n"
    "  In CI or a server: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file,\n"
    "                     or use workload identity federation.\n"
    "Firebase publish targets need a service account (they sign a Cloud Storage URL).\n"
    "See the README section 'Google backend' for the APIs to enable and the roles to grant."
)


def load_credentials(project: str) -> Any:
    """ADC, scoped for Cloud Platform. Raises a one-screen EdgeopsError when there are none.

    Never puts a token or key into a message: only the type of the error."""
    import google.auth
    from google.auth import exceptions as auth_exceptions

    try:
        creds, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"], quota_project_id=None
        )
    except auth_exceptions.DefaultCredentialsError as e:
        where = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        detail = f" (GOOGLE_APPLICATION_CREDENTIALS={where}: {_first_line(e)})" if where else ""
        raise EdgeopsError(ADC_HELP.format(detail=detail)) from None
    return creds


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__


def vertex_endpoint(location: str) -> str:
    return os.environ.get(VERTEX_ENDPOINT_ENV) or f"{location}-aiplatform.googleapis.com"


@dataclass
class Clients:
    """Lazily built clients for one backend instance."""

    spec: GoogleBackendSpec
    _creds: Any = None
    _storage: Any = None
    _vertex: dict[str, Any] = field(default_factory=dict)
    _sdk_ready: bool = False

    @property
    def credentials(self) -> Any:
        if self._creds is None:
            self._creds = load_credentials(self.spec.project)
        return self._creds

    @property
    def storage(self) -> Any:
        if self._storage is None:
            from google.cloud import storage  # type: ignore[attr-defined]

            if os.environ.get("STORAGE_EMULATOR_HOST"):
                self._storage = storage.Client(project=self.spec.project)
            else:
                self._storage = storage.Client(
                    project=self.spec.project, credentials=self.credentials
                )
        return self._storage

    def vertex(self, kind: str) -> Any:
        """A Vertex AI v1 service client: ``dataset``, ``pipeline`` or ``model``."""
        if kind not in self._vertex:
            from google.cloud import aiplatform_v1

            cls = {
                "dataset": aiplatform_v1.DatasetServiceClient,
                "pipeline": aiplatform_v1.PipelineServiceClient,
                "model": aiplatform_v1.ModelServiceClient,
            }[kind]
            self._vertex[kind] = cls(
                credentials=self.credentials,
                transport="rest",
                client_options={"api_endpoint": vertex_endpoint(self.spec.location)},
            )
        return self._vertex[kind]

    def sdk(self) -> Any:
        """The high-level ``google.cloud.aiplatform`` module, initialised for this project."""
        from google.cloud import aiplatform

        if not self._sdk_ready:
            # the SDK logs every step to stdout; only the output layer writes to the terminal
            for name in list(logging.root.manager.loggerDict):
                if name.startswith("google.cloud.aiplatform"):
                    logging.getLogger(name).setLevel(logging.WARNING)
            aiplatform.init(
                project=self.spec.project,
                location=self.spec.location,
                credentials=self.credentials,
                api_endpoint=vertex_endpoint(self.spec.location),
                api_transport="rest",
            )
            self._sdk_ready = True
        return aiplatform

    @property
    def parent(self) -> str:
        return f"projects/{self.spec.project}/locations/{self.spec.location}"
