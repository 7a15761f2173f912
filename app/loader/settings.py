"""Settings of the loader: the seed's environment variables, overridden by command-line flags."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.loader.exits import HELP as EXIT_CODES_HELP
from app.records import MAX_MESSAGE_BYTES

MIB = 1024 * 1024

# google-cloud-storage sends objects up to 8 MiB as one multipart request and larger ones as resumable
# uploads. One request per object keeps uploads atomic and cheap, and fake-gcs-server (the tests'
# emulator) only enforces create-only preconditions on multipart uploads.
MAX_OBJECT_BYTES = 8 * MIB

# Kafka's rule for group ids and group.instance.id (JoinGroupRequest.validateGroupInstanceId).
INSTANCE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable and the flag."""


class LoaderSettings(BaseSettings):
    """Environment names are the field names in upper case (GCS_BUCKET_NAME, KAFKA_BROKERS, ...)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=False)

    gcs_bucket_name: str = Field(min_length=3, description="Bucket that receives raw/ and deadletter/.")
    kafka_brokers: str = Field(min_length=1, description="Bootstrap servers, comma-separated host:port.")
    kafka_topic: str = Field("raw-interactions", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    kafka_consumer_group: str = Field("gcs-loader-v1", min_length=1)
    gcp_project_id: str | None = Field(None, description="Project of the storage client (quota/billing).")

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = Field(None, description="PEM bundle of the brokers' CA.")
    kafka_session_timeout_ms: int = Field(
        45_000,
        ge=1000,
        le=300_000,
        description="How long the broker keeps a silent member (killed, hung) and its partitions.",
    )
    kafka_heartbeat_interval_ms: int = Field(3_000, ge=100, le=60_000)
    kafka_group_instance_id: str = Field(
        "auto",
        pattern=INSTANCE_ID_PATTERN,
        description="Static group membership (KIP-345): auto = <CLOUD_RUN_JOB>-<CLOUD_RUN_TASK_INDEX> on "
        "Cloud Run (none elsewhere), none = dynamic membership, anything else = this id.",
    )

    loader_rotation_bytes: int = Field(
        4 * MIB, ge=1024, description="An open chunk of one partition is written out at this many bytes."
    )
    loader_rotation_records: int = Field(100_000, ge=1, description="... or at this many messages.")
    loader_max_buffer_bytes: int = Field(
        64 * MIB,
        ge=1024,
        description="Bound on all open chunks plus uploads in flight, whatever the partition count.",
    )
    loader_max_message_bytes: int = Field(MAX_MESSAGE_BYTES, ge=64, le=MAX_MESSAGE_BYTES)
    loader_upload_concurrency: int = Field(4, ge=1, le=64)
    loader_compression: Literal["none", "gzip"] = "none"
    loader_consume_batch: int = Field(1000, ge=1, le=100_000)
    loader_fetch_queue_kbytes: int = Field(
        16_384, ge=1024, description="librdkafka's prefetch queue (queued.max.messages.kbytes)."
    )
    loader_shutdown_grace_seconds: float = Field(
        7.0, ge=0, description="After SIGTERM, how long uploads in flight may finish (Cloud Run allows 10 s)."
    )
    loader_idle_exit_seconds: float = Field(
        60.0,
        gt=0,
        description="A task with no partition gives up after this long without the group making progress "
        "(exit 3 if messages are left); at least the session timeout + heartbeat + shutdown grace.",
    )
    loader_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Set by Cloud Run in every task of a job execution (container runtime contract); never by us.
    cloud_run_job: str | None = None
    cloud_run_execution: str | None = None
    cloud_run_task_index: int | None = Field(None, ge=0)
    cloud_run_task_attempt: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> LoaderSettings:
        problems = []
        if self.kafka_security_protocol.startswith("SASL_"):
            if not (self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password):
                problems.append(
                    f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_MECHANISM, "
                    "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
                )
        elif self.kafka_sasl_mechanism or self.kafka_sasl_username or self.kafka_sasl_password:
            problems.append(
                "KAFKA_SASL_* is set but KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}; use SASL_SSL (or SASL_PLAINTEXT)"
            )
        if self.kafka_ssl_ca_location and "SSL" not in self.kafka_security_protocol:
            problems.append("KAFKA_SSL_CA_LOCATION is set but KAFKA_SECURITY_PROTOCOL does not use SSL")
        if self.loader_rotation_bytes + self.loader_max_message_bytes > MAX_OBJECT_BYTES:
            problems.append(
                f"LOADER_ROTATION_BYTES + LOADER_MAX_MESSAGE_BYTES must stay within {MAX_OBJECT_BYTES} "
                "(one object per upload request)"
            )
        if self.loader_max_buffer_bytes < 2 * self.loader_rotation_bytes:
            problems.append("LOADER_MAX_BUFFER_BYTES must be at least twice LOADER_ROTATION_BYTES")
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            problems.append("KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS")
        if self.loader_idle_exit_seconds < self.min_idle_exit_seconds:
            problems.append(
                f"LOADER_IDLE_EXIT_SECONDS ({self.loader_idle_exit_seconds:g}) must be at least "
                f"KAFKA_SESSION_TIMEOUT_MS + KAFKA_HEARTBEAT_INTERVAL_MS + LOADER_SHUTDOWN_GRACE_SECONDS "
                f"({self.min_idle_exit_seconds:g} s): a killed member keeps its partitions until its session "
                "times out, and a shorter wait gives up before they move; raise LOADER_IDLE_EXIT_SECONDS "
                "or lower KAFKA_SESSION_TIMEOUT_MS"
            )
        if (
            self.kafka_group_instance_id == "auto"
            and self.cloud_run_job is not None
            and self.cloud_run_task_index is None
        ):
            problems.append("CLOUD_RUN_JOB is set but CLOUD_RUN_TASK_INDEX is not (Cloud Run sets both)")
        instance = self.group_instance_id
        if instance is not None and not re.fullmatch(INSTANCE_ID_PATTERN, instance):
            problems.append(
                f"the group instance id {instance!r} derived from CLOUD_RUN_JOB is not a valid Kafka "
                "group.instance.id; set KAFKA_GROUP_INSTANCE_ID"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def min_idle_exit_seconds(self) -> float:
        """The shortest wait for an assignment that is sure to outlast a dead member: its session runs
        out (it died before this run started, so at most the session timeout from now), the live members
        hear of the rebalance at their next heartbeat, and each may spend the shutdown grace on its
        uploads in flight before it rejoins."""
        return (
            self.kafka_session_timeout_ms + self.kafka_heartbeat_interval_ms
        ) / 1000 + self.loader_shutdown_grace_seconds

    @property
    def group_instance_id(self) -> str | None:
        """The static member id (KIP-345), or None for dynamic membership.

        ``auto`` on Cloud Run is ``<job>-<task index>``: the same for a retried task (a new attempt)
        and for the same task of a new execution, so a task started again after a crash takes its
        partitions back at once instead of waiting out the dead member's session. Two overlapping
        executions therefore share ids: the broker fences the older member (see docs/loader.md)."""
        value = self.kafka_group_instance_id
        if value == "none":
            return None
        if value != "auto":
            return value
        if self.cloud_run_job is None or self.cloud_run_task_index is None:
            return None
        return f"{self.cloud_run_job}-{self.cloud_run_task_index}"

    def kafka_config(self) -> dict[str, Any]:
        """librdkafka settings of the loader's consumer."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.kafka_brokers,
            "group.id": self.kafka_consumer_group,
            # Said, not assumed: librdkafka's default "will change to `consumer` in next releases"
            # (CONFIGURATION.md), which refuses session.timeout.ms and heartbeat.interval.ms below and
            # assigns incrementally, while the rebalance callbacks (rebalance.py) assign eagerly.
            "group.protocol": "classic",
            "client.id": "llm-judge-loader",
            # Offsets move only when the loader commits them, after the objects are durable.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "session.timeout.ms": self.kafka_session_timeout_ms,
            "heartbeat.interval.ms": self.kafka_heartbeat_interval_ms,
            "queued.max.messages.kbytes": self.loader_fetch_queue_kbytes,
            # librdkafka waits this long (default 1 s) before fetching again once the queue above is
            # full; a loader slower than the broker would otherwise sit idle for most of each second.
            "fetch.queue.backoff.ms": 20,
            "fetch.max.bytes": min(50 * MIB, self.loader_fetch_queue_kbytes * 1024),
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
            config["sasl.username"] = self.kafka_sasl_username
            config["sasl.password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
            )
        if self.kafka_ssl_ca_location:
            config["ssl.ca.location"] = str(self.kafka_ssl_ca_location)
        instance = self.group_instance_id
        if instance is not None:
            config["group.instance.id"] = instance
        return config


