# Every target creates the virtual environment it needs (venv/, the one Pulumi.yaml names), so a
# fresh clone needs nothing but `make plan` and `make test`.
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STACK ?= dev
STAMP := $(VENV)/.installed
# Schemas of the custom resources (KEDA, Prometheus Operator), npm packages pinned with hashes.
CRDS := tools/crds/node_modules/.installed
# uv does not byte-compile at install (pip did), so with PYTHONDONTWRITEBYTECODE set (as on some CI
# machines) every process would compile pulumi_aws' and pulumi_gcp's modules from source again: let
# Python cache what it compiles, once, on first import.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: venv crds tool-venvs policy-venv lock plan plan-diff test golden mutants lint fmt bench report-sample browser clean renovate-check

venv: $(STAMP)

# uv comes from its own hash-checked subset of the lock (pip, once); uv then makes the venv exactly the
# lock: same versions, same hashes, nothing else (pip stays for Pulumi's pip toolchain).
$(STAMP): requirements.lock build/requirements/uv.txt
	test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet \
		--disable-pip-version-check --require-hashes --no-deps -r build/requirements/uv.txt; }
	$(VENV)/bin/uv pip sync --quiet --python $(PY) --require-hashes requirements.lock
	touch $@

crds: $(CRDS)

$(CRDS): tools/crds/package-lock.json tools/crds/package.json
	npm ci --prefix tools/crds --no-audit --no-fund --loglevel=error
	touch $@

# Renovate's own config validator, npm packages pinned with hashes (tools/renovate/package-lock.json).
RENOVATE := tools/renovate/node_modules/.installed

$(RENOVATE): tools/renovate/package-lock.json tools/renovate/package.json
	npm ci --prefix tools/renovate --no-audit --no-fund --loglevel=error
	touch $@

## renovate.json checked by Renovate's own validator, offline (--strict: a config that needs migrating
## fails too). Not part of `make test`: its npm install is ~340 MB and 20-30 s on a fresh clone, ten
## times what `make test` may grow by; CI runs it as a job of its own (docs/plan.md). Which pins the
## config matches is tested in `make test` (tests/tools/test_renovate.py).
renovate-check: $(RENOVATE)
	tools/renovate/node_modules/.bin/renovate-config-validator --strict

# Tools whose pins cannot share venv/ (tools/locks.py ISOLATED) get a venv of their own, synced to their
# own hashed lock by the uv that venv/ holds: checkov for `make test`, and the policy pack, whose venv is
# the one PulumiPolicy.yaml names (`pulumi preview --policy-pack policy` runs it).
CHECKOV_STAMP := tools/checkov/venv/.installed
POLICY_STAMP := policy/venv/.installed

define isolated_venv
$(1)/.installed: $(2) | $(STAMP)
	$(VENV)/bin/uv venv --quiet --allow-existing --python $(PYTHON) $(1)
	$(VENV)/bin/uv pip sync --quiet --python $(1)/bin/python --require-hashes $(2)
	touch $$@
endef
$(eval $(call isolated_venv,tools/checkov/venv,tools/checkov/requirements.txt))
$(eval $(call isolated_venv,policy/venv,policy/requirements.txt))

tool-venvs: $(CHECKOV_STAMP) $(POLICY_STAMP)
policy-venv: $(POLICY_STAMP)

## Rewrite every lock from the declared requirements (requirements*.txt, build/requirements/*.in).
lock: $(STAMP)
	$(PY) -m tools.locks

# What a target needs, made side by side: uv, npm and the browser check wait on the disk and the network
# more than on the CPU (a fresh clone here: 9.7 s one after another, 6.7 s at once).
PREPARE = $(MAKE) --no-print-directory --jobs=4 --output-sync=target

## The stack rendered offline under Pulumi's mock runtime: resource tree, plan.json, manifests.
plan:
	@$(PREPARE) $(STAMP) $(CRDS)
	$(PY) -m tools.plan --stack $(STACK)

## Reviewable diff of two offline plans: make plan-diff BASE=old/plan.json [STACK=dev]
plan-diff:
	@$(PREPARE) $(STAMP) $(CRDS)
	@test -n "$(BASE)" || { echo "usage: make plan-diff BASE=<old plan.json> [STACK=dev]" >&2; exit 2; }
	$(PY) -m tools.plan --stack $(STACK) --quiet
	$(PY) -m tools.plan_diff "$(BASE)" build/plan/$(STACK)/plan.json

## The whole test suite (lint first: a lint failure is a test failure); checkov and the policy pack's
## tests run their own venvs; the report's browser test needs a headless Chrome/Chromium (`browser`).
## --dist loadfile: the integration modules run their scenarios once, in a module fixture; spread over
## workers test by test, every worker that got one of a module's tests ran the whole fixture again
## (measured on tests/app/loader: 149 s and 132 CPU-s with the default distribution, 73 s and 67 CPU-s
## by file), the costliest files first (`cost` marks, tests/conftest.py; --no-loadscope-reorder keeps
## that order). At least 4 workers: much of the suite waits (consumer-group joins, subprocesses) rather
## than computes; on 2 cores the whole suite took 131 s with 2 workers, 113 s with 3 or 4.
## TEST_WORKERS=n overrides.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); if [ "$$n" -lt 4 ]; then echo 4; else echo "$$n"; fi)
test:
	@$(PREPARE) $(STAMP) $(CRDS) $(CHECKOV_STAMP) $(POLICY_STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## Rewrite the golden files the tests compare with (tests/support/golden.py), after an intended change
## to what they pin; then review `git diff`. The tests only ever read them.
golden: $(STAMP)
	$(PY) -m tests.support.golden

## A mutation run (cosmic-ray) over the critical paths, outside `make test` (docs/testing.md): each
## target's score and surviving mutants in build/mutants/report.md. TARGETS="collect-join ..." runs some;
## MUTANT_JOBS=n targets at once (default 2). About 45 min for all of them on this 2-core machine.
mutants: $(STAMP)
	$(PY) -m tools.mutants $(TARGETS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## A report from generated data (build/report-sample/) and its screenshot for the README.
report-sample: $(STAMP) browser
	rm -rf build/report-sample
	$(PY) -m tools.report_sample --out build/report-sample --screenshot docs/images/report.png

## Headless Chrome/Chromium for the report's browser test: found, or Debian's installed (root, apt-get).
browser:
	bash tools/ensure_chromium.sh >/dev/null

## Benchmarks print their figures and ratios; they are not part of `make test`.
bench: $(STAMP)
	$(PY) -m bench.judge_client
	$(PY) -m bench.calibrate
	$(PY) -m bench.loader
	$(PY) -m bench.batch_input
	$(PY) -m bench.model_loader --runs 3
	$(PY) -m bench.report

clean:
	rm -rf build/plan build/bench build/report-sample .pytest_cache .ruff_cache tools/crds/node_modules \
		tools/renovate/node_modules
