"""Judge client settings (``JUDGE_*``): where the server is, and how long and how hard to try it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PROMPT = Path(__file__).resolve().parents[2] / "prompts" / "judge.prompt.yml"


class JudgeSettings(BaseSettings):
    """Judge client settings; each field reads ``JUDGE_<NAME>`` from the environment unless given."""

    model_config = SettingsConfigDict(env_prefix="JUDGE_", extra="ignore", frozen=True)

    # The seed's in-cluster service (judge-inference-service:8000); vLLM serves the OpenAI API under /v1.
    base_url: str = "http://judge-inference-service:8000/v1"
    # None: the prompt file's `model`. vLLM answers to its --served-model-name (or the model path).
    model: str | None = None
    # vLLM accepts any key unless started with --api-key; the SDK insists on a non-empty one.
    api_key: SecretStr = SecretStr("EMPTY")
    prompt_path: Path = DEFAULT_PROMPT
    # One attempt (one HTTP request) at most this long.
    timeout_s: float = Field(default=60.0, gt=0)
    # One judgement at most this long, over its attempts and the pauses between them; time spent waiting
    # for a free slot or for a server that is starting up does not count (those have their own bounds).
    deadline_s: float = Field(default=180.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    concurrency: int = Field(default=16, ge=1, le=4096)
    # Lower the requests in flight when answers take longer than this (or time out, or 429); raise them
    # again while they do not. None: half of timeout_s.
    adaptive_concurrency: bool = True
    latency_target_s: float | None = Field(default=None, gt=0)
    # How long to wait for a server that does not answer at all (refused connections; 502/503/504 or
    # time-outs while its /health does not answer 200): a judge scaled to zero takes minutes to come up.
    # 0: do not wait, such failures are retried like any other.
    cold_start_s: float = Field(default=900.0, ge=0)
    backoff_initial_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    retry_after_max_s: float = Field(default=60.0, ge=0)
    # Used only when the prompt file sets no temperature: vLLM would otherwise apply the model's
    # generation_config defaults, so a temperature is always sent.
    temperature: float = Field(default=0.0, ge=0, le=2)

    @model_validator(mode="after")
    def _target_below_timeout(self) -> JudgeSettings:
        if self.latency_target_s is not None and self.latency_target_s >= self.timeout_s:
            raise ValueError(
                f"latency_target_s ({self.latency_target_s}) must be below timeout_s ({self.timeout_s}): "
                "an attempt that times out never reports its latency"
            )
        return self

    @property
    def latency_target(self) -> float:
        return self.latency_target_s if self.latency_target_s is not None else self.timeout_s / 2
