#!/usr/bin/env bash
# Lint, then run the test suite. "No tests collected" (pytest exit code 5) is a failure.
# Tests run in one worker per CPU (at most 4): most of an end-to-end test's time is spent
# waiting on the processes it starts. Pass `-n 0` to run in this process.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
.venv/bin/ruff check . || exit 1
.venv/bin/python -m pytest -n auto --maxprocesses 4 "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
