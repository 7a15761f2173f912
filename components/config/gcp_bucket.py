"""The GCP half of the stack config: bucket, service accounts, Cloud Run Jobs and schedulers.

Every value the seed hard-coded (job names, the Kafka topic and consumer group, the Vertex model, the
cron schedules) lives here with its default, its bounds and its documentation. Keys the program cannot
work without (``project``, ``kafka.brokers``) may be left out of a stack that switches the GCP half
off, so they are checked by ``GcpConfig.missing()`` when the half is built, not when the config loads.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern
from .gcp_alerts import MAX_ABSENCE_HOURS, GcpAlertsConfig
from .schedules import (
    collect_day_mismatch,
    cron_problem,
    longest_gap_seconds,
    lookback_days,
    shortest_gap_seconds,
)

# --- GCP name rules -----------------------------------------------------------------------------

_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$")
_NAME_PREFIX = re.compile(r"^([a-z][a-z0-9-]{0,13}-)?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
# The image's working directory holds the repository's prompts/ (build/Dockerfile.batch-job).
REPO_ROOT = Path(__file__).resolve().parents[2]
_REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KAFKA_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_BROKER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$")
_MEMORY = re.compile(r"^([0-9]+)(Mi|Gi)$")
_DIGEST_REF = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$")
_TAG_REF = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")

# Cloud Run jobs: CPU values and the most memory each allows (gen2 execution environment).
CPU_MAX_MEMORY_MIB = {"1": 4096, "2": 8192, "4": 16384, "6": 24576, "8": 32768}
CPU_MIN_MEMORY_MIB = {"1": 512, "2": 512, "4": 2048, "6": 4096, "8": 4096}
MAX_TASK_TIMEOUT_SECONDS = 7 * 24 * 3600

DEFAULT_LOADER_CRON = "0 * * * *"
DEFAULT_JUDGE_CRON = "0 2 * * *"
DEFAULT_COLLECT_CRON = "0 23 * * *"
DEFAULT_MODEL_ID = "publishers/google/models/gemini-2.5-flash"
DEFAULT_PROMPT_PATH = "prompts/security-judge.prompt.yml"

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
JUDGE_ENV = ("GCP_PROJECT", "GCP_LOCATION", "INPUT_BUCKET", "OUTPUT_BUCKET", "MODEL_ID", "PROMPT_PATH")


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be a tz database name such as 'UTC' or 'Europe/Berlin'") from None
    return value


def _bucket_name(value: str) -> str:
    if not _BUCKET.match(value) or value.startswith("goog") or ".." in value:
        raise ValueError(
            "must be a bucket name: 3-63 of a-z 0-9 . _ -, starting and ending with a letter or digit"
        )
    return value


def _image_ref(value: str) -> str:
    if _DIGEST_REF.match(value):
        return value
    tag = _TAG_REF.match(value)
    if tag and tag.group(3) != "latest":
        return value
    raise ValueError(
        "must be an image pinned by digest (REGISTRY/PATH@sha256:...) or by a tag other than 'latest' "
        "(REGISTRY/PATH:TAG)"
    )


def _labels(value: dict[str, str]) -> dict[str, str]:
    bad = [k for k in value if not _LABEL_KEY.match(k)] + [
        f"{k}={v}" for k, v in value.items() if not _LABEL_VALUE.match(v)
    ]
    if bad:
        raise ValueError(
            f"GCP labels are lower-case letters, digits, '_' and '-' (keys start with a letter): {bad}"
        )
    return value


ProjectId = Annotated[
    str, AfterValidator(pattern(_PROJECT_ID, "a GCP project id: 6-30 of a-z 0-9 -, starting with a letter"))
]
Region = Annotated[str, AfterValidator(pattern(_REGION, "a GCP region such as 'us-central1'"))]
Cron = Annotated[str, AfterValidator(_cron)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
BucketName = Annotated[str, AfterValidator(_bucket_name)]
ObjectPrefix = Annotated[
    str, AfterValidator(pattern(_PREFIX, "an object name prefix ending in '/', such as 'raw/'"))
]
ImageRef = Annotated[str, AfterValidator(_image_ref)]
GcpLabels = Annotated[dict[str, str], AfterValidator(_labels)]
Broker = Annotated[str, AfterValidator(pattern(_BROKER, "HOST:PORT"))]
EnvName = Annotated[str, AfterValidator(pattern(_ENV_NAME, "an environment variable name"))]


def memory_mib(value: str) -> int:
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(value)
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


def _memory(value: str) -> str:
    if not _MEMORY.match(value):
        raise ValueError("must be a whole number of Mi or Gi, such as '512Mi' or '2Gi'")
    return value


Memory = Annotated[str, AfterValidator(_memory)]


# --- sections -----------------------------------------------------------------------------------


class LifecycleRule(ConfigModel):
    """Delete objects under ``prefix`` once they are ``deleteAfterDays`` old."""

    prefix: ObjectPrefix
    delete_after_days: int = Field(ge=1, le=36500)


def _default_lifecycle() -> list[LifecycleRule]:
    return [
        LifecycleRule(prefix="raw/", delete_after_days=90),
        LifecycleRule(prefix="batch/", delete_after_days=30),
        LifecycleRule(prefix="deadletter/", delete_after_days=30),
        # The loader's chunk manifests: only needed while Kafka still holds their offsets, and as long
        # as the raw/ objects they describe (a re-read of old offsets then rebuilds identical objects).
        LifecycleRule(prefix="_loader/", delete_after_days=90),
    ]


# A prefix whose objects must outlive the daily judge: it reads yesterday's raw/ and Vertex may hold
# a queued batch job for up to 72 h before it reads batch/ and writes its output there.
PIPELINE_PREFIXES = ("raw/", "batch/")
MIN_PIPELINE_RETENTION_DAYS = 4


class BucketConfig(ConfigModel):
    """``bucket``: the conversation-history bucket (raw/, deadletter/, batch/, judgements/)."""

    name: BucketName | None = None
    """Name of the bucket the stack creates. None: ``<project>-llm-judge-history``."""
    existing_name: BucketName | None = None
    """Use this existing bucket instead of creating one. It must have uniform bucket-level access (the
    stack's prefix-scoped IAM conditions need it); its lifecycle stays as it is."""
    location: str | None = None
    """Bucket location (region or multi-region). None: the stack's ``region``, next to Vertex AI."""
    lifecycle: list[LifecycleRule] = Field(default_factory=_default_lifecycle)
    """Per-prefix retention of a created bucket."""
    versioning: bool = False
    """Object versioning. Off: raw/ objects are written once (create-only) and everything else can be
    rebuilt from raw/, so old versions would only cost money."""
    noncurrent_version_days: int = Field(default=7, ge=1, le=3650)
    """With versioning on: delete a replaced version after this many days."""
    force_destroy: bool = False
    """Let ``pulumi destroy`` delete a bucket that still holds objects (dev only)."""

    @model_validator(mode="after")
    def _check(self) -> BucketConfig:
        p = Problems()
        if self.existing_name is not None:
            p.check(self.name is None, "name", "set either name (create) or existingName (use), not both")
            for key in ("lifecycle", "versioning", "location", "force_destroy", "noncurrent_version_days"):
                if key in self.model_fields_set:
                    alias = type(self).model_fields[key].alias or key
                    p.add(alias, "only applies to a bucket the stack creates (existingName is set)")
        seen: set[str] = set()
        for i, rule in enumerate(self.lifecycle):
            p.check(rule.prefix not in seen, f"lifecycle[{i}].prefix", f"{rule.prefix!r} has two rules")
            seen.add(rule.prefix)
            if any(rule.prefix.startswith(x) or x.startswith(rule.prefix) for x in PIPELINE_PREFIXES):
                p.check(
                    rule.delete_after_days >= MIN_PIPELINE_RETENTION_DAYS,
                    f"lifecycle[{i}].deleteAfterDays",
                    f"{rule.delete_after_days} days is too short for {rule.prefix!r}: the daily judge reads "
                    f"yesterday's raw/ and Vertex AI may queue a batch for 72 h (at least "
                    f"{MIN_PIPELINE_RETENTION_DAYS} days)",
                )
        p.raise_if_any()
        return self


class KafkaConfig(ConfigModel):
    """``kafka``: where the interaction loader consumes from. SASL credentials are the top-level
    secrets ``llm-judge:kafkaSaslUsername`` / ``llm-judge:kafkaSaslPassword``."""

    brokers: list[Broker] = Field(default_factory=list)
    """Bootstrap brokers, HOST:PORT (required when the GCP half is enabled)."""
    topic: Annotated[str, AfterValidator(pattern(_KAFKA_TOPIC, "a Kafka topic name"))] = "raw-interactions"
    consumer_group: str = Field(default="gcs-loader-v1", min_length=1, max_length=255)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = "SCRAM-SHA-512"
    """SASL mechanism of a SASL_* protocol; must not be set with PLAINTEXT or SSL."""

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def mechanism(self) -> str | None:
        """The SASL mechanism in effect (None without SASL)."""
        return self.sasl_mechanism if self.uses_sasl else None

    @model_validator(mode="after")
    def _check(self) -> KafkaConfig:
        p = Problems()
        if self.uses_sasl:
            p.check(
                self.sasl_mechanism is not None, "saslMechanism", f"required with {self.security_protocol}"
            )
        else:
            p.check(
                "sasl_mechanism" not in self.model_fields_set or self.sasl_mechanism is None,
                "saslMechanism",
                f"only applies to a SASL_* securityProtocol (this one is {self.security_protocol})",
            )
        p.check(len(set(self.brokers)) == len(self.brokers), "brokers", "lists a broker twice")
        p.check(
            self.consumer_group.strip() == self.consumer_group, "consumerGroup", "has blank space around it"
        )
        p.raise_if_any()
        return self


class JobResources(ConfigModel):
    cpu: Literal["1", "2", "4", "6", "8"] = "1"
    memory: Memory = "512Mi"

    @model_validator(mode="after")
    def _check(self) -> JobResources:
        p = Problems()
        mib = memory_mib(self.memory)
        p.check(
            CPU_MIN_MEMORY_MIB[self.cpu] <= mib <= CPU_MAX_MEMORY_MIB[self.cpu],
            "memory",
            f"{self.memory} is outside what Cloud Run allows with cpu {self.cpu} "
            f"({CPU_MIN_MEMORY_MIB[self.cpu]}Mi to {CPU_MAX_MEMORY_MIB[self.cpu]}Mi)",
        )
        p.raise_if_any()
        return self


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
    Cloud DNS private zone bound to the network). See docs/gcp.md for the firewall rule it needs."""

    network: NetworkName | None = None
    """VPC network. None: the subnetwork's network."""
    subnetwork: SubnetworkName | None = None
    """Subnetwork in the stack's region (a Shared VPC subnet by its full name). None: the subnet named
    like the network."""
    egress: Literal["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"] = "PRIVATE_RANGES_ONLY"
    """What goes through the VPC: private (RFC 1918) destinations only, or everything (then Google
    APIs and the internet need Private Google Access or Cloud NAT on the subnet)."""
    tags: list[NetworkTag] = Field(default_factory=list)
    """Network tags of the loader's traffic, for firewall rules that admit it by source tag."""

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


