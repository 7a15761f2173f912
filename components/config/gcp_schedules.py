"""``schedules``: the Cloud Scheduler jobs that start the Cloud Run jobs (cron, time zone, paused) and
their retries of a failed start. The cron arithmetic the checks use (gaps between runs, the days
collect looks at) is schedules.py."""

from __future__ import annotations

import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems
from .schedules import cron_problem

DEFAULT_LOADER_CRON = "0 * * * *"
DEFAULT_JUDGE_CRON = "0 2 * * *"
DEFAULT_COLLECT_CRON = "0 23 * * *"


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: the key names a directory of the tz database ("America") or is longer than a file
        # name may be (zoneinfo looks it up as a path).
        raise ValueError("must be a tz database name such as 'UTC' or 'Europe/Berlin'") from None
    return value


Cron = Annotated[str, AfterValidator(_cron)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]


class ScheduleConfig(ConfigModel):
    cron: Cron
    paused: bool = False
    """Keep the Cloud Scheduler job but do not fire it (the Cloud Run job can still be run by hand)."""


class RetryConfig(ConfigModel):
    """Cloud Scheduler's retries of a failed ``:run`` call. A failed call started no execution, so a
    retry never runs a job twice."""

    retry_count: int = Field(default=3, ge=0, le=5)
    min_backoff_seconds: int = Field(default=10, ge=1, le=3600)
    max_backoff_seconds: int = Field(default=300, ge=1, le=3600)
    max_doublings: int = Field(default=4, ge=0, le=16)
    max_retry_duration_seconds: int = Field(default=0, ge=0, le=86400)
    """0: no time limit, only ``retryCount``."""

    @model_validator(mode="after")
    def _check(self) -> RetryConfig:
        p = Problems()
        p.check(
            self.min_backoff_seconds <= self.max_backoff_seconds,
            "minBackoffSeconds",
            f"{self.min_backoff_seconds} is greater than maxBackoffSeconds {self.max_backoff_seconds}",
        )
        p.raise_if_any()
        return self


class SchedulesConfig(ConfigModel):
    """``schedules``: the Cloud Scheduler jobs that start the Cloud Run jobs."""

    time_zone: TimeZone = "UTC"
    """tz database name the cron expressions are read in."""
    loader: ScheduleConfig = Field(default_factory=lambda: ScheduleConfig(cron=DEFAULT_LOADER_CRON))
    judge: ScheduleConfig = Field(default_factory=lambda: ScheduleConfig(cron=DEFAULT_JUDGE_CRON))
    collect: ScheduleConfig = Field(default_factory=lambda: ScheduleConfig(cron=DEFAULT_COLLECT_CRON))
    attempt_deadline_seconds: int = Field(default=180, ge=15, le=1800)
    """How long Cloud Scheduler waits for the ``:run`` call (it returns once the execution is created)."""
    retry: RetryConfig = Field(default_factory=RetryConfig)
