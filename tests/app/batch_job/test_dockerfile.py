"""build/Dockerfile.batch-job bakes the prompts in where PROMPT_PATH expects them and runs as non-root.
(That it ships every module and distribution app.batch_job imports: tests/build/test_image_contents.py.)"""

from __future__ import annotations

import re

from tests.app.batch_job.conftest import REPO

DOCKERFILE = (REPO / "build" / "Dockerfile.batch-job").read_text()


def test_prompts_resolve_from_the_working_directory():
    assert re.search(r"^WORKDIR /app$", DOCKERFILE, re.M)
    assert re.search(r"^COPY prompts/ /app/prompts/$", DOCKERFILE, re.M)
    assert "PROMPT_PATH=prompts/security-judge.prompt.yml" in DOCKERFILE
    assert (REPO / "prompts" / "security-judge.prompt.yml").exists()


def test_runs_as_non_root_with_the_job_entry_point():
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert 'ENTRYPOINT ["python", "-m", "app.batch_job"]' in DOCKERFILE
