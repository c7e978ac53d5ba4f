#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv, from scratch on a fresh machine.
# Idempotent: a stamp holding the hash of the requirement files skips the work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VIDMUSICIAN_VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
# System packages of the tests: headless Chromium and its driver (the review page's browser test) and
# espeak-ng (speech under test videos, for the mix policies). WITH_BROWSER=0 skips them: the cluster
# image runs jobs, not tests.
if [ "${WITH_BROWSER:-1}" = 1 ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
                                     || ! command -v espeak-ng >/dev/null; }; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver espeak-ng >/dev/null
fi
stamp="$VENV/.vidmusician-stamp"
want=$( (echo "$TORCH_SPEC"; cat requirements/*.txt pyproject.toml) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# A machine's pip config may name local package folders that are absent; pip then warns once per
# package and folder (hundreds of lines). Only that warning is dropped; pip's exit status is kept.
PIP_NOISE="is ignored: it is neither a file nor a directory"
pip_install() {
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$@" 2>&1 | { grep -v "$PIP_NOISE" || true; }
}
pip_install --upgrade pip
# torch first and alone, so that no later requirement can pull a CUDA build.
pip_install "$TORCH_SPEC"
pip_install -r requirements/runtime.txt -r requirements/test.txt
pip_install --no-deps -r requirements/no-deps.txt
pip_install --no-deps -e .
# librosa's numba kernels compiled once here: concurrent first compiles race on numba's cache.
"$VENV/bin/python" -m vidmusician.metrics.warmup
echo "$want" > "$stamp"
echo "setup_env: $VENV ready in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1)" >&2
