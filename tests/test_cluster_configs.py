"""Static checks of cluster/: every manifest against KubeRay v1.7.0's whole CRDs and admission rules
(cluster/validate_manifests.py; the rules themselves are tested in tests/test_kuberay_rules.py), the facts
cluster/README.md states (placement, credentials, weights, disk, metrics, the nightly's idempotence and
deadlines), the runtime env's upload size, the launcher config and its IAM policies, the image recipe.
No network, no cluster, no Ray started."""
from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from manifest_validator import load_validator

REPO = Path(__file__).resolve().parent.parent
CLUSTER = REPO / "cluster"
KUBERAY = CLUSTER / "kuberay"
SCHEMAS = CLUSTER / "schemas"
IMAGE = "vidmusician:latest"
UPLOAD_LIMIT = 100 * 1024 * 1024
DAY_S = 24 * 3600
Validator = jsonschema.Draft202012Validator


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


VM = load_validator()
MANIFESTS = sorted(KUBERAY.glob("*.yaml"))


def documents() -> list[tuple[str, dict]]:
    return [(f"{p.name}#{i}", d) for p in MANIFESTS for i, d in enumerate(VM.load_documents(p))]


def manifest(name: str) -> dict:
    return load_yaml(KUBERAY / name)


def containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def cluster_pod_templates(rc: dict) -> list[dict]:
    return [rc["spec"]["headGroupSpec"]["template"]] + [g["template"] for g in rc["spec"]["workerGroupSpecs"]]


def groups(rc: dict) -> dict[str, dict]:
    return {g["groupName"]: g for g in rc["spec"]["workerGroupSpecs"]}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def parse_ray_resources(value: str) -> dict:
    """rayStartParams.resources as `ray start` receives it: KubeRay writes `--resources=<value>` into
    the container's shell command, so the value is a shell word that must unquote to a JSON object."""
    words = shlex.split(value)
    assert len(words) == 1, value
    return json.loads(words[0])


QUANTITY = re.compile(r"^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
QUANTITY_SCALE = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20,
                  "Gi": 2**30, "Ti": 2**40}


def quantity(value) -> float:
    m = QUANTITY.match(str(value))
    assert m, value
    return float(m.group(1)) * QUANTITY_SCALE[m.group(2)]

# ---------------------------------------------------------------- every manifest: schema + KubeRay rules


@pytest.mark.parametrize("where,doc", documents(), ids=[w for w, _ in documents()])
def test_manifest_validates_against_kuberay_1_7(where, doc):
    assert VM.validate_document(doc) == []


def test_every_kind_is_covered():
    kinds = sorted(d["kind"] for _, d in documents())
    assert kinds == ["CronJob", "Job", "PersistentVolumeClaim", "PodMonitor", "PodMonitor", "RayCluster",
                     "RayCronJob", "RayJob", "RayJob", "RayJob", "ServiceAccount"]


