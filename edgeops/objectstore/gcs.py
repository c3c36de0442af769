"""A Cloud Storage bucket prefix as an object store; the etag is the object's generation.

Credentials are Application Default Credentials (``gcloud auth application-default login``,
GOOGLE_APPLICATION_CREDENTIALS, workload identity); with STORAGE_EMULATOR_HOST set (the client
library's own switch, used for fake-gcs-server) the client talks to the emulator anonymously.
Conditions are generation preconditions: ``ifGenerationMatch=0`` (create only) or the
generation read. Every HTTP request is counted in ``requests`` by a response hook on the
client's session (retries and pages included; token refreshes are not storage requests).

``GCSStore.with_client`` takes the credentials, project and endpoint of a ``storage.Client``
instead (the google backend's): the store still sends its requests on a session of its own,
so ``requests`` counts only this store's, and a lease's heartbeat thread has its own
connections.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgeops.errors import EdgeopsError
from edgeops.objectstore.base import (
    Blob,
    BucketStore,
    PreconditionFailed,
    check_condition,
    check_prefix,
    download_atomically,
)

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
CREDENTIALS_HELP = (
    "  On a workstation:  gcloud auth application-default login\n"
    "  In CI or a server: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file,\n"
    "                     or use workload identity federation "
    "(google-github-actions/auth in GitHub Actions)"
)


def _verb(method: str, url: str) -> str:
    parts = urlsplit(url)
    if method == "DELETE":
        return "delete"
    if method in ("POST", "PUT", "PATCH"):
        return "put"
    if "alt=media" in parts.query:
        return "get"
    return "list" if parts.path.endswith("/o") else "head"


class GCSStore(BucketStore):
    scheme = "gs"
    _client: Any = None
    _bucket: Any = None
    _lender: Any = None  # a storage.Client whose credentials, project and options to use

    @classmethod
    def with_client(cls, client: Any, bucket: str, prefix: str = "") -> GCSStore:
        """The store on ``client``'s credentials, project and endpoint (the google backend's),
        with a session of its own."""
        store = cls(bucket, prefix)
        store._lender = client
        return store

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.auth.transport.requests import AuthorizedSession
            from google.cloud import storage  # type: ignore[attr-defined]

            options: Any = None
            if self._lender is not None:
                credentials, project = self._lender._credentials, self._lender.project
                options = getattr(self._lender, "_initial_client_options", None)
            else:
                credentials, project = self._credentials()
            if self.endpoint_url:
                options = {"api_endpoint": self.endpoint_url}
            session = AuthorizedSession(credentials)
            session.hooks["response"].append(self._count)
            client = storage.Client(
                project=project, credentials=credentials, _http=session, client_options=options
            )
            # Since 3.x the client fetches bucket metadata on a background thread at first use
            # of a bucket, only to label OpenTelemetry spans: a request we never asked for (and
            # one storage.objectAdmin may not grant). The library skips it when this is unset.
            if hasattr(client, "_bucket_metadata_cache"):
                client._bucket_metadata_cache = None
            self._client = client
        return self._client

    def _credentials(self) -> tuple[Any, str | None]:
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials(), None
        import google.auth
        from google.auth import exceptions as auth_exceptions

        try:
            credentials, project = google.auth.default(scopes=[SCOPE])
        except auth_exceptions.DefaultCredentialsError as e:
            where = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
            detail = f" (GOOGLE_APPLICATION_CREDENTIALS={where}: {_first_line(e)})" if where else ""
            raise EdgeopsError(
                f"{self.url}: no Google Cloud credentials were found{detail}.\n{CREDENTIALS_HELP}"
            ) from None
        return credentials, project

    def _count(self, response: Any, *_: Any, **__: Any) -> None:
        self.requests.add(_verb(response.request.method, response.request.url))

    @property
    def bucket(self) -> Any:
        if self._bucket is None:
            self._bucket = self.client.bucket(self.bucket_name)
        return self._bucket

    def _blob(self, key: str) -> Any:
        return self.bucket.blob(self.name(key))

    # --- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> Blob | None:
        """One request: the media download's headers carry the generation."""
        blob = self._blob(key)
        try:
            data = blob.download_as_bytes()
        except Exception as e:
            if self._object_missing(e):
                return None
            raise self._error(e) from None
        return Blob(data, str(blob.generation))

    def head(self, key: str) -> str | None:
        try:
            blob = self.bucket.get_blob(self._blob(key).name)
        except Exception as e:
            raise self._error(e) from None
        return None if blob is None else str(blob.generation)

    def get_file(self, key: str, path: Path) -> str | None:
        blob = self._blob(key)
        try:
            download_atomically(path, blob.download_to_file)
        except Exception as e:
            if self._object_missing(e):
                return None
            raise self._error(e) from None
        return str(blob.generation)

    def list(self, prefix: str = "") -> dict[str, str]:
        check_prefix(prefix)
        base = self.base
        found: dict[str, str] = {}
        try:
            pages = self.client.list_blobs(
                self.bucket_name,
                prefix=base + prefix,
                page_size=self.page_size,
                fields="items(name,generation),nextPageToken",
            ).pages
            for page in pages:
                for blob in page:
                    key = blob.name[len(base) :]
                    if key and not key.endswith("/"):
                        found[key] = str(blob.generation)
        except Exception as e:
            raise self._error(e) from None
        return found

    # --- writes --------------------------------------------------------------------------------

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        return self._put(
            key, lambda blob, **kw: blob.upload_from_string(data, **kw), if_match, if_absent
        )

    def put_file(
        self, key: str, path: Path, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        """One request up to 8 MiB; larger files go as a resumable upload (a few requests)."""
        return self._put(
            key, lambda blob, **kw: blob.upload_from_filename(str(path), **kw), if_match, if_absent
        )

    def _put(self, key: str, upload: Any, if_match: str | None, if_absent: bool) -> str:
        check_condition(if_match, if_absent)
        generation = 0 if if_absent else None if if_match is None else int(if_match)
        blob = self._blob(key)
        try:
            upload(blob, if_generation_match=generation)
        except Exception as e:
            if generation is not None and isinstance(e, _api().PreconditionFailed):
                raise PreconditionFailed(self.where(key), expected=if_match) from None
            raise self._error(e) from None
        return str(blob.generation)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        try:
            self._blob(key).delete(if_generation_match=None if if_match is None else int(if_match))
        except Exception as e:
            if self._object_missing(e):
                return
            if if_match is not None and isinstance(e, _api().PreconditionFailed):
                raise PreconditionFailed(self.where(key), expected=if_match) from None
            raise self._error(e) from None

    # --- errors --------------------------------------------------------------------------------

    def _object_missing(self, e: Exception) -> bool:
        """A 404 about the object, not the bucket (Cloud Storage says which in the message)."""
        return isinstance(e, _api().NotFound) and "bucket does not exist" not in str(e).lower()

    def _error(self, e: Exception) -> Exception:
        """A one-screen EdgeopsError for what the user can fix; anything else unchanged."""
        import requests
        from google.auth import exceptions as auth_exceptions

        if isinstance(e, EdgeopsError):
            return e
        if isinstance(e, auth_exceptions.RefreshError):
            return EdgeopsError(
                f"{self.url}: the Google Cloud credentials were refused ({_first_line(e)}).\n"
                f"{CREDENTIALS_HELP}"
            )
        if isinstance(e, requests.ConnectionError | auth_exceptions.TransportError):
            where = self.endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST") or "Cloud Storage"
            return EdgeopsError(f"{self.url}: cannot reach {where} ({_first_line(e)})")
        if isinstance(e, _api().Forbidden | _api().Unauthorized):
            return EdgeopsError(
                f"{self.url}: permission denied ({_first_line(e)}).\n"
                "Grant the credentials roles/storage.objectAdmin on the bucket, or use other "
                f"credentials:\n{CREDENTIALS_HELP}"
            )
        if isinstance(e, _api().NotFound):
            return EdgeopsError(
                f"{self.url}: no such bucket. Create it (`gcloud storage buckets create "
                f"gs://{self.bucket_name} --location=REGION --uniform-bucket-level-access`), "
                "or fix the state location in edgeops.yaml"
            )
        if isinstance(e, _api().GoogleAPICallError):
            return EdgeopsError(f"{self.url}: Cloud Storage request failed: {_first_line(e)}")
        return e


def _api() -> Any:
    """google.api_core's exceptions (imported with the client already, so no cost here)."""
    from google.api_core import exceptions

    return exceptions


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200].rstrip(".") if text else type(e).__name__
