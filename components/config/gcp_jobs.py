"""What every Cloud Run job of the stack has (image, arguments, CPU and memory, task timeout, retries,
extra environment) and the limits Cloud Run puts on them. The jobs themselves are in
gcp_loader_job.py (``jobs.loader``) and gcp_judge_job.py (``jobs.judge``, ``jobs.collect``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Fault-injection hooks of the tests (``LOADER_CRASH_AT``, app/loader/crash.py: the process kills itself at
# a chosen point): never part of a deployment, whichever app a future one is for. The policy pack holds
# the same rule for whatever reaches the engine (policy/invariants/workloads.py).
TEST_HOOK_ENV = re.compile(r"_CRASH_AT$")
_MEMORY = re.compile(r"^([0-9]+)(Mi|Gi)$")
_DIGEST_REF = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$")
_TAG_REF = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")

# Cloud Run jobs: CPU values and the most memory each allows (gen2 execution environment).
CPU_MAX_MEMORY_MIB = {"1": 4096, "2": 8192, "4": 16384, "6": 24576, "8": 32768}
CPU_MIN_MEMORY_MIB = {"1": 512, "2": 512, "4": 2048, "6": 4096, "8": 4096}
MAX_TASK_TIMEOUT_SECONDS = 7 * 24 * 3600


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


ImageRef = Annotated[str, AfterValidator(_image_ref)]
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
    """More plain environment variables (tuning knobs of the app); never secrets, never a test hook
    (``*_CRASH_AT``)."""

    @model_validator(mode="after")
    def _no_test_hooks(self) -> JobConfig:
        p = Problems()
        for name in self.extra_env:
            p.check(
                not TEST_HOOK_ENV.search(name.upper()),
                f"extraEnv.{name}",
                "is a test-only fault-injection hook (the process kills itself on purpose): remove it",
            )
        p.raise_if_any()
        return self