class JobConfig(ConfigModel):
    image: ImageRef | None = None
    """Existing image to run. None: the stack builds it from the Dockerfile in build/, pushes it to
    Artifact Registry and runs it by digest."""
    args: list[str] | None = None
    """Container arguments. None: the image's CMD."""
    resources: JobResources = Field(default_factory=JobResources)
    timeout_seconds: int = Field(ge=10, le=MAX_TASK_TIMEOUT_SECONDS)
    """Task timeout (one attempt)."""
    max_retries: int = Field(default=1, ge=0, le=10)
    """Retries of a failed task within one execution."""
    extra_env: dict[EnvName, str] = Field(default_factory=dict)
    """More plain environment variables (tuning knobs of the app); never secrets."""


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


class JudgeJobConfig(JobConfig):
    """``jobs.judge``: the daily ``llm-judge-trigger`` that builds Vertex AI batch input and judgements."""

    timeout_seconds: int = Field(default=3600, ge=10, le=MAX_TASK_TIMEOUT_SECONDS)
    resources: JobResources = Field(default_factory=lambda: JobResources(cpu="1", memory="1Gi"))
    model_id: str = Field(default=DEFAULT_MODEL_ID, pattern=r"^publishers/[a-z0-9-]+/models/[A-Za-z0-9._-]+$")
    location: Region = "us-central1"
    """Vertex AI region of the batch jobs (``GCP_LOCATION``)."""
    prompt_path: str = Field(default=DEFAULT_PROMPT_PATH, pattern=r"^[^/].*\.prompt\.ya?ml$")
    """Prompt file inside the image, relative to its working directory (``PROMPT_PATH``)."""

    @model_validator(mode="after")
    def _check(self) -> JudgeJobConfig:
        p = Problems()
        for i, name in enumerate(self.extra_env):
            p.check(name not in JUDGE_ENV, f"extraEnv.{name}", f"is set by the stack (entry {i}); remove it")
        thinking = _thinking_problem(self.model_id, self.prompt_path)
        if thinking:
            p.add("modelId", thinking)
        p.raise_if_any()
        return self


