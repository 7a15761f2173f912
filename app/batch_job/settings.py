"""Settings of the batch job: the seed's environment variables, overridden by command-line flags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.batch_job.gcs import GcsPath
from app.batch_job.parts import MAX_BYTES_PER_FILE, MAX_REQUESTS_PER_JOB

# A current model and a location that serves it (app/batch_job/gemini_models.yaml: its dates, locations
# and thinking control; components/config/gcp_judge_job.py has the stack's defaults, the same pair).
DEFAULT_MODEL_ID = "publishers/google/models/gemini-3.5-flash-lite"
DEFAULT_LOCATION = "global"
DEFAULT_STACK_LABEL = "llm-judge"
DATE_PLACEHOLDER = "{date}"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable and the flag."""


class BatchJobSettings(BaseSettings):
    """Environment names are the field names in upper case (GCP_PROJECT, INPUT_BUCKET, ...)."""

    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, case_sensitive=False, populate_by_name=True
    )

    gcp_project: str | None = Field(None, description="Project of the Vertex AI jobs (--project).")
    gcp_location: str = Field(
        DEFAULT_LOCATION,
        description="Vertex AI location: global, a multi-region (us, eu) or a region (--location).",
    )
    input_bucket: str | None = Field(None, description="Bucket holding raw/<source>/<date>/*.jsonl.")
    output_bucket: str | None = Field(None, description="Bucket for batch/ and judgements/.")
    model_id: str = Field(DEFAULT_MODEL_ID, description="Vertex model of the batch jobs.")
    stack_label: str = Field(
        DEFAULT_STACK_LABEL,
        validation_alias="LLM_JUDGE_STACK",
        description="The stack name: the one billing label (llm-judge-stack) of every Vertex request.",
    )
    prompt_path: Path = Field(Path("prompts/security-judge.prompt.yml"), description="The .prompt.yml file.")
    gcs_input_uri: str | None = Field(
        None,
        description="Input pattern (--input); may hold {date}. Default gs://INPUT_BUCKET/raw/*/{date}/*.jsonl",
    )
    gcs_output_prefix: str | None = Field(
        None, description="Output root (--output). Default gs://OUTPUT_BUCKET."
    )
    vertex_base_url: str | None = Field(
        None, description="Vertex AI endpoint override (private endpoint, or a local test server)."
    )
    vertex_access_token: SecretStr | None = Field(
        None, description="OAuth access token to use instead of application default credentials."
    )
    vertex_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts of each Vertex AI call on 408, 429 and 5xx, with a back-off of 1, 2, 4... s "
        "(1: no retry); a job's create is retried on 429 only.",
    )
    job_name_prefix: str = Field(
        "llm-judge", pattern=r"^[a-z][a-z0-9-]{0,40}$", description="Display-name prefix of the jobs."
    )
    max_requests_per_job: int = Field(MAX_REQUESTS_PER_JOB, ge=1, le=MAX_REQUESTS_PER_JOB)
    max_bytes_per_file: int = Field(MAX_BYTES_PER_FILE, ge=1024, le=MAX_BYTES_PER_FILE)
    poll_seconds: float = Field(
        60.0, gt=0, validation_alias="BATCH_POLL_SECONDS", description="Polling interval of --wait."
    )
    backend: Literal["vertex", "openai"] = Field(
        "vertex", validation_alias="BATCH_BACKEND", description="vertex, or openai for a self-hosted server"
    )
    openai_base_url: str | None = Field(
        None, description="Self-hosted OpenAI-compatible server (--base-url)."
    )
    openai_model: str | None = Field(None, description="Served model name on that server (--model).")
    openai_api_key: SecretStr | None = None
    judge_concurrency: int = Field(
        16, ge=1, le=1024, description="Concurrent requests of the self-hosted path."
    )
    report_compare_prefix: str | None = Field(
        None,
        description="Output root of a second judge's results (e.g. gs://BUCKET/vllm): the report adds how "
        "far the two agree on the days both judged (--compare-output).",
    )
    report_days: int = Field(14, ge=1, le=366, description="Days in the report's trend (--days).")
    review_per_stratum: int = Field(
        50,
        ge=0,
        le=1000,
        description="Review sample collect writes: every flagged record, and every two-judge disagreement, "
        "up to this many each (0: none).",
    )
    review_random_slice: int = Field(
        50, ge=0, le=1000, description="Review sample: this many more records at random (seeded by the date)."
    )
    people_min_labels: int = Field(
        30, ge=1, le=100_000, description="Fewest labels a judge's kappa against people is shown for."
    )
    people_kappa_days: int = Field(
        7, ge=1, le=30, description="Labelled days pooled into the drift alert's kappa against people."
    )

    def input_pattern(self, day: dt.date) -> GcsPath:
        if self.gcs_input_uri:
            return GcsPath.parse(self.gcs_input_uri.replace(DATE_PLACEHOLDER, day.isoformat()))
        if not self.input_bucket:
            raise SettingsError("no input: set INPUT_BUCKET (or GCS_INPUT_URI, or pass --input)")
        return GcsPath(self.input_bucket, f"raw/*/{day.isoformat()}/*.jsonl")

    @property
    def input_is_dated(self) -> bool:
        return not self.gcs_input_uri or DATE_PLACEHOLDER in self.gcs_input_uri

    @property
    def output_root(self) -> GcsPath:
        if self.gcs_output_prefix:
            return GcsPath.parse(self.gcs_output_prefix.rstrip("/"))
        if not self.output_bucket:
            raise SettingsError("no output: set OUTPUT_BUCKET (or GCS_OUTPUT_PREFIX, or pass --output)")
        return GcsPath(self.output_bucket, "")

    def require_project(self) -> str:
        if not self.gcp_project:
            raise SettingsError("no project: set GCP_PROJECT (or pass --project)")
        return self.gcp_project
