"""Create-only writes against fake-gcs-server: a name that exists is evidence, whether GCS answers 412
or (for a writer without storage.objects.delete) 403."""

from __future__ import annotations

import pytest
from google.api_core.exceptions import Forbidden
from google.cloud import storage

from app.loader.storage import Created, GcsStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(gcs_server, monkeypatch) -> tuple[GcsStore, storage.Bucket]:
    for key, value in gcs_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = gcs_server.new_bucket("store")
    return GcsStore(bucket.name, project="test"), bucket


def _create(store: GcsStore, name: str, data: bytes):
    return store.create(name, data, content_type="application/jsonl")


def test_a_new_name_is_created_and_a_repeat_is_recognised(store):
    gcs, bucket = store
    assert _create(gcs, "raw/a.jsonl", b"one\n").outcome is Created.CREATED
    assert _create(gcs, "raw/a.jsonl", b"one\n").outcome is Created.EXISTED
    assert _create(gcs, "raw/a.jsonl", b"two\n").outcome is Created.CONFLICT
    assert bucket.blob("raw/a.jsonl").download_as_bytes() == b"one\n"


@pytest.fixture
def forbidden_overwrite(monkeypatch):
    """GCS as seen by a create-only writer: writing an existing name is refused with 403, not 412."""
    upload = storage.Blob.upload_from_string

    def guarded(self, data, *args, **kwargs):
        if self.bucket.get_blob(self.name) is not None:
            raise Forbidden("does not have storage.objects.delete access")
        return upload(self, data, *args, **kwargs)

    monkeypatch.setattr(storage.Blob, "upload_from_string", guarded)


def test_a_403_for_an_existing_name_is_the_same_evidence_as_a_412(store, forbidden_overwrite):
    gcs, _ = store
    assert _create(gcs, "raw/b.jsonl", b"one\n").outcome is Created.CREATED
    assert _create(gcs, "raw/b.jsonl", b"one\n").outcome is Created.EXISTED
    assert _create(gcs, "raw/b.jsonl", b"two\n").outcome is Created.CONFLICT


def test_a_403_with_nothing_stored_is_a_real_permission_error(store, monkeypatch):
    gcs, _ = store

    def refuse(self, *args, **kwargs):
        raise Forbidden("does not have storage.objects.create access")

    monkeypatch.setattr(storage.Blob, "upload_from_string", refuse)
    with pytest.raises(Forbidden):
        _create(gcs, "raw/c.jsonl", b"one\n")
