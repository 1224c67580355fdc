# The two commands a newcomer runs: `make crawl` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install crawl test lint demo report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

crawl: $(STAMP)  ## one crawl of the default watchlist into data/dfwatch.db
	@# exit 4 = partial: some sources or targets failed, the rest is stored
	$(BIN)/dfwatch crawl || [ $$? -eq 4 ]

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check crawler spiders tests bench deploy examples
	$(BIN)/ruff format --check crawler spiders tests bench deploy examples
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: $(STAMP)  ## the whole pipeline offline against simulated platforms
	$(BIN)/dfwatch demo

report: $(STAMP)
	$(BIN)/dfwatch report --format html --out data/report.html

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
