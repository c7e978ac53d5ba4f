"""cluster/validate_manifests.py and its port of KubeRay v1.7.0's validation.go (cluster/kuberay_rules.py):
every ported rule refuses a manifest broken for it (and names itself), the CRDs' CEL rules run, the Kubernetes
name/label/version/cron helpers answer as their Go originals, and KubeRay's own samples pass."""
from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from manifest_validator import load_validator

REPO = Path(__file__).resolve().parents[1]
KUBERAY = REPO / "cluster" / "kuberay"
RELEASE = Path(__file__).parents[1].parent / "shared" / "kuberay-v1.7.0"


VM = load_validator()
R = VM.rules
ALL_GATES_ON = {gate: True for gate in R.DEFAULT_GATES}


def manifest(name: str) -> dict:
    return yaml.safe_load((KUBERAY / name).read_text())


BASES = {
    "cluster": lambda: manifest("raycluster.yaml"),
    "job": lambda: manifest("rayjob-extract.yaml"),  # clusterSelector mode
    "cron": lambda: manifest("raycronjob-nightly.yaml"),
}


def job_with_cluster() -> dict:
    """A RayJob that brings its own cluster (rayClusterSpec = raycluster.yaml's spec)."""
    job = manifest("rayjob-extract.yaml")
    del job["spec"]["clusterSelector"]
    job["spec"]["rayClusterSpec"] = manifest("raycluster.yaml")["spec"]
    return job


BASES["jobspec"] = job_with_cluster

# ---------------------------------------------------------------- mutation helpers (in place)


def S(d):
    return d["spec"]


def head(d):
    return d["spec"]["headGroupSpec"]


def hc(d):
    return head(d)["template"]["spec"]["containers"][0]


def gpu(d):
    return d["spec"]["workerGroupSpecs"][1]


def gc(d):
    return gpu(d)["template"]["spec"]["containers"][0]


def env(container, name, value="x"):
    container.setdefault("env", []).append({"name": name, "value": value})


def put(obj, **fields):
    obj.update(fields)


def ann(d, key, value):
    d["metadata"].setdefault("annotations", {})[key] = value


def ft(d, **options):
    S(d)["gcsFaultToleranceOptions"] = options


def collector(d, *env_vars, image="collector:1"):
    options = {"env": [{"name": n, "value": v} for n, v in env_vars]}
    if image:
        options["image"] = image
    S(d)["historyServerOptions"] = {"collectorOptions": options}


def deletion(d, **strategy):
    S(d)["deletionStrategy"] = strategy


def rule(policy, ttl=0, **condition):
    return {"policy": policy, "condition": {**condition, "ttlSeconds": ttl}}


S3_OK = (("STORAGE_BACKEND", "S3"), ("S3_REGION", "us-west-2"))
V2 = lambda d: S(d)["autoscalerOptions"].__setitem__("version", "v2")  # noqa: E731
GATE = {"GCSFaultToleranceEmbeddedStorage": True}
HIST, NP, TLS = {"RayClusterHistoryServer": True}, {"RayClusterNetworkPolicy": True}, {"RayClusterMTLS": True}
TLS_ON = lambda d: put(S(d), tlsOptions={"enabled": True})  # noqa: E731