def test_the_command_line_reports_per_document_and_fails_on_any(tmp_path):
    good = subprocess.run([sys.executable, str(CLUSTER / "validate_manifests.py"), str(KUBERAY / "rayjob-train.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert good.returncode == 0 and good.stdout.startswith("OK   "), good.stdout + good.stderr
    broken = manifest("rayjob-extract.yaml")
    broken["spec"]["backoffLimit"] = 1  # the issue's pair: clusterSelector + retries
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(broken))
    bad = subprocess.run([sys.executable, str(CLUSTER / "validate_manifests.py"), str(tmp_path / "bad.yaml")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL" in bad.stdout and "BackoffLimit is incompatible with ClusterSelector mode" in bad.stdout


def hc(d):  # the head container
    return d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]


BROKEN = [
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][0].__setitem__("minReplicas", "many"), "minReplicas"),
    ("raycluster.yaml", lambda d: d["spec"].pop("headGroupSpec"), "'headGroupSpec' is a required property"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][1].pop("groupName"), "'groupName' is a required"),
    ("raycluster.yaml", lambda d: d["spec"]["headGroupSpec"]["rayStartParams"].__setitem__("num-cpus", 0), "num-cpus"),
    ("raycluster.yaml", lambda d: d["spec"].__setitem__("workerGroupSpec", []), "'workerGroupSpec' was unexpected"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][1]["template"]["spec"]["containers"][0]
     ["resources"]["limits"].__setitem__("nvidia.com/gpu", 1.5), "nvidia.com/gpu"),
    ("raycluster.yaml", lambda d: hc(d).__setitem__("imagePullPolcy", "Always"), "'imagePullPolcy' was unexpected"),
    ("raycluster.yaml", lambda d: hc(d)["env"].append({"name": "HF_HUB_OFFLINE", "value": "0"}), "duplicate entry"),
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][0].__setitem__("maxReplicas", 2**31), "maxReplicas"),
    ("raycluster.yaml", lambda d: d.__setitem__("apiVersion", "ray.io/v2"), "no served version 'v2'"),
    ("raycluster.yaml", lambda d: d["spec"]["authOptions"].__setitem__("mode", "password"), "'password' is not one of"),
    ("raycluster.yaml", lambda d: d["metadata"]["labels"].__setitem__("app", "-bad"), "metadata.labels"),
    # Subtrees the old hand-trimmed CRD copies accepted whatever they held:
    ("raycluster.yaml", lambda d: hc(d).__setitem__("livenessProbe", {"httpGet": {"port": 8265, "pathh": "/"}}),
     "'pathh' was unexpected"),
    ("raycluster.yaml", lambda d: hc(d).__setitem__("securityContext", {"runAsNonRoot": "yes"}), "runAsNonRoot"),
    ("raycluster.yaml", lambda d: d["spec"]["headGroupSpec"]["template"]["spec"].__setitem__(
        "affinity", {"nodeAffinty": {}}), "'nodeAffinty' was unexpected"),
    ("raycluster.yaml", lambda d: d["spec"]["headGroupSpec"].__setitem__("headService", {"spec": {"typ": "x"}}),
     "'typ' was unexpected"),
    ("raycluster.yaml", lambda d: d["spec"].__setitem__(
        "gcsFaultToleranceOptions", {"redisAdress": "r:6379"}), "'redisAdress' was unexpected"),
    ("rayjob-extract.yaml", lambda d: d["spec"].__setitem__("submitterPodTemplate", {"spec": {"containers": [
        {"name": "s", "image": IMAGE, "comand": ["x"]}]}}), "'comand' was unexpected"),
    ("rayjob-extract.yaml", lambda d: d["spec"].__setitem__("rayClusterSpec", {"headGroupSpec": {}}),
     "'template' is a required property"),
    ("rayjob-train.yaml", lambda d: d["spec"].__setitem__("backoffLimit", "two"), "backoffLimit"),
    ("rayjob-soundtrack.yaml", lambda d: d["spec"].__setitem__("shutdownAfterJobFinish", False),
     "'shutdownAfterJobFinish' was unexpected"),
    ("raycronjob-nightly.yaml", lambda d: d["spec"].__setitem__("concurrencyPolicy", "Forbid"),
     "'concurrencyPolicy' was unexpected"),
    ("raycronjob-nightly.yaml", lambda d: d["spec"]["jobTemplate"].__setitem__("preRunningDeadlineSeconds", 0),
     "preRunningDeadlineSeconds"),
    ("cronjob-nightly.yaml", lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
     .__setitem__("comand", ["x"]), "'comand' was unexpected"),
    ("cronjob-nightly.yaml", lambda d: d["spec"].__setitem__("startingDeadlineSeconds", "soon"),
     "startingDeadlineSeconds"),
    ("cronjob-nightly.yaml", lambda d: d["spec"].pop("schedule"), "'schedule' is a required property"),
    ("weights-pvc.yaml", lambda d: d["spec"].__setitem__("accessMode", ["ReadOnlyMany"]),
     "'accessMode' was unexpected"),
    ("weights-fetch-job.yaml", lambda d: d["spec"].__setitem__("backoffLimit", "twice"), "backoffLimit"),
    ("serviceaccount.yaml", lambda d: d.__setitem__("automountToken", False), "'automountToken' was unexpected"),
    ("podmonitor.yaml", lambda d: d["spec"]["podMetricsEndpoints"][0].__setitem__("prot", "metrics"),
     "'prot' was unexpected"),
    ("podmonitor.yaml", lambda d: d["spec"].pop("selector"), "'selector' is a required property"),
]


@pytest.mark.parametrize("name,breakit,expected", BROKEN, ids=[f"{b[0]}-{b[2][:28]}" for b in BROKEN])
def test_schemas_reject_broken_manifests(name, breakit, expected):
    doc = copy.deepcopy(VM.load_documents(KUBERAY / name)[0])
    assert VM.schema_errors(doc) == []
    breakit(doc)
    found = VM.schema_errors(doc)
    assert found, f"{name}: the broken manifest validated"
    assert any(expected in e for e in found), found


