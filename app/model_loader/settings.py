"""Settings of the model loader: environment variables (the seed's names where it had them), with the
CLI flags overriding them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.model_loader import layout
from app.model_loader.mirror_layout import S3Location


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class LoaderSettings(BaseSettings):
    """Every field can be set by its environment variable (first alias) or by its field name (flags)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    models_dir: Path = Field(Path("/models"), validation_alias=_env("MODELS_DIR", "models_dir"))
    # MODEL_ID is the seed's DaemonSet variable.
    repo_id: str | None = Field(None, validation_alias=_env("MODEL_REPO_ID", "MODEL_ID", "repo_id"))
    # Branch, tag or commit. Unset means "main" for downloads, and "whatever is served" for `wait`.
    revision: str | None = Field(None, min_length=1, validation_alias=_env("MODEL_REVISION", "revision"))
    # HUGGING_FACE_HUB_TOKEN is the seed's (older) name; HF_TOKEN wins when both are set.
    hf_token: SecretStr | None = Field(
        None, validation_alias=_env("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "hf_token")
    )
    hf_endpoint: str | None = Field(None, validation_alias=_env("HF_ENDPOINT", "hf_endpoint"))
    # Where downloads come from: "hub", or an S3 mirror "s3://bucket/prefix" (mirror_layout.py).
    model_source: str = Field("hub", validation_alias=_env("MODEL_SOURCE", "model_source"))
    # With an S3 source: "hub" resolves and downloads from the hub what the mirror cannot deliver.
    source_fallback: Literal["hub", "none"] = Field(
        "hub", validation_alias=_env("MODEL_SOURCE_FALLBACK", "source_fallback")
    )
    s3_concurrency: int = Field(16, ge=1, le=128, validation_alias=_env("S3_CONCURRENCY", "s3_concurrency"))

    port: int = Field(8080, ge=0, le=65535, validation_alias=_env("MODEL_LOADER_PORT", "port"))
    bind: str = Field("0.0.0.0", validation_alias=_env("MODEL_LOADER_BIND", "bind"))  # noqa: S104 - probes
    wait_timeout: float = Field(3600.0, ge=0, validation_alias=_env("WAIT_TIMEOUT_SECONDS", "wait_timeout"))
    poll_interval: float = Field(5.0, gt=0, validation_alias=_env("POLL_INTERVAL_SECONDS", "poll_interval"))
    progress_interval: float = Field(
        30.0, gt=0, validation_alias=_env("PROGRESS_INTERVAL_SECONDS", "progress_interval")
    )
    recheck_interval: float = Field(
        60.0, gt=0, validation_alias=_env("RECHECK_INTERVAL_SECONDS", "recheck_interval")
    )
    free_space_margin_bytes: int = Field(
        1 << 30, ge=0, validation_alias=_env("FREE_SPACE_MARGIN_BYTES", "free_space_margin_bytes")
    )
    retry_initial_seconds: float = Field(
        5.0, gt=0, validation_alias=_env("RETRY_INITIAL_SECONDS", "retry_initial_seconds")
    )
    retry_max_seconds: float = Field(
        300.0, gt=0, validation_alias=_env("RETRY_MAX_SECONDS", "retry_max_seconds")
    )
    download_attempts: int = Field(3, ge=1, validation_alias=_env("DOWNLOAD_ATTEMPTS", "download_attempts"))
    lock_timeout: float | None = Field(
        None, ge=0, validation_alias=_env("LOCK_TIMEOUT_SECONDS", "lock_timeout")
    )
    hub_timeout: float = Field(60.0, gt=0, validation_alias=_env("HUB_TIMEOUT_SECONDS", "hub_timeout"))
    download_workers: int = Field(
        8, ge=1, le=64, validation_alias=_env("DOWNLOAD_WORKERS", "download_workers")
    )
    hash_workers: int = Field(4, ge=1, le=64, validation_alias=_env("HASH_WORKERS", "hash_workers"))
    fast_transfer: bool = Field(True, validation_alias=_env("FAST_TRANSFER", "fast_transfer"))
    # hf-xet's download buffer (xet.py); None: a quarter of the container's memory limit, at most 1 GiB.
    xet_buffer_bytes: int | None = Field(
        None, ge=16 << 20, validation_alias=_env("XET_BUFFER_BYTES", "xet_buffer_bytes")
    )
    deep_verify_on_start: bool = Field(
        False, validation_alias=_env("VERIFY_DEEP_ON_START", "deep_verify_on_start")
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", validation_alias=_env("LOG_FORMAT", "log_format")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LOG_LEVEL", "log_level")
    )

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, value: str | None) -> str | None:
        return None if value is None else layout.validate_repo_id(value)

    @field_validator("model_source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value != "hub":
            S3Location.parse(value)  # ValueError names what is wrong
        return value

    @property
    def s3_location(self) -> S3Location | None:
        return None if self.model_source == "hub" else S3Location.parse(self.model_source)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def target_revision(self) -> str:
        return self.revision or "main"

    @property
    def token(self) -> str | None:
        return self.hf_token.get_secret_value() if self.hf_token else None

    def require_repo_id(self) -> str:
        if not self.repo_id:
            from app.model_loader.errors import UsageError

            raise UsageError("no model given: pass --repo-id or set MODEL_REPO_ID")
        return self.repo_id
