"""``llm-judge:gcp``, the root of the GCP half's config: the sections it is made of, and the checks
that span them (the loader's timeout against its schedule, the subnet against the region, the alert
windows against the schedules).

Each section lives in a module of its own (the README's layout table lists them): gcp_bucket.py,
gcp_kafka.py, gcp_jobs.py with gcp_loader_job.py and gcp_judge_job.py, gcp_schedules.py,
gcp_images.py and gcp_alerts.py, on top of the shared rules in gcp_names.py. Every value the seed
hard-coded (job names, the Kafka topic and consumer group, the Vertex model, the cron schedules) lives
in them with its default, its bounds and its documentation. Keys the program cannot work without
(``project``, ``kafka.brokers``) may be left out of a stack that switches the GCP half off, so they
are checked by ``GcpConfig.missing()`` when the half is built, not when the config loads.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern
from .gcp_alerts import ABSENCE_SLACK_SECONDS, MAX_ABSENCE_HOURS, GcpAlertsConfig
from .gcp_bucket import BucketConfig
from .gcp_images import ImagesConfig
from .gcp_judge_job import CollectJobConfig, JudgeJobConfig
from .gcp_kafka import KafkaConfig
from .gcp_loader_job import LoaderJobConfig, loader_overlap_problem
from .gcp_names import GcpLabels, ProjectId, Region
from .gcp_schedules import SchedulesConfig
from .schedules import collect_day_mismatch, longest_gap_seconds, lookback_days

_NAME_PREFIX = re.compile(r"^([a-z][a-z0-9-]{0,13}-)?$")


class JobsConfig(ConfigModel):
    loader: LoaderJobConfig = Field(default_factory=LoaderJobConfig)
    judge: JudgeJobConfig = Field(default_factory=JudgeJobConfig)
    collect: CollectJobConfig = Field(default_factory=CollectJobConfig)


class GcpConfig(ConfigModel):
    """``llm-judge:gcp``. Set ``enabled: false`` to leave the GCP half out of a stack."""

    enabled: bool = True
    project: ProjectId | None = None
    """GCP project of every resource. None: the stack's ``gcp:project``."""
    region: Region = "us-central1"
    """Region of the Cloud Run jobs, schedulers, Artifact Registry and (by default) the bucket."""
    name_prefix: Annotated[
        str, AfterValidator(pattern(_NAME_PREFIX, "'' or up to 15 of a-z 0-9 - ending in '-', e.g. 'dev-'"))
    ] = ""
    """Prefix of every named GCP resource (jobs, schedulers, service accounts, secrets), so two stacks
    can share one project. Empty: the seed's names (``interaction-loader``, ``loader-sa``, ...)."""
    labels: GcpLabels = Field(default_factory=dict)
    """Labels for every GCP resource (the stack adds ``llm-judge-stack: <stack>``)."""
    deletion_protection: bool = True
    """Cloud Run jobs refuse deletion and the created bucket is ``protect``-ed in Pulumi. Off in dev."""
    manage_services: bool = True
    """Enable the APIs the stack needs (never disabled on destroy). False: an admin enables them."""
    bucket: BucketConfig = Field(default_factory=BucketConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    schedules: SchedulesConfig = Field(default_factory=SchedulesConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    alerts: GcpAlertsConfig = Field(default_factory=GcpAlertsConfig)

    @model_validator(mode="after")
    def _check(self) -> GcpConfig:
        p = Problems()
        problem = loader_overlap_problem(
            self.jobs.loader, self.schedules.loader.cron, self.schedules.time_zone
        )
        p.check(problem is None, "jobs.loader.timeoutSeconds", problem or "")
        network = self.jobs.loader.network
        if network is not None and network.subnetwork_region not in (None, self.region):
            p.add(
                "jobs.loader.network.subnetwork",
                f"is in {network.subnetwork_region}, but the jobs run in region {self.region}: Direct VPC "
                "egress needs a subnet in the job's region",
            )
        repository = self.name_prefix + self.images.repository_id
        p.check(
            len(repository) <= 63,
            "images.repositoryId",
            f"with namePrefix {self.name_prefix!r} the repository id {repository!r} is longer than the 63 "
            "characters Artifact Registry allows",
        )
        if self.jobs.collect.enabled:
            mismatch = collect_day_mismatch(
                self.schedules.judge.cron, self.schedules.collect.cron, self.schedules.time_zone
            )
            p.check(mismatch is None, "schedules.collect.cron", mismatch or "")
        if self.alerts.enabled:
            self._check_alert_windows(p)
        p.raise_if_any()
        return self

    def loader_quiet_seconds(self) -> int:
        """The longest a healthy loader goes without a completed run: a run's summary is logged when it
        ends, so two of them can be the longest schedule gap plus a whole run apart, and a run that
        needed its retries still succeeded (Cloud Run's timeout holds per attempt)."""
        longest = longest_gap_seconds(self.schedules.loader.cron, self.schedules.time_zone)
        return longest + self.jobs.loader.longest_execution_seconds

    @property
    def loader_no_success_hours(self) -> int:
        """``alerts.loaderNoSuccessHours``, or the shortest whole number of hours at least
        ``ABSENCE_SLACK_SECONDS`` above the quiet time."""
        configured = self.alerts.loader_no_success_hours
        if configured is not None:
            return configured
        return -(-(self.loader_quiet_seconds() + ABSENCE_SLACK_SECONDS) // 3600)

    def _check_alert_windows(self, p: Problems) -> None:
        """An alert window must be wider than what a healthy pipeline can show, and narrower than what
        its signal can see."""
        alerts = self.alerts
        quiet = self.loader_quiet_seconds()
        hours = self.loader_no_success_hours
        why = (
            "the longest gap of schedules.loader.cron plus the longest run, jobs.loader.timeoutSeconds x "
            "attempts"
        )
        if alerts.loader_no_success_hours is not None:
            slack = hours * 3600 - quiet
            p.check(
                slack >= ABSENCE_SLACK_SECONDS,
                "alerts.loaderNoSuccessHours",
                f"{hours} h leaves {slack} s over {quiet} s, the longest a healthy loader goes without a "
                f"completed run ({why}); it needs at least {ABSENCE_SLACK_SECONDS} s more (a summary reaches "
                "the metric minutes after the run ends), or it would fire between healthy runs. Raise it, "
                "lower jobs.loader.timeoutSeconds, or leave it out to have it derived",
            )
        else:
            p.check(
                hours <= MAX_ABSENCE_HOURS,
                "alerts.loaderNoSuccessHours",
                f"a healthy loader can go {quiet} s without a completed run ({why}); with "
                f"{ABSENCE_SLACK_SECONDS} s of slack that is longer than the {MAX_ABSENCE_HOURS} h a "
                "metric-absence condition can watch: run the loader more often (the topic's retention is its "
                "real budget)",
            )
        if self.jobs.collect.enabled:
            lookback = lookback_days(self.jobs.collect.args)
            p.check(
                alerts.uncollected_days < lookback,
                "alerts.uncollectedDays",
                f"{alerts.uncollected_days} is not below the {lookback} day(s) collect looks back "
                f"(jobs.collect.args {self.jobs.collect.args}): a day leaves collect's window before it "
                "is old enough to alert on. Lower it or raise --lookback",
            )

    def missing(self, *, default_project: str | None) -> list[tuple[str, str]]:
        """Keys an enabled GCP half needs that the config leaves out, as ``(relative key, message)``."""
        out: list[tuple[str, str]] = []
        if self.project is None and not default_project:
            out.append(("project", "required: the GCP project to deploy to (or set gcp:project)"))
        if not self.kafka.brokers:
            out.append(("kafka.brokers", "required: at least one HOST:PORT bootstrap broker"))
        return out
