"""build/Dockerfile.batch-job ships everything app.batch_job imports, and the prompts where PROMPT_PATH
expects them (the image cannot be built here, so its contents are checked against the code)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from tests.app.batch_job.conftest import REPO

DOCKERFILE = (REPO / "build" / "Dockerfile.batch-job").read_text()
# Distribution names of the top-level imports (where they differ).
DISTRIBUTIONS = {"yaml": "pyyaml", "pydantic_settings": "pydantic-settings", "pydantic_core": "pydantic"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _closure() -> tuple[set[Path], set[str]]:
    """Source files of app/ reachable from app.batch_job, and the third-party modules they import."""
    todo = list((REPO / "app" / "batch_job").glob("*.py"))
    files: set[Path] = set()
    third_party: set[str] = set()
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "app":
                module = REPO / Path(*name.split("."))
                todo.extend(p for p in (module.with_suffix(".py"), module / "__init__.py") if p.exists())
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(name)
    return files, third_party


def _copied(path: Path) -> bool:
    rel = path.relative_to(REPO).as_posix()
    sources = [
        src for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.M) for src in line.split()[:-1]
    ]
    return any(rel == src or (src.endswith("/") and rel.startswith(src)) for src in sources)


def test_every_app_module_the_job_imports_is_copied():
    files, _ = _closure()
    missing = sorted(p.relative_to(REPO).as_posix() for p in files if not _copied(p))
    assert not missing, f"Dockerfile.batch-job does not COPY {missing}"


def test_every_third_party_import_is_installed():
    _, modules = _closure()
    install = re.search(r"pip install[^\n]*(?:\n\s+[^\n]*)*", DOCKERFILE).group(0)
    for module in modules:
        top = module.split(".")[0]
        dist = DISTRIBUTIONS.get(top, top.replace("_", "-"))
        if top == "google":
            dist = {"google.genai": "google-genai", "google.cloud": "google-cloud-storage"}.get(
                ".".join(module.split(".")[:2])
            )
            if dist is None:  # google.oauth2, google.auth: google-auth comes with both
                continue
        assert re.search(rf"\s{re.escape(dist)}(\s|$)", install), f"{module} needs {dist} in the pip install"


def test_prompts_resolve_from_the_working_directory():
    assert re.search(r"^WORKDIR /app$", DOCKERFILE, re.M)
    assert re.search(r"^COPY prompts/ /app/prompts/$", DOCKERFILE, re.M)
    assert "PROMPT_PATH=prompts/security-judge.prompt.yml" in DOCKERFILE
    assert (REPO / "prompts" / "security-judge.prompt.yml").exists()


def test_runs_as_non_root_with_the_job_entry_point():
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert 'ENTRYPOINT ["python", "-m", "app.batch_job"]' in DOCKERFILE
