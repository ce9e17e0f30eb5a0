# Two commands do everything: `make run` (set up, then start the bot, or the local demo when
# no DISCORD_BOT_TOKEN is set) and `make test` (set up, then lint and run the whole test suite).
# `python -m bot` itself never falls back to the demo: without a token it exits with code 2.
.PHONY: run test setup lint bench demo lock

setup:
	@bash scripts/bootstrap.sh

run: setup
	@.venv/bin/python -m bot $(or $(ARGS),run --demo-without-token)

demo: setup
	@.venv/bin/python -m bot demo

test: setup
	@bash scripts/test.sh $(ARGS)

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: setup
	@for script in benchmarks/*.py; do echo "== $$script"; .venv/bin/python "$$script" || exit 1; done

# Re-pin constraints.txt to the newest versions pyproject.toml allows (then run make test).
lock:
	@bash scripts/lock.sh
