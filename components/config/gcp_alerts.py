"""``llm-judge:gcp.alerts``: the Cloud Monitoring alert policies of the GCP half, who they notify and
their thresholds.

Bounds come from what each condition type accepts (Google's alert.proto and "Types of alerting
policies"): a metric-absence condition watches 120 s to 23.5 h, so "no successful loader run" is
counted in whole hours from 1 to 23; a log-match policy must rate-limit its notifications, at least
5 minutes apart. Cross-checks against the schedules (a window shorter than the gap between two healthy
runs would fire between them) live in ``GcpConfig``, which sees both.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern

# Deliberately plain: one '@', a local part, a dotted domain. Google checks the address again when it
# creates the channel (and sends no alert to an address nobody verifies); this catches the typos.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
# A channel's resource name: projects/[PROJECT_ID_OR_NUMBER]/notificationChannels/[CHANNEL_ID] (alert.proto).
_CHANNEL = re.compile(r"^projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})/notificationChannels/[0-9]+$")
_HTTPS_URL = re.compile(r"^https://[^\s#?]+$")

# Metric-absence duration: at least 120 s, at most 23.5 h (Cloud Monitoring's limit; older pages said
# 24.5 h). Whole hours here.
MAX_ABSENCE_HOURS = 23
# How much longer than the longest healthy gap between two completed loader runs the absence window must
# be: a run's summary reaches the metric some time after the run ends (task start-up, log ingestion) and
# the condition reads it through a 300 s alignment period, so 5 minutes of slack could still page between
# two healthy runs.
ABSENCE_SLACK_SECONDS = 600

Email = Annotated[str, AfterValidator(pattern(_EMAIL, "an e-mail address such as oncall@example.com"))]
ChannelId = Annotated[
    str,
    AfterValidator(
        pattern(_CHANNEL, "a notification channel name: projects/PROJECT/notificationChannels/NUMBER")
    ),
]
HttpsUrl = Annotated[str, AfterValidator(pattern(_HTTPS_URL, "an https:// URL without '#' or '?'"))]


class GcpAlertsConfig(ConfigModel):
    """``alerts``: seven alert policies (loader, judge and collect executions failed; a Cloud Scheduler
    attempt failed; the loader falling behind; dead letters; records not judged), their log-based
    metrics and e-mail channels. docs/runbook.md says what each one means and what to do.

    Two more watch the judge itself, from collect's summary (with a collect job): its kappa against
    people's labels falling below ``peopleKappaFloor``, and the day's flagged rate leaving its 14-day
    range by more than ``flaggedRateSigmas``."""

    enabled: bool = True
    emails: list[Email] = Field(default_factory=list)
    """Addresses to notify: the stack creates one e-mail notification channel per address."""
    notification_channels: list[ChannelId] = Field(default_factory=list)
    """Existing channels to notify as well (Slack, PagerDuty, SMS...), by resource name."""
    runbook_base_url: HttpsUrl | None = None
    """Where docs/runbook.md of your copy of this repository is served (e.g. its GitHub URL): each
    policy then links to its own section. None: the documentation names the file and section."""
    loader_no_success_hours: int | None = Field(default=None, ge=1)
    """Alert when no loader task has completed a run for this long (a metric-absence condition, at most
    23 h). None: the shortest whole number of hours at least ``ABSENCE_SLACK_SECONDS`` longer than a
    healthy loader can go without a completed run (the longest gap of ``schedules.loader.cron`` plus the
    longest run): 2 h for the hourly default."""
    loader_lag_left: int = Field(default=100_000, ge=1)
    """Alert when a loader run ends with more than this many messages of the topic still unread."""
    dead_letters_per_run: int = Field(default=100, ge=1)
    """Alert when one loader run dead-letters more than this many messages."""
    uncollected_days: int = Field(default=1, ge=1, le=30)
    """Alert when a submitted day is still not collected more than this many days after it (its
    Vertex AI batch still queued or running). Must be below collect's ``--lookback``."""
    not_judged_percent: float = Field(default=5.0, gt=0, lt=100)
    """Alert when a collected day's share of records without an answer (failed, invalid, cut at the
    token limit, missing) is above this many percent: a model whose answers get cut, or that refuses
    the requests, no longer passes as quiet."""
    scheduler_notify_minutes: int = Field(default=60, ge=5, le=1440)
    """A failing Cloud Scheduler trigger notifies at most once per this many minutes."""
    people_kappa_floor: float = Field(default=0.6, ge=-1.0, le=1.0)
    """Alert when the judge's kappa against people's labels, pooled over its last ``peopleKappaDays``
    labelled days, is below this (read by the collect run that reports a day)."""
    people_kappa_days: int = Field(default=7, ge=1, le=30)
    """Labelled days (within the last 30) pooled into that kappa (the collect job's ``PEOPLE_KAPPA_DAYS``)."""
    flagged_rate_sigmas: float = Field(default=3.0, gt=0.0, le=20.0)
    """Alert when a day's flagged rate is more than this many standard deviations from the mean of the
    14 days before it."""

    @model_validator(mode="after")
    def _check(self) -> GcpAlertsConfig:
        p = Problems()
        hours = self.loader_no_success_hours
        p.check(
            hours is None or hours <= MAX_ABSENCE_HOURS,
            "loaderNoSuccessHours",
            f"{hours} h is longer than Cloud Monitoring watches a metric's absence (23.5 h): at most "
            f"{MAX_ABSENCE_HOURS}",
        )
        for key, values in (("emails", self.emails), ("notificationChannels", self.notification_channels)):
            seen: set[str] = set()
            for i, value in enumerate(values):
                p.check(value.lower() not in seen, f"{key}[{i}]", f"{value!r} is listed twice")
                seen.add(value.lower())
        p.raise_if_any()
        return self

    @property
    def notifies_anyone(self) -> bool:
        return bool(self.emails or self.notification_channels)
