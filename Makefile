# dockyard — the commands the README gives. `make test` is what CI runs on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: test unit lint images bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The offline images (pause, echo-hostname, nginx, debug) that tests, demo and examples use;
# installs the Debian tools it needs (busybox-static, debootstrap, gcc) when they are missing.
images: $(STAMP)
	$(PY) -m agent.images --install-deps

lint: $(STAMP)
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

test: $(STAMP) lint images
	@docker info >/dev/null 2>&1 || { echo "error: the Docker engine is not reachable (docker info failed); dockyard's tests need it" >&2; exit 1; }
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/api.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
