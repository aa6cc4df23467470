# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: install test demo drill bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (no browser download); install it once when absent.
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

test: install lint $(CHROMIUM)
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/rollback-bot demo

drill: install
	$(VENV)/bin/rollback-bot demo --drill

SIZE ?= small

bench: install
	$(PY) -m bench --size $(SIZE)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