# (rule, base, break it, feature gates): each breaks a valid manifest so that exactly that rule refuses it.
CASES = [
    ("cluster.status.suspending-and-suspended", "cluster", lambda d: d.__setitem__("status", {"conditions": [
        {"type": "RayClusterSuspending", "status": "True"}, {"type": "RayClusterSuspended", "status": "True"}]}), None),
    ("cluster.name.length", "cluster", lambda d: put(d["metadata"], name="v" * 54), None),
    ("cluster.name.dns1035", "cluster", lambda d: put(d["metadata"], name="9vidmusician"), None),
    ("cluster.upgrade.type", "cluster", lambda d: put(S(d), upgradeStrategy={"type": "Rolling"}), None),
    ("cluster.upgrade.creator", "cluster", lambda d: (put(S(d), upgradeStrategy={"type": "Recreate"}),
                                                      put(d["metadata"]["labels"],
                                                          **{"ray.io/originated-from-crd": "RayJob"})), None),
    ("group.resources.both", "cluster", lambda d: put(d["spec"]["workerGroupSpecs"][0], resources={"cpu": "16"}), None),
    ("group.labels.raystartparams", "cluster", lambda d: put(head(d)["rayStartParams"], labels="tier=head"), None),
    ("group.labels.key", "cluster", lambda d: put(gpu(d), labels={"bad key": "x"}), None),
    ("group.labels.value", "cluster", lambda d: put(gpu(d), labels={"tier": "bad value!"}), None),
    ("spec.head.containers", "cluster", lambda d: put(head(d)["template"]["spec"], containers=[]), None),
    ("spec.worker.containers", "cluster", lambda d: put(gpu(d)["template"]["spec"], containers=[]), None),
    ("spec.worker.replicas-required", "cluster", lambda d: (put(S(d), enableInTreeAutoscaling=False),
                                                            gpu(d).pop("minReplicas")), None),
    ("spec.worker.min-negative", "cluster", lambda d: put(gpu(d), minReplicas=-1), None),
    ("spec.worker.max-negative", "cluster", lambda d: put(gpu(d), maxReplicas=-1), None),
    ("spec.worker.min-gt-max", "cluster", lambda d: put(gpu(d), minReplicas=9), None),
    ("group.idle.negative", "cluster", lambda d: put(gpu(d), idleTimeoutSeconds=-5), None),
    ("group.idle.v2", "cluster", lambda d: put(gpu(d), idleTimeoutSeconds=60), None),
    ("group.priority.no-version", "cluster", lambda d: (put(gpu(d), priority=1), S(d).pop("rayVersion")), None),
    ("group.priority.bad-version", "cluster", lambda d: put(gpu(d), priority=1) or put(S(d), rayVersion="latest"),
     None),
    ("group.priority.old-version", "cluster", lambda d: put(gpu(d), priority=1) or put(S(d), rayVersion="2.55.0"),
     None),
    ("group.priority.v2", "cluster", lambda d: put(gpu(d), priority=1), None),
    ("spec.ft.annotation-and-options", "cluster", lambda d: (ann(d, "ray.io/ft-enabled", "true"),
                                                             ft(d, redisAddress="redis:6379")), None),
    ("spec.ft.redis-address-without-ft", "cluster", lambda d: env(hc(d), "RAY_REDIS_ADDRESS", "redis:6379"), None),
    ("spec.ft.redis-password-param", "cluster", lambda d: (ft(d, redisAddress="r:6379"),
                                                           put(head(d)["rayStartParams"],
                                                               **{"redis-password": "p"})), None),
    ("spec.ft.redis-password-env", "cluster", lambda d: (ft(d, redisAddress="r:6379"), env(hc(d), "REDIS_PASSWORD")),
     None),
    ("spec.ft.redis-address-env", "cluster", lambda d: (ft(d), env(hc(d), "RAY_REDIS_ADDRESS")), None),
    ("spec.ft.external-storage-annotation", "cluster", lambda d: (ft(d, redisAddress="r:6379"),
                                                                  ann(d, "ray.io/external-storage-namespace",
                                                                      "ns")), None),
    ("ft.rocksdb.gate", "cluster", lambda d: ft(d, backend="rocksdb"), None),
    ("ft.rocksdb.redis-address", "cluster", lambda d: ft(d, backend="rocksdb", redisAddress="r:6379"), GATE),
    ("ft.rocksdb.redis-username", "cluster", lambda d: ft(d, backend="rocksdb", redisUsername={"value": "u"}), GATE),
    ("ft.rocksdb.redis-password", "cluster", lambda d: ft(d, backend="rocksdb", redisPassword={"value": "p"}), GATE),
    ("ft.rocksdb.external-storage-namespace", "cluster", lambda d: ft(d, backend="rocksdb",
                                                                      externalStorageNamespace="n"), GATE),
    ("ft.rocksdb.claim-exclusive", "cluster", lambda d: ft(d, backend="rocksdb", storage={"claimName": "c",
                                                                                          "size": "1Gi"}), GATE),
    ("ft.rocksdb.storage-env", "cluster", lambda d: (ft(d, backend="rocksdb"), env(hc(d), "RAY_gcs_storage")), GATE),
    ("ft.rocksdb.mount", "cluster", lambda d: (ft(d, backend="rocksdb"), hc(d)["volumeMounts"].append(
        {"name": "gcs-storage", "mountPath": "/gcs"})), GATE),
    ("ft.rocksdb.volume", "cluster", lambda d: (ft(d, backend="rocksdb"), head(d)["template"]["spec"]["volumes"].append(
        {"name": "gcs-storage", "emptyDir": {}})), GATE),
    ("ft.redis.storage", "cluster", lambda d: ft(d, redisAddress="r:6379", storage={"size": "1Gi"}), None),
    ("spec.redis-username", "cluster", lambda d: put(head(d)["rayStartParams"], **{"redis-username": "u"}), None),
    ("spec.worker.suspend-gate", "cluster", lambda d: put(gpu(d), suspend=True), {"RayJobDeletionPolicy": False}),
    ("spec.autoscaler-v2-env-without-autoscaling", "cluster", lambda d: (put(S(d), enableInTreeAutoscaling=False),
                                                                         env(hc(d), "RAY_enable_autoscaler_v2",
                                                                             "1")), None),
    ("spec.worker.suspend-autoscaler", "cluster", lambda d: put(gpu(d), suspend=True), None),
    ("spec.autoscaler.version-and-env", "cluster", lambda d: (V2(d), env(hc(d), "RAY_enable_autoscaler_v2", "true")),
     None),
    ("spec.autoscaler-v2.head-restart", "cluster", lambda d: (V2(d), put(head(d)["template"]["spec"],
                                                                         restartPolicy="Always")), None),
    ("spec.autoscaler-v2.worker-restart", "cluster", lambda d: (V2(d), put(gpu(d)["template"]["spec"],
                                                                           restartPolicy="OnFailure")), None),
    ("spec.autoscaler.idle-negative", "cluster", lambda d: put(S(d)["autoscalerOptions"], idleTimeoutSeconds=-1), None),
    ("spec.autoscaler.gen-cmd-env", "cluster", lambda d: put(S(d)["autoscalerOptions"], env=[
        {"name": "KUBERAY_GEN_AUTOSCALER_START_CMD", "value": "x"}]), None),
    ("spec.history.gate", "cluster", lambda d: collector(d, *S3_OK), None),
    ("spec.history.collector-required", "cluster", lambda d: put(S(d), historyServerOptions={}), HIST),
    ("collector.image", "cluster", lambda d: collector(d, *S3_OK, image=None), HIST),
    ("collector.forbidden-env", "cluster", lambda d: collector(d, *S3_OK, ("POD_IP", "1.2.3.4")), HIST),
    ("collector.backend", "cluster", lambda d: collector(d), HIST),
    ("collector.gcs-bucket", "cluster", lambda d: collector(d, ("STORAGE_BACKEND", "gcs")), HIST),
    ("collector.s3-region", "cluster", lambda d: collector(d, ("STORAGE_BACKEND", "S3")), HIST),
    ("collector.azure-connection-string", "cluster", lambda d: collector(d, ("STORAGE_BACKEND", "AzureBlob"),
                                                                         ("AZURE_STORAGE_AUTH_MODE",
                                                                          "connection_string")), HIST),
    ("collector.azure-account-url", "cluster", lambda d: collector(d, ("STORAGE_BACKEND", "AZUREBLOB"),
                                                                   ("AZURE_STORAGE_AUTH_MODE",
                                                                    "workload_identity")), HIST),
    ("collector.azure-either", "cluster", lambda d: collector(d, ("STORAGE_BACKEND", "AZUREBLOB")), HIST),
    ("collector.aliyun", "cluster", lambda d: collector(d, ("STORAGE_BACKEND", "AliyunOSS"), ("OSS_BUCKET", "b"),
                                                        ("OSS_REGION", "r")), HIST),
    ("spec.history.head-collector-name", "cluster", lambda d: (collector(d, *S3_OK),
                                                               head(d)["template"]["spec"]["containers"]
                                                               .append({"name": "ray-history-collector",
                                                                        "image": "c"})), HIST),
    ("spec.history.worker-collector-name", "cluster", lambda d: (collector(d, *S3_OK),
                                                                 gpu(d)["template"]["spec"]["containers"]
                                                                 .append({"name": "ray-history-collector",
                                                                          "image": "c"})), HIST),
    ("spec.auth.no-version", "cluster", lambda d: S(d).pop("rayVersion"), None),
    ("spec.auth.bad-version", "cluster", lambda d: put(S(d), rayVersion="two"), None),
    ("spec.auth.old-version", "cluster", lambda d: put(S(d), rayVersion="2.51.1"), None),
    ("spec.auth.k8s-old-version", "cluster", lambda d: (put(S(d)["authOptions"], enableK8sTokenAuth=True),
                                                        put(S(d), rayVersion="2.54.0")), None),
    ("spec.auth.k8s-secret-name", "cluster", lambda d: put(S(d)["authOptions"], enableK8sTokenAuth=True,
                                                           secretName="s"), None),
    ("spec.auth.k8s-without-token", "cluster", lambda d: put(S(d), authOptions={"mode": "disabled",
                                                                                "enableK8sTokenAuth": True}), None),
    ("spec.network-policy.gate", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAll"}), None),
    ("np.head.ingress", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAllEgress",
                                                                      "head": {"ingressRules": [{}]}}), NP),
    ("np.head.egress", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAllIngress",
                                                                     "head": {"egressRules": [{}]}}), NP),
    ("np.worker.ingress", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAllEgress",
                                                                        "worker": {"ingressRules": [{}]}}), NP),
    ("np.worker.egress", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAllIngress",
                                                                       "worker": {"egressRules": [{}]}}), NP),
    ("np.group-name", "cluster", lambda d: (put(S(d), networkPolicy={}), put(gpu(d), groupName="GPU")), NP),
    ("np.groups.ingress", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAllEgress", "workerGroups": [
        {"groupName": "gpu", "ingressRules": [{}]}]}), NP),
    ("np.groups.egress", "cluster", lambda d: put(S(d), networkPolicy={"mode": "DenyAllIngress", "workerGroups": [
        {"groupName": "gpu", "egressRules": [{}]}]}), NP),
    ("np.groups.unknown", "cluster", lambda d: put(S(d), networkPolicy={"workerGroups": [{"groupName": "tpu"}]}), NP),
    ("spec.tls.gate", "cluster", TLS_ON, None),
    ("tls.head-env", "cluster", lambda d: (TLS_ON(d), env(hc(d), "RAY_USE_TLS", "1")), TLS),
    ("tls.worker-env", "cluster", lambda d: (TLS_ON(d), env(gc(d), "RAY_TLS_CA_CERT")), TLS),
    ("tls.mount-name", "cluster", lambda d: (TLS_ON(d), hc(d)["volumeMounts"].append({"name": "ray-tls",
                                                                                      "mountPath": "/x"})), TLS),
    ("tls.mount-path", "cluster", lambda d: (TLS_ON(d), gc(d)["volumeMounts"].append(
        {"name": "c", "mountPath": "/etc/ray/tls"})), TLS),
    ("tls.autoscaler-env", "cluster", lambda d: (TLS_ON(d), put(S(d)["autoscalerOptions"], env=[
        {"name": "RAY_TLS_SERVER_KEY", "value": "k"}])), TLS),
    ("tls.autoscaler-mount-name", "cluster", lambda d: (TLS_ON(d), put(S(d)["autoscalerOptions"], volumeMounts=[
        {"name": "ray-tls", "mountPath": "/x"}])), TLS),
    ("tls.autoscaler-mount-path", "cluster", lambda d: (TLS_ON(d), put(S(d)["autoscalerOptions"], volumeMounts=[
        {"name": "certs", "mountPath": "/etc/ray/tls"}])), TLS),
    # RayJob
    ("job.status.waiting", "job", lambda d: d.__setitem__("status", {"jobDeploymentStatus": "Waiting"}), None),
    ("job.name.length", "job", lambda d: put(d["metadata"], name="v" * 48), None),
    ("job.name.dns1035", "job", lambda d: put(d["metadata"], name="Vidmusician-extract"), None),
    ("job.suspend-without-shutdown", "job", lambda d: put(S(d), suspend=True), None),
    ("job.ttl-negative", "job", lambda d: put(S(d), ttlSecondsAfterFinished=-1), None),
    ("deletion.ttl-without-shutdown", "job", lambda d: put(S(d), ttlSecondsAfterFinished=60), None),
    ("deletion.gate", "job", lambda d: deletion(d, deletionRules=[rule("DeleteSelf", jobStatus="SUCCEEDED")]),
     {"RayJobDeletionPolicy": False}),
    ("deletion.rules-and-shutdown", "jobspec", lambda d: (put(S(d), shutdownAfterJobFinishes=True),
                                                          deletion(d, deletionRules=[rule("DeleteSelf",
                                                                                          jobStatus="FAILED")])), None),
    ("deletion.rules-and-legacy", "job", lambda d: deletion(d, deletionRules=[rule("DeleteSelf", jobStatus="FAILED")],
                                                            onSuccess={"policy": "DeleteNone"}), None),
    ("deletion.empty", "job", lambda d: deletion(d), None),
    ("legacy.both", "job", lambda d: deletion(d, onSuccess={"policy": "DeleteNone"}), None),
    ("legacy.on-success-policy", "job", lambda d: deletion(d, onSuccess={}, onFailure={"policy": "DeleteNone"}), None),
    ("legacy.on-failure-policy", "job", lambda d: deletion(d, onSuccess={"policy": "DeleteNone"}, onFailure={}), None),
    ("legacy.selector-on-success", "job", lambda d: deletion(d, onSuccess={"policy": "DeleteCluster"},
                                                             onFailure={"policy": "DeleteNone"}), None),
    ("legacy.selector-on-failure", "job", lambda d: deletion(d, onSuccess={"policy": "DeleteSelf"},
                                                             onFailure={"policy": "DeleteWorkers"}), None),
    ("legacy.delete-workers-autoscaling", "jobspec", lambda d: deletion(d, onSuccess={"policy": "DeleteWorkers"},
                                                                        onFailure={"policy": "DeleteCluster"}), None),
    ("legacy.shutdown-delete-none", "jobspec", lambda d: (put(S(d), shutdownAfterJobFinishes=True), deletion(
        d, onSuccess={"policy": "DeleteNone"}, onFailure={"policy": "DeleteCluster"})), None),
    ("rules.condition-both", "job", lambda d: deletion(d, deletionRules=[rule("DeleteSelf", jobStatus="FAILED",
                                                                              jobDeploymentStatus="Failed")]), None),
    ("rules.condition-none", "job", lambda d: deletion(d, deletionRules=[rule("DeleteSelf")]), None),
    ("rules.ttl-negative", "job", lambda d: deletion(d, deletionRules=[rule("DeleteSelf", -1, jobStatus="FAILED")]),
     None),
    ("rules.selector-policy", "job", lambda d: deletion(d, deletionRules=[rule("DeleteCluster", jobStatus="FAILED")]),
     None),
    ("rules.delete-workers-autoscaling", "jobspec", lambda d: deletion(d, deletionRules=[
        rule("DeleteWorkers", jobStatus="FAILED")]), None),
    ("rules.duplicate-job-status", "job", lambda d: deletion(d, deletionRules=[rule("DeleteSelf", jobStatus="FAILED"),
                                                                               rule("DeleteSelf", 9,
                                                                                    jobStatus="FAILED")]), None),
    ("rules.duplicate-deployment-status", "job", lambda d: deletion(d, deletionRules=[
        rule("DeleteSelf", jobDeploymentStatus="Failed"), rule("DeleteSelf", 9, jobDeploymentStatus="Failed")]), None),
    ("rules.ttl-order", "jobspec", lambda d: deletion(d, deletionRules=[rule("DeleteCluster", 100,
                                                                             jobStatus="SUCCEEDED"),
                                                                         rule("DeleteSelf", 10,
                                                                              jobStatus="SUCCEEDED")]), None),
    ("job.suspend-selector", "job", lambda d: put(S(d), suspend=True, shutdownAfterJobFinishes=True), None),
    ("job.cluster-required", "job", lambda d: S(d).pop("clusterSelector"), None),
    ("job.selector-empty-name", "job", lambda d: put(S(d), clusterSelector={"app": "vidmusician"}), None),
    ("job.selector-sidecar", "job", lambda d: put(S(d), submissionMode="SidecarMode"), None),
    ("job.selector-backoff", "job", lambda d: put(S(d), backoffLimit=1), None),
    ("job.interactive-backoff", "jobspec", lambda d: put(S(d), submissionMode="InteractiveMode", backoffLimit=1), None),
    ("job.sidecar-submitter-template", "jobspec", lambda d: put(S(d), submissionMode="SidecarMode",
                                                                submitterPodTemplate={
        "spec": {"containers": [{"name": "submit", "image": "vidmusician:latest"}]}}), None),
    ("job.sidecar-submitter-config", "jobspec", lambda d: put(S(d), submissionMode="SidecarMode",
                                                              submitterConfig={"backoffLimit": 1}), None),
    ("job.sidecar-head-restart", "jobspec", lambda d: (put(S(d), submissionMode="SidecarMode"), put(
        S(d)["rayClusterSpec"]["headGroupSpec"]["template"]["spec"], restartPolicy="Always")), None),
    ("job.k8s-auth", "jobspec", lambda d: put(S(d)["rayClusterSpec"]["authOptions"], enableK8sTokenAuth=True), None),
    ("job.runtime-env-yaml", "job", lambda d: put(S(d), runtimeEnvYAML="- a list\n- not a mapping\n"), None),
    ("job.active-deadline", "job", lambda d: put(S(d), activeDeadlineSeconds=0), None),
    ("job.pre-running-deadline", "job", lambda d: put(S(d), preRunningDeadlineSeconds=0), None),
    ("job.backoff-negative", "job", lambda d: put(S(d), backoffLimit=-1), None),
    # RayCronJob
    ("cron.name-length", "cron", lambda d: put(d["metadata"], name="v" * 37), None),
    ("cron.tz-in-schedule", "cron", lambda d: put(S(d), schedule="CRON_TZ=Etc/UTC 0 2 * * *"), None),
    ("cron.schedule", "cron", lambda d: put(S(d), schedule="0 2 * *"), None),
    ("cron.timezone-empty", "cron", lambda d: put(S(d), timeZone=""), None),
    ("cron.timezone", "cron", lambda d: put(S(d), timeZone="Mars/Olympus_Mons"), None),
]


