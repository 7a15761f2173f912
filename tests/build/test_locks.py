"""The locks agree with what is declared and with each other (tools/locks.py says how they are made).

- requirements.lock pins every declared requirement at its declared version, and nothing that no longer
  has a reason to be there;
- the venv the tests run in is exactly the lock (so the tests ran what the images install);
- each image's subset (build/requirements/<image>.txt) pins the same versions with the same hashes as
  requirements.lock, and exactly the closure of the image's direct dependencies;
- each Dockerfile installs its own subset, hash-checked and without resolving anything.
"""

from __future__ import annotations

import importlib.metadata
import re

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from tools.locks import (
    IMAGES,
    MAIN_LOCK,
    MAIN_SOURCE,
    REPO,
    SUBSETS,
    canonical,
    read_declared,
    read_lock,
    read_names,
)

LOCK = read_lock(MAIN_LOCK)


def test_the_lock_pins_every_declared_requirement_at_its_declared_version():
    declared = read_declared(MAIN_SOURCE)
    assert declared, "no pins read from requirements-dev.txt: the parser is broken"
    missing = sorted(set(declared) - set(LOCK))
    assert not missing, f"declared but not in requirements.lock (run `make lock`): {missing}"
    differ = {n: (v, LOCK[n].version) for n, v in declared.items() if LOCK[n].version != v}
    assert not differ, f"declared version != locked version (run `make lock`): {differ}"


def test_every_locked_package_is_still_wanted():
    declared = set(read_declared(MAIN_SOURCE))
    orphans = []
    for name, pin in LOCK.items():
        parents = {canonical(v) for v in pin.via if not v.startswith("-r ")}
        from_a_file = any(v.startswith("-r ") for v in pin.via)
        if not (parents & set(LOCK) or (from_a_file and name in declared)):
            orphans.append(name)
    assert not orphans, f"in requirements.lock for no declared reason (run `make lock`): {orphans}"


def test_every_locked_package_has_hashes():
    assert all(pin.hashes for pin in LOCK.values())


def test_the_venv_is_exactly_the_lock():
    installed = {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    differ = {n: (p.version, installed.get(n)) for n, p in LOCK.items() if installed.get(n) != p.version}
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
    pinned = set(read_lock(subset.lock))
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
