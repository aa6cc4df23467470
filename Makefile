# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

CHROMIUM   := /usr/bin/chromium
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

.PHONY: install browser test demo drill bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (no browser download), with Debian's colour emoji font so
# screenshots show emoji rather than boxes; each package is installed only when it is missing.
browser:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium"; \
	[ -f $(EMOJI_FONT) ] || missing="$$missing fonts-noto-color-emoji"; \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y $$missing; fi

test: install lint browser
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
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