def test_int_or_string_conversion():
    node = {"anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[0-9]+(m|Gi)?$",
            "x-kubernetes-int-or-string": True}
    check = Validator(VM.crd_to_jsonschema(node))
    assert check.is_valid(2) and check.is_valid("500m") and check.is_valid("16Gi")
    assert not check.is_valid("lots") and not check.is_valid(1.5) and not check.is_valid([1])
    bare = VM.crd_to_jsonschema({"x-kubernetes-int-or-string": True})
    assert Validator(bare).is_valid(3) and Validator(bare).is_valid("3") and not Validator(bare).is_valid(None)
    preserved = VM.crd_to_jsonschema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    assert Validator(preserved).is_valid({"anything": 1})
    assert not Validator(VM.crd_to_jsonschema({"type": "object"})).is_valid({"anything": 1})  # pruned = unknown
    with pytest.raises(VM.SchemaUnsupported):
        VM.crd_to_jsonschema({"type": "string", "x-kubernetes-something-new": True})


def test_the_crds_are_kuberay_1_7_0s_whole_files():
    """Read from ../shared/kuberay-v1.7.0 (never copied here): the full schemas, RayCronJob included."""
    assert VM.KUBERAY_DIR.name == "kuberay-v1.7.0"
    for kind, file in VM.CRD_FILES.items():
        crd = VM.load_crd(kind)
        assert crd["spec"]["names"]["kind"] == kind
        assert VM.crd_version(kind, "ray.io/v1")["storage"] is True
        assert (VM.KUBERAY_DIR / file).stat().st_size > 500_000  # whole, not an extract
    assert not list(SCHEMAS.glob("ray.io_*"))

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
    assert {"key": "nvidia.com/gpu", "operator": "Exists",
            "effect": "NoSchedule"} in gpu["template"]["spec"]["tolerations"]
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

# ---------------------------------------------------------------- credentials and access


SECRET_LIKE = re.compile(r"(^|_)(ACCESS_KEY|SECRET|TOKEN|PASSWORD|CREDENTIALS?)(_|$)")


