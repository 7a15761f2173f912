"""Vertex AI batch prediction jobs through google-genai (`vertexai=True`).

Jobs are named deterministically per day and part (`llm-judge-2024-05-01-part-00000`), which is what
makes submit idempotent: before submitting, the day's jobs are listed by display name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from google import genai
from google.genai import types

from app.batch_job.settings import BatchJobSettings

# A job in one of these states still has (or will have) the day's predictions: do not submit again.
ACTIVE_STATES = frozenset(
    {
        "JOB_STATE_QUEUED",
        "JOB_STATE_PENDING",
        "JOB_STATE_RUNNING",
        "JOB_STATE_PAUSED",
        "JOB_STATE_UPDATING",
        "JOB_STATE_CANCELLING",
    }
)
DONE_STATES = frozenset({"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"})
FAILED_STATES = frozenset({"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})
TERMINAL_STATES = DONE_STATES | FAILED_STATES


def make_client(settings: BatchJobSettings) -> genai.Client:
    """A google-genai client for Vertex AI: ADC by default, or an explicit token and endpoint."""
    credentials = None
    if settings.vertex_access_token is not None:
        from google.oauth2.credentials import Credentials

        credentials = Credentials(token=settings.vertex_access_token.get_secret_value())
    http_options = types.HttpOptions(base_url=settings.vertex_base_url) if settings.vertex_base_url else None
    return genai.Client(
        vertexai=True,
        project=settings.require_project(),
        location=settings.gcp_location,
        credentials=credentials,
        http_options=http_options,
    )


def day_prefix(prefix: str, day: dt.date) -> str:
    return f"{prefix}-{day.isoformat()}-part-"


def job_display_name(prefix: str, day: dt.date, part: int) -> str:
    return f"{day_prefix(prefix, day)}{part:05d}"


def part_of(display_name: str, prefix: str, day: dt.date) -> int | None:
    head = day_prefix(prefix, day)
    if not display_name.startswith(head) or not display_name[len(head) :].isdigit():
        return None
    return int(display_name[len(head) :])


@dataclass(frozen=True)
class JobView:
    """The fields of a batch job this program reads, independent of the SDK's classes."""

    name: str
    display_name: str
    state: str
    create_time: str
    successful: int | None = None
    failed: int | None = None
    incomplete: int | None = None
    error: str | None = None
    output_directory: str | None = None

    @classmethod
    def of(cls, job: types.BatchJob) -> JobView:
        stats = job.completion_stats
        state = str(getattr(job.state, "value", job.state))
        output_directory = None
        if job.output_info is not None:
            output_directory = getattr(job.output_info, "gcs_output_directory", None)
        return cls(
            name=job.name or "",
            display_name=job.display_name or "",
            state=state,
            create_time=job.create_time.isoformat() if job.create_time else "",
            successful=_as_int(stats.successful_count) if stats else None,
            failed=_as_int(stats.failed_count) if stats else None,
            incomplete=_as_int(stats.incomplete_count) if stats else None,
            error=job.error.message if job.error is not None else None,
            output_directory=output_directory,
        )

    def progress(self) -> str:
        if self.successful is None and self.failed is None:
            return ""
        done = (self.successful or 0) + (self.failed or 0)
        total = done + (self.incomplete or 0)
        return f"{done}/{total} done, {self.failed or 0} failed" if total else f"{done} done"


def _as_int(value: int | str | None) -> int | None:
    return None if value is None else int(value)


class VertexJobs:
    """The batch job operations of one day-naming scheme on one google-genai client."""

    def __init__(self, client: genai.Client, model_id: str, name_prefix: str) -> None:
        self.client = client
        self.model_id = model_id
        self.name_prefix = name_prefix

    def day_jobs(self, day: dt.date) -> dict[int, list[JobView]]:
        """The day's jobs by part, newest first (a part may have failed and been resubmitted)."""
        head = day_prefix(self.name_prefix, day)
        config = types.ListBatchJobsConfig(page_size=100, filter=f'displayName:"{head}*"')
        jobs: dict[int, list[JobView]] = {}
        for job in self.client.batches.list(config=config):
            view = JobView.of(job)
            # The server-side filter is a wildcard match; check the exact form too.
            part = part_of(view.display_name, self.name_prefix, day)
            if part is not None:
                jobs.setdefault(part, []).append(view)
        for views in jobs.values():
            views.sort(key=lambda v: v.create_time, reverse=True)
        return dict(sorted(jobs.items()))

    def create(self, day: dt.date, part: int, input_uri: str, output_uri: str) -> JobView:
        job = self.client.batches.create(
            model=self.model_id,
            src=types.BatchJobSource(format="jsonl", gcs_uri=[input_uri]),
            config=types.CreateBatchJobConfig(
                display_name=job_display_name(self.name_prefix, day, part),
                dest=types.BatchJobDestination(format="jsonl", gcs_uri=output_uri),
            ),
        )
        return JobView.of(job)

    def get(self, name: str) -> JobView:
        return JobView.of(self.client.batches.get(name=name))

    def cancel(self, name: str) -> None:
        self.client.batches.cancel(name=name)


def create_request_preview(model_id: str, display_name: str, input_uri: str, output_uri: str) -> dict:
    """The REST body `batches.create` sends for a job: what --dry-run prints."""
    return {
        "displayName": display_name,
        "model": model_id,
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [input_uri]}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": output_uri}},
    }


def latest(views: Iterable[JobView]) -> JobView | None:
    return next(iter(views), None)
