"""``jobs.loader``: the hourly Kafka -> GCS ``interaction-loader``: tasks and parallelism, Direct VPC
egress to brokers on a private network, the environment the stack sets, and
``loader_overlap_problem``, the check that one execution ends before the schedule starts the next."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern
from .gcp_jobs import MAX_TASK_TIMEOUT_SECONDS, JobConfig
from .schedules import shortest_gap_seconds

# Names the stack sets itself; ``extraEnv`` may not override them.
LOADER_ENV = (
    "GCP_PROJECT_ID",
    "GCS_BUCKET_NAME",
    "KAFKA_BROKERS",
    "KAFKA_TOPIC",
    "KAFKA_CONSUMER_GROUP",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
)

_NETWORK = re.compile(
    r"^(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/networks/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
)
_SUBNETWORK = re.compile(
    r"^(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/regions/(?P<region>[a-z]+-[a-z]+[0-9]+)/subnetworks/)?"
    r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
)
_NETWORK_TAG = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")

NetworkName = Annotated[
    str, AfterValidator(pattern(_NETWORK, "a VPC network name or projects/PROJECT/global/networks/NAME"))
]
SubnetworkName = Annotated[
    str,
    AfterValidator(
        pattern(_SUBNETWORK, "a subnetwork name or projects/PROJECT/regions/REGION/subnetworks/NAME")
    ),
]
NetworkTag = Annotated[
    str, AfterValidator(pattern(_NETWORK_TAG, "a network tag (a-z 0-9 -, 1-63 characters)"))
]

# With Direct VPC egress a task's first connection can take "a minute or more" (Cloud Run's Direct
# VPC egress limitations); the loader's default wait of 60 s for an assigned partition would end such
# a run (exit 3) before it ever reached the brokers. The stack sets this instead; extraEnv can still
# set it.
VPC_IDLE_EXIT_ENV = "LOADER_IDLE_EXIT_SECONDS"
VPC_IDLE_EXIT_SECONDS = 180


class VpcEgressConfig(ConfigModel):
    """``jobs.loader.network``: Direct VPC egress, so the loader reaches brokers on private addresses.

    The job gets an interface in ``subnetwork`` (Cloud Run takes its IPs from that subnet) and sends
    the traffic ``egress`` selects through the VPC; DNS names of the brokers must resolve there (a
    Cloud DNS private zone bound to the network). The brokers' firewall admits the subnet's IP range,
    never the loader's tags (docs/gcp.md)."""

    network: NetworkName | None = None
    """VPC network. None: the subnetwork's network."""
    subnetwork: SubnetworkName | None = None
    """Subnetwork in the stack's region (a Shared VPC subnet by its full name). None: the subnet named
    like the network."""
    egress: Literal["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"] = "PRIVATE_RANGES_ONLY"
    """What goes through the VPC: private (RFC 1918) destinations only, or everything (then Google
    APIs and the internet need Private Google Access or Cloud NAT on the subnet)."""
    tags: list[NetworkTag] = Field(default_factory=list)
    """Network tags on the loader's interface, for egress firewall rules of the VPC that target it. Not for
    the brokers' ingress rule: Cloud Run does not support its network tags as an ingress rule's source,
    so that rule admits the subnet's IP range (docs/gcp.md)."""

    @property
    def subnetwork_region(self) -> str | None:
        match = _SUBNETWORK.match(self.subnetwork or "")
        return match.group("region") if match else None

    @model_validator(mode="after")
    def _check(self) -> VpcEgressConfig:
        p = Problems()
        p.check(
            self.network is not None or self.subnetwork is not None,
            "subnetwork",
            "set network, subnetwork or both (Direct VPC egress needs one of them)",
        )
        p.check(len(set(self.tags)) == len(self.tags), "tags", "lists a tag twice")
        p.raise_if_any()
        return self


class LoaderJobConfig(JobConfig):
    """``jobs.loader``: the hourly Kafka -> GCS ``interaction-loader``."""

    timeout_seconds: int = Field(default=1500, ge=10, le=MAX_TASK_TIMEOUT_SECONDS)
    """Task timeout of one attempt. Cloud Run applies it per attempt, so a task may run
    ``timeoutSeconds x (maxRetries + 1)``; that must end before the next scheduled run (checked)."""
    task_count: int = Field(default=1, ge=1, le=10000)
    """Tasks per execution: each is one consumer of the group, so up to the topic's partition count."""
    parallelism: int | None = Field(default=None, ge=1, le=10000)
    """Tasks running at once. None: all of them."""
    network: VpcEgressConfig | None = None
    """Direct VPC egress for brokers on a private network. None: the loader reaches Kafka over the
    internet (TLS)."""

    @property
    def waves(self) -> int:
        """How many rounds of tasks one execution runs (``taskCount`` over ``parallelism``)."""
        return -(-self.task_count // (self.parallelism or self.task_count))

    @property
    def longest_execution_seconds(self) -> int:
        """The longest one execution can run: every wave of tasks using every attempt to the timeout."""
        return self.timeout_seconds * (self.max_retries + 1) * self.waves

    @model_validator(mode="after")
    def _check(self) -> LoaderJobConfig:
        p = Problems()
        if self.parallelism is not None:
            p.check(
                self.parallelism <= self.task_count,
                "parallelism",
                f"{self.parallelism} is greater than taskCount {self.task_count}",
            )
        for i, name in enumerate(self.extra_env):
            p.check(name not in LOADER_ENV, f"extraEnv.{name}", f"is set by the stack (entry {i}); remove it")
        # A value the loader refuses would fail every run at start (exit 2): say so before deploying.
        from app.loader.settings import environment_problems

        env = dict(self.extra_env)
        if self.network is not None:
            env.setdefault(VPC_IDLE_EXIT_ENV, str(VPC_IDLE_EXIT_SECONDS))
        for problem in environment_problems(env):
            p.check(False, "extraEnv", f"the loader would refuse this at start: {problem}")
        p.raise_if_any()
        return self


def loader_overlap_problem(job: LoaderJobConfig, cron: str, time_zone: str) -> str | None:
    """Why an execution of the loader could still run when the schedule starts the next one, or None.

    Cloud Run's task timeout holds per attempt, so a task may run ``timeout x (maxRetries + 1)``, and
    with ``parallelism`` below ``taskCount`` the tasks run in waves. Two executions of one consumer
    group at once would rebalance each other's partitions. The timeout is the knob that gives: the
    message names the longest timeout that fits with the configured retries."""
    gap = shortest_gap_seconds(cron, time_zone)
    longest = job.longest_execution_seconds
    if longest < gap:
        return None
    attempts = job.max_retries + 1
    per_timeout = attempts * job.waves
    waves = f" x {job.waves} waves of tasks (taskCount {job.task_count}, parallelism {job.parallelism})"
    fits = (gap - 1) // per_timeout
    fix = (
        f"lower timeoutSeconds to at most {fits} (the timeout gives; the retries are kept)"
        if fits >= 10
        else "lower jobs.loader.maxRetries (no timeout of 10 s or more fits with these retries)"
    )
    return (
        f"{job.timeout_seconds}s x {attempts} attempt(s) (maxRetries {job.max_retries})"
        f"{waves if job.waves > 1 else ''} = {longest}s is not shorter than the {gap}s between runs of "
        "schedules.loader.cron (Cloud Run's timeout holds per attempt): a retried task would still "
        f"consume when the next execution starts in the same consumer group; {fix}"
    )
