"""A write that fails after the start-up bucket check ends the run with 1 and commits nothing it covers
(real broker and fake-gcs-server; only the raw/ uploads are made to fail)."""

from __future__ import annotations

import logging
import uuid

import pytest
from google.api_core.exceptions import ServiceUnavailable

from app.loader.runner import Loader
from app.loader.settings import LoaderSettings
from app.loader.storage import GcsStore
from tests.app.loader.dataset import valid_message

pytestmark = pytest.mark.integration


class _RawWritesFail(GcsStore):
    def create(self, name: str, data: bytes, **kwargs):
        if name.startswith("raw/"):
            raise ServiceUnavailable(f"injected: cannot write {name}")
        return super().create(name, data, **kwargs)


def test_a_write_that_fails_mid_run_exits_1_and_commits_nothing(
    kafka_broker, gcs_server, monkeypatch, caplog
):
    for key, value in gcs_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = gcs_server.new_bucket("wfail").name
    topic = kafka_broker.create_topic(partitions=2)
    kafka_broker.produce(topic, [valid_message(i) for i in range(20)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    settings = LoaderSettings(
        gcs_bucket_name=bucket,
        kafka_brokers=kafka_broker.bootstrap,
        kafka_topic=topic,
        kafka_consumer_group=group,
        kafka_session_timeout_ms=6000,
        kafka_heartbeat_interval_ms=500,
        loader_idle_exit_seconds=15,
    )
    summary = Loader(settings, store=_RawWritesFail(bucket), logger=logging.getLogger("test-loader")).run()
    assert (summary.outcome, summary.exit_code) == ("failed", 1)
    # It got past the bucket check and consumed: what failed is the write, and the log names it.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("upload failed" in m and "injected: cannot write raw/" in m for m in errors), errors
    assert all(offset < 0 for offset in kafka_broker.committed(group, topic).values())
    assert not [b.name for b in gcs_server.client().list_blobs(bucket, prefix="raw/")]
