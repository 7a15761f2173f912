"""The GCP half of the stack: an hourly Kafka -> GCS loader and a daily Vertex AI batch judge on Cloud
Run jobs, started by Cloud Scheduler, wired from the typed config."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from app.gcp_labels import label_value
from components.config import NAMESPACE, ConfigError, StackConfig
from components.config.gcp_schedules import ScheduleConfig
from components.gcp.accounts import ServiceAccounts
from components.gcp.alerts import Alerts
from components.gcp.bucket import HistoryBucket
from components.gcp.bucket_access import BucketAccess
from components.gcp.builders.alert_docs import DocContext
from components.gcp.builders.jobs import collect_env, job_template, judge_env, loader_env
from components.gcp.builders.log_metrics import log_metrics
from components.gcp.builders.names import STACK_LABEL, Names, default_bucket_name
from components.gcp.images import ContainerImages
from components.gcp.job import ScheduledJob
from components.gcp.kafka_credentials import KafkaCredentials
from components.gcp.services import ProjectServices

PREFIX = "gcp"
LOADER_IMAGE = "loader"
JUDGE_IMAGE = "batch-judge"
DOCKERFILES = {LOADER_IMAGE: "build/Dockerfile.loader", JUDGE_IMAGE: "build/Dockerfile.batch-job"}


def config_problems(cfg: StackConfig, default_project: str | None) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` an enabled GCP half finds beyond what the config model checks on its own:
    required keys, and the Kafka credentials (top-level secrets) agreeing with the security protocol.

    Missing credentials are a warning, not an error: a stack file in the repository can never hold
    them (a ``secure:`` value is encrypted with one stack's own key), so a fresh clone's plan must
    still render. The loader then stops at start with a message naming the missing variables."""
    g = cfg.gcp
    errors = [f"{NAMESPACE}:gcp.{key}: {msg}" for key, msg in g.missing(default_project=default_project)]
    warnings: list[str] = []
    has_user = cfg.kafka_sasl_username is not None
    has_password = cfg.kafka_sasl_password is not None
    if has_user != has_password:
        missing = "kafkaSaslPassword" if has_user else "kafkaSaslUsername"
        errors.append(
            f"{NAMESPACE}:{missing}: required with the other SASL credential "
            f"(pulumi config set --secret {missing} ...)"
        )
    elif g.kafka.uses_sasl and not has_user:
        warnings.append(
            f"{NAMESPACE}:kafkaSaslUsername: not set, but gcp.kafka.securityProtocol is "
            f"{g.kafka.security_protocol}: the interaction loader cannot log in to Kafka until you run "
            "`pulumi config set --secret kafkaSaslUsername ...` and `... --secret kafkaSaslPassword ...`"
        )
    elif not g.kafka.uses_sasl and has_user:
        errors.append(
            f"{NAMESPACE}:kafkaSaslUsername: SASL credentials are set but gcp.kafka.securityProtocol is "
            f"{g.kafka.security_protocol}; use SASL_SSL (or SASL_PLAINTEXT) or remove them"
        )
    if g.alerts.enabled and not g.alerts.notifies_anyone:
        warnings.append(
            f"{NAMESPACE}:gcp.alerts: the alert policies notify nobody (incidents only show in the Cloud "
            "console): set gcp.alerts.emails and/or gcp.alerts.notificationChannels, or enabled: false"
        )
    return errors, warnings


def judge_model_summary(model_id: str, location: str) -> str:
    """What the plan shows of the judge's model: its id, location and lifecycle, from the catalogue."""
    from app.batch_job.catalogue import lookup

    model = lookup(model_id)
    if model is None:  # the config check refuses it; this only keeps the summary total
        return f"{model_id} in {location}"
    return f"{model_id} in {location}: {model.retirement_text()} (catalogue read {model.read_on})"


