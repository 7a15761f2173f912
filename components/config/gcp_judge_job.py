"""``jobs.judge`` and ``jobs.collect``: the daily Vertex AI batch submit (Gemini model, its location,
the prompt file) and the collect run that turns a day's predictions into judgements. What is checked
of the model before deploying (Gemini's thinking budget against the prompt) is checked here."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from .base import ConfigModel, Problems
from .gcp_jobs import MAX_TASK_TIMEOUT_SECONDS, JobConfig, JobResources
from .gcp_names import Region

# The image's working directory holds the repository's prompts/ (build/Dockerfile.batch-job).
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_MODEL_ID = "publishers/google/models/gemini-2.5-flash"
DEFAULT_PROMPT_PATH = "prompts/security-judge.prompt.yml"

# Names the stack sets itself; ``extraEnv`` may not override them.
JUDGE_ENV = ("GCP_PROJECT", "GCP_LOCATION", "INPUT_BUCKET", "OUTPUT_BUCKET", "MODEL_ID", "PROMPT_PATH")


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