def _thinking_problem(model_id: str, prompt_path: str) -> str | None:
    """The job would refuse this model with this prompt at its first run (Gemini's thinking budget,
    app.batch_job.thinking): say so at plan time. A prompt that is not in this repository (baked into
    the image some other way) cannot be read here and is left to the job."""
    from app.batch_job.thinking import ThinkingConfigError, thinking_config
    from app.judge.prompt_file import PromptFile, PromptFileError

    path = REPO_ROOT / prompt_path
    if not path.is_file():
        return None
    try:
        parameters = PromptFile.load(path).model_parameters
        thinking_config(model_id, parameters.thinking_budget, parameters.max_tokens)
    except PromptFileError as exc:
        field, message = exc.problems[0]
        return f"promptPath {prompt_path} is not a valid prompt file: {field}: {message}"
    except ThinkingConfigError as exc:
        return f"{model_id} does not fit {prompt_path}: {exc} (or choose a prompt made for this model)"
    return None


class CollectJobConfig(ConfigModel):
    """``jobs.collect``: turns a day's Vertex AI predictions into ``judgements/`` (``collect``). The
    seed schedules only the submit; without this nothing ever writes judgements. Runs the judge's
    image, account and environment. ``collect --lookback 3`` takes each of the last three days up to
    yesterday (UTC) whose batch jobs have ended, and leaves a day whose batch is still queued or
    running for a later run, so the default schedule (23:00) collects the batch submitted at 02:00 and
    a batch that finishes late is collected the next evening instead of never."""

    enabled: bool = True
    args: list[str] = Field(default_factory=lambda: ["collect", "--lookback", "3"], min_length=1)
    resources: JobResources = Field(default_factory=lambda: JobResources(cpu="1", memory="1Gi"))
    timeout_seconds: int = Field(default=1800, ge=10, le=MAX_TASK_TIMEOUT_SECONDS)
    max_retries: int = Field(default=1, ge=0, le=10)

    @model_validator(mode="after")
    def _check(self) -> CollectJobConfig:
        p = Problems()
        p.check(
            self.args[0] == "collect", "args", f"must start with the collect command, got {self.args[0]!r}"
        )
        p.raise_if_any()
        return self