def pod_specs() -> list[tuple[str, dict]]:
    """Every pod spec of every manifest."""
    found = [(f"raycluster {i}", t["spec"]) for i, t in enumerate(cluster_pod_templates(manifest("raycluster.yaml")))]
    found.append(("cronjob", manifest("cronjob-nightly.yaml")["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    found.append(("fetch job", manifest("weights-fetch-job.yaml")["spec"]["template"]["spec"]))
    return found


def test_s3_access_is_the_serviceaccount_not_keys():
    sa = manifest("serviceaccount.yaml")
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+",
                        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
    for template in cluster_pod_templates(manifest("raycluster.yaml")):
        assert template["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    for where, pod in pod_specs():
        for c in pod["containers"]:
            for name, var in env_of(c).items():
                assert not name.startswith("AWS_") or name == "AWS_DEFAULT_REGION", f"{where}: {name}"
                if SECRET_LIKE.search(name):
                    assert "value" not in var, f"{where}: {name} written inline"
            assert "envFrom" not in c, where


def test_token_authentication_is_on_and_the_nightly_has_the_token():
    rc = manifest("raycluster.yaml")
    assert rc["spec"]["authOptions"] == {"mode": "token"}
    env = env_of(cron_container(manifest("cronjob-nightly.yaml")))
    # Ray's job client sends the token only with RAY_AUTH_MODE=token; KubeRay's Secret is named after the
    # cluster (utils.CheckName) with the key auth_token.
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": rc["metadata"]["name"], "key": "auth_token"}
    secret_refs = [(w, e) for w, pod in pod_specs() for c in pod["containers"] for e in c.get("env", [])
                   if "secretKeyRef" in e.get("valueFrom", {})]
    assert [e["name"] for _, e in secret_refs] == ["RAY_AUTH_TOKEN"]  # no other secret in the default manifests


def test_no_secret_in_a_runtime_env_or_a_command_line():
    runtime_envs = [load_yaml(CLUSTER / "runtime_env.yaml")]
    runtime_envs += [yaml.safe_load(spec["runtimeEnvYAML"]) for spec in job_specs().values()]
    for runtime_env in runtime_envs:
        assert not [k for k in runtime_env.get("env_vars", {}) if SECRET_LIKE.search(k) or k.startswith("AWS_")]
    for where, command in entrypoints().items():
        assert not SECRET_LIKE.search(command) and "AWS_" not in command, where

# ---------------------------------------------------------------- weights, disk, metrics


WEIGHTS_DIR = "/weights"


def ray_containers() -> list[tuple[dict, dict]]:
    """(pod spec, Ray container) of the head and each worker group."""
    return [(t["spec"], containers(t)[0]) for t in cluster_pod_templates(manifest("raycluster.yaml"))]


def test_weights_come_from_the_read_only_volume_offline():
    claim = manifest("weights-pvc.yaml")
    name = claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # one writer, read-only mounts on many nodes
    for pod, container in ray_containers():
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == WEIGHTS_DIR)
        assert mount["readOnly"] is True
        assert volumes[mount["name"]]["persistentVolumeClaim"] == {"claimName": name, "readOnly": True}
        assert env_of(container)["HF_HUB_OFFLINE"]["value"] == "1"
    for where, command in entrypoints().items():
        assert f"weights.location={WEIGHTS_DIR}" in shlex.split(command.replace("$(date -u +%F)", "D")), where


def test_the_fetch_job_fills_the_volume_with_the_weights_command():
    from vidmusician.config import load_config
    job = manifest("weights-fetch-job.yaml")["spec"]["template"]["spec"]
    container = job["containers"][0]
    assert container["command"][:2] == ["python", "jobs/fetch_weights.py"]
    args = container["command"][2:]
    assert f"weights.location={WEIGHTS_DIR}" in args and "preset=small" in args
    cfg = load_config(args)
    assert cfg.weights.location == WEIGHTS_DIR
    # the jobs' own preset, GPU settings included: fetch_weights makes no device check (tests/test_weights.py)
    assert job["securityContext"]["fsGroup"] == 100  # the image's user (group users) can write the volume
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == WEIGHTS_DIR)
    assert not mount.get("readOnly")
    volume = next(v for v in job["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == manifest("weights-pvc.yaml")["metadata"]["name"]
    assert "HF_HUB_OFFLINE" not in env_of(container)  # the one pod that talks to the hub


def test_logs_and_spilled_objects_fit_the_ephemeral_storage():
    rc = manifest("raycluster.yaml")
    params = [rc["spec"]["headGroupSpec"]["rayStartParams"]]
    params += [g["rayStartParams"] for g in rc["spec"]["workerGroupSpecs"]]
    for (pod, container), ray_params in zip(ray_containers(), params):
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        spill = ray_params["object-spilling-directory"]
        for path in ("/tmp/ray", spill):  # Ray's logs + working dirs; spilled objects
            assert "sizeLimit" in mounts[path]["emptyDir"], path
        on_disk = sum(quantity(v["emptyDir"]["sizeLimit"]) for v in mounts.values()
                      if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory")
        resources = container["resources"]
        limit = quantity(resources["limits"]["ephemeral-storage"])
        assert quantity(resources["requests"]["ephemeral-storage"]) <= limit
        assert on_disk < limit, container["name"]


def test_prometheus_scrapes_every_ray_pod_and_the_dashboard_embeds_grafana():
    rc = manifest("raycluster.yaml")
    monitors = {d["spec"]["selector"]["matchLabels"]["ray.io/node-type"]: d
                for d in VM.load_documents(KUBERAY / "podmonitor.yaml")}
    assert set(monitors) == {"head", "worker"}
    templates = {"head": [rc["spec"]["headGroupSpec"]["template"]],
                 "worker": [g["template"] for g in rc["spec"]["workerGroupSpecs"]]}
    for node_type, monitor in monitors.items():
        assert monitor["spec"]["selector"]["matchLabels"]["ray.io/cluster"] == rc["metadata"]["name"]
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        wanted = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
        assert "metrics" in wanted
        for template in templates[node_type]:
            ports = {p["name"]: p["containerPort"] for p in containers(template)[0]["ports"]}
            assert wanted <= set(ports), node_type
            assert ports["metrics"] == 8080  # KubeRay's metrics port
    head_env = env_of(containers(rc["spec"]["headGroupSpec"]["template"])[0])
    for name in ("RAY_GRAFANA_HOST", "RAY_PROMETHEUS_HOST", "RAY_GRAFANA_IFRAME_HOST"):
        assert head_env[name]["value"].startswith("http"), name

# ---------------------------------------------------------------- RayJobs, the RayCronJob and the CronJob


RAYJOBS = {"rayjob-extract.yaml": "extract_features", "rayjob-train.yaml": "train",
           "rayjob-soundtrack.yaml": "soundtrack"}
ENTRYPOINTS = {
    "rayjob-extract.yaml": "python jobs/extract_features.py preset=small ray.address=auto "
    "input=s3://vidmusician-data/videos/ output=s3://vidmusician-data/features/v1/ "
    "extract.feature_num_gpus=1 extract.decode_resources.cpu_pool=1 "
    "extract.feature_actors_min=1 extract.feature_actors_max=8 weights.location=/weights",
    "rayjob-train.yaml": "python jobs/train.py preset=small ray.address=auto "
    "train.features=s3://vidmusician-data/features/v1/ output=s3://vidmusician-runs/prod/ "
    "train.storage_path=s3://vidmusician-runs/prod/checkpoints train.use_gpu=true train.num_workers=4 "
    "weights.location=/weights",
    "rayjob-soundtrack.yaml": "python jobs/soundtrack.py preset=small ray.address=auto "
    "input=s3://vidmusician-incoming/2026-11-25/ output=s3://vidmusician-nightly/2026-11-25/ "
    "soundtrack.adapters=s3://vidmusician-runs/prod/adapters.safetensors soundtrack.num_gpus=1 "
    "soundtrack.cpu_resources.cpu_pool=1 soundtrack.actors_min=1 soundtrack.actors_max=8 weights.location=/weights",
}


def job_specs() -> dict[str, dict]:
    """The RayJob specs: the three RayJobs and the RayCronJob's template."""
    found = {name: manifest(name)["spec"] for name in RAYJOBS}
    found["raycronjob-nightly.yaml"] = manifest("raycronjob-nightly.yaml")["spec"]["jobTemplate"]
    return found


def cron_container(cron: dict) -> dict:
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def nightly_job_args() -> list[str]:
    args = cron_container(manifest("cronjob-nightly.yaml"))["args"]
    return args[args.index("--") + 1:]


def entrypoints() -> dict[str, str]:
    """Every job command line of the manifests (the CronJob's: what jobs/nightly.py submits)."""
    found = {name: spec["entrypoint"] for name, spec in job_specs().items()}
    found["cronjob-nightly.yaml"] = shlex.join(nightly_job_args())
    return found


@pytest.mark.parametrize("name", sorted(RAYJOBS))
def test_rayjob_runs_on_the_raycluster_without_retries(name):
    job = manifest(name)["spec"]
    cluster_name = manifest("raycluster.yaml")["metadata"]["name"]
    assert job["clusterSelector"] == {"ray.io/cluster": cluster_name}
    assert "rayClusterSpec" not in job
    assert job["entrypoint"] == ENTRYPOINTS[name]
    # Retries on a selected cluster: refused by KubeRay >= 1.6, and they deleted the shared cluster before.
    assert job.get("backoffLimit", 0) == 0
    assert job["shutdownAfterJobFinishes"] is False and job.get("ttlSecondsAfterFinished", 0) == 0
    assert job["activeDeadlineSeconds"] > 0


@pytest.mark.parametrize("name", sorted(job_specs()))
def test_rayjob_runtime_env_is_the_shared_one(name):
    """runtimeEnvYAML = cluster/runtime_env.yaml + working_dir /app (the project inside the image)."""
    runtime_env = yaml.safe_load(job_specs()[name]["runtimeEnvYAML"])
    assert runtime_env == {**load_yaml(CLUSTER / "runtime_env.yaml"), "working_dir": "/app"}


def config_args(command: str) -> list[str]:
    """The key=value arguments of a job command line, with the night filled in."""
    words = shlex.split(command.replace("$(date -u +%F)", "2026-11-27").replace("{night}", "2026-11-27"))
    start = next(i for i, w in enumerate(words) if w.startswith("jobs/"))
    return words[start + 1:]


def test_entrypoints_override_known_config_keys():
    """Every key=value of every job command line is a key of the config schema with a value of its type."""
    from vidmusician.config import load_config
    for name, command in entrypoints().items():
        cfg = load_config(config_args(command))
        assert cfg.preset == "small" and cfg.ray.address == "auto", name


def test_actor_pools_stop_at_the_gpu_groups_size():
    """actors_max = the gpu group's maxReplicas x GPUs per pod: one more actor would wait forever."""
    from vidmusician.config import load_config
    gpu = groups(manifest("raycluster.yaml"))["gpu"]
    gpus = gpu["maxReplicas"] * containers(gpu["template"])[0]["resources"]["limits"]["nvidia.com/gpu"]
    pools = {"extract_features": ("extract", "feature_actors_max"), "soundtrack": ("soundtrack", "actors_max")}
    checked = 0
    for name, command in entrypoints().items():
        script = re.search(r"jobs/(\w+)\.py", command).group(1)
        if script in pools:
            section, key = pools[script]
            assert getattr(getattr(load_config(config_args(command)), section), key) == gpus, name
            checked += 1
    assert checked == 4  # extract, soundtrack, the RayCronJob, the CronJob


def cron_fires(schedule: str, time_zone: str) -> list[int]:
    """Seconds after midnight of each firing over two days (the schedules here are daily)."""
    assert time_zone == "Etc/UTC"
    parsed = VM.rules.parse_cron_standard(schedule)
    start = dt.datetime(2026, 11, 27)
    minutes = [m for m in range(2 * 24 * 60) if parsed.fires_at(start + dt.timedelta(minutes=m))]
    return [m * 60 for m in minutes]


def timeout_words(entrypoint: str) -> tuple[int, int]:
    """(duration, kill-after) of the entrypoint's leading `timeout --kill-after=K D`."""
    words = shlex.split(entrypoint)
    assert words[0] == "timeout" and words[1].startswith("--kill-after="), words[:3]
    return int(words[2]), int(words[1].split("=")[1])


def test_raycronjob_runs_once_a_night_and_ends_before_the_next():
    cron = manifest("raycronjob-nightly.yaml")
    spec, job = cron["spec"], cron["spec"]["jobTemplate"]
    first, second = cron_fires(spec["schedule"], spec["timeZone"])
    assert second - first == DAY_S
    assert job["clusterSelector"] == {"ray.io/cluster": manifest("raycluster.yaml")["metadata"]["name"]}
    assert job.get("backoffLimit", 0) == 0 and job.get("submissionMode", "K8sJobMode") == "K8sJobMode"
    duration, kill_after = timeout_words(job["entrypoint"])
    latest_end = first + job["preRunningDeadlineSeconds"] + duration + kill_after
    assert latest_end < DAY_S  # same UTC day as the tick, before the next tick: no two nights at once
    assert job["activeDeadlineSeconds"] > duration + kill_after  # the backstop comes after the driver's own end


KUBERAY_HEAD = "http://vidmusician-head-svc.default.svc.cluster.local:8265"


def kuberay_submitter_command(spec: dict, job_id: str) -> str:
    """What KubeRay v1.7.0's K8sJobMode submitter runs (common/job.go BuildJobSubmitCommand, without its
    wait for the dashboard): the entrypoint is pasted into this bash command line as is."""
    runtime_env = json.dumps(yaml.safe_load(spec["runtimeEnvYAML"]))
    return (f"if ! ray job status --address {KUBERAY_HEAD} {job_id} >/dev/null 2>&1 ; then "
            f"ray job submit --address {KUBERAY_HEAD} --no-wait --runtime-env-json {json.dumps(runtime_env)} "
            f"--submission-id {job_id} -- {spec['entrypoint'].strip()} ; fi ; "
            f"ray job logs --address {KUBERAY_HEAD} --follow {job_id}")


FAKE_RAY = """#!/bin/sh
case "$2" in
  status) test -f "$STATE/submitted" ;;
  submit) touch "$STATE/submitted"
          while [ "$1" != "--" ]; do shift; done; shift
          "$PYTHON" -c 'import shlex, sys; print(shlex.join(sys.argv[1:]))' "$@" >> "$STATE/entrypoints" ;;
  logs) exit 0 ;;
esac
"""
RECORD_ARGV = '#!/bin/sh\nprintf "%s\\n" "$@" > "$STATE/driver_argv"\n'


def test_raycronjob_dates_the_night_once_when_kuberay_submits(tmp_path):
    """Runs the submitter's command twice (a retried submitter pod) with a stand-in `ray` that records the
    entrypoint as Ray's CLI passes it on (shlex.join), then that entrypoint the way Ray's job supervisor
    does (/bin/sh -c) with a stand-in `timeout`: one submission, the date expanded by the submitter."""
    spec = manifest("raycronjob-nightly.yaml")["spec"]["jobTemplate"]
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "ray").write_text(FAKE_RAY)
    (bin_dir / "timeout").write_text(RECORD_ARGV)
    for tool in ("ray", "timeout"):
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(state), "PYTHON": sys.executable}
    command = kuberay_submitter_command(spec, "vidmusician-nightly-29404680-x1y2z")
    for _ in range(2):
        subprocess.run(["/bin/bash", "-ce", "--", command], env=env, check=True, timeout=60)
    day = dt.datetime.now(dt.timezone.utc).date().isoformat()
    submitted = (state / "entrypoints").read_text().splitlines()
    assert len(submitted) == 1  # the second submitter found the job and only followed it
    assert "$(" not in submitted[0] and f"/{day}/" in submitted[0]
    subprocess.run(["/bin/sh", "-c", submitted[0]], env=env, cwd=tmp_path, check=True, timeout=60)
    argv = (state / "driver_argv").read_text().splitlines()
    duration, kill_after = timeout_words(spec["entrypoint"])
    assert argv[:4] == [f"--kill-after={kill_after}", str(duration), "python", "jobs/soundtrack.py"]
    assert f"input=s3://vidmusician-incoming/{day}/" in argv and f"output=s3://vidmusician-nightly/{day}/" in argv


CONTROL_OPERATORS = {";", "&", "&&", "|", "||", ">", ">>", "<", "(", ")", "\n"}


@pytest.mark.parametrize("name", sorted(job_specs()))
def test_entrypoints_are_one_simple_command(name):
    """KubeRay pastes the entrypoint into the submitter's bash line: a `;` or `&&` would run the rest in
    the submitter pod, not as the Ray job."""
    entrypoint = re.sub(r"\$\([^()]*\)", "X", job_specs()[name]["entrypoint"])  # command substitutions are fine
    lexer = shlex.shlex(entrypoint, posix=True, punctuation_chars=True)
    assert not set(lexer) & CONTROL_OPERATORS


def test_cronjob_runs_nightly_and_never_twice_at_once():
    cron = manifest("cronjob-nightly.yaml")
    spec = cron["spec"]
    first, second = cron_fires(spec["schedule"], spec["timeZone"])
    assert second - first == DAY_S
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    # Every pod of a night computes the same night (the UTC date): the last retry ends before midnight.
    assert first + spec["startingDeadlineSeconds"] + job["activeDeadlineSeconds"] < DAY_S
    args = cron_container(cron)["args"]
    deadline = float(args[args.index("--deadline-s") + 1])
    assert job["activeDeadlineSeconds"] > deadline  # the submitter stops the Ray job before the pod is killed
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert cron_container(cron)["image"] == IMAGE


def load_nightly_cli():
    spec = importlib.util.spec_from_file_location("vidmusician_jobs_nightly", REPO / "jobs" / "nightly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cronjob_submits_the_night_with_a_night_id():
    """The container's command line, parsed by jobs/nightly.py itself: the head service, the shared
    runtime env, the night (today, UTC) in the prefixes and in the submission id."""
    container = cron_container(manifest("cronjob-nightly.yaml"))
    assert container["workingDir"] == "/app" and container["command"] == ["python", "jobs/nightly.py"]
    nightly = load_nightly_cli()
    before = dt.datetime.now(dt.timezone.utc).date()
    plan = nightly.plan_from(nightly.parser().parse_args(container["args"]))
    assert plan.night in (before, dt.datetime.now(dt.timezone.utc).date())
    night = plan.night.isoformat()
    cluster_name = manifest("raycluster.yaml")["metadata"]["name"]
    args = container["args"]
    assert args[args.index("--address") + 1] == f"http://{cluster_name}-head-svc:8265"
    assert plan.runtime_env == {**load_yaml(REPO / "cluster" / "runtime_env.yaml"), "working_dir": "/app"}
    assert plan.base_id == f"vidmusician-nightly-{night}"
    job = shlex.split(plan.entrypoint)
    assert job[:2] == ["python", "jobs/soundtrack.py"]
    assert f"input=s3://vidmusician-incoming/{night}/" in job and f"output=s3://vidmusician-nightly/{night}/" in job


def job_scripts_named() -> dict[str, list[str]]:
    """Every `jobs/<name>.py` the manifests run and every `python jobs/<name>.py` in cluster/README.md."""
    found = {name: re.findall(r"(jobs/[A-Za-z0-9_]+\.py)", command) for name, command in entrypoints().items()}
    found["cronjob-nightly.yaml"] += cron_container(manifest("cronjob-nightly.yaml"))["command"][1:]
    fetch = manifest("weights-fetch-job.yaml")["spec"]["template"]["spec"]["containers"][0]
    found["weights-fetch-job.yaml"] = fetch["command"][1:2]
    found["README.md"] = re.findall(r"python (jobs/[A-Za-z0-9_]+\.py)", (CLUSTER / "README.md").read_text())
    return found


def test_entrypoints_name_existing_job_scripts():
    found = job_scripts_named()
    assert all(found.values()) and "jobs/nightly.py" in found["cronjob-nightly.yaml"]
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



def policy(name: str) -> dict:
    return json.loads((CLUSTER / name).read_text())


def actions(doc: dict) -> set[str]:
    found = set()
    for statement in doc["Statement"]:
        acts = statement["Action"]
        found |= {acts} if isinstance(acts, str) else set(acts)
    return found


VIDMUSICIAN_BUCKETS = {"vidmusician-data", "vidmusician-runs", "vidmusician-incoming", "vidmusician-nightly",
                       "vidmusician-weights"}


def s3_buckets(doc: dict) -> set[str]:
    found = set()
    for statement in doc["Statement"]:
        if any(a.startswith("s3:") for a in actions({"Statement": [statement]})):
            resources = statement["Resource"]
            for arn in [resources] if isinstance(resources, str) else resources:
                found.add(arn.removeprefix("arn:aws:s3:::").split("/")[0])
    return found


def instance_profile(config: dict, node_type: str) -> str:
    return config["available_node_types"][node_type]["node_config"]["IamInstanceProfile"]["Arn"]


def test_launcher_nodes_have_their_own_least_privilege_profiles():
    config = load_yaml(CLUSTER / "aws.yaml")
    head_type = config["head_node_type"]
    head_profile = instance_profile(config, head_type)
    worker_profiles = {instance_profile(config, t) for t in config["available_node_types"] if t != head_type}
    assert len(worker_profiles) == 1 and head_profile not in worker_profiles
    head, worker = policy("aws-head-policy.json"), policy("aws-worker-policy.json")
    for doc in (head, worker):
        assert doc["Version"] == "2012-10-17"
        assert all(s["Effect"] == "Allow" for s in doc["Statement"])
        assert not [a for a in actions(doc) if "*" in a]
        assert s3_buckets(doc) == VIDMUSICIAN_BUCKETS
    assert {a.split(":")[0] for a in actions(worker)} == {"s3"}
    # What Ray's AWS node provider calls on the head (autoscaler/_private/aws/node_provider.py): find,
    # launch, tag, terminate; stop/start only when it caches stopped nodes.
    ec2 = {"ec2:DescribeInstances", "ec2:RunInstances", "ec2:CreateTags", "ec2:TerminateInstances"}
    if config["provider"].get("cache_stopped_nodes", True):
        ec2 |= {"ec2:StopInstances", "ec2:StartInstances"}
    assert {a for a in actions(head) if a.startswith("ec2:")} == ec2
    # PassRole: only the workers' role (profile and role share the name), and only to EC2.
    worker_role = "arn:aws:iam::{}:role/{}".format(*re.fullmatch(r"arn:aws:iam::(\d+):instance-profile/(.+)",
                                                                  worker_profiles.pop()).groups())
    passes = [s for s in head["Statement"] if "iam:PassRole" in actions({"Statement": [s]})]
    assert [s["Resource"] for s in passes] == [worker_role]
    assert passes[0]["Condition"]["StringEquals"]["iam:PassedToService"] == "ec2.amazonaws.com"
    terminate = [s for s in head["Statement"] if "ec2:TerminateInstances" in actions({"Statement": [s]})]
    for statement in terminate:  # only this cluster's nodes (Ray tags them ray-cluster-name)
        assert statement["Condition"]["StringEquals"]["ec2:ResourceTag/ray-cluster-name"] == config["cluster_name"]


# ---------------------------------------------------------------- schema sources (the image: tests/test_packaging.py)

def test_schema_sources_are_documented():
    sources = (SCHEMAS / "SOURCES.md").read_text()
    for path in SCHEMAS.iterdir():
        if path.name != "SOURCES.md":
            assert f"`{path.name}`" in sources, path.name
    for file in VM.CRD_FILES.values():
        assert f"`{file}`" in sources
    assert "kuberay-v1.7.0" in sources and "v1.7.0" in sources


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
