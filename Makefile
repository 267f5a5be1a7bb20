# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test install migrate faq slots bench eval clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/flask db upgrade

faq: install
	$(BIN)/flask faq load

slots: migrate
	$(BIN)/flask legal-aid slots --weeks 2

# One process: the bot, the scheduler and the outbox sender (bot/devserver.py); Ctrl-C stops all three.
run: migrate faq slots
	@echo "Simulator: http://127.0.0.1:5000/dev/chat   (terminal: $(BIN)/flask chat)"
	$(BIN)/flask serve --host 127.0.0.1 --port 5000

test: install
	$(BIN)/python -m pytest -n 2 -q

bench: install
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/jobs.py

eval: install
	$(BIN)/python ../shared/eval/score.py ../shared/eval/dev.jsonl --cmd "$(BIN)/flask nlu route"
	$(BIN)/python ../shared/eval/score.py tests/data/heldout.jsonl --cmd "$(BIN)/flask nlu route"

clean:
	rm -rf $(VENV) instance .pytest_cache