# flag -> field; every field also has its upper-case environment variable.
_FLAGS: dict[str, str] = {
    "--bucket": "gcs_bucket_name",
    "--brokers": "kafka_brokers",
    "--topic": "kafka_topic",
    "--group": "kafka_consumer_group",
    "--project": "gcp_project_id",
    "--security-protocol": "kafka_security_protocol",
    "--sasl-mechanism": "kafka_sasl_mechanism",
    "--sasl-username": "kafka_sasl_username",
    "--ssl-ca-location": "kafka_ssl_ca_location",
    "--session-timeout-ms": "kafka_session_timeout_ms",
    "--heartbeat-interval-ms": "kafka_heartbeat_interval_ms",
    "--group-instance-id": "kafka_group_instance_id",
    "--rotation-bytes": "loader_rotation_bytes",
    "--rotation-records": "loader_rotation_records",
    "--max-buffer-bytes": "loader_max_buffer_bytes",
    "--max-message-bytes": "loader_max_message_bytes",
    "--upload-concurrency": "loader_upload_concurrency",
    "--compression": "loader_compression",
    "--consume-batch": "loader_consume_batch",
    "--fetch-queue-kbytes": "loader_fetch_queue_kbytes",
    "--shutdown-grace-seconds": "loader_shutdown_grace_seconds",
    "--idle-exit-seconds": "loader_idle_exit_seconds",
    "--log-level": "loader_log_level",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.loader",
        description="Load the Kafka topic into gs://BUCKET/raw/ up to the end offsets seen at start.",
        epilog="Every flag defaults to its environment variable (the field name in upper case). "
        "The SASL password\nis read from KAFKA_SASL_PASSWORD only.\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag, field in _FLAGS.items():
        info = LoaderSettings.model_fields[field]
        parser.add_argument(flag, dest=field, default=None, help=f"{field.upper()}. {info.description or ''}")
    return parser


def load_settings(argv: Sequence[str] | None = None) -> LoaderSettings:
    """Environment, then flags on top. Raises ``SettingsError`` naming the variable/flag at fault."""
    args = build_parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    try:
        return LoaderSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError("invalid loader settings: " + "; ".join(_describe(exc))) from None


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"])
        flag = next((f for f, name in _FLAGS.items() if name == field), None)
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{field.upper()}{f' ({flag})' if flag else ''}: {message}" if field else message)
    return lines


class _GivenOnly(LoaderSettings):
    """The settings from the values given alone: the environment of the process asking is left out."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def environment_problems(env: Mapping[str, str]) -> list[str]:
    """What the loader would refuse at start (exit 2, every run) in the variables ``env`` sets, one line
    each, naming the variable: the stack checks a job's extra variables with it before deploying. Only
    the loader's own variables are read; the deployment's identity (bucket, brokers) is a placeholder."""
    fields = LoaderSettings.model_fields
    values: dict[str, Any] = {name.lower(): value for name, value in env.items() if name.lower() in fields}
    values.setdefault("gcs_bucket_name", "placeholder-bucket")
    values.setdefault("kafka_brokers", "placeholder:9092")
    try:
        _GivenOnly(**values)
    except ValidationError as exc:
        return _describe(exc)
    return []
