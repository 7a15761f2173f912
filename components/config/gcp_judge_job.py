"""``jobs.judge`` and ``jobs.collect``: the daily Vertex AI batch submit (Gemini model, its location,
the prompt file) and the collect run that turns a day's predictions into judgements. What is checked
of the model before deploying is checked here, against the batch job's model catalogue
(app/batch_job/gemini_models.yaml): that the model is not retired or closed to new projects on the
plan's date, runs batch jobs and is served in the location, and that the prompt's thinking intent
translates for its family."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern
from .gcp_jobs import MAX_TASK_TIMEOUT_SECONDS, JobConfig, JobResources

# The image's working directory holds the repository's prompts/ (build/Dockerfile.batch-job).
REPO_ROOT = Path(__file__).resolve().parents[2]

# The batch job's own defaults (app/batch_job/settings.py), a current model and a location serving it.
DEFAULT_MODEL_ID = "publishers/google/models/gemini-3.5-flash-lite"
DEFAULT_LOCATION = "global"
DEFAULT_PROMPT_PATH = "prompts/security-judge.prompt.yml"

# Names the stack sets itself; ``extraEnv`` may not override them.
JUDGE_ENV = (
    "GCP_PROJECT",
    "GCP_LOCATION",
    "INPUT_BUCKET",
    "OUTPUT_BUCKET",
    "MODEL_ID",
    "PROMPT_PATH",
    "LLM_JUDGE_STACK",
)
# And on the collect job (from ``jobs.collect.review`` and ``alerts``).
COLLECT_ENV = ("REVIEW_PER_STRATUM", "REVIEW_RANDOM_SLICE", "PEOPLE_MIN_LABELS", "PEOPLE_KAPPA_DAYS")

# Vertex AI's locations: the global endpoint, a multi-region (us, eu) or a region.
_VERTEX_LOCATION = re.compile(r"^(global|us|eu|[a-z]+-[a-z]+[0-9]+)$")
VertexLocation = Annotated[
    str,
    AfterValidator(pattern(_VERTEX_LOCATION, "global, a multi-region (us, eu) or a region such as us-east4")),
]


def plan_date() -> dt.date:
    """The date the catalogue's lifecycle is judged on at plan time (UTC)."""
    return dt.datetime.now(dt.UTC).date()


class JudgeJobConfig(JobConfig):
    """``jobs.judge``: the daily ``llm-judge-trigger`` that builds Vertex AI batch input and judgements."""

    timeout_seconds: int = Field(default=3600, ge=10, le=MAX_TASK_TIMEOUT_SECONDS)
    resources: JobResources = Field(default_factory=lambda: JobResources(cpu="1", memory="1Gi"))
    model_id: str = Field(default=DEFAULT_MODEL_ID, pattern=r"^publishers/[a-z0-9-]+/models/[A-Za-z0-9._-]+$")
    """Gemini model of the batch jobs (``MODEL_ID``): a row of app/batch_job/gemini_models.yaml."""
    location: VertexLocation = DEFAULT_LOCATION
    """Vertex AI location of the batch jobs (``GCP_LOCATION``): one the model is served in."""
    prompt_path: str = Field(default=DEFAULT_PROMPT_PATH, pattern=r"^[^/].*\.prompt\.ya?ml$")
    """Prompt file inside the image, relative to its working directory (``PROMPT_PATH``)."""

    @model_validator(mode="after")
    def _check(self) -> JudgeJobConfig:
        p = Problems()
        for i, name in enumerate(self.extra_env):
            p.check(
                name not in JUDGE_ENV + COLLECT_ENV,
                f"extraEnv.{name}",
                f"is set by the stack (entry {i}); remove it",
            )
        for key, problem in _model_problems(self.model_id, self.location, self.prompt_path, plan_date()):
            p.add(key, problem)
        p.raise_if_any()
        return self


def _model_problems(model_id: str, location: str, prompt_path: str, today: dt.date) -> list[tuple[str, str]]:
    """What the job (its canary, then Vertex AI) would refuse at its first run, said at plan time: a
    model the catalogue says is retired or closed to new projects, cannot run batch jobs, or is not
    served in the location (each message names the choices that will work), and a prompt whose
    thinking intent does not translate for the model's family (app.batch_job.thinking). A prompt that
    is not in this repository (baked into the image some other way) is left to the job."""
    from app.batch_job.catalogue import choice_problems, lookup
    from app.batch_job.thinking import ThinkingConfigError, plan_thinking
    from app.judge.prompt_file import PromptFile, PromptFileError

    found = choice_problems(model_id, location, today, model_key="modelId", location_key="location")
    model = lookup(model_id)
    path = REPO_ROOT / prompt_path
    if model is None or not path.is_file():
        return found
    try:
        parameters = PromptFile.load(path).model_parameters
        plan_thinking(model, parameters.thinking_level, parameters.thinking_budget)
    except PromptFileError as exc:
        field, message = exc.problems[0]
        found.append(("promptPath", f"{prompt_path} is not a valid prompt file: {field}: {message}"))
    except ThinkingConfigError as exc:
        fix = "(or choose a prompt made for this model)"
        found.append(("modelId", f"{model.name} does not fit {prompt_path}: {exc} {fix}"))
    return found


class ReviewConfig(ConfigModel):
    """``jobs.collect.review``: the daily sample people label (``review/<date>/tasks.json``, for Label
    Studio) and when the report shows a judge's kappa against their labels. docs/batch-job.md, "People's
    labels"."""

    per_stratum: int = Field(default=50, ge=0, le=1000)
    """Every flagged record, and every disagreement of the two judges, up to this many each
    (``REVIEW_PER_STRATUM``; 0 with ``randomSlice`` 0: no sample)."""
    random_slice: int = Field(default=50, ge=0, le=1000)
    """This many more records at random, the same ones on a rerun of the day (``REVIEW_RANDOM_SLICE``)."""
    min_labels: int = Field(default=30, ge=1, le=100_000)
    """Fewest labels a judge's kappa against people is shown (and alerted on) for (``PEOPLE_MIN_LABELS``)."""


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
    review: ReviewConfig = Field(default_factory=ReviewConfig)

    @model_validator(mode="after")
    def _check(self) -> CollectJobConfig:
        p = Problems()
        p.check(
            self.args[0] == "collect", "args", f"must start with the collect command, got {self.args[0]!r}"
        )
        p.raise_if_any()
        return self
