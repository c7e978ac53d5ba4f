#!/usr/bin/env bash
# README command 2: set up the environment if needed, then run the whole test suite.
# Extra arguments are passed to pytest (e.g. `bash scripts/test.sh tests/test_model.py -x`); the
# slowest tests are listed at the end (--durations), where a new slow test shows first.
# TEST_WORKERS (default 2) pytest-xdist workers take whole test files (a module's fixtures are built
# once); half of a one-worker run's time was waits (Ray starting, jobs in subprocesses, servers), which
# the second worker fills. Files go out in collection order (--no-loadscope-reorder: tests/conftest.py
# orders them). TEST_WORKERS=0 runs everything in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder \
  --durations=15 "$@"
