"""`ObjectReader`s of the three clouds' object storage, each importing its SDK only when built.

- `S3Reader`: boto3 `head_object` / `get_object`. The ingest role also holds `s3:ListBucket` on the
  bucket: without it S3 answers a missing object with 403, not 404, and a deletion could not be told
  from a denied read.
- `GcsReader`: the Cloud Storage JSON API through google-auth's authorized session (google-auth and
  requests are already installed with google-cloud-firestore; google-cloud-storage would add nothing the
  two calls need). `STORAGE_EMULATOR_HOST` points it at an emulator, as it does google-cloud-storage.
- `BlobReader`: azure-storage-blob's `ContainerClient` with the managed identity.
"""

import os
import urllib.parse
from typing import Any, Protocol

GCS_ENDPOINT = "https://storage.googleapis.com"
GCS_READ_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
HTTP_TIMEOUT_S = 30.0


class S3Client(Protocol):
    """The calls `S3Reader` makes on a boto3 `s3` client."""

    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...


class S3Reader:
    """Objects of S3 buckets (region and credentials from the environment, as Lambda sets them)."""

    def __init__(self, client: S3Client | None = None) -> None:
        if client is None:
            import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - only on the ingest side

            client = boto3.client("s3")
        self._client = client

    def size(self, bucket: str, key: str) -> int | None:
        """ContentLength of the current version; None when there is none (404, or a delete marker)."""
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            head = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    def read(self, bucket: str, key: str, limit: int) -> bytes:
        """At most `limit` bytes of the current version."""
        body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            data: bytes = body.read(limit)
        finally:
            body.close()
        return data


class GcsReader:
    """Objects of Cloud Storage buckets, through the JSON API."""

    def __init__(self, session: Any = None, endpoint: str | None = None) -> None:
        """Use `session` (a `requests.Session`) or build an authorized one from Application Default
        Credentials (Cloud Run's service account); an emulator gets a plain session."""
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        self._endpoint = (endpoint or emulator or GCS_ENDPOINT).rstrip("/")
        if session is None:
            import requests  # noqa: PLC0415

            if emulator and endpoint is None:
                session = requests.Session()
            else:
                import google.auth  # noqa: PLC0415
                from google.auth.transport.requests import AuthorizedSession  # noqa: PLC0415

                credentials, _ = google.auth.default(scopes=[GCS_READ_SCOPE])
                session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self._session = session

    def _url(self, bucket: str, key: str) -> str:
        quoted = urllib.parse.quote(key, safe="")
        return f"{self._endpoint}/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o/{quoted}"

    def size(self, bucket: str, key: str) -> int | None:
        """`size` of the live object; None when there is none (404)."""
        reply = self._session.get(self._url(bucket, key), params={"fields": "size"}, timeout=HTTP_TIMEOUT_S)
        if reply.status_code == 404:
            return None
        reply.raise_for_status()
        return int(reply.json()["size"])

    def read(self, bucket: str, key: str, limit: int) -> bytes:
        """At most `limit` bytes of the live object (`alt=media`, streamed)."""
        with self._session.get(
            self._url(bucket, key), params={"alt": "media"}, stream=True, timeout=HTTP_TIMEOUT_S
        ) as reply:
            reply.raise_for_status()
            data = bytearray()
            for piece in reply.iter_content(chunk_size=65536):
                data += piece
                if len(data) >= limit:
                    break
            return bytes(data[:limit])


class BlobContainer(Protocol):
    """The calls `BlobReader` makes on an `azure.storage.blob.ContainerClient`."""

    def get_blob_client(self, blob: str) -> Any: ...


class BlobReader:
    """Blobs of one Azure blob container (the reader ignores the `bucket` argument: events were checked
    against the container already)."""

    def __init__(self, container: BlobContainer) -> None:
        self._container = container

    def size(self, bucket: str, key: str) -> int | None:
        """Size of the blob; None when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

        try:
            properties = self._container.get_blob_client(key).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return int(properties.size)

    def read(self, bucket: str, key: str, limit: int) -> bytes:
        """At most `limit` bytes of the blob (a ranged download)."""
        data: bytes = self._container.get_blob_client(key).download_blob(offset=0, length=limit).readall()
        return data
