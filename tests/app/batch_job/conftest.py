"""Fixtures of the batch job tests: fake-gcs-server buckets, the fake Vertex server, a CLI runner."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from app.batch_job.cli import main
from app.batch_job.context import Context
from app.batch_job.settings import BatchJobSettings
from app.records import InteractionRecord
from tests.support.fake_vertex import FakeVertex

REPO = Path(__file__).resolve().parents[3]
PROMPT = REPO / "prompts" / "security-judge.prompt.yml"
DAY = dt.date(2024, 5, 1)


def record(n: int | str, *, source: str = "web", day: dt.date = DAY, **fields: Any) -> InteractionRecord:
    values = {
        "id": f"req-{n}",
        "prompt": f"prompt number {n}",
        "response": f"response number {n}",
        "timestamp": dt.datetime.combine(day, dt.time(3, 0), tzinfo=dt.UTC),
        "source": source,
    }
    values.update(fields)
    return InteractionRecord(**values)


@pytest.fixture(scope="session")
def fake_vertex_server() -> Iterator[FakeVertex]:
    with FakeVertex() as server:
        yield server


@pytest.fixture
def vertex(fake_vertex_server: FakeVertex) -> FakeVertex:
    fake_vertex_server.reset()
    return fake_vertex_server


@dataclass
class BatchEnv:
    client: storage.Client
    raw: storage.Bucket
    out: storage.Bucket
    vertex: FakeVertex
    settings: dict[str, Any] = field(default_factory=dict)

    def write_raw(
        self,
        name: str,
        records: Sequence[InteractionRecord],
        *,
        extra: Sequence[bytes] = (),
        gz: bool = False,
    ) -> None:
        data = b"".join(r.to_json_line() for r in records) + b"".join(extra)
        blob = self.raw.blob(name)
        if gz:
            blob.content_encoding = "gzip"
            blob.upload_from_string(gzip.compress(data), content_type="application/jsonl")
        else:
            blob.upload_from_string(data, content_type="application/jsonl")

    def run(self, *argv: str, **settings: Any) -> tuple[int, str]:
        out = io.StringIO()
        values = {**self.settings, **settings}
        code = main(
            list(argv),
            env_settings=partial(_settings, values),
            today=lambda: DAY + dt.timedelta(days=1),
            context_factory=lambda s: Context(s, self.client, out=out, sleep=lambda _s: None),
        )
        return code, out.getvalue()

    def out_text(self, name: str) -> str:
        return self.out.blob(name).download_as_bytes().decode()

    def out_lines(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out_text(name).splitlines() if line.strip()]

    def out_names(self) -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(self.out.name))


def _settings(base: dict[str, Any], **overrides: Any) -> BatchJobSettings:
    return BatchJobSettings(**{**base, **overrides})


@pytest.fixture
def batch_env(gcs_server: Any, vertex: FakeVertex) -> BatchEnv:
    client = gcs_server.client()
    raw = gcs_server.new_bucket("raw")
    out = gcs_server.new_bucket("out")
    env = BatchEnv(client=client, raw=raw, out=out, vertex=vertex)
    env.settings = settings_for(raw.name, out.name, vertex.url)
    return env


def settings_for(input_bucket: str, output_bucket: str, vertex_url: str) -> dict[str, Any]:
    """The batch job's settings against the emulator's buckets and a FakeVertex."""
    return {
        "gcp_project": "test-project",
        "gcp_location": "global",
        "input_bucket": input_bucket,
        "output_bucket": output_bucket,
        "prompt_path": PROMPT,
        "vertex_base_url": vertex_url,
        "vertex_access_token": "test-token",
        "poll_seconds": 0.01,
    }