def go_pattern(rule_id: str) -> re.Pattern:
    """The rule's Go message with each %v-style field as a wildcard."""
    parts = re.split(r"\{[a-z_]+\}", R.RULES[rule_id][1])
    return re.compile(".+?".join(re.escape(p) for p in parts), re.S)


def refusal(doc: dict, gates: dict | None):
    return R.validate(doc, gates)


@pytest.mark.parametrize("rule_id,base,breakit,gates", CASES, ids=[c[0] for c in CASES])
def test_each_rule_refuses_a_manifest_broken_for_it(rule_id, base, breakit, gates):
    doc = BASES[base]()
    assert refusal(doc, gates) is None, f"the base manifest {base} is already refused"
    breakit(doc)
    err = refusal(doc, gates)
    assert err is not None, f"{rule_id}: the broken manifest passed"
    assert (err.rule, err.rules) == (rule_id, [rule_id]), str(err)
    assert go_pattern(rule_id).fullmatch(err.core), err.core
    assert err.go_function in (R.RULES[rule_id][0])


# Values Go formats into messages from named constants (%s of a constant): split off before looking the
# fixed text up in validation.go.
GO_CONSTANTS = sorted(["ray.io/ft-enabled", "RAY_REDIS_ADDRESS", "RAY_enable_autoscaler_v2",
                       "KUBERAY_GEN_AUTOSCALER_START_CMD",
                       "GCSFaultToleranceEmbeddedStorage", "RAY_gcs_storage_path", "RAY_gcs_storage", "gcs-storage",
                       "/data/gcs", "ray-tls", "/etc/ray/tls", "ray-history-collector", "STORAGE_BACKEND", "GCS_BUCKET",
                       "S3_REGION", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL",
                       "AZURE_STORAGE_AUTH_MODE", "Recreate", "None"], key=len, reverse=True)
