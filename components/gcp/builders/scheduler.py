"""Cloud Scheduler -> Cloud Run job: the Admin API ``:run`` call and its retry settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.gcp_schedules import RetryConfig

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.cloudscheduler import JobHttpTargetArgsDict, JobRetryConfigArgsDict

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def seconds(n: int) -> str:
    """Google's Duration form: ``"180s"``."""
    return f"{n}s"


def run_uri(project: str, region: str, job: str) -> str:
    """Cloud Run Admin API v2 ``jobs.run``: starts one execution of the job."""
    for what, value in (("project", project), ("region", region), ("job", job)):
        if not value or "/" in value:
            raise ValueError(f"{what} must be a plain name, got {value!r}")
    return f"https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job}:run"


def http_target(uri: str, invoker_email: str) -> JobHttpTargetArgsDict:
    """An OAuth access token, not an OIDC ID token: ``run.googleapis.com`` is a Google API, which takes
    access tokens (OIDC is for calling a Cloud Run *service's* own URL)."""
    return {
        "uri": uri,
        "http_method": "POST",
        "oauth_token": {"service_account_email": invoker_email, "scope": CLOUD_PLATFORM_SCOPE},
    }


def retry_config(cfg: RetryConfig) -> JobRetryConfigArgsDict:
    return {
        "retry_count": cfg.retry_count,
        "min_backoff_duration": seconds(cfg.min_backoff_seconds),
        "max_backoff_duration": seconds(cfg.max_backoff_seconds),
        "max_doublings": cfg.max_doublings,
        "max_retry_duration": seconds(cfg.max_retry_duration_seconds),
    }
