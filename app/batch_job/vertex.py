"""Vertex AI batch prediction jobs through google-genai (`vertexai=True`).

Jobs are named deterministically per day and part (`llm-judge-2024-05-01-part-00000`), which is what
makes submit idempotent: before submitting, the day's jobs are listed by display name.

The list filter is `display_name:"llm-judge-2024-05-01-part-*"`: the proto field name, as the
ListBatchPredictionJobs reference gives it (`display_name supports =, != comparisons, and : wildcard`)
and as google-genai's own recorded test calls it (`tests/batches/test_list.py`). Every call goes
through `calling`, so a refusal (403, 404, quota) reaches the user as one line naming the HTTP status
and what to check, never as a traceback.

Retries. google-genai makes one attempt unless its client is given ``HttpRetryOptions``; then its
``_api_client.retry_args`` retries with tenacity: ``attempts`` in all (``VERTEX_ATTEMPTS``, default 4),
an exponential back-off with jitter (1 s initial, doubling, at most 60 s: google-genai's defaults, from
GCS's retry strategy), on the listed HTTP statuses and, whatever the list says, on an httpx time-out or
connection error. ``make_client`` gives every call the statuses 408, 429, 500, 502, 503 and 504: reads
(get, list) and ``generateContent`` (the canary, calibration) have no side effect, and cancelling twice
cancels once.

``batches.create`` is different: a 5xx or a time-out may come after the server created the job, and
submit's at-most-once rests on listing the day's jobs by display name *before* creating; a blind retry
would skip that list and could start the day's job twice, billing the day twice. So ``create`` sends
per-request ``http_options`` whose retry covers 429 only (a quota refusal creates nothing), which
google-genai honours (``BaseApiClient._request``: a request's own ``retry_options`` replace the
client's). A 5xx on create ends the run (exit 1); the next run lists first, and either finds the job or
creates it. Two things keep google-genai's own transport retry from re-sending a create: a connection
error means nothing was sent, and the batch job's client has no time-out (``make_client`` sets one only
for calibration, which creates no job), so a create is never timed out and retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import httpx2
from google import genai
from google.auth import exceptions as auth_exceptions
from google.genai import errors as genai_errors
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


T = TypeVar("T")

# What to check for each refusal Vertex AI answers with; other statuses get the generic hint.
_HINTS = {
    400: "the request was refused as invalid",
    401: "the credentials were refused: check application default credentials / VERTEX_ACCESS_TOKEN",
    403: "permission denied: the job's account needs roles/aiplatform.user on the project, "
    "and the Vertex AI API must be enabled",
    404: "not found: check GCP_PROJECT, GCP_LOCATION and MODEL_ID",
    429: "quota exhausted: retry later or raise the Vertex AI batch quota",
}


class VertexError(RuntimeError):
    """A Vertex AI call failed; the message is one line with the operation, the HTTP status and a hint.

    ``status`` is the HTTP status (0 when no answer came back at all): 4xx other than 429 are settings
    or permissions (exit 2), anything else is a run-time failure (exit 1). ``code`` is Google's status
    name (``FAILED_PRECONDITION``, ``NOT_FOUND``, ...) when the answer had one, ``detail`` the service's
    own message.
    """

    def __init__(self, message: str, status: int, code: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail

    @property
    def is_configuration(self) -> bool:
        return 400 <= self.status < 500 and self.status != 429


def calling(operation: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except genai_errors.APIError as exc:
        code = int(exc.code or 0)
        status = f"HTTP {code}" + (f" {exc.status}" if exc.status else "")
        detail = " ".join(str(exc.message or exc.details or "").split())[:300]
        hint = _HINTS.get(code, "Vertex AI failed on its side; retry later" if code >= 500 else "")
        text = f"Vertex AI {operation}: {status}: {detail}" + (f" ({hint})" if hint else "")
        raise VertexError(text, code, str(exc.status or ""), detail) from None
    except auth_exceptions.GoogleAuthError as exc:
        message = " ".join(str(exc).split())[:300]
        raise VertexError(
            f"Vertex AI {operation}: no usable credentials ({message}); run "
            "`gcloud auth application-default login` or give the job a service account",
            401,
        ) from None
    except (httpx.TransportError, httpx2.TransportError) as exc:  # google-genai uses either
        raise VertexError(
            f"Vertex AI {operation}: cannot reach the endpoint ({type(exc).__name__}: {exc}); "
            "check VERTEX_BASE_URL and the network",
            0,
        ) from None


# google-genai's own default set (_api_client._RETRY_HTTP_STATUS_CODES), written out so that it is ours.
RETRIED_STATUSES = (408, 429, 500, 502, 503, 504)
# A create answered with anything else may have created the job (see the module's docstring).
CREATE_RETRIED_STATUSES = (429,)


def retry_options(attempts: int, statuses: tuple[int, ...]) -> types.HttpRetryOptions:
    """``attempts`` in all on ``statuses``, with google-genai's default delays (1 s, doubling, jitter)."""
    return types.HttpRetryOptions(attempts=attempts, http_status_codes=list(statuses))