MIN_QUOTED = 12  # fixed pieces at least this long must appear verbatim in validation.go


def test_every_ported_rule_has_a_case_and_quotes_validation_go():
    assert {c[0] for c in CASES} == set(R.RULES)
    go_source = re.sub(r'"\s*\+\s*"', "", (RELEASE / "validation.go").read_text())  # join "a " + "b"
    # "": Go's %q; "]: ": validateDeletionRules wraps validateDeletionCondition's error ("deletionRules[%d]: %w").
    split = re.compile(r"\{[a-z_]+\}|\]: |" + "|".join(f'"?{re.escape(c)}"?' for c in GO_CONSTANTS))
    for rule_id, (function, template) in R.RULES.items():
        name = function.split(" ")[0]
        assert f"func {name}(" in go_source, f"{rule_id}: {name} is not in validation.go"
        if rule_id == "job.runtime-env-yaml":  # dashboardclient's message, not validation.go's
            continue
        pieces = [p for p in split.split(template) if len(p) >= MIN_QUOTED]
        assert pieces, rule_id
        for piece in pieces:
            assert piece in go_source, f"{rule_id}: {piece!r} is not quoted from validation.go"


def test_exact_messages_of_the_key_rules():
    job = manifest("rayjob-extract.yaml")
    job["spec"]["backoffLimit"] = 2
    assert str(refusal(job,
                       None)) == "The RayJob spec is invalid: BackoffLimit is incompatible with ClusterSelector mode"
    cluster = manifest("raycluster.yaml")
    cluster["metadata"]["name"] = "9x"
    assert str(refusal(cluster, None)) == (
        "RayCluster name should be a valid DNS1035 label: [a DNS-1035 label must consist of lower case alphanumeric "
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')]")
    cron = manifest("raycronjob-nightly.yaml")
    cron["spec"]["schedule"] = "0 2 * *"
    assert str(refusal(cron, None)) == "invalid cron schedule: expected exactly 5 fields, found 4: [0 2 * *]"


def test_wrapped_errors_keep_the_inner_rule():
    job = job_with_cluster()
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][1]["minReplicas"] = 9
    err = refusal(job, None)
    assert err.rule == "spec.worker.min-gt-max"
    assert str(err) == "The RayJob spec is invalid: worker group gpu has minReplicas 9 greater than maxReplicas 8"
    cron = manifest("raycronjob-nightly.yaml")
    cron["spec"]["jobTemplate"]["backoffLimit"] = 1
    err = refusal(cron, None)
    assert err.rule == "job.selector-backoff"
    assert str(err) == ("invalid RayJob template: The RayJob spec is invalid: BackoffLimit is incompatible with "
                        "ClusterSelector mode")


