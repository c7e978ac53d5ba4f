#!/usr/bin/env bash
# README command 1: set up the environment if needed, then run the demo on the embedded default
# (local storage, tiny models, CPU). Extra key=value arguments are passed to jobs/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo needs no browser (only the review page's test does): test.sh installs it when it runs.
WITH_BROWSER=${WITH_BROWSER:-0} bash scripts/setup_env.sh
exec .venv/bin/python jobs/demo.py "$@"
