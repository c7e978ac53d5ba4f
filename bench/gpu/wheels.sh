#!/usr/bin/env bash
# Run HERE (a machine with the package registries), before bench/gpu/run.sh goes to the GPU machine:
# fetches into .whl/ (ignored by git, carried to the device) the packages the model code imports that
# the GPU machine's image lacks (its list: ../.library/device/KINDS.md), for CPython 3.12 x86-64.
# av (40 MB) and spacy (35 MB + 20 MB of its own needs) do not fit the 64 MiB carry; audiocraft only
# imports them at module level, for audio file I/O and a text tokenizer the model path never calls,
# so bench/gpu/standins/ answers those imports there instead (see its README).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
PY="${PYTHON:-python3}"
# Versions as in requirements/*.txt where pinned there.
BINARY=(omegaconf==2.4.0 julius==0.2.8 num2words==0.5.14 dora-search==0.1.13 colorlog==6.12.0
        submitit==1.5.4 treetable==0.2.6 retrying==1.4.2 xformers==0.0.35 soundfile==0.14.0
        cffi==2.1.1 pycparser==3.12 librosa==0.11.0 audioread==3.1.0 soxr==1.1.0 decorator==5.3.1
        pooch==1.9.0 platformdirs==4.14.8 tenacity==9.1.4
        boto3==1.44.5 botocore==1.44.8 s3transfer==0.19.3 jmespath==1.1.0)
# Published as source only: built into wheels here (pure Python).
SOURCE=(audiocraft==1.3.0 flashy==0.0.2 docopt==0.6.2)
PLATFORMS=()
for n in 28 27 24 17; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
quiet() { grep -v "is ignored: it is neither\|^$" || true; }
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d .whl "${BINARY[@]}" 2>&1 | quiet
"$PY" -m pip wheel -q --no-deps -w .whl "${SOURCE[@]}" 2>&1 | quiet
ls .whl | wc -l | xargs echo "wheels:"
du -sh .whl
