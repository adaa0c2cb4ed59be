# DMT-SLDP. `make run` starts the product with demo data; `make test` runs the whole suite.
# With DATABASE_URL / REDIS_URL unset, both start embedded PostgreSQL and Redis under .data/.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup build run test test-fast lint bench-migrate screenshots clean

setup:
	@bash scripts/setup.sh

build: setup
	@bash scripts/portal.sh build dmt_app
	@bash scripts/portal.sh build admin_app

run: build
	@$(PY) -m core.embedded --profile=run -- .venv/bin/dmt run

test: build
	@$(PY) -m core.embedded --profile=test -- .venv/bin/pytest $(PYTEST_ARGS)

# Everything but the browser tests (no portal build needed).
test-fast: setup
	@$(PY) -m core.embedded --profile=test -- .venv/bin/pytest -m "not e2e" $(PYTEST_ARGS)

lint: setup
	@.venv/bin/ruff check .

# docs/screenshots from a running `make run` (demo data); COMPANY_PORTAL_URL / ADMIN_PORTAL_URL for other ports.
screenshots: setup
	@$(PY) scripts/screenshots.py

bench-migrate: setup
	@$(PY) -m core.embedded --profile=bench -- $(PY) -m bench migrate --tenants 500

clean:
	rm -rf .data .web-* .states-* .tools
