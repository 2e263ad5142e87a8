# The two set-up commands of the README. Both are safe to re-run.
.PHONY: chat test bench

chat:  ## install, index seeds/, open the chat window on http://127.0.0.1:7860
	@bash scripts/setup.sh
	@.venv/bin/citeqa ingest
	@.venv/bin/citeqa chat

test:  ## install with test extras and run the whole suite (slow tests included)
	@bash scripts/setup.sh --test
	@.venv/bin/python -m pytest -q

bench:  ## benchmarks -> bench/results.md and bench/results.json
	@bash scripts/setup.sh --test
	@.venv/bin/python -m bench.run
