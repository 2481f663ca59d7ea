# kaskad-ble: firmware for the Feather nRF52840 Express, and its host-side tools.
#
#   make test        every test (pytest: unit, end-to-end, type check, MicroPython VM, float check),
#                    then the Home Assistant tests (make test-ha)
#   make test-ha     tests/ha in a real Home Assistant core (.venv-ha, Python 3.13 from pyenv)
#   make run         boot code.py on this PC against the simulated meter  (ARGS="..." passed on)
#   make bench       each meter family's poll cycle in virtual time beside its physical floor and
#                    the old firmware's schedule, then the whole device's figures (host/bench.py;
#                    ARGS="--family mercury-206 --delay-ms 50" passed on)
#   make life        how each case of the board's life ends (reloads, hangs, Ctrl-C, safe mode),
#                    on CircuitPython 10.2.1 and after PR #11295, in virtual time (host/life_cases.py)
#   make bench-cli   how long each flow of the `kaskad` tool takes against the twin
#   make cli         .venv/bin/kaskad, the owner's command-line tool (also made by `make venv`)
#   make mutation    plant each bug of tools/mutations.txt in a scratch copy, run its tests, print
#                    every survivor and the kill rate (ARGS="--only ID,ID" or "--root DIR")
#   make typecheck   mypy over code.py and lib/kaskad against the board's CircuitPython API
#   make vm FILE=x   run a script on the MicroPython VM with the board-sized heap (tools/vm_run.py)
#   make vm-wasm FILE=x   run it on the 32-bit WebAssembly MicroPython (31-bit small ints, as the board)
#   make heap        the firmware's heap in use on the 32-bit (wasm) and 64-bit VMs, .py and .mpy:
#                    after boot, with the loop running, after 1000 polls, smallest heap; the
#                    budget and per-module import costs (tools/heap_table.py, issue 13; ~8 min)
#   make floats      list float literals, true divisions and float() calls in the firmware
#   make mpy         compile the firmware with mpy-cross into build/mpy and show the .mpy sizes
#   make install CIRCUITPY=/media/you/CIRCUITPY   copy code.py, lib/kaskad compiled to .mpy
#                    (SOURCE=1: as .py), and settings.toml only if the drive has none, onto the
#                    board; FORCE=1 if the drive has no boot_out.txt
#   make clean       remove the venv and every generated file
#
# Everything the targets need is installed into .venv from requirements*.txt (PyPI only); the venv
# is rebuilt when a requirements file changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
BOARD := feather_nrf52840_express
STAMP := $(VENV)/.installed
TYPESHED := $(VENV)/circuitpython-typeshed
BOARD_LIB := $(VENV)/board-lib
REQUIREMENTS := requirements-dev.txt requirements-nodeps.txt requirements-board.txt
# Home Assistant core needs Python 3.13 (homeassistant 2025.4.4), which pyenv provides
HA_VENV := .venv-ha
HA_BIN := $(HA_VENV)/bin
HA_STAMP := $(HA_VENV)/.installed
PY313 = $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13))
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

NODE_STAMP := node_modules/.installed

.PHONY: test test-ha venv-ha run bench bench-cli cli life mutation typecheck vm vm-wasm heap floats mpy install clean venv
.DEFAULT_GOAL := test

venv: $(STAMP) $(BIN)/kaskad

# The command-line tool runs from this checkout (it reuses host/kaskad_client.py and the firmware's
# settings schema, lib/kaskad/settings.py), so the entry point is a launcher, not a package.
cli: $(BIN)/kaskad

$(BIN)/kaskad: $(STAMP)
	printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$(CURDIR)/$(PY)" "$(CURDIR)/clients/cli/kaskad_cli.py" > $@
	chmod 755 $@

$(STAMP): $(REQUIREMENTS) tools/build_typeshed.py $(wildcard tools/typeshed_overrides/*.pyi)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-deps -r requirements-nodeps.txt
	$(PIP) --no-deps -r requirements-board.txt
	rm -rf $(BOARD_LIB) && mkdir -p $(BOARD_LIB)
	$(PIP) --no-deps --target $(BOARD_LIB) -r requirements-board.txt
	$(BIN)/circuitpython_setboard $(BOARD)
	$(PY) tools/build_typeshed.py $(TYPESHED)
	touch $@

# Not `python -m pytest`: that puts the repository root on sys.path, where code.py shadows the
# standard library's `code` module; pytest imports pdb -> code at start-up and would run the
# firmware's endless main loop.
# The WebAssembly MicroPython for the VM checks on 31-bit small ints: pinned in package.json and
# package-lock.json, installed by npm ci (node and npm from Debian: see the README).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: $(STAMP) $(NODE_STAMP) $(BIN)/kaskad $(HA_STAMP)
	$(BIN)/pytest
	$(HA_BIN)/pytest -c tests_ha/pytest.ini tests_ha

# Where Python 3.13 is missing this fails in one line (CI must not pass without the Home
# Assistant tests).

venv-ha: $(HA_STAMP)

$(HA_STAMP): requirements-ha.txt requirements-board.txt
	@test -n "$(PY313)" || { echo "make test: Python 3.13 is missing: install it with 'pyenv install 3.13' (the Home Assistant tests need it)" >&2; exit 1; }
	test -x $(HA_BIN)/python || $(PY313) -m venv $(HA_VENV)
	$(HA_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-ha.txt
	$(HA_BIN)/python -m pip check
	# the board's own libraries for the twin (tests_ha/air.py), apart, as the board has them
	rm -rf $(HA_VENV)/board-lib && mkdir -p $(HA_VENV)/board-lib
	$(HA_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(HA_VENV)/board-lib -r requirements-board.txt
	touch $@

test-ha: $(HA_STAMP)
	$(HA_BIN)/pytest -c tests_ha/pytest.ini tests_ha

run: $(STAMP)
	$(PY) host/run.py $(ARGS)

bench: $(STAMP)
	$(PY) host/bench.py $(ARGS)

life: $(STAMP)
	$(PY) host/life_cases.py

bench-cli: $(STAMP)
	$(PY) host/cli_bench.py

mutation: $(STAMP)
	$(PY) tools/mutate.py $(ARGS)

typecheck: $(STAMP)
	$(PY) tools/typecheck.py

vm: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make vm FILE=script.py [ARGS='--heap 64K']" >&2; exit 2; }
	$(PY) tools/vm_run.py $(ARGS) $(FILE)

vm-wasm: $(STAMP) $(NODE_STAMP)
	@test -n "$(FILE)" || { echo "usage: make vm-wasm FILE=script.py" >&2; exit 2; }
	$(PY) tools/vm_run.py --vm wasm $(ARGS) $(FILE)

heap: $(STAMP) $(NODE_STAMP)
	$(PY) tools/heap_table.py --modules $(ARGS)

floats:
	$(PYTHON) tools/float_check.py

mpy: $(STAMP)
	$(PY) tools/mpy_build.py build/mpy

install:
	@test -n "$(CIRCUITPY)" || { echo "usage: make install CIRCUITPY=/path/to/CIRCUITPY  (the board's drive, e.g. /media/you/CIRCUITPY)" >&2; exit 2; }
	$(MAKE) --no-print-directory venv
	$(PY) tools/install_board.py $(if $(FORCE),--force) "$(CIRCUITPY)"

clean:
	rm -rf $(VENV) $(HA_VENV) build node_modules .pytest_cache .mypy_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