def test_joined_errors_list_every_failing_rule():
    job = manifest("rayjob-extract.yaml")
    job["spec"]["deletionStrategy"] = {"deletionRules": [rule("DeleteSelf"), rule("DeleteCluster", jobStatus="FAILED")]}
    err = refusal(job, None)
    assert err.rules == ["rules.condition-none", "rules.selector-policy"]
    assert str(err).split("\n") == [
        "deletionRules[0]: exactly one of JobStatus and JobDeploymentStatus must be set",
        "deletionRules[1]: DeletionPolicyType 'DeleteCluster' not supported when ClusterSelector is set"]


def test_the_old_shared_cluster_retry_pair_is_refused():
    """The issue's pair: clusterSelector + backoffLimit > 0 (extract had 1, soundtrack 2)."""
    for name, backoff in (("rayjob-extract.yaml", 1), ("rayjob-soundtrack.yaml", 2)):
        doc = manifest(name)
        doc["spec"]["backoffLimit"] = backoff
        assert VM.schema_errors(doc) == []  # the CRD alone accepts it
        found = VM.rule_errors(doc)
        assert found == ["KubeRay ValidateRayJobSpec [job.selector-backoff]: The RayJob spec is invalid: "
                         "BackoffLimit is incompatible with ClusterSelector mode"]


