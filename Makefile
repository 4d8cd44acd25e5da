# mocktools: `make run` starts every mock, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test


.PHONY: run test lint install install-test bench bench-deps bench-serving bench-soak bench-fleet bench-grpc proto clean browser pictures

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(STAMP)

run: install
	$(PY) -m mocktools up

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install-test lint
	$(PY) -m pytest -n 2 --timeout=120 --cov=mocktools --cov-report=term \
		--json-report --json-report-file=pytest_results.json

# System packages some tests use, each installed from Debian's packages only when missing; a test
# whose package is absent skips and says why: chromium (browser checks of the pictures), redis-server
# (MockRedisServer's byte-for-byte comparison), thrift-compiler (e6data's regenerated Thrift code).
test-deps: browser
	@missing=""; command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v thrift >/dev/null 2>&1 || missing="$$missing thrift-compiler"; \
	if [ -z "$$missing" ]; then echo "test-deps: redis-server and thrift are installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "test-deps: could not install$$missing; the tests that need them will be skipped"; \
	else echo "test-deps: no apt-get here; install$$missing to run every test"; fi

# The picture tests open SVGs and reports in a real headless browser (Debian's chromium); without
# one they skip and say why. Installs it (and the monospace font the pictures measure text in)
# only when /usr/bin/chromium is missing.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "browser: /usr/bin/chromium is installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core) \
		|| echo "browser: could not install chromium; the browser checks will be skipped"; \
	else echo "browser: no apt-get here; install chromium to run the browser checks"; fi

# Regenerate the pictures shown in docs/ (docs/img/*.svg).
pictures: install-test
	$(PY) scripts/render_pictures.py

bench: install-test
	$(PY) -m bench

# wrk drives the serving benchmarks; installed from Debian's packages only when missing.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	@command -v mb >/dev/null 2>&1 || echo "optional: npm install -g mountebank (bench-serving skips it otherwise)"

bench-serving: install-test bench-deps
	$(PY) -m bench.bench_serving

bench-soak: install-test bench-deps
	$(PY) -m bench.bench_serving soak

bench-fleet: install-test bench-deps
	$(PY) -m bench.bench_fleet idle
	$(PY) -m bench.bench_fleet sse
	$(PY) -m bench.bench_fleet chat

bench-grpc: install-test
	$(PY) -m bench.bench_grpc

proto: install-test
	$(PY) -m mocktools.e6data.build_proto

clean:
	rm -rf $(VENV) pytest_results.json .coverage htmlcov
