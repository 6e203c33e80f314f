# CareLedger — every target installs what it needs (pinned) and is idempotent.
#   make test    the test suite (what CI runs)
#   make demo    the end-to-end sharing scenario on a local anvil and a local blob store
#   make bench   gas and throughput benchmarks (results in benchmarks/results/)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_BIN := $(CURDIR)/node_modules/@foundry-rs
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PATH := $(NODE_BIN)/anvil-linux-amd64/bin:$(NODE_BIN)/forge-linux-amd64/bin:$(NODE_BIN)/cast-linux-amd64/bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CARELEDGER_ANVIL := $(NODE_BIN)/anvil-linux-amd64/bin/anvil

VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SOLC_SHIM := .solcx/solc-v0.8.30
BUILD_STAMP := .build/.compiled
SOURCES := $(shell find contracts -name '*.sol' -not -path '*/.cache/*' 2>/dev/null)
PAGE := src/careledger/node/page/app.js
PAGE_SOURCES := $(wildcard web/*.html web/*.css web/*.mjs web/src/*.js) $(wildcard src/careledger/abi/*.json)
# the browser the page's tests drive (Debian's chromium; Playwright downloads none)
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all install page screenshots compile abi test test-sdk test-slow forge demo bench slither lint typecheck clean distclean

all: test

install: $(VENV_STAMP) $(NODE_STAMP) $(SOLC_SHIM) $(PAGE)

$(VENV_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SOLC_SHIM): tools/solc.js $(NODE_STAMP)
	mkdir -p .solcx
	ln -sf ../tools/solc.js $@
	$@ --version >/dev/null

$(BUILD_STAMP): $(VENV_STAMP) $(SOLC_SHIM) $(SOURCES) ape-config.yaml
	$(VENV)/bin/ape compile --force
	mkdir -p .build
	touch $@

compile: $(BUILD_STAMP)

# The patient page, bundled offline by esbuild from the pinned npm packages (viem, @hpke,
# @noble); every node serves it at /.
$(PAGE): $(NODE_STAMP) $(PAGE_SOURCES)
	node web/build.mjs

page: $(PAGE)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

# The README's screenshots of the page, taken by its browser tests (with CJK fonts for 简体中文).
screenshots: $(BUILD_STAMP) $(PAGE) $(CHROMIUM)
	fc-list 2>/dev/null | grep -q "Noto Sans CJK" || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-cjk >/dev/null
	CARELEDGER_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PYTEST) -q tests/test_page.py

# Regenerate the ABIs and bytecode packaged inside the careledger wheel.
abi: $(BUILD_STAMP)
	$(PY) tools/export_abis.py

forge: $(SOLC_SHIM)
	forge test

# Three runners: forge (Solidity fuzz/invariants), ape (contract tests with ape fixtures),
# pytest (SDK, CLI, demo, faults; ape's plugin off). pytest runs last and its summary closes.
PYTEST := $(PY) -m pytest -p no:ape_test --ignore=tests/contracts
# ape's contract tests (one core, 2 minutes) run beside pytest's two workers, which spend much
# of their time waiting on anvil, node processes and HTTP; ape's output is printed at the end.
# ape test's anvil through tools/ape-anvil/anvil: its spilled states go in a temporary folder
# removed when it stops (anvil itself leaves them in ~/.foundry/anvil/tmp)
APE_TEST := PATH=$(CURDIR)/tools/ape-anvil:$$PATH CARELEDGER_ANVIL=$(NODE_BIN)/anvil-linux-amd64/bin/anvil $(VENV)/bin/ape test tests/contracts

test: $(BUILD_STAMP) $(PAGE) $(CHROMIUM)
	forge test
	@mkdir -p .build; \
	$(APE_TEST) > .build/ape-test.log 2>&1 & ape=$$!; \
	$(PYTEST) -n 2 --dist loadfile; py=$$?; \
	wait $$ape; ap=$$?; \
	echo "== ape test tests/contracts (ran beside pytest): exit $$ap"; \
	if [ $$ap -eq 0 ]; then tail -n 3 .build/ape-test.log; else cat .build/ape-test.log; fi; \
	[ $$py -eq 0 ] && [ $$ap -eq 0 ]

test-sdk: $(BUILD_STAMP)
	$(PYTEST) -x -q

test-slow: $(BUILD_STAMP)
	FOUNDRY_PROFILE=slow forge test
	$(APE_TEST)
	CARELEDGER_SLOW=1 $(PYTEST) -n 2 --dist loadfile

demo: $(BUILD_STAMP) $(PAGE)
	$(VENV)/bin/careledger demo

bench: $(BUILD_STAMP)
	$(PY) benchmarks/run_all.py

# Static analysis (triage in docs/slither.md). slither exits non-zero whenever it reports
# anything, triaged or not, so this target prints and does not fail.
slither: $(BUILD_STAMP)
	-$(VENV)/bin/slither . --compile-force-framework foundry

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools scripts

typecheck: $(VENV_STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf .build .forge-out .forge-cache contracts/.cache .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) node_modules .solcx src/careledger/node/page
