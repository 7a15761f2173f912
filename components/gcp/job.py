"""One scheduled Cloud Run job: the job, the invoker's right to run it, and its Cloud Scheduler trigger."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.config.gcp_schedules import ScheduleConfig, SchedulesConfig

from .builders.iam import RUN_INVOKER
from .builders.scheduler import http_target, retry_config, run_uri, seconds

TYPE = "llm-judge:gcp:ScheduledJob"


class ScheduledJob(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    schedule_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project: str,
        region: str,
        job_name: str,
        schedule_name: str,
        template: gcp.cloudrunv2.JobTemplateArgsDict,
        deletion_protection: bool,
        schedule: ScheduleConfig,
        schedules: SchedulesConfig,
        invoker_email: pulumi.Input[str],
        invoker_member: pulumi.Input[str],
        description: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        job = gcp.cloudrunv2.Job(
            f"{name}-job",
            name=job_name,
            project=project,
            location=region,
            deletion_protection=deletion_protection,
            template=template,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
        invoker = gcp.cloudrunv2.JobIamMember(
            f"{name}-invoker",
            project=project,
            location=region,
            name=job.name,
            role=RUN_INVOKER,
            member=invoker_member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        target = pulumi.Output.all(job.name, invoker_email).apply(
            lambda v: http_target(run_uri(project, region, v[0]), v[1])
        )
        trigger = gcp.cloudscheduler.Job(
            f"{name}-schedule",
            name=schedule_name,
            project=project,
            region=region,
            description=description,
            schedule=schedule.cron,
            time_zone=schedules.time_zone,
            paused=schedule.paused,
            attempt_deadline=seconds(schedules.attempt_deadline_seconds),
            retry_config=retry_config(schedules.retry),
            http_target=target,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoker]),
        )
        self.job_name = job.name
        self.schedule_name = trigger.name
        self.register_outputs({"job_name": self.job_name, "schedule_name": self.schedule_name})
