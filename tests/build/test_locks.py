"""The locks agree with what is declared and with each other (tools/locks.py says how they are made).

- requirements.lock pins every declared requirement at its declared version, and nothing that no longer
  has a reason to be there;
- the venv the tests run in is exactly the lock (so the tests ran what the images install);
- each image's subset (build/requirements/<image>.txt) pins the same versions with the same hashes as
  requirements.lock, and exactly the closure of the image's direct dependencies;
- each Dockerfile installs its own subset, hash-checked and without resolving anything;
- each isolated tool (checkov, the policy pack) has a hashed lock of its declared pins, and its own venv
  is exactly that lock;
- every lock's header is the command that writes it, in the form Renovate's pip-compile manager re-runs.

The locks are universal (tools/locks.py): an entry whose marker does not hold here (colorama on Windows)
is locked but not installed, so what is installed is compared with the entries whose marker holds.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement

from tools.locks import (
    IMAGES,
    ISOLATED,
    MAIN_LOCK,
    MAIN_SOURCE,
    MAIN_SOURCES,
    REPO,
    SUBSETS,
    Pin,
    canonical,
    compile_command,
    header_command,
    read_declared,
    read_lock,
    read_names,
)

LOCK = read_lock(MAIN_LOCK)


def here(pins: dict[str, Pin]) -> dict[str, Pin]:
    """The entries of a universal lock whose marker holds in this environment (Linux, CPython 3.11)."""
    return {n: p for n, p in pins.items() if p.marker is None or Marker(p.marker).evaluate()}


def test_the_lock_pins_every_declared_requirement_at_its_declared_version():
    declared = read_declared(MAIN_SOURCE)
    assert declared, "no pins read from requirements-dev.txt: the parser is broken"
    missing = sorted(set(declared) - set(LOCK))
    assert not missing, f"declared but not in requirements.lock (run `make lock`): {missing}"
    differ = {n: (v, LOCK[n].version) for n, v in declared.items() if LOCK[n].version != v}
    assert not differ, f"declared version != locked version (run `make lock`): {differ}"


def _orphans(lock: dict, declared: set[str]) -> list[str]:
    """Locked packages that neither a declared requirement nor another locked package pulls in."""
    orphans = []
    for name, pin in lock.items():
        parents = {canonical(v) for v in pin.via if not v.startswith("-r ")}
        from_a_file = any(v.startswith("-r ") for v in pin.via)
        if not (parents & set(lock) or (from_a_file and name in declared)):
            orphans.append(name)
    return orphans


def test_every_locked_package_is_still_wanted():
    orphans = _orphans(LOCK, set(read_declared(MAIN_SOURCE)))
    assert not orphans, f"in requirements.lock for no declared reason (run `make lock`): {orphans}"


def test_every_locked_package_has_hashes():
    assert all(pin.hashes for pin in LOCK.values())


def test_the_venv_is_exactly_the_lock():
    installed = {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differ = {
        n: (p.version, installed.get(n)) for n, p in here(LOCK).items() if installed.get(n) != p.version
    }
    assert not differ, f"venv differs from requirements.lock (locked, installed): run `make venv`: {differ}"


def _closure(roots: list[str]) -> set[str]:
    env = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    stack = [canonical(r) for r in roots]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(env):
                stack.append(canonical(requirement.name))
    return seen


@pytest.mark.parametrize("subset", SUBSETS, ids=lambda s: s.name)
def test_a_subset_pins_what_the_main_lock_pins_with_the_same_hashes(subset):
    pins = read_lock(subset.lock)
    assert pins, f"{subset.lock.name} pins nothing"
    differ = {
        n: (p.version, LOCK[n].version if n in LOCK else None)
        for n, p in pins.items()
        if n not in LOCK or LOCK[n].version != p.version or LOCK[n].hashes != p.hashes
    }
    assert not differ, f"{subset.lock.name} differs from requirements.lock (run `make lock`): {differ}"


@pytest.mark.parametrize("subset", SUBSETS, ids=lambda s: s.name)
def test_a_subset_is_exactly_the_closure_of_its_direct_dependencies(subset):
    roots = read_names(subset.source)
    assert roots, f"{subset.source.name} names nothing"
    expected = _closure(roots)
    pinned = set(here(read_lock(subset.lock)))
    assert pinned == expected, (
        f"{subset.lock.name}: missing {sorted(expected - pinned)}, extra {sorted(pinned - expected)}"
        " (run `make lock`)"
    )


@pytest.mark.parametrize("image", IMAGES.values(), ids=lambda s: s.name)
def test_image_roots_are_runtime_requirements(image):
    runtime = set(read_declared(REPO / "requirements.txt"))
    stray = sorted({canonical(n) for n in read_names(image.source)} - runtime)
    assert not stray, f"{image.source.name} names packages that requirements.txt does not declare: {stray}"


@pytest.mark.parametrize("image", IMAGES.values(), ids=lambda s: s.name)
def test_the_dockerfile_installs_its_subset_hash_checked_without_resolving(image):
    text = re.sub(r"\\\n", " ", (REPO / "build" / f"Dockerfile.{image.name}").read_text())
    assert f"COPY build/requirements/{image.name}.txt ./requirements.txt" in text
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert len(installs) == 1, installs
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "-r requirements.txt"):
        assert flag in installs[0], f"Dockerfile.{image.name}: pip install without {flag}"


@pytest.mark.parametrize("tool", ISOLATED, ids=lambda t: t.name)
def test_an_isolated_lock_pins_its_declared_requirements_with_hashes_and_nothing_unwanted(tool):
    declared = read_declared(tool.source)
    lock = read_lock(tool.lock)
    assert declared, f"{tool.source.name} declares nothing"
    differ = {
        n: (v, lock[n].version if n in lock else None)
        for n, v in declared.items()
        if n not in lock or lock[n].version != v
    }
    assert not differ, (
        f"{tool.lock.relative_to(REPO)} != {tool.source.relative_to(REPO)} (run `make lock`): {differ}"
    )
    assert all(pin.hashes for pin in lock.values())
    orphans = _orphans(lock, set(declared))
    assert not orphans, (
        f"{tool.lock.relative_to(REPO)}: locked for no declared reason (run `make lock`): {orphans}"
    )


@pytest.mark.parametrize("tool", ISOLATED, ids=lambda t: t.name)
def test_an_isolated_venv_is_exactly_its_lock(tool):
    python = tool.venv / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"{tool.venv.relative_to(REPO)} is missing: `make test` (or `make tool-venvs`) creates it"
        )
    listing = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    installed = {canonical(n): v for n, v in json.loads(listing.stdout).items()}
    locked = {n: p.version for n, p in here(read_lock(tool.lock)).items()}
    assert installed == locked, f"{tool.venv.relative_to(REPO)} differs from its lock: run `make tool-venvs`"


def test_the_policy_pack_runs_the_programs_pulumi_sdk():
    (policy,) = [t for t in ISOLATED if t.name == "policy"]
    assert read_declared(policy.source)["pulumi"] == read_declared(REPO / "requirements.txt")["pulumi"]


def test_make_creates_every_isolated_venv_from_its_lock():
    """The Makefile's venv rules and tools/locks.py's ISOLATED name the same venvs and locks."""
    makefile = (REPO / "Makefile").read_text()
    rules = set(re.findall(r"^\$\(eval \$\(call isolated_venv,([^,]+),([^)]+)\)\)$", makefile, re.M))
    declared = {(str(t.venv.relative_to(REPO)), str(t.lock.relative_to(REPO))) for t in ISOLATED}
    assert rules == declared
    # `make test` makes its prerequisites side by side in its first recipe line (`$(PREPARE) ...`).
    test_target = re.search(r"^test:[^\n]*\n\t@?\$\(PREPARE\) ([^\n]+)$", makefile, re.M)
    assert test_target is not None, "make test no longer starts with `@$(PREPARE) <prerequisites>`"
    for venv, _ in declared:
        assert f"{venv}/.installed" in makefile
    assert "$(CHECKOV_STAMP)" in test_target.group(1).split()
    assert "$(POLICY_STAMP)" in test_target.group(1).split()


# Options Renovate's pip-compile manager accepts in a `uv pip compile` header (renovate 44.121.2,
# lib/modules/manager/pip-compile/common.ts, allowedOptions.uv): any other option makes it skip the lock
# ("Option ... not supported (yet)"); those that take a value must be written --option=value.
RENOVATE_UV_FLAGS = {"--no-strip-extras", "--universal", "-v", "--generate-hashes", "--emit-index-url"}
RENOVATE_UV_OPTIONS_WITH_VALUES = {
    *("--index-url", "--constraints", "--constraint", "--python-version", "--no-emit-package"),
    *("--prerelease", "--format", "--resolution", "--fork-strategy", "--exclude-newer"),
    *("--exclude-newer-package", "--group", "--override", "--overrides", "--output-file"),
    *("--extra", "--extra-index-url"),
}

LOCKS = [
    (MAIN_LOCK, MAIN_SOURCES, ()),
    *((s.lock, (s.source,), (MAIN_LOCK,)) for s in SUBSETS),
    *((t.lock, (t.source,), ()) for t in ISOLATED),
]


@pytest.mark.parametrize(("lock", "sources", "constraints"), LOCKS, ids=lambda v: getattr(v, "name", ""))
def test_every_lock_header_is_a_command_renovate_can_run_again(lock, sources, constraints):
    header = header_command(lock)

    assert header == " ".join(["uv", *compile_command(sources, lock, *constraints)]), (
        f"{lock.relative_to(REPO)}: header {header!r} is not the command tools/locks.py runs: `make lock`"
    )
    for arg in header.split()[3:]:
        if arg.startswith("-"):
            option = arg.split("=", 1)[0]
            assert arg in RENOVATE_UV_FLAGS or ("=" in arg and option in RENOVATE_UV_OPTIONS_WITH_VALUES), (
                f"{lock.relative_to(REPO)}: Renovate's pip-compile manager refuses {arg!r} in a header"
            )
        else:
            assert (REPO / arg).is_file(), f"{lock.relative_to(REPO)}: source {arg} does not exist"


def test_the_main_lock_names_every_file_with_declared_pins():
    """Renovate reads a pin only in a source the header names: it does not follow `-r`."""
    files = header_command(MAIN_LOCK).split()[3:]
    assert {"requirements.txt", "requirements-dev.txt"} <= set(files)
