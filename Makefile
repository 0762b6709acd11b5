# Bot4 developer commands. Every target sets up .venv itself on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CC     ?= cc
SAN_FLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer \
             -fsanitize=address,undefined -fno-sanitize-recover=all
C_SRC  := $(wildcard csrc/*.c)
C_HDR  := $(wildcard csrc/*.h)
C_TESTS := $(wildcard tests/c/test_*.c)
SHARED_DATA ?= ../shared/data

.PHONY: setup build sim replay test pytest bench lint sanitize clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q 'setuptools>=68' wheel 'Cython>=3.0' 'numpy>=1.26'
	BOT4_SKIP_EXT=1 $(BIN)/pip install -q --no-build-isolation -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Incremental: recompiles only what changed in csrc/ or engine/.
build: $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace -j 2

# The main job: the built-in market maker through the simulated venue on the seeded
# synthetic market (no data needed).
sim: build
	$(BIN)/bot4 sim

# Rebuild the book from the recorded Binance spot feed and check it against every bookTicker.
replay: build
	$(BIN)/bot4 data replay $(SHARED_DATA)/binance/spot/btcusdt_20240808.gz \
	    $(SHARED_DATA)/binance/spot/btcusdt_20240809.gz --check-bbo

test: build sanitize pytest bench

pytest: build
	BOT4_TEST_PG_DSN="$${BOT4_TEST_PG_DSN:-$$(bash scripts/pg_test_server.sh)}" $(BIN)/python -m pytest -q tests

# Benchmarks, each against its reference in the same run, then the gate on the ratios.
bench: build
	rm -f build/bench-figures.json
	BOT4_TEST_PG_DSN="$${BOT4_TEST_PG_DSN:-$$(bash scripts/pg_test_server.sh)}" $(BIN)/python -m pytest -q bench --benchmark-columns=median,ops,rounds --benchmark-sort=name \
	    -p no:cacheprovider
	$(BIN)/python bench/gate.py

lint: build
	$(CC) -fsyntax-only -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE $(C_SRC)
	$(BIN)/ruff check bot engine tests bench setup.py

# C unit tests (tests/c/test_*.c, each its own program) under ASan + UBSan.
sanitize:
	@mkdir -p build/sanitize
	@set -e; for t in $(C_TESTS); do \
	    n=$$(basename $$t .c); \
	    $(CC) $(SAN_FLAGS) -Icsrc $$t $(C_SRC) -o build/sanitize/$$n -lpthread -lm; \
	    echo "sanitize: $$n"; ./build/sanitize/$$n; \
	done

clean:
	rm -rf build dist *.egg-info .pytest_cache .benchmarks .hypothesis
	find engine -name '*.so' -delete; find engine -name '*.c' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
