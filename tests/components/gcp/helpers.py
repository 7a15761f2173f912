"""Render the GCP half offline, from a stack file's ``llm-judge:gcp`` block with test overrides."""

from __future__ import annotations

from typing import Any

from tests.support.stack_files import merged, stack_block
from tools.plan_runtime import Plan, PlannedResource, render

SASL_USER = "judge-loader-user"
SASL_PASSWORD = "kafka-pw-7f3a9c1e-do-not-leak"
CREDENTIALS = {"kafkaSaslUsername": SASL_USER, "kafkaSaslPassword": SASL_PASSWORD}

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
SERVICE = "gcp:projects/service:Service"
SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
IMAGE = "docker-build:index:Image"
RUN_JOB = "gcp:cloudrunv2/job:Job"
RUN_JOB_IAM = "gcp:cloudrunv2/jobIamMember:JobIamMember"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
IAM_TYPES = (BUCKET_IAM, PROJECT_IAM, SECRET_IAM, RUN_JOB_IAM)


def gcp_block(stack: str) -> dict[str, Any]:
    return stack_block(stack, "gcp")


def render_gcp(stack: str = "dev", overrides: dict[str, Any] | None = None, **top: Any) -> Plan:
    """The GCP half of ``stack`` (AWS switched off so only GCP resources appear); ``top`` holds
    top-level keys such as the Kafka credentials (``CREDENTIALS``)."""
    config = {"gcp": merged(gcp_block(stack), overrides or {}), "aws": {"enabled": False}, **top}
    return render(stack, config)


def in_component(plan: Plan, type_token: str, component: str) -> list[PlannedResource]:
    """Resources of ``type_token`` whose parent is the component named ``component``."""
    parents = {r.urn for r in plan.resources if r.name == component}
    return [r for r in plan.of_type(type_token) if r.parent in parents]


def job(plan: Plan, which: str) -> PlannedResource:
    return plan.one(RUN_JOB, f"gcp-{which}-job")


def schedule(plan: Plan, which: str) -> PlannedResource:
    return plan.one(SCHEDULER_JOB, f"gcp-{which}-schedule")


def container(plan: Plan, which: str) -> dict[str, Any]:
    containers = job(plan, which).inputs["template"]["template"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env(plan: Plan, which: str) -> dict[str, Any]:
    """Env name -> plain value, or the ``valueSource`` dict of a secret reference."""
    out: dict[str, Any] = {}
    for item in container(plan, which)["envs"]:
        assert item["name"] not in out, f"{which}: {item['name']} set twice"
        out[item["name"]] = item.get("value", item.get("valueSource"))
    return out
