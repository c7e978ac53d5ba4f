"""Static checks of cluster/: every manifest against its schema, the placement facts the README states,
the runtime env's upload size, the image recipe. No network, no cluster, no Ray started.

Schemas (cluster/schemas/SOURCES.md): KubeRay's RayCluster / RayJob CRDs (v1 openAPIV3Schema extracts),
Kubernetes batch/v1 CronJob (JSON schema, strict), and the cluster launcher's schema from the installed
ray package. Each validator is shown to reject a broken manifest, so a pass means something."""
from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CLUSTER = REPO / "cluster"
KUBERAY = CLUSTER / "kuberay"
SCHEMAS = CLUSTER / "schemas"
IMAGE = "vidmusician:latest"
UPLOAD_LIMIT = 100 * 1024 * 1024

Validator = jsonschema.Draft202012Validator


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


# ---------------------------------------------------------------- CRD openAPIV3Schema -> JSON Schema

INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
# Keys of the structural schema that JSON Schema (draft 2020-12) reads the same way.
PLAIN_KEYS = {"type", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
              "maxItems", "default", "format"}


def crd_to_jsonschema(node: dict) -> dict:
    """A CRD's structural schema as JSON Schema that rejects what the API server rejects with strict
    field validation, as far as the schema says (cluster/schemas/SOURCES.md lists the rules)."""
    if node.get("x-vidmusician-trimmed"):
        return {"type": node["type"]} if "type" in node else {}
    out = {k: v for k, v in node.items() if k in PLAIN_KEYS}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif "anyOf" in node:
        out["anyOf"] = [crd_to_jsonschema(n) for n in node["anyOf"]]
    if node.get("format") in INT_RANGES:
        out["minimum"], out["maximum"] = INT_RANGES[node["format"]]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node:
        out["properties"] = {k: crd_to_jsonschema(v) for k, v in node["properties"].items()}
    if "required" in node:
        out["required"] = list(node["required"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = crd_to_jsonschema(node["additionalProperties"])
    elif ("properties" in node and not node.get("x-kubernetes-preserve-unknown-fields")
          and not node.get("x-vidmusician-partial")):
        out["additionalProperties"] = False
    if "items" in node:
        out["items"] = crd_to_jsonschema(node["items"])
        if node.get("x-kubernetes-list-type") == "map":
            item_props = node["items"].get("properties", {})
            keys = node["x-kubernetes-list-map-keys"]
            out["x-unique-keys"] = {"keys": keys, "defaults": {k: item_props.get(k, {}).get("default")
                                                               for k in keys}}
    return out


def _unique_keys(validator, spec, instance, schema):
    if not validator.is_type(instance, "array"):
        return
    seen = set()
    for item in instance:
        if not isinstance(item, dict):
            continue
        key = tuple(item.get(k, spec["defaults"][k]) for k in spec["keys"])
        if key in seen:
            yield jsonschema.ValidationError(f"duplicate entry with {dict(zip(spec['keys'], key))}")
        seen.add(key)


CRDValidator = jsonschema.validators.extend(Validator, {"x-unique-keys": _unique_keys})


def crd_validator(name: str):
    crd = load_yaml(SCHEMAS / name)
    schema = crd_to_jsonschema(crd["openAPIV3Schema"])
    schema["properties"]["apiVersion"]["const"] = f"{crd['group']}/{crd['version']}"
    schema["properties"]["kind"]["const"] = crd["kind"]
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    Validator.check_schema(schema)
    return CRDValidator(schema)


def cronjob_validator():
    schema = json.loads((SCHEMAS / "cronjob-batch-v1.json").read_text())
    Validator.check_schema(schema)
    return Validator(schema)


VALIDATORS = {"RayCluster": lambda: crd_validator("ray.io_rayclusters.v1.yaml"),
              "RayJob": lambda: crd_validator("ray.io_rayjobs.v1.yaml"),
              "CronJob": cronjob_validator}


def errors(manifest: dict) -> list[str]:
    validator = VALIDATORS[manifest["kind"]]()
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]


MANIFESTS = sorted(KUBERAY.glob("*.yaml"))


def manifest(name: str) -> dict:
    return load_yaml(KUBERAY / name)


def containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def cluster_pod_templates(rc: dict) -> list[dict]:
    return [rc["spec"]["headGroupSpec"]["template"]] + [g["template"] for g in rc["spec"]["workerGroupSpecs"]]


def groups(rc: dict) -> dict[str, dict]:
    return {g["groupName"]: g for g in rc["spec"]["workerGroupSpecs"]}


def parse_ray_resources(value: str) -> dict:
    """rayStartParams.resources as `ray start` receives it: KubeRay writes `--resources=<value>` into
    the container's shell command, so the value is a shell word that must unquote to a JSON object."""
    words = shlex.split(value)
    assert len(words) == 1, value
    return json.loads(words[0])


# ---------------------------------------------------------------- schema validation

@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_its_schema(path):
    doc = load_yaml(path)
    assert doc["kind"] in VALIDATORS, f"{path.name}: no schema for kind {doc['kind']}"
    assert errors(doc) == []


def test_every_kind_is_covered():
    kinds = sorted(load_yaml(p)["kind"] for p in MANIFESTS)
    assert kinds == ["CronJob", "RayCluster", "RayJob", "RayJob", "RayJob"]


BROKEN = [
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][0].__setitem__("minReplicas", "many"),
     "minReplicas"),
    ("raycluster.yaml", lambda d: d["spec"].pop("headGroupSpec"), "'headGroupSpec' is a required property"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][1].pop("groupName"), "'groupName' is a required"),
    ("raycluster.yaml", lambda d: d["spec"]["headGroupSpec"]["rayStartParams"].__setitem__("num-cpus", 0),
     "num-cpus"),
    ("raycluster.yaml", lambda d: d["spec"].__setitem__("workerGroupSpec", []), "'workerGroupSpec' was unexpected"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][1]["template"]["spec"]["containers"][0]
     ["resources"]["limits"].__setitem__("nvidia.com/gpu", 1.5), "nvidia.com/gpu"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
     .__setitem__("imagePullPolcy", "Always"), "'imagePullPolcy' was unexpected"),
    ("raycluster.yaml", lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
     .append({"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"}), "duplicate entry"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][0].__setitem__("maxReplicas", 2**31),
     "maxReplicas"),
    ("raycluster.yaml", lambda d: d.__setitem__("apiVersion", "ray.io/v1alpha1"), "apiVersion"),
    ("rayjob-extract.yaml", lambda d: d["spec"].pop("entrypoint"), "'entrypoint' is a required property"),
    ("rayjob-train.yaml", lambda d: d["spec"].__setitem__("backoffLimit", "two"), "backoffLimit"),
    ("rayjob-soundtrack.yaml", lambda d: d["spec"].__setitem__("shutdownAfterJobFinish", False),
     "'shutdownAfterJobFinish' was unexpected"),
    ("cronjob-nightly.yaml", lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
     .__setitem__("comand", ["x"]), "'comand' was unexpected"),
    ("cronjob-nightly.yaml", lambda d: d["spec"].__setitem__("startingDeadlineSeconds", "soon"),
     "startingDeadlineSeconds"),
    ("cronjob-nightly.yaml", lambda d: d["spec"].pop("schedule"), "'schedule' is a required property"),
]


