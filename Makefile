# dockyard — the commands the README gives. `make test` is what CI runs on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: test unit lint tools images demo seed-check chaos bench bench-api bench-pods bench-scheduler bench-scaleup bench-services bench-portforward clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The offline images (pause, echo-hostname, nginx, debug) that tests, demo and examples use;
# installs the Debian tools it needs (busybox-static, debootstrap, gcc) when they are missing.
images: $(STAMP)
	$(PY) -m agent.images --install-deps

# A 3-node cluster on this machine with the seed's echo-hostname app, left running (see README).
demo: $(STAMP) images
	@docker info >/dev/null 2>&1 || { echo "error: the Docker engine is not reachable (docker info failed); the demo needs it" >&2; exit 1; }
	./examples/demo.sh

# Tools the tests use besides Python, Docker, kubectl and docker-compose: ruby checks the
# Vagrantfile's syntax, shellcheck the provisioning script. Installed with apt when missing.
TOOLS = ruby shellcheck
tools:
	@missing=$$(for t in $(TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "error: the tests need $$missing: run sudo apt-get install -y $$missing" >&2; exit 1; fi; \
		echo "installing $$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Layering (import-linter contracts) and types (mypy, configured in pyproject.toml: zero errors).
lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

unit: $(STAMP) tools
	$(PY) -m pytest -q tests/unit

test: $(STAMP) lint tools images
	@docker info >/dev/null 2>&1 || { echo "error: the Docker engine is not reachable (docker info failed); dockyard's tests need it" >&2; exit 1; }
	$(PY) -m pytest -q

# examples/seed/ against the study notes themselves (not part of a clone): every complete manifest
# of NOTES/*.txt has its byte-for-byte copy there, as examples/seed/provenance.txt records.
seed-check: $(STAMP)
	@test -n "$(NOTES)" || { echo "error: say where the study notes are: make seed-check NOTES=DIR" >&2; exit 2; }
	$(PY) -m tests.support.seed_copies "$(NOTES)"

bench: bench-api bench-pods bench-scheduler bench-scaleup bench-services bench-portforward

bench-api: $(STAMP)
	$(PY) bench/api.py

# Real containers: needs the Docker engine and the offline images; about 3 minutes.
bench-pods: $(STAMP) images
	$(PY) bench/pods.py

# In-process placements/s on 100 simulated nodes, then a 30-replica Deployment on 3 real agents;
# needs the Docker engine and the offline images; 4–7 minutes.
bench-scheduler: $(STAMP) images
	$(PY) bench/scheduler.py

# One ReplicaSet from 0 to 1,000 pods on simulated nodes: time and server CPU beside the bare
# write path; no Docker, under a minute.
bench-scaleup: $(STAMP)
	$(PY) bench/scaleup.py

# ClusterIP and NodePort against direct pod traffic, and Ready-to-traffic latency, on 3 real
# agents; needs the Docker engine, root (iptables) and the offline images; about 2 minutes.
bench-services: $(STAMP) images
	$(PY) bench/services.py

# kubectl port-forward (WebSocket tunnel and SPDY upgrade) beside a direct connection to the same
# nginx pod: MB/s for a large download and requests/s over 20 parallel connections; needs the
# Docker engine, root and the offline images; about 2 minutes.
bench-portforward: $(STAMP) images
	$(PY) bench/portforward.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Chaos under load on separate machines (3 workers, each with its own Docker engine): kill -9 of
# the control plane and of agents, engine restarts, partitions, drains and rollouts while a client
# uses the Service and the API; prints the figures' table. CHAOS_ROUNDS rounds of every fault
# (about 1.5 minutes each); CHAOS_SEED=N plays the schedule of seed N again. Needs root.
CHAOS_ROUNDS ?= 3
CHAOS_SEED ?=
chaos: $(STAMP) images
	DOCKYARD_CHAOS_ROUNDS=$(CHAOS_ROUNDS) DOCKYARD_CHAOS_SEED=$(CHAOS_SEED) $(PY) -m pytest -q -s -p no:randomly tests/chaos
