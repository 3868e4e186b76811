# `make run` and `make test` do all the set-up on a fresh Debian machine: the system
# packages the built-in tasks need (installed only when missing), a virtual environment,
# the pinned CPU torch first, then rnnbench with every task family's extra and the test
# extras. Both are idempotent.

VENV      ?= .venv
PYTHON    ?= python3
TORCH     ?= torch==2.13.0
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
APT_PACKAGES := espeak-ng asterisk-core-sounds-en-wav sword-text-web sword-text-kjv sword-text-sparv libsword-utils chromium
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OFFLINE   := HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1

.PHONY: setup system run community test leaderboard check bench clean

setup: system $(STAMP)

system:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $@

run: setup
	$(OFFLINE) $(BIN)/rnnbench run --all

# The community plugin distributions of community-plugins.txt (validated: name==version
# lines only), installed from PyPI into the venv; the leaderboard workflow then runs only
# their new cells. Separate from `run`, which installs nothing from third parties.
community: setup
	$(BIN)/python -m rnnbench.community install community-plugins.txt

# lint and format check, the suite, then the committed leaderboards must agree with their
# results (stale ones fail)
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(OFFLINE) $(BIN)/python -m pytest -q
	$(BIN)/rnnbench leaderboard --check

leaderboard: setup
	$(BIN)/rnnbench leaderboard

check: setup
	$(BIN)/rnnbench leaderboard --check

bench: setup
	$(OFFLINE) $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV)