@pytest.mark.parametrize("name,breakit,expected", BROKEN, ids=[f"{b[0]}-{b[2][:28]}" for b in BROKEN])
def test_validators_reject_broken_manifests(name, breakit, expected):
    doc = copy.deepcopy(manifest(name))
    breakit(doc)
    found = errors(doc)
    assert found, f"{name}: the broken manifest validated"
    assert any(expected in e for e in found), found


def test_int_or_string_conversion():
    node = {"anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[0-9]+(m|Gi)?$",
            "x-kubernetes-int-or-string": True}
    check = Validator(crd_to_jsonschema(node))
    assert check.is_valid(2) and check.is_valid("500m") and check.is_valid("16Gi")
    assert not check.is_valid("lots") and not check.is_valid(1.5) and not check.is_valid([1])
    bare = crd_to_jsonschema({"x-kubernetes-int-or-string": True})
    assert Validator(bare).is_valid(3) and Validator(bare).is_valid("3") and not Validator(bare).is_valid(None)


# ---------------------------------------------------------------- RayCluster: placement facts

def test_raycluster_head_takes_no_work_and_serves_the_dashboard():
    rc = manifest("raycluster.yaml")
    head = rc["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    ports = {p["containerPort"] for c in containers(head["template"]) for p in c.get("ports", [])}
    assert 8265 in ports
    assert rc["spec"]["enableInTreeAutoscaling"] is True


def test_raycluster_groups_cpu_pool_and_gpu():
    rc = manifest("raycluster.yaml")
    by_name = groups(rc)
    assert set(by_name) == {"cpu", "gpu"}
    cpu_pool = parse_ray_resources(by_name["cpu"]["rayStartParams"]["resources"])
    assert cpu_pool["cpu_pool"] > 0
    gpu = by_name["gpu"]
    assert "resources" not in gpu["rayStartParams"]  # cpu_pool only on the CPU group
    limits = containers(gpu["template"])[0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] >= 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["template"]["spec"]["tolerations"]
    assert gpu["template"]["spec"]["nodeSelector"]
    for c in containers(by_name["cpu"]["template"]):
        assert "nvidia.com/gpu" not in c["resources"].get("limits", {})
    for g in by_name.values():
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]


