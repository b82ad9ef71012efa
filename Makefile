# taskspread.ecs: every entry point sets itself up (virtualenv, pinned installs, collection path).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
COLL   := .collections/ansible_collections/taskspread/ecs
SANDBOX_PORT ?= 4566
SPEED  ?= 50

export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONPATH := $(CURDIR):$(CURDIR)/.collections
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: setup java demo walkthrough test test-unit test-sandbox test-integration lint sanity bench sandbox clean chaos conformance simulate

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(COLL):
	mkdir -p $(dir $(COLL))
	ln -sfn ../../.. $(COLL)

## ansible-rulebook (Event-Driven Ansible, tests/sandbox/test_eda_rulebook.py) runs its rules
## engine on a JVM: Java 17 or later, from Debian's package when missing (CI runs as root).
java:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	  echo "Java 17+ needed by ansible-rulebook (found: $${v:-none}): installing openjdk-17-jre-headless"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; \
	fi

setup: $(STAMP) $(COLL) java

## The main job: a sandbox, then the deploy and validate playbooks against it (PASS/FAIL and
## the distribution tables). KEEP=1 keeps the sandbox serving afterwards.
demo: setup
	$(BIN)/python -m sandbox demo --port $(SANDBOX_PORT) --speed $(SPEED) $(if $(KEEP),--keep)

## The problem without taskspread: the seed scenario scaled down and up, boto3 only.
walkthrough: setup
	$(BIN)/python -m sandbox walkthrough --port $(SANDBOX_PORT) --speed $(SPEED)

## Every test: lint and ansible-test sanity first, then pytest (unit, sandbox, integration).
test: setup lint sanity
	$(BIN)/python -m pytest tests

lint: setup
	$(BIN)/ansible-lint --offline

sanity: setup
	tests/sanity/run.sh

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-sandbox: setup
	$(BIN)/python -m pytest tests/sandbox

## The chaos suite (tests/chaos): SEED=n replays one seed, SEEDS=N runs N fresh random seeds,
## neither: the fixed seeds `make test` runs. A failing seed prints its `make chaos SEED=n` line.
chaos: setup
	CHAOS_SEED=$(SEED) CHAOS_SEEDS=$(SEEDS) $(BIN)/python -m pytest -q -rA tests/chaos/test_chaos.py

## moto's own tests (tests/test_ecs and the aws_verified tests of Auto Scaling, ELBv2 and
## Application Auto Scaling) in server mode against the sandbox, compared with
## tests/conformance/expected.yml: passed / expected-different / failed per suite.
## CONFORMANCE_ARGS e.g. "--suite ecs --port 4610".
conformance: setup
	$(BIN)/python tests/conformance/moto_suite.py $(CONFORMANCE_ARGS)

## Deterministic simulation of the surge/lease protocol (tests/simulation): every fault kind at
## every call point of the small scenarios, COUNT=N random schedules (default 20) of the large
## one; SCENARIO=name narrows, KIND=fault-kind narrows the exhaustive part, SEED=n replays one
## schedule, FAULT=kind@where one named schedule (kind@where;kind@where for several). Prints per scenario the interleavings explored and,
## for a failing one, the invariant, the call point and its replay line.
simulate: setup
	$(BIN)/python -m tests.simulation $(if $(SCENARIO),--scenario $(SCENARIO)) \
	  $(if $(SEED),--seed $(SEED)) $(if $(COUNT),--count $(COUNT)) \
	  $(if $(FAULT),--fault "$(FAULT)") $(if $(KIND),--kind $(KIND)) $(if $(VERBOSE),--verbose)

## Benchmarks (they measure; tests assert): writes benchmarks/results.{json,md} and scale.png.
bench: setup
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## Serve the sandbox in the foreground (Ctrl-C stops it).
sandbox: setup
	$(BIN)/python -m sandbox serve --port $(SANDBOX_PORT) --speed $(SPEED)

clean:
	rm -rf .collections .sandbox tests/output .pytest_cache
