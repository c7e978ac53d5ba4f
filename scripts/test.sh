#!/usr/bin/env bash
# README command 2: set up the environment if needed, then run the whole test suite.
# Extra arguments are passed to pytest (e.g. `bash scripts/test.sh tests/test_model.py -x`); the
# slowest tests are listed at the end (--durations), where a new slow test shows first.
# Two runs: first every test but the simulated multi-node clusters', on TEST_WORKERS (default 2)
# pytest-xdist workers that take whole test files (a module's fixtures are built once; half of a
# one-worker run's time was waits, which the second worker fills; files go out in the order
# tests/conftest.py gives them). Then the `own_cluster` tests, alone in a fresh process: each starts
# a Ray cluster of its own, which failed beside another worker's cluster or after the shared Ray.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PYTEST=(.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15)
status=0
"${PYTEST[@]}" -n "${TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder -m "not own_cluster" "$@" || status=$?
own=0
"${PYTEST[@]}" -m own_cluster "$@" || own=$?
[ "$own" = 5 ] && own=0  # 5: the arguments selected none of them
[ "$status" != 0 ] && exit "$status"
exit "$own"