def test_raycluster_resources_image_and_version():
    import ray
    rc = manifest("raycluster.yaml")
    assert rc["spec"]["rayVersion"] == ray.__version__
    for template in cluster_pod_templates(rc):
        for c in containers(template):
            assert c["image"] == IMAGE
            assert c["resources"]["requests"] and c["resources"]["limits"]


def test_raycluster_credentials_come_from_a_secret():
    rc = manifest("raycluster.yaml")
    secret_like = re.compile(r"ACCESS_KEY|SECRET|TOKEN|PASSWORD")
    for template in cluster_pod_templates(rc):
        env = {e["name"]: e for c in containers(template) for e in c.get("env", [])}
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
        for name, var in env.items():
            if secret_like.search(name):
                assert "value" not in var and "secretKeyRef" in var["valueFrom"], name


def test_raycluster_passes_kuberay_admission_rules():
    """The checks of KubeRay's ValidateRayClusterSpec / ValidateRayClusterMetadata that apply here."""
    rc = manifest("raycluster.yaml")
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", rc["metadata"]["name"])
    for name, group in [("head", rc["spec"]["headGroupSpec"])] + list(groups(rc).items()):
        params = group.get("rayStartParams", {})
        assert "labels" not in params, name
        sets_resources = any(params.get(k) for k in ("num-cpus", "num-gpus", "memory", "resources"))
        assert not (sets_resources and group.get("resources")), name
        assert containers(group["template"]), name


# ---------------------------------------------------------------- RayJobs and the nightly CronJob

RAYJOBS = {"rayjob-extract.yaml": "extract_features", "rayjob-train.yaml": "train",
           "rayjob-soundtrack.yaml": "soundtrack"}
