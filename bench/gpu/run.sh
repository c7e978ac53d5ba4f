#!/usr/bin/env bash
# Run ON THE GPU MACHINE, from the repository root, with .whl/ carried (bench/gpu/wheels.sh makes it
# here first). Installs the carried wheels beside the machine's own torch, then runs the kit at real
# size; results land in $OUT (the device tool's folder) or ./gpu-bench-out.
set -uo pipefail
OUT="${OUT:-$PWD/gpu-bench-out}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed: run bench/gpu/wheels.sh here and carry .whl"; exit 3; }
export PYTHONPATH="/tmp/site:$PWD/bench/gpu/standins:$PWD"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > "$OUT/nvidia-smi.csv" 2>&1
python3 bench/gpu/kit.py --size real --out "$OUT" --budget-s "${BUDGET_S:-330}" "$@" 2>&1 | tee "$OUT/kit.log"
