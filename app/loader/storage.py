"""Create-only object writes to GCS.

Every object is written with ``if_generation_match=0``: the write succeeds only if no object of that
name exists. A 412 after a crash, a retry or a rebalance is the evidence that the object is already
stored; the existing object's MD5 is compared with ours to tell a repeat from a real conflict.
GCS may answer 403 instead of 412 when the name exists and the writer, being create-only, lacks
``storage.objects.delete``; an object that is there is then the same evidence.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import threading
from dataclasses import dataclass

from google.api_core.exceptions import Forbidden, NotFound, PreconditionFailed
from google.cloud import storage


class Created(enum.Enum):
    CREATED = "created"
    EXISTED = "existed"  # same bytes were already stored: a repeat
    CONFLICT = "conflict"  # another object of that name holds different bytes


@dataclass(frozen=True)
class PutResult:
    name: str
    outcome: Created
    size: int


class GcsStore:
    """Thread-safe: each upload thread gets its own client (and HTTP session)."""

    def __init__(self, bucket: str, project: str | None = None) -> None:
        self._bucket_name = bucket
        self._project = project
        self._local = threading.local()

    def _bucket(self) -> storage.Bucket:
        bucket = getattr(self._local, "bucket", None)
        if bucket is None:
            # STORAGE_EMULATOR_HOST, when set, is honoured by the client itself.
            bucket = storage.Client(project=self._project).bucket(self._bucket_name)
            self._local.bucket = bucket
        return bucket

    def check_bucket(self) -> None:
        """Fail early (and clearly) when the bucket is missing or not reachable."""
        if not self._bucket().exists():
            raise RuntimeError(f"bucket gs://{self._bucket_name} does not exist")

    def create(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str,
        content_encoding: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> PutResult:
        blob = self._bucket().blob(name)
        blob.content_encoding = content_encoding
        blob.metadata = metadata
        try:
            # google-cloud-storage retries this call on transient errors: the precondition makes the
            # retry safe, and a retry whose first attempt did land comes back as a 412 (handled below).
            blob.upload_from_string(data, content_type=content_type, if_generation_match=0)
            return PutResult(name, Created.CREATED, len(data))
        except PreconditionFailed:
            return self._already_there(name, data, self._bucket().get_blob(name))
        except Forbidden:
            existing = self._bucket().get_blob(name)
            if existing is None:
                raise  # a real permission problem: nothing of that name is stored
            return self._already_there(name, data, existing)

    @staticmethod
    def _already_there(name: str, data: bytes, existing: storage.Blob | None) -> PutResult:
        ours = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        same = existing is not None and existing.md5_hash == ours
        return PutResult(name, Created.EXISTED if same else Created.CONFLICT, len(data))

    def read(self, name: str) -> bytes | None:
        try:
            return self._bucket().blob(name).download_as_bytes()
        except NotFound:
            return None