ENTRYPOINTS = {
    "rayjob-extract.yaml": "python jobs/extract_features.py preset=small ray.address=auto "
    "input=s3://vidmusician-data/videos/ output=s3://vidmusician-data/features/v1/ "
    "extract.feature_num_gpus=1 extract.decode_resources.cpu_pool=1",
    "rayjob-train.yaml": "python jobs/train.py preset=small ray.address=auto "
    "train.features=s3://vidmusician-data/features/v1/ output=s3://vidmusician-runs/prod/ "
    "train.storage_path=s3://vidmusician-runs/prod/checkpoints train.use_gpu=true train.num_workers=4",
    "rayjob-soundtrack.yaml": "python jobs/soundtrack.py preset=small ray.address=auto "
    "input=s3://vidmusician-incoming/2026-11-25/ output=s3://vidmusician-nightly/2026-11-25/ "
    "soundtrack.adapters=s3://vidmusician-runs/prod/adapters.safetensors soundtrack.num_gpus=1 "
    "soundtrack.cpu_resources.cpu_pool=1",
}


@pytest.mark.parametrize("name", sorted(RAYJOBS))
def test_rayjob_runs_on_the_raycluster(name):
    job = manifest(name)["spec"]
    cluster_name = manifest("raycluster.yaml")["metadata"]["name"]
    assert job["clusterSelector"] == {"ray.io/cluster": cluster_name}
    assert "rayClusterSpec" not in job
    assert job["entrypoint"] == ENTRYPOINTS[name]
    # KubeRay's ValidateRayJobSpec: no TTL unless the RayJob deletes its cluster; a selected cluster
    # is not the RayJob's to delete; no suspend in cluster-selector mode; backoffLimit >= 0.
    assert job["shutdownAfterJobFinishes"] is False
    assert job.get("ttlSecondsAfterFinished", 0) == 0
    assert not job.get("suspend", False)
    assert job["backoffLimit"] >= 0 and job["activeDeadlineSeconds"] > 0


@pytest.mark.parametrize("name", sorted(RAYJOBS))
def test_rayjob_runtime_env_is_the_shared_one(name):
    """runtimeEnvYAML = cluster/runtime_env.yaml + working_dir /app (the project inside the image)."""
    runtime_env = yaml.safe_load(manifest(name)["spec"]["runtimeEnvYAML"])
    assert runtime_env == {**load_yaml(CLUSTER / "runtime_env.yaml"), "working_dir": "/app"}


def test_entrypoints_override_known_config_keys():
    """Every key=value of every entrypoint is a key of the config schema with a value of its type."""
    from vidmusician.config import load_config
    for name, command in ENTRYPOINTS.items():
        overrides = shlex.split(command)[2:]
        cfg = load_config(overrides)
        assert cfg.preset == "small" and cfg.ray.address == "auto", name


def cron_container(cron: dict) -> dict:
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def test_cronjob_runs_nightly_and_resumable():
    cron = manifest("cronjob-nightly.yaml")
    spec = cron["spec"]
    assert spec["schedule"] == "0 2 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert cron_container(cron)["image"] == IMAGE


def test_cronjob_command_submits_soundtrack_with_date_stamped_prefixes(tmp_path):
    """Runs the container's command with a stand-in `ray` that records its arguments."""
    cron = manifest("cronjob-nightly.yaml")
    container = cron_container(cron)
    assert container["workingDir"] == "/app"
    command = container["command"] + container["args"]
    assert command[:2] == ["/bin/bash", "-c"]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ray").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RAY_ARGS_OUT"\n')
    (fake / "ray").chmod(0o755)
    out = tmp_path / "args.txt"
    env = {"PATH": f"{fake}:/usr/bin:/bin", "RAY_ARGS_OUT": str(out)}
    subprocess.run(command, env=env, cwd=tmp_path, check=True, timeout=30)
    day = subprocess.run(["date", "-u", "+%F"], capture_output=True, text=True, check=True).stdout.strip()
    argv = out.read_text().splitlines()
    cluster_name = manifest("raycluster.yaml")["metadata"]["name"]
    sep = argv.index("--")
    assert argv[:sep] == ["job", "submit", "--address", f"http://{cluster_name}-head-svc:8265",
                          "--working-dir", "/app", "--runtime-env", "cluster/runtime_env.yaml"]
    job = argv[sep + 1:]
    assert job[:2] == ["python", "jobs/soundtrack.py"]
    assert f"input=s3://vidmusician-incoming/{day}/" in job
    assert f"output=s3://vidmusician-nightly/{day}/" in job
    assert "ray.address=auto" in job and "soundtrack.num_gpus=1" in job
    from vidmusician.config import load_config
    load_config(job[2:])


