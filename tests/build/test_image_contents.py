"""Each image ships every ``app`` module its entry point imports and installs every third-party
distribution those modules import (the images cannot be built here, so their Dockerfiles are checked
against the code)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from tools.locks import read_names

REPO = Path(__file__).resolve().parents[2]

IMAGES = {
    "Dockerfile.loader": "app/loader",
    "Dockerfile.batch-job": "app/batch_job",
    "Dockerfile.judge": "app/judge",
    "Dockerfile.model-loader": "app/model_loader",
}
# Distribution of a top-level import, where the names differ (compared in canonical form).
DISTRIBUTIONS = {"yaml": "pyyaml", "pydantic_core": "pydantic", "pythonjsonlogger": "python-json-logger"}
# google.* namespace packages: the distribution is named by the first two parts.
GOOGLE = {"google.genai": "google-genai", "google.cloud": "google-cloud-storage"}
# Namespaces that come with the distributions above (google-auth, google-api-core).
BUNDLED = {"google.auth", "google.oauth2", "google.api_core"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module in ("google", "app"):
            # `from google import genai`: the namespace alone names no distribution; `from app import
            # logs` imports the module app/logs.py.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def closure(package: str) -> tuple[set[Path], set[str]]:
    """Source files of app/ reachable from ``package``, and the third-party modules they import."""
    todo = [*(REPO / package).glob("*.py"), REPO / "app" / "__init__.py"]
    files: set[Path] = set()
    third_party: set[str] = set()
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        for name in imports(path):
            top = name.split(".")[0]
            if top == "app":
                module = REPO / Path(*name.split("."))
                todo.extend(p for p in (module.with_suffix(".py"), module / "__init__.py") if p.exists())
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(name)
    return files, third_party


def distribution(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "google":
        prefix = ".".join(parts[:2])
        return None if prefix in BUNDLED else GOOGLE[prefix]
    return DISTRIBUTIONS.get(parts[0], parts[0])


def copied_sources(dockerfile: str) -> list[str]:
    return [
        src for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M) for src in line.split()[:-1]
    ]


def installed(dockerfile: str) -> set[str]:
    """The image's direct dependencies: build/requirements/<image>.in (the Dockerfile installs its lock)."""
    image = dockerfile.removeprefix("Dockerfile.")
    return {canonical(n) for n in read_names(REPO / "build" / "requirements" / f"{image}.in")}


@pytest.mark.parametrize(("dockerfile", "package"), IMAGES.items())
def test_every_app_module_the_entry_point_imports_is_copied(dockerfile, package):
    text = (REPO / "build" / dockerfile).read_text()
    sources = copied_sources(text)
    files, _ = closure(package)
    missing = sorted(
        rel
        for rel in (p.relative_to(REPO).as_posix() for p in files)
        if not any(rel == src or (src.endswith("/") and rel.startswith(src)) for src in sources)
    )
    assert not missing, f"{dockerfile} does not COPY {missing}"


@pytest.mark.parametrize(("dockerfile", "package"), IMAGES.items())
def test_every_third_party_import_is_installed(dockerfile, package):
    have = installed(dockerfile)
    _, modules = closure(package)
    assert modules, f"{package} imports no third-party module: the scan is broken"
    missing = sorted(
        {f"{m} -> {d}" for m in modules if (d := distribution(m)) is not None and canonical(d) not in have}
    )
    assert not missing, f"build/requirements/{dockerfile.removeprefix('Dockerfile.')}.in lacks {missing}"
