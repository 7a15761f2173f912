"""The two Cloud Run jobs' containers: the seed's environment, secrets by reference, resources, retries.

Values that come from other resources (bucket name, image, service account email, secret version)
may be Outputs: they are placed as leaves, so ``pulumi preview`` still shows every other field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from components.config.gcp_alerts import GcpAlertsConfig
from components.config.gcp_jobs import JobConfig
from components.config.gcp_judge_job import CollectJobConfig, JudgeJobConfig
from components.config.gcp_kafka import KafkaConfig
from components.config.gcp_loader_job import (
    VPC_IDLE_EXIT_ENV,
    VPC_IDLE_EXIT_SECONDS,
    LoaderJobConfig,
    VpcEgressConfig,
)

from .scheduler import seconds

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.cloudrunv2 import (
        JobTemplateArgsDict,
        JobTemplateTemplateArgsDict,
        JobTemplateTemplateContainerArgsDict,
        JobTemplateTemplateContainerEnvArgsDict,
        JobTemplateTemplateVpcAccessArgsDict,
        JobTemplateTemplateVpcAccessNetworkInterfaceArgsDict,
    )


@dataclass(frozen=True)
class SecretRef:
    """A Secret Manager secret version, injected as an environment variable when the task starts."""

    secret: pulumi.Input[str]
    """The secret's id (same project) or full name."""
    version: pulumi.Input[str]
    """A pinned version number: a new credential is a new version, so the job changes with it."""


def plain(name: str, value: pulumi.Input[str]) -> JobTemplateTemplateContainerEnvArgsDict:
    return {"name": name, "value": value}


def from_secret(name: str, ref: SecretRef) -> JobTemplateTemplateContainerEnvArgsDict:
    return {"name": name, "value_source": {"secret_key_ref": {"secret": ref.secret, "version": ref.version}}}


def loader_env(
    *,
    project: pulumi.Input[str],
    bucket: pulumi.Input[str],
    kafka: KafkaConfig,
    username: SecretRef | None,
    password: SecretRef | None,
    job: LoaderJobConfig,
) -> list[JobTemplateTemplateContainerEnvArgsDict]:
    """The seed's five variables, the Kafka security settings, the SASL credentials from Secret
    Manager (never as plain values), then ``extraEnv``."""
    env = [
        plain("GCP_PROJECT_ID", project),
        plain("GCS_BUCKET_NAME", bucket),
        plain("KAFKA_BROKERS", ",".join(kafka.brokers)),
        plain("KAFKA_TOPIC", kafka.topic),
        plain("KAFKA_CONSUMER_GROUP", kafka.consumer_group),
        plain("KAFKA_SECURITY_PROTOCOL", kafka.security_protocol),
    ]
    if kafka.mechanism is not None:
        env.append(plain("KAFKA_SASL_MECHANISM", kafka.mechanism))
    if (username is None) != (password is None):
        raise ValueError("the SASL username and password go together")
    if username is not None and password is not None:
        env.append(from_secret("KAFKA_SASL_USERNAME", username))
        env.append(from_secret("KAFKA_SASL_PASSWORD", password))
    # With Direct VPC egress the first connection can take a minute or more (config/gcp_loader_job.py).
    if job.network is not None and VPC_IDLE_EXIT_ENV not in job.extra_env:
        env.append(plain(VPC_IDLE_EXIT_ENV, str(VPC_IDLE_EXIT_SECONDS)))
    env.extend(plain(k, v) for k, v in sorted(job.extra_env.items()))
    return env


def vpc_access(network: VpcEgressConfig) -> JobTemplateTemplateVpcAccessArgsDict:
    """``template.template.vpc_access`` of a job with Direct VPC egress (one interface, no connector)."""
    interface: JobTemplateTemplateVpcAccessNetworkInterfaceArgsDict = {}
    if network.network is not None:
        interface["network"] = network.network
    if network.subnetwork is not None:
        interface["subnetwork"] = network.subnetwork
    if network.tags:
        interface["tags"] = list(network.tags)
    return {"egress": network.egress, "network_interfaces": [interface]}


def judge_env(
    *, project: pulumi.Input[str], bucket: pulumi.Input[str], job: JudgeJobConfig, stack: str
) -> list[JobTemplateTemplateContainerEnvArgsDict]:
    """The seed's six variables; the input and the output are the same bucket (raw/ in, batch/ and
    judgements/ out). ``LLM_JUDGE_STACK``: the one billing label of every Vertex AI request."""
    env = [
        plain("GCP_PROJECT", project),
        plain("GCP_LOCATION", job.location),
        plain("INPUT_BUCKET", bucket),
        plain("OUTPUT_BUCKET", bucket),
        plain("MODEL_ID", job.model_id),
        plain("PROMPT_PATH", job.prompt_path),
        plain("LLM_JUDGE_STACK", stack),
    ]
    env.extend(plain(k, v) for k, v in sorted(job.extra_env.items()))
    return env


def collect_env(
    judge: list[JobTemplateTemplateContainerEnvArgsDict], job: CollectJobConfig, alerts: GcpAlertsConfig
) -> list[JobTemplateTemplateContainerEnvArgsDict]:
    """The judge's environment, and what collect's review sample and report read: the sample's sizes,
    the fewest labels a kappa against people is shown for, and the labelled days pooled into the kappa
    the drift alert compares (alerts.peopleKappaDays: the app computes the number the alert reads)."""
    review = job.review
    return [
        *judge,
        plain("REVIEW_PER_STRATUM", str(review.per_stratum)),
        plain("REVIEW_RANDOM_SLICE", str(review.random_slice)),
        plain("PEOPLE_MIN_LABELS", str(review.min_labels)),
        plain("PEOPLE_KAPPA_DAYS", str(alerts.people_kappa_days)),
    ]


def job_template(
    *,
    container_name: str,
    image: pulumi.Input[str],
    service_account: pulumi.Input[str],
    env: list[JobTemplateTemplateContainerEnvArgsDict],
    job: JobConfig | CollectJobConfig,
    task_count: int = 1,
    parallelism: int | None = None,
    network: VpcEgressConfig | None = None,
) -> JobTemplateArgsDict:
    """``template`` of a ``gcp.cloudrunv2.Job``."""
    container: JobTemplateTemplateContainerArgsDict = {
        "name": container_name,
        "image": image,
        "envs": env,
        "resources": {"limits": {"cpu": job.resources.cpu, "memory": job.resources.memory}},
    }
    if job.args is not None:
        container["args"] = list(job.args)
    task: JobTemplateTemplateArgsDict = {
        "service_account": service_account,
        "timeout": seconds(job.timeout_seconds),
        "max_retries": job.max_retries,
        "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
        "containers": [container],
    }
    if network is not None:
        task["vpc_access"] = vpc_access(network)
    template: JobTemplateArgsDict = {"task_count": task_count, "template": task}
    if parallelism is not None:
        template["parallelism"] = parallelism
    return template