def job_scripts_named() -> dict[str, list[str]]:
    """Every `python jobs/<name>.py` in the manifests and in cluster/README.md."""
    found = {}
    for path in MANIFESTS + [CLUSTER / "README.md"]:
        found[path.name] = re.findall(r"python (jobs/[A-Za-z0-9_]+\.py)", path.read_text())
    return found


def test_entrypoints_name_existing_job_scripts():
    found = job_scripts_named()
    assert found["README.md"] and all(found[name] for name in RAYJOBS) and found["cronjob-nightly.yaml"]
    for where, scripts in found.items():
        for script in scripts:
            assert (REPO / script).is_file(), f"{where}: {script} does not exist"


# ---------------------------------------------------------------- runtime env

def test_runtime_env_is_accepted_by_ray_and_excludes_the_big_paths():
    from ray.runtime_env import RuntimeEnv
    runtime_env = load_yaml(CLUSTER / "runtime_env.yaml")
    RuntimeEnv(**runtime_env)  # Ray's own validation of the fields
    assert set(runtime_env) == {"excludes", "env_vars"}  # no pip/conda/uv: the image has everything
    for path in (".venv/", ".git/", "outputs/", "tests/assets/", "bench/results/", "**/__pycache__/"):
        assert path in runtime_env["excludes"], path
    env_vars = runtime_env["env_vars"]
    # vidmusician/raycluster.py passes its own variables in ray.init's runtime env; Ray refuses to merge
    # a job's runtime env that sets the same variable.
    from vidmusician.config import load_config
    from vidmusician.raycluster import worker_env
    assert {"OMP_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_"} <= set(worker_env(load_config([]).ray))
    assert not set(worker_env(load_config([]).ray)) & set(env_vars)
    assert not [k for k in env_vars if k.startswith("AWS_")]
    assert all(isinstance(v, str) for v in env_vars.values())


def test_runtime_env_upload_is_small():
    """What `ray job submit --working-dir .` uploads, walked with Ray's own packaging code and the
    runtime env's excludes only (.gitignore not used, so the excludes alone must do it)."""
    from ray._private.runtime_env.packaging import GCS_STORAGE_MAX_SIZE, _dir_travel, _get_excludes
    excludes = load_yaml(CLUSTER / "runtime_env.yaml")["excludes"]
    files = []

    def handler(path: Path):
        if path.is_file():
            files.append(path)

    _dir_travel(REPO, [_get_excludes(REPO, excludes)], handler, include_gitignore=False)
    total = sum(p.stat().st_size for p in files)
    names = {p.relative_to(REPO).as_posix() for p in files}
    assert "jobs/extract_features.py" in names and "vidmusician/cli.py" in names
    assert not [n for n in names if n.startswith((".venv/", ".git/", "tests/assets/")) or "__pycache__" in n]
    assert total < UPLOAD_LIMIT and total < GCS_STORAGE_MAX_SIZE, f"{total / 2**20:.1f} MiB"


# ---------------------------------------------------------------- cluster launcher (ray up)

def launcher_schema() -> dict:
    import ray.autoscaler
    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def test_launcher_config_validates_against_rays_schema():
    from ray.autoscaler._private.util import prepare_config, validate_config
    config = load_yaml(CLUSTER / "aws.yaml")
    jsonschema.validate(config, launcher_schema())
    validate_config(prepare_config(copy.deepcopy(config)))  # what `ray up` runs before launching


