#!/usr/bin/env bash
# README command 2: set up the environment if needed, then run the whole test suite.
# Extra arguments are passed to pytest (e.g. `bash scripts/test.sh tests/test_model.py -x`); the
# slowest tests are listed at the end (--durations), where a new slow test shows first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