def make_client(settings: BatchJobSettings, *, timeout_s: float | None = None) -> genai.Client:
    """A google-genai client for Vertex AI: ADC by default, or an explicit token and endpoint; every call
    tried ``VERTEX_ATTEMPTS`` times on 408, 429 and 5xx. ``timeout_s`` bounds each attempt: only for a
    client that creates no job (calibration), since google-genai retries a time-out whatever the
    statuses say."""
    credentials = None
    if settings.vertex_access_token is not None:
        from google.oauth2.credentials import Credentials

        credentials = Credentials(token=settings.vertex_access_token.get_secret_value())
    http_options = types.HttpOptions(
        base_url=settings.vertex_base_url or None,
        retry_options=retry_options(settings.vertex_attempts, RETRIED_STATUSES),
        timeout=None if timeout_s is None else max(1, round(timeout_s * 1000)),
    )
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
        state = job.state.value if job.state is not None else ""
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

    def __init__(self, client: genai.Client, model_id: str, name_prefix: str, attempts: int) -> None:
        self.client = client
        self.model_id = model_id
        self.name_prefix = name_prefix
        # create's own retry: 429 only (see the module's docstring).
        self._create_options = types.HttpOptions(
            retry_options=retry_options(attempts, CREATE_RETRIED_STATUSES)
        )

    def day_jobs(self, day: dt.date) -> dict[int, list[JobView]]:
        """The day's jobs by part, newest first (a part may have failed and been resubmitted)."""
        head = day_prefix(self.name_prefix, day)
        config = types.ListBatchJobsConfig(page_size=100, filter=f'display_name:"{head}*"')
        # The pager fetches further pages while it is iterated: the whole walk is one call.
        listed = calling(
            f"list jobs {head}*",
            lambda: [JobView.of(job) for job in self.client.batches.list(config=config)],
        )
        jobs: dict[int, list[JobView]] = {}
        for view in listed:
            # The server-side filter is a wildcard match; check the exact form too.
            part = part_of(view.display_name, self.name_prefix, day)
            if part is not None:
                jobs.setdefault(part, []).append(view)
        for views in jobs.values():
            views.sort(key=lambda v: v.create_time, reverse=True)
        return dict(sorted(jobs.items()))

    def create(self, day: dt.date, part: int, input_uri: str, output_uri: str) -> JobView:
        display_name = job_display_name(self.name_prefix, day, part)
        try:
            job = calling(
                f"create job {display_name}",
                lambda: self.client.batches.create(
                    model=self.model_id,
                    src=types.BatchJobSource(format="jsonl", gcs_uri=[input_uri]),
                    config=types.CreateBatchJobConfig(
                        display_name=display_name,
                        dest=types.BatchJobDestination(format="jsonl", gcs_uri=output_uri),
                        http_options=self._create_options,
                    ),
                ),
            )
        except VertexError as exc:
            if exc.status in CREATE_RETRIED_STATUSES or exc.is_configuration:
                raise
            # Not retried: the job may exist. The next submit lists before it creates.
            raise VertexError(
                f"{exc}; not retried, since the job may have been created: the next submit finds it "
                "or creates it",
                exc.status,
                exc.code,
                exc.detail,
            ) from None
        return JobView.of(job)

    def get(self, name: str) -> JobView:
        return JobView.of(calling(f"get job {name}", lambda: self.client.batches.get(name=name)))

    def cancel(self, name: str) -> None:
        calling(f"cancel job {name}", lambda: self.client.batches.cancel(name=name))


def create_request_preview(
    model_id: str, display_name: str, input_uri: str, output_uri: str
) -> dict[str, object]:
    """The REST body `batches.create` sends for a job: what --dry-run prints."""
    return {
        "displayName": display_name,
        "model": model_id,
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [input_uri]}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": output_uri}},
    }


def latest(views: Iterable[JobView]) -> JobView | None:
    return next(iter(views), None)