@pytest.mark.parametrize("breakit,expected", [
    (lambda c: c["available_node_types"]["gpu"]["resources"].__setitem__("GPU", "1"), "'1' is not of type"),
    (lambda c: c.__setitem__("head_node", "head"), "'head_node' was unexpected"),
    (lambda c: c["available_node_types"]["cpu"].pop("node_config"), "'node_config' is a required"),
])
def test_launcher_validator_rejects_broken_config(breakit, expected):
    config = load_yaml(CLUSTER / "aws.yaml")
    breakit(config)
    with pytest.raises(jsonschema.ValidationError, match=expected):
        jsonschema.validate(config, launcher_schema())


def test_launcher_node_types():
    config = load_yaml(CLUSTER / "aws.yaml")
    assert config["provider"]["type"] == "aws" and config["provider"]["region"] == "us-west-2"
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}
    gpu = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu and all("--gpus all" in t["docker"]["worker_run_options"] for t in gpu)
    assert [n for n, t in types.items() if t["resources"].get("cpu_pool", 0) > 0 and "GPU" not in t["resources"]]
    for name, t in types.items():
        if name != config["head_node_type"]:
            assert 0 <= t["min_workers"] <= t["max_workers"] <= config["max_workers"], name
    assert config["docker"]["image"] == IMAGE
    head_start = " ".join(config["head_start_ray_commands"])
    assert "ray start --head --port=6379" in head_start
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head_start
    assert "ray start --address=$RAY_HEAD_IP:6379" in " ".join(config["worker_start_ray_commands"])


# ---------------------------------------------------------------- image and sources

def test_dockerfile_installs_like_the_readme():
    lines = [ln.strip() for ln in (CLUSTER / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "COPY . /app" in lines and "WORKDIR /app" in lines
    assert "ENV PATH=/app/.venv/bin:$PATH" in lines
    text = "\n".join(lines)
    assert re.search(r"RUN .*bash scripts/setup_env\.sh", text.replace("\\\n", " "))
    assert 'TORCH_SPEC="$TORCH_SPEC"' in text
    ignored = {ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")}
    assert {".venv/", ".git/", "outputs/", "tests/assets/"} <= ignored
    for needed in ("jobs", "vidmusician", "requirements", "scripts", "cluster", "pyproject.toml"):
        assert not [p for p in ignored if p.strip("/").split("/")[0] == needed], needed


def test_schema_sources_are_documented():
    sources = (SCHEMAS / "SOURCES.md").read_text()
    for path in SCHEMAS.iterdir():
        if path.name != "SOURCES.md":
            assert f"`{path.name}`" in sources, path.name
    for name in ("ray.io_rayclusters.v1.yaml", "ray.io_rayjobs.v1.yaml"):
        crd = load_yaml(SCHEMAS / name)
        assert crd["source"]["repository"] == "ray-project/kuberay"
        assert crd["source"]["commit"] in sources and crd["source"]["path"] in sources


def readme_job_commands() -> list[tuple[str, list[str]]]:
    """Every `python jobs/<name>.py key=value ...` command in the two READMEs (continuation lines
    joined; inline `code` too): (where, its key=value arguments)."""
    found = []
    for path in (REPO / "README.md", CLUSTER / "README.md"):
        text = re.sub(r"\\\n\s*", " ", path.read_text())
        for match in re.finditer(r"python (jobs/[a-z_]+\.py)((?: +[^\s`]+)*)", text):
            args = [re.sub(r"\$\{?\w+\}?", "2026-11-27", a)  # shell variables, as the shell expands them
                    for a in match.group(2).split() if re.fullmatch(r"[a-z_][a-z0-9_.]*=\S+", a)]
            found.append((f"{path.name}: {match.group(1)}", args))
    return found


def test_every_readme_command_names_real_config_keys():
    """README and cluster/README commands load with the config loader: a renamed key fails here."""
    from vidmusician.config import load_config
    commands = readme_job_commands()
    assert len(commands) >= 15 and any("extract.decode_resources.cpu_pool=1" in a for _, a in commands)
    for where, args in commands:
        try:
            load_config(args)
        except Exception as err:  # noqa: BLE001  (the message says which command)
            raise AssertionError(f"{where} {' '.join(args)}: {err}") from None