def build_gcp(cfg: StackConfig) -> None:
    """Register the GCP half and export its outputs."""
    g = cfg.gcp
    default_project = pulumi.Config("gcp").get("project")
    errors, warnings = config_problems(cfg, default_project)
    if errors:
        raise ConfigError(errors)
    for warning in warnings:
        pulumi.log.warn(warning)
    project = g.project or default_project
    assert project is not None  # config_problems reports it otherwise
    region = g.region
    stack = pulumi.get_stack()
    names = Names(g.name_prefix)

    provider = gcp.Provider(
        f"{PREFIX}-provider",
        project=project,
        region=region,
        # A stack's name may hold what labels refuse (`Team.Dev`): GCP would refuse every labelled resource.
        default_labels={STACK_LABEL: label_value(stack), **g.labels},
    )
    opts = pulumi.ResourceOptions(providers={"gcp": provider})

    enabled: list[pulumi.Resource] = []
    if g.manage_services:
        enabled = [ProjectServices(f"{PREFIX}-services", project, opts=opts)]

    bucket = HistoryBucket(
        f"{PREFIX}-history",
        g.bucket,
        project=project,
        bucket_name=g.bucket.name or default_bucket_name(project, names.prefix),
        location=region,
        protect=g.deletion_protection,
        depends_on=enabled,
        opts=opts,
    )
    accounts = ServiceAccounts(f"{PREFIX}-accounts", names, project=project, depends_on=enabled, opts=opts)
    access = BucketAccess(
        f"{PREFIX}-bucket-access",
        project=project,
        bucket=bucket.name,
        members={key: accounts.members[key] for key in ("loader", "batch")},
        depends_on=enabled,
        opts=opts,
    )

    credentials = None
    if cfg.kafka_sasl_username is not None and cfg.kafka_sasl_password is not None:
        credentials = KafkaCredentials(
            f"{PREFIX}-kafka-credentials",
            names,
            project=project,
            username=cfg.kafka_sasl_username,
            password=cfg.kafka_sasl_password,
            reader_member=accounts.members["loader"],
            depends_on=enabled,
            opts=opts,
        )

    to_build = {
        image: dockerfile
        for image, dockerfile in DOCKERFILES.items()
        if (g.jobs.loader.image if image == LOADER_IMAGE else g.jobs.judge.image) is None
    }
    images = None
    if to_build:
        images = ContainerImages(
            f"{PREFIX}-images",
            g.images,
            repository_id=names.repository(g.images.repository_id),
            project=project,
            location=region,
            dockerfiles=to_build,
            tag=stack,
            depends_on=enabled,
            opts=opts,
        )

    def image_for(image: str, configured: str | None) -> pulumi.Input[str]:
        if configured is not None:
            return configured
        assert images is not None
        return images.refs[image]

    loader_template = job_template(
        container_name="interaction-loader",
        image=image_for(LOADER_IMAGE, g.jobs.loader.image),
        service_account=accounts.emails["loader"],
        env=loader_env(
            project=project,
            bucket=bucket.name,
            kafka=g.kafka,
            username=credentials.username if credentials else None,
            password=credentials.password if credentials else None,
            job=g.jobs.loader,
        ),
        job=g.jobs.loader,
        task_count=g.jobs.loader.task_count,
        parallelism=g.jobs.loader.parallelism,
        network=g.jobs.loader.network,
    )

    def scheduled(
        key: str,
        *,
        job_name: str,
        schedule_name: str,
        template: gcp.cloudrunv2.JobTemplateArgsDict,
        schedule: ScheduleConfig,
        description: str,
        depends_on: list[pulumi.Resource],
    ) -> ScheduledJob:
        """A Cloud Run job and its scheduler: what differs per job is passed, the rest is shared."""
        return ScheduledJob(
            f"{PREFIX}-{key}",
            project=project,
            region=region,
            job_name=job_name,
            schedule_name=schedule_name,
            template=template,
            deletion_protection=g.deletion_protection,
            schedule=schedule,
            schedules=g.schedules,
            invoker_email=accounts.emails["invoker"],
            invoker_member=accounts.members["invoker"],
            description=description,
            depends_on=depends_on,
            opts=opts,
        )

    loader = scheduled(
        "loader",
        job_name=names.loader_job,
        schedule_name=names.loader_schedule,
        template=loader_template,
        schedule=g.schedules.loader,
        description="Kafka raw-interactions -> GCS raw/ (interaction-loader)",
        # Cloud Run checks at deploy time that the job's account may read the secrets it references.
        depends_on=[*enabled, *(credentials.bindings if credentials else [])],
    )
    judge_image = image_for(JUDGE_IMAGE, g.jobs.judge.image)
    judge_environment = judge_env(project=project, bucket=bucket.name, job=g.jobs.judge, stack=stack)
    judge = scheduled(
        "judge",
        job_name=names.judge_job,
        schedule_name=names.judge_schedule,
        template=job_template(
            container_name="llm-judge-trigger",
            image=judge_image,
            service_account=accounts.emails["batch"],
            env=judge_environment,
            job=g.jobs.judge,
        ),
        schedule=g.schedules.judge,
        description="GCS raw/ -> Vertex AI batch judge -> judgements/ (llm-judge-trigger)",
        depends_on=enabled,
    )

    collect = None
    if g.jobs.collect.enabled:
        # The judge's image, account and environment (plus the review sample's settings); only the
        # arguments and sizes differ.
        collect = scheduled(
            "collect",
            job_name=names.collect_job,
            schedule_name=names.collect_schedule,
            template=job_template(
                container_name="llm-judge-collect",
                image=judge_image,
                service_account=accounts.emails["batch"],
                env=collect_env(judge_environment, g.jobs.collect, g.alerts),
                job=g.jobs.collect,
            ),
            schedule=g.schedules.collect,
            description="Vertex AI predictions in batch/ -> judgements/ (llm-judge-collect)",
            depends_on=enabled,
        )

    alerts = None
    if g.alerts.enabled:
        collect_job = names.collect_job if collect is not None else None
        schedules = (names.loader_schedule, names.judge_schedule)
        if collect is not None:
            schedules += (names.collect_schedule,)
        alerts = Alerts(
            f"{PREFIX}-alerts",
            g.alerts,
            project=project,
            metrics=log_metrics(names, g.alerts, loader_job=names.loader_job, collect_job=collect_job),
            context=DocContext(
                stack=stack,
                project=project,
                region=region,
                loader_job=names.loader_job,
                judge_job=names.judge_job,
                collect_job=collect_job,
                schedules=schedules,
                runbook_base_url=g.alerts.runbook_base_url,
            ),
            loader_no_success_hours=g.loader_no_success_hours,
            depends_on=enabled,
            opts=opts,
        )

    pulumi.export("gcp_project", project)
    pulumi.export("gcp_bucket_name", bucket.name)
    pulumi.export("gcp_bucket_url", bucket.url)
    pulumi.export("gcp_loader_job_name", loader.job_name)
    pulumi.export("gcp_judge_job_name", judge.job_name)
    pulumi.export("gcp_loader_schedule_name", loader.schedule_name)
    pulumi.export("gcp_judge_schedule_name", judge.schedule_name)
    pulumi.export("gcp_judge_model", judge_model_summary(g.jobs.judge.model_id, g.jobs.judge.location))
    if collect is not None:
        pulumi.export("gcp_collect_job_name", collect.job_name)
        pulumi.export("gcp_collect_schedule_name", collect.schedule_name)
    pulumi.export("gcp_loader_service_account", accounts.emails["loader"])
    pulumi.export("gcp_batch_service_account", accounts.emails["batch"])
    pulumi.export("gcp_invoker_service_account", accounts.emails["invoker"])
    pulumi.export("gcp_vertex_agent_member", access.vertex_agent_member)
    pulumi.export("gcp_loader_image", image_for(LOADER_IMAGE, g.jobs.loader.image))
    pulumi.export("gcp_judge_image", judge_image)
    if credentials is not None:
        pulumi.export("gcp_kafka_secret_ids", credentials.secret_ids)
    if alerts is not None:
        pulumi.export("gcp_alert_policies", alerts.policies)
        pulumi.export("gcp_notification_channels", alerts.channels)
