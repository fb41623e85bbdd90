# gridloop — `make up` runs the system, `make test` runs every test. Both set up a fresh machine.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: up test lint format bootstrap broker browser bench chaos demo clean

bootstrap:  ## install uv if missing, then the locked environment
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --locked --quiet

broker:  ## make sure a RabbitMQ with the management API answers (local machine only)
	@bash tools/local-broker.sh

browser:  ## Debian's Chromium and a CJK font for the console's browser tests (apt-get, if missing)
	@bash tools/browser.sh

up: bootstrap broker  ## RabbitMQ + MongoDB(-wire stand-in) + the five services; Ctrl-C stops
	$(UV) run python tools/devstack.py

demo: bootstrap broker  ## make up plus the city simulator: watch a living city in the console (:8000)
	$(UV) run python tools/demo.py

chaos: bootstrap broker  ## the fault suite: the whole system under the simulator while faults strike
	$(UV) run gridloop-chaos --reports $${CHAOS_REPORTS:-10000}

lint: bootstrap
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/common/src services/*/src tools bench
	$(UV) run python tools/audit_dependencies.py  # pip-audit over uv.lock; says so when offline

test: bootstrap broker browser lint  ## lint, then unit and integration tests on real infrastructure
	$(UV) run pytest

format: bootstrap
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
