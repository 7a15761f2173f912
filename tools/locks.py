"""The project's locks: ``python -m tools.locks`` (``make lock``) rewrites them all with uv.

One resolution, ``requirements.lock``, holds every package of the dev venv (``requirements.txt`` and
``requirements-dev.txt``) at one version with its hashes. Each image installs a subset of
it: ``build/requirements/<image>.in`` names the image's direct dependencies and
``build/requirements/<image>.txt`` is compiled from them with ``requirements.lock`` as constraints, so
an image can only ever get the versions (and hashes) the tests ran with. ``uv.txt`` is the same kind
of subset, used by the Makefile to bootstrap uv itself.

Tools whose pins cannot live in the dev venv (their own requirements conflict with the program's) get
a lock of their own in ``ISOLATED``, made the same way and installed into a venv of their own.

The locks are for CPython 3.11 (``[tool.uv] environments`` in pyproject.toml), resolved for every
platform (``--universal``): a package only some platforms need (colorama on Windows) is locked with its
marker, and CI, the images and the stack (Linux x86_64) install what applies to them. Hashes cover every
published file of each pinned version.

Each lock's header is the exact ``uv pip compile`` command that wrote it, in the form Renovate's
``pip-compile`` manager re-runs (``renovate.json``): every option as ``--option=value`` and among those
it accepts (``--python-platform`` is not; ``--universal`` is), and every source file named on the
command line (Renovate does not follow ``-r`` into another file). So Renovate can propose a new pin and
re-lock everything that depends on it in the same pull request, and refresh the locks once a month.
``tests/build/test_locks.py`` fails when a lock and the declared requirements disagree, or a header
stops being one Renovate can re-run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN_SOURCE = REPO / "requirements-dev.txt"
"""What the dev venv declares (it includes ``requirements.txt`` with ``-r``)."""
MAIN_SOURCES = (REPO / "requirements.txt", MAIN_SOURCE)
MAIN_LOCK = REPO / "requirements.lock"
SUBSETS_DIR = REPO / "build" / "requirements"
TARGET = ("--python-version=3.11", "--universal")


@dataclass(frozen=True)
class Subset:
    """An install made from part of ``requirements.lock``: an image, or the uv bootstrap."""

    name: str

    @property
    def source(self) -> Path:
        return SUBSETS_DIR / f"{self.name}.in"

    @property
    def lock(self) -> Path:
        return SUBSETS_DIR / f"{self.name}.txt"


@dataclass(frozen=True)
class Isolated:
    """A tool resolved on its own (its pins conflict with the dev venv's), installed into ``venv``."""

    name: str
    source: Path
    lock: Path
    venv: Path


SUBSETS = tuple(Subset(name) for name in ("judge", "loader", "batch-job", "model-loader", "uv"))
IMAGES = {s.name: s for s in SUBSETS if s.name != "uv"}
ISOLATED = (
    Isolated(
        "checkov",
        REPO / "tools" / "checkov" / "requirements.in",
        REPO / "tools" / "checkov" / "requirements.txt",
        REPO / "tools" / "checkov" / "venv",
    ),
    # Where Pulumi looks: PulumiPolicy.yaml names policy/venv, and the pack's requirements.txt.
    Isolated(
        "policy",
        REPO / "policy" / "requirements.in",
        REPO / "policy" / "requirements.txt",
        REPO / "policy" / "venv",
    ),
)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: frozenset[str]
    via: tuple[str, ...]
    marker: str | None = None
    """The environment marker of a universal lock's entry (``sys_platform == 'win32'``), if any."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def read_lock(path: Path) -> dict[str, Pin]:
    """``{canonical name: Pin}`` of a file written by ``uv pip compile --generate-hashes``."""
    pins: dict[str, Pin] = {}
    name = version = marker = None
    hashes: set[str] = set()
    via: list[str] = []

    def flush() -> None:
        if name is not None and version is not None:
            pins[canonical(name)] = Pin(name, version, frozenset(hashes), tuple(via), marker)

    for raw in path.read_text().splitlines():
        line = raw.strip()
        if match := _ENTRY.match(raw):
            flush()
            name, version, marker = match.groups()
            hashes, via = set(), []
        elif line.startswith("--hash="):
            hashes.add(line.removeprefix("--hash=").rstrip(" \\"))
        elif line.startswith("# via "):
            via.append(line.removeprefix("# via ").strip())
        elif line.startswith("#   "):
            via.append(line.removeprefix("#   ").strip())
    flush()
    return pins


def header_command(path: Path) -> str:
    """The command a lock's header says wrote it (the line after "autogenerated by uv")."""
    lines = path.read_text().splitlines()
    return lines[1].removeprefix("#").strip() if len(lines) > 1 else ""


def read_declared(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the ``==`` pins in a requirements file, following ``-r``."""
    declared: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            declared.update(read_declared(path.parent / line[3:].strip()))
        elif "==" in line:
            name, version = line.split("==", 1)
            declared[canonical(name.split("[")[0])] = version.split(";")[0].strip()
    return declared


def read_names(path: Path) -> list[str]:
    """The package names of an ``.in`` file (one per line, comments allowed)."""
    return [n for raw in path.read_text().splitlines() if (n := raw.split("#", 1)[0].strip())]


def _uv() -> str:
    beside_python = Path(sys.executable).parent / "uv"
    found = str(beside_python) if beside_python.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("error: uv not found: run `make venv` first")
    return found


def compile_command(sources: tuple[Path, ...], output: Path, *constraints: Path) -> list[str]:
    """The arguments of ``uv pip compile`` for one lock, as its header repeats them (paths relative to
    the repository, options in ``--option=value`` form)."""
    return [
        "pip",
        "compile",
        "--generate-hashes",
        *TARGET,
        *(f"--constraint={c.relative_to(REPO)}" for c in constraints),
        f"--output-file={output.relative_to(REPO)}",
        *(str(source.relative_to(REPO)) for source in sources),
    ]


def _compile(sources: tuple[Path, ...], output: Path, *constraints: Path) -> None:
    arguments = compile_command(sources, output, *constraints)
    print("+ uv", " ".join(arguments), flush=True)
    # --quiet goes before the subcommand: uv's header then repeats `arguments` exactly.
    command = [_uv(), "--quiet", *arguments]
    subprocess.run(command, cwd=REPO, check=True)


def main() -> int:
    try:
        _compile(MAIN_SOURCES, MAIN_LOCK)
        for subset in SUBSETS:
            _compile((subset.source,), subset.lock, MAIN_LOCK)
        for tool in ISOLATED:
            _compile((tool.source,), tool.lock)
    except subprocess.CalledProcessError as exc:
        # uv has printed why (a conflict, an unknown version) just above.
        source = exc.cmd[-1]
        print(f"error: cannot lock {source}: uv pip compile failed (its message is above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