class JobsConfig(ConfigModel):
    loader: LoaderJobConfig = Field(default_factory=LoaderJobConfig)
    judge: JudgeJobConfig = Field(default_factory=JudgeJobConfig)
    collect: CollectJobConfig = Field(default_factory=CollectJobConfig)


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


class ImagesConfig(ConfigModel):
    """``images``: the Artifact Registry repository the stack pushes the images it builds to."""

    repository_id: Annotated[
        str, AfterValidator(pattern(_REPOSITORY_ID, "a repository id: a-z 0-9 -, starting with a letter"))
    ] = "flash-cache-repo"
    keep_recent_versions: int = Field(default=10, ge=1, le=1000)
    """Cleanup policy: always keep this many newest versions of each image."""
    delete_untagged_after_days: int = Field(default=30, ge=1, le=3650)
    """Cleanup policy: delete untagged versions (replaced builds) older than this."""
    build_on_preview: bool = True
    """Build during ``pulumi preview`` too (catches a broken Dockerfile before ``up``; needs Docker)."""
    platform: Literal["linux/amd64", "linux/arm64"] = "linux/amd64"
    """Cloud Run runs linux/amd64; arm64 only for a custom runtime."""


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


# --- the section ----------------------------------------------------------------------------------


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
        """``alerts.loaderNoSuccessHours``, or the shortest whole number of hours above the quiet time."""
        configured = self.alerts.loader_no_success_hours
        return configured if configured is not None else self.loader_quiet_seconds() // 3600 + 1

    def _check_alert_windows(self, p: Problems) -> None:
        """An alert window must be wider than what a healthy pipeline can show, and narrower than what
        its signal can see."""
        alerts = self.alerts
        quiet = self.loader_quiet_seconds()
        hours = self.loader_no_success_hours
        if alerts.loader_no_success_hours is not None:
            p.check(
                hours * 3600 > quiet,
                "alerts.loaderNoSuccessHours",
                f"{hours} h is not longer than {quiet} s, the longest a healthy loader goes without a "
                "completed run (the longest gap of schedules.loader.cron plus the longest run, "
                "jobs.loader.timeoutSeconds x attempts): "
                "it would fire between healthy runs. Raise it, or leave it out to have it derived",
            )
        else:
            p.check(
                hours <= MAX_ABSENCE_HOURS,
                "alerts.loaderNoSuccessHours",
                f"a healthy loader can go {quiet} s without a completed run (the longest gap of "
                "schedules.loader.cron plus the longest run, jobs.loader.timeoutSeconds x attempts), longer "
                "than the "
                f"{MAX_ABSENCE_HOURS} h a metric-absence condition can watch: run the loader more often "
                "(the topic's retention is its real budget)",
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
