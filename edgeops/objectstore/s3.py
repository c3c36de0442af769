"""An S3 bucket prefix as an object store: AWS, or any S3-compatible endpoint (MinIO, Ceph RGW,
Cloudflare R2) given as ``endpoint_url``.

Credentials come from boto3's default chain, nothing of our own: AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), AWS_PROFILE (SSO included), a web identity role
(GitHub OIDC: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), container and instance roles.

Conditions are S3's own: ``If-None-Match: *`` (create only) and ``If-Match: <ETag>`` on
PutObject (AWS since 2024), ``If-Match`` on DeleteObject (AWS since September 2025). An
S3-compatible store that ignores these headers gives none of these guarantees. Every HTTP
request is counted in ``requests`` by a botocore ``before-send`` hook (retries included).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from edgeops.errors import EdgeopsError
from edgeops.objectstore.base import (
    Blob,
    BucketStore,
    PreconditionFailed,
    check_condition,
    check_prefix,
    download_atomically,
)

# S3 operation -> the store verb it is counted under (any other counts under its own name)
VERB = {
    "GetObject": "get",
    "HeadObject": "head",
    "PutObject": "put",
    "ListObjectsV2": "list",
    "DeleteObject": "delete",
}
ABSENT = {"NoSuchKey", "404", "NotFound"}
CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
}

CREDENTIALS_HELP = (
    "  On a workstation:  set AWS_PROFILE to a profile in ~/.aws/config (`aws configure sso`)\n"
    "  With access keys:  set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)\n"
    "  In GitHub Actions: aws-actions/configure-aws-credentials with role-to-assume (OIDC)\n"
    "An S3-compatible store (MinIO, Ceph, R2) takes its access key and secret the same way."
)


def _code(e: BaseException) -> str:
    response = getattr(e, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class S3Store(BucketStore):
    scheme = "s3"
    _session: Any = None
    _client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            options: dict[str, Any] = {"retries": {"mode": "standard"}}
            if self.endpoint_url:
                # third-party stores often reject the CRC checksums boto3 adds by default
                options["request_checksum_calculation"] = "when_required"
                options["response_checksum_validation"] = "when_required"
            try:
                self._session = boto3.session.Session()
                client = self._session.client(
                    "s3", endpoint_url=self.endpoint_url, config=Config(**options)
                )
            except Exception as e:
                raise self._error(e) from None
            client.meta.events.register("before-send.s3.*", self._count)
            self._client = client
        return self._client

    def _count(self, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.requests.add(VERB.get(operation, operation))

    # --- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> Blob | None:
        try:
            r = self.client.get_object(Bucket=self.bucket_name, Key=self.name(key))
            with closing(r["Body"]) as body:
                return Blob(body.read(), str(r["ETag"]))
        except Exception as e:
            if _code(e) in ABSENT:
                return None
            raise self._error(e) from None

    def head(self, key: str) -> str | None:
        """HEAD has no body: a missing bucket reads as a missing object here (get/list tell)."""
        try:
            r = self.client.head_object(Bucket=self.bucket_name, Key=self.name(key))
        except Exception as e:
            if _code(e) in ABSENT:
                return None
            raise self._error(e) from None
        return str(r["ETag"])

    def get_file(self, key: str, path: Path) -> str | None:
        try:
            r = self.client.get_object(Bucket=self.bucket_name, Key=self.name(key))
            with closing(r["Body"]) as body:
                download_atomically(path, lambda out: _copy(body.iter_chunks(1 << 20), out))
        except Exception as e:
            if _code(e) in ABSENT:
                return None
            raise self._error(e) from None
        return str(r["ETag"])

    def list(self, prefix: str = "") -> dict[str, str]:
        check_prefix(prefix)
        base = self.base
        params: dict[str, Any] = {
            "Bucket": self.bucket_name,
            "Prefix": base + prefix,
            "MaxKeys": self.page_size,
        }
        found: dict[str, str] = {}
        while True:
            try:
                r = self.client.list_objects_v2(**params)
            except Exception as e:
                raise self._error(e) from None
            for item in r.get("Contents", []):
                key = item["Key"][len(base) :]
                if key and not key.endswith("/"):  # "folders" made by consoles are no objects
                    found[key] = str(item["ETag"])
            if not r.get("IsTruncated"):
                return found
            params["ContinuationToken"] = r["NextContinuationToken"]

    # --- writes --------------------------------------------------------------------------------

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        return self._put(key, data, if_match, if_absent)

    def put_file(
        self, key: str, path: Path, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        """One streamed PutObject (up to S3's 5 GB single-request limit; a model is far less)."""
        with Path(path).open("rb") as body:
            return self._put(key, body, if_match, if_absent)

    def _put(self, key: str, body: Any, if_match: str | None, if_absent: bool) -> str:
        check_condition(if_match, if_absent)
        conditions = {"IfNoneMatch": "*"} if if_absent else {}
        if if_match is not None:
            conditions = {"IfMatch": if_match}
        try:
            r = self.client.put_object(
                Bucket=self.bucket_name, Key=self.name(key), Body=body, **conditions
            )
        except Exception as e:
            # If-Match on a missing key answers NoSuchKey: the version read is gone all the same
            if conditions and _code(e) in CONFLICT | ABSENT:
                raise PreconditionFailed(self.where(key), expected=if_match) from None
            raise self._error(e) from None
        return str(r["ETag"])

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        conditions = {} if if_match is None else {"IfMatch": if_match}
        try:
            self.client.delete_object(Bucket=self.bucket_name, Key=self.name(key), **conditions)
        except Exception as e:
            if _code(e) in ABSENT:
                return
            if conditions and _code(e) in CONFLICT:
                raise PreconditionFailed(self.where(key), expected=if_match) from None
            raise self._error(e) from None

    # --- errors --------------------------------------------------------------------------------

    def _error(self, e: Exception) -> Exception:
        """A one-screen EdgeopsError for what the user can fix; anything else unchanged."""
        from botocore import exceptions as bx

        if isinstance(e, EdgeopsError):
            return e
        if isinstance(e, bx.ProfileNotFound):
            return EdgeopsError(
                f"{self.url}: {e}; set AWS_PROFILE to a profile in ~/.aws/config, "
                "or unset it to use the other credential sources"
            )
        if isinstance(e, bx.NoCredentialsError):
            return EdgeopsError(f"{self.url}: no AWS credentials were found.\n{CREDENTIALS_HELP}")
        if isinstance(e, bx.PartialCredentialsError | bx.CredentialRetrievalError | bx.SSOError):
            return EdgeopsError(
                f"{self.url}: the AWS credentials could not be loaded ({e}).\n{CREDENTIALS_HELP}"
            )
        if isinstance(e, bx.TokenRetrievalError):
            return EdgeopsError(f"{self.url}: {e}; run `aws sso login` and try again")
        if isinstance(e, bx.ConnectionError | bx.HTTPClientError):
            where = self.endpoint_url or "AWS S3"
            return EdgeopsError(f"{self.url}: cannot reach {where} ({e}); check endpoint_url")
        code = _code(e)
        if code in DENIED:
            return EdgeopsError(
                f"{self.url}: access denied ({code}) for the AWS credentials from "
                f"{self._credential_source()}.\n"
                "They need s3:ListBucket on the bucket and s3:GetObject, s3:PutObject and "
                f"s3:DeleteObject\non {self.url}/*. Or use other credentials:\n{CREDENTIALS_HELP}"
            )
        if code == "NoSuchBucket":
            at = f" at {self.endpoint_url}" if self.endpoint_url else ""
            return EdgeopsError(
                f"{self.url}: no such bucket{at}. Create it (`aws s3 mb s3://{self.bucket_name}`), "
                "or fix the state location in edgeops.yaml"
            )
        if code in (
            "PermanentRedirect",
            "AuthorizationHeaderMalformed",
            "IllegalLocationConstraint",
        ):
            return EdgeopsError(
                f"{self.url}: the bucket is in another region; set AWS_REGION to its region"
            )
        if code or isinstance(e, bx.BotoCoreError):
            return EdgeopsError(f"{self.url}: S3 request failed: {e}")
        return e

    def _credential_source(self) -> str:
        """Where boto3 found the credentials in use (never the credentials themselves)."""
        try:
            creds = self._session.get_credentials() if self._session else None
        except Exception:  # only for the message
            creds = None
        method = str(getattr(creds, "method", None) or "")
        source = {
            "env": "the environment (AWS_ACCESS_KEY_ID)",
            "shared-credentials-file": "~/.aws/credentials",
            "assume-role-with-web-identity": "a web identity role (AWS_ROLE_ARN)",
        }.get(method, method or "the default chain")
        profile = getattr(self._session, "profile_name", "default")
        return source if method == "env" or profile == "default" else f"{source}, profile {profile}"


def _copy(chunks: Iterator[bytes], out: Any) -> None:
    for chunk in chunks:
        out.write(chunk)