def test_default_gates_are_v1_7_0s():
    used = set(re.findall(r"features\.Enabled\(features\.(\w+)\)", (RELEASE / "validation.go").read_text()))
    assert used and used <= set(R.DEFAULT_GATES)
    assert R.DEFAULT_GATES == {"RayJobDeletionPolicy": True, "GCSFaultToleranceEmbeddedStorage": False,
                               "RayClusterHistoryServer": False, "RayClusterNetworkPolicy": False,
                               "RayClusterMTLS": False, "RayCronJob": False}
    doc = manifest("raycluster.yaml")
    doc["spec"]["gcsFaultToleranceOptions"] = {"backend": "rocksdb"}
    assert refusal(doc, None).rule == "ft.rocksdb.gate" and refusal(doc, GATE) is None
    assert refusal(manifest("raycluster.yaml"), ALL_GATES_ON) is None

# ---------------------------------------------------------------- KubeRay's samples


SAMPLES = sorted(RELEASE.glob("samples/*.yaml"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_kuberays_own_samples_pass(path):
    docs = VM.load_documents(path)
    assert docs
    for doc in docs:
        assert VM.validate_document(doc) == [], f"{path.name} {doc['kind']}"


def test_samples_cover_every_ray_kind():
    kinds = {d["kind"] for p in SAMPLES for d in VM.load_documents(p)}
    assert set(R.KINDS) <= kinds

# ---------------------------------------------------------------- CEL rules of the CRDs


def cel_rules_in(node, found):
    if isinstance(node, dict):
        for v in node.get("x-kubernetes-validations", []):
            found.add((v["rule"], v.get("message")))
        for value in node.values():
            cel_rules_in(value, found)
    elif isinstance(node, list):
        for value in node:
            cel_rules_in(value, found)
    return found


def test_every_cel_rule_of_the_crds_is_understood():
    found = set()
    for kind in VM.CRD_FILES:
        for version in VM.load_crd(kind)["spec"]["versions"]:
            cel_rules_in(version["schema"], found)
    assert len({r for r, _ in found}) == 6  # v1.7.0's: if KubeRay adds one, look at it here
    for rule_text, msg in found:
        VM.Cel(rule_text, msg)  # parses (an unknown construct raises)
    with pytest.raises(VM.CelUnsupported):
        VM.Cel("self.size() > 0")
    with pytest.raises(VM.CelUnsupported):
        VM.Cel("self.x > 1")


@pytest.mark.parametrize("kind,breakit,expected", [
    ("RayJob", lambda s: s.__setitem__("managedBy", "someone-else"),
     "the managedBy field value must be either 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'"),
    ("RayJob", lambda s: s.__setitem__("deletionStrategy", {"deletionRules": [
        {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed"}}]}),
     "JobStatus and JobDeploymentStatus cannot be used together within the same deletion condition."),
    ("RayJob", lambda s: s.__setitem__("deletionStrategy", {"deletionRules": [{"policy": "DeleteSelf",
                                                                               "condition": {}}]}),
     "the deletion condition requires either the JobStatus or the JobDeploymentStatus field."),
    ("RayJob", lambda s: s.__setitem__("deletionStrategy", {"onSuccess": {"policy": "DeleteNone"}, "deletionRules": [
        {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED"}}]}),
     "legacy policies (onSuccess/onFailure) and deletionRules cannot be used together within the same "
     "deletionStrategy"),
    ("RayJob", lambda s: s.__setitem__("deletionStrategy", {"onSuccess": {"policy": "DeleteNone"}}),
     "deletionStrategy requires either BOTH onSuccess and onFailure, OR the deletionRules field (cannot be empty)"),
    ("RayCluster", lambda s: s.__setitem__("managedBy", "me"), "the managedBy field value must be either"),
    ("RayCronJob", lambda s: s["jobTemplate"].__setitem__("managedBy", "me"),
     "the managedBy field value must be either"),
])
def test_cel_rules_refuse_through_the_schema(kind, breakit, expected):
    doc = {"RayJob": lambda: manifest("rayjob-extract.yaml"), "RayCluster": lambda: manifest("raycluster.yaml"),
           "RayCronJob": lambda: manifest("raycronjob-nightly.yaml")}[kind]()
    assert VM.schema_errors(doc) == []
    breakit(doc["spec"])
    found = VM.schema_errors(doc)
    assert any(expected in e for e in found), found


def test_cel_transition_rules_apply_to_updates_only():
    old = manifest("raycluster.yaml")
    old["spec"]["managedBy"] = "ray.io/kuberay-operator"
    new = copy.deepcopy(old)
    new["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    assert VM.schema_errors(new) == []  # a create: transition rules do not apply
    assert VM.schema_errors(new, old=old) == ["spec.managedBy: the managedBy field is immutable"]
    assert VM.schema_errors(old, old=old) == []

# ---------------------------------------------------------------- the Go helpers


@pytest.mark.parametrize("value,ok", [("vidmusician", True), ("a", True), ("a-1", True), ("1a", False),
                                      ("A", False), ("a_b", False), ("a" * 63, True), ("a" * 64, False), ("a-", False)])
def test_dns1035_label(value, ok):
    assert (R.is_dns1035_label(value) == []) is ok


def test_label_keys_and_values():
    assert R.is_qualified_name("ray.io/node-type") == [] and R.is_qualified_name("app") == []
    assert R.is_qualified_name("Bad Key") and R.is_qualified_name("a/b/c") and R.is_qualified_name("/x")
    assert R.is_qualified_name("x" * 64)[0] == "name part must be no more than 63 bytes"
    assert R.is_valid_label_value("") == [] and R.is_valid_label_value("g5.2xlarge") == []
    assert R.is_valid_label_value("-x") and R.is_valid_label_value("x" * 64)
    assert R.is_dns1123_label("gpu.small") == ["must not contain dots"]


def test_generic_versions():
    assert R.version_less(R.parse_generic_version("2.51.1"), R.parse_generic_version("2.52.0"))
    assert not R.version_less(R.parse_generic_version("2.60.0"), R.parse_generic_version("2.52.0"))
    assert not R.version_less(R.parse_generic_version("v2.52"), R.parse_generic_version("2.52.0"))
    assert R.parse_generic_version("2.60.0rc1") == (2, 60, 0)  # ParseGeneric ignores what follows
    for bad in ("two", "2", "02.1"):
        with pytest.raises(ValueError):
            R.parse_generic_version(bad)


@pytest.mark.parametrize("spec,error", [
    ("0 2 * *", "expected exactly 5 fields, found 4: [0 2 * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@sometimes", "unrecognized descriptor: @sometimes"),
    ("@every 1 hour", 'failed to parse duration @every 1 hour: time: invalid duration "1 hour"'),
    ("", "empty spec string"),
])
def test_cron_parser_refuses_as_robfig_does(spec, error):
    with pytest.raises(R.CronError) as err:
        R.parse_cron_standard(spec)
    assert str(err.value) == error


def fires(spec: str, day: dt.datetime, minutes: int) -> list[dt.datetime]:
    schedule = R.parse_cron_standard(spec)
    return [t for t in (day + dt.timedelta(minutes=m) for m in range(minutes)) if schedule.fires_at(t)]


def test_cron_schedules_fire_when_robfig_would():
    monday = dt.datetime(2026, 11, 30)  # a Monday
    day = 24 * 60
    assert fires("0 2 * * *", monday, day) == [monday.replace(hour=2)]
    assert len(fires("*/15 * * * *", monday, day)) == 96
    assert fires("@daily", monday, day) == [monday]
    assert fires("30 4 * * mon-fri", monday, day) == [monday.replace(hour=4, minute=30)]
    # Day of month and day of week both restricted: either matches (the 1st is a Tuesday).
    assert fires("0 0 1 * SUN", monday, 7 * day) == [dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 6)]
    assert R.parse_cron_standard("@every 1h30m").every_s == 5400
