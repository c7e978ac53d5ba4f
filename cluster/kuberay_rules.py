"""KubeRay v1.7.0's admission rules for RayCluster, RayJob and RayCronJob, ported to Python.

Source: ray-operator/controllers/ray/utils/validation.go at tag v1.7.0 (a copy is in
../shared/kuberay-v1.7.0/validation.go), with the helpers it calls (utils/util.go, utils/constant.go,
pkg/features/features.go at the same tag; k8s.io/apimachinery v0.36.0 for names, labels and versions;
github.com/robfig/cron/v3 v3.0.1 for schedules). The operator runs these checks when it reconciles an
object (the API server does not), and reports the first failure as an event: a manifest the CRD schema
accepts can still be refused here, e.g. "BackoffLimit is incompatible with ClusterSelector mode".

Every check names its Go function and quotes its error message (RULES below, one entry per distinct
error): `RuleError.rule` says which rule refused a document. Like the Go code, each validate_* function
stops at the first error. Feature gates take v1.7.0's defaults (DEFAULT_GATES) unless a caller passes
others. Status rules (ValidateRayClusterStatus, ValidateRayJobStatus) read the document's `status`,
which a manifest normally lacks. Documents are the parsed YAML (dicts), after the API server's defaulting
would have run: a missing field reads as Go's zero value.
"""
from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass

import yaml

# ---------------------------------------------------------------- constants (utils/constant.go, v1.7.0)

MAX_RAYCLUSTER_NAME_LENGTH = 53
MAX_RAYJOB_NAME_LENGTH = MAX_RAYCLUSTER_NAME_LENGTH - 6
MAX_RAYCRONJOB_NAME_LENGTH = MAX_RAYJOB_NAME_LENGTH - 11
RAY_CONTAINER_INDEX = 0
RAYJOB_CLUSTER_SELECTOR_KEY = "ray.io/cluster"
RAY_ORIGINATED_FROM_CRD_LABEL_KEY = "ray.io/originated-from-crd"
RAY_FT_ENABLED_ANNOTATION_KEY = "ray.io/ft-enabled"
RAY_EXTERNAL_STORAGE_NS_ANNOTATION_KEY = "ray.io/external-storage-namespace"
RAY_REDIS_ADDRESS = "RAY_REDIS_ADDRESS"
REDIS_PASSWORD = "REDIS_PASSWORD"
REDIS_USERNAME = "REDIS_USERNAME"
RAY_GCS_STORAGE = "RAY_gcs_storage"
RAY_GCS_STORAGE_PATH = "RAY_gcs_storage_path"
GCS_STORAGE_VOLUME_NAME = "gcs-storage"
GCS_STORAGE_MOUNT_PATH = "/data/gcs"
RAY_ENABLE_AUTOSCALER_V2 = "RAY_enable_autoscaler_v2"
KUBERAY_GEN_AUTOSCALER_START_CMD = "KUBERAY_GEN_AUTOSCALER_START_CMD"
TLS_ENV_VARS = ("RAY_USE_TLS", "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT")
RAY_TLS_VOLUME_NAME = "ray-tls"
RAY_TLS_CERT_MOUNT_PATH = "/etc/ray/tls"
COLLECTOR_CONTAINER_NAME = "ray-history-collector"
COLLECTOR_FORBIDDEN_ENV = ("POD_IP", "FQ_RAY_IP", "RAY_CLUSTER_NAME", "RAY_CLUSTER_NAMESPACE", "RAY_ROLE",
                           "OWNER_KIND", "OWNER_NAME", "EVENTS_PORT")
ALIYUN_ENV = ("OSS_BUCKET", "OSS_ENDPOINT", "OSS_REGION")  # ALIYUN_BUCKET / _ENDPOINT / _REGION
MIN_RAY_VERSION_TOKEN_AUTH = "2.52.0"
MIN_RAY_VERSION_K8S_TOKEN_AUTH = "2.55.0"
MIN_RAY_VERSION_PRIORITY = "2.56.0"

# pkg/features/features.go, v1.7.0: the gates these rules read, with their defaults.
DEFAULT_GATES = {"RayJobDeletionPolicy": True, "GCSFaultToleranceEmbeddedStorage": False,
                 "RayClusterHistoryServer": False, "RayClusterNetworkPolicy": False, "RayClusterMTLS": False,
                 "RayCronJob": False}

# ---------------------------------------------------------------- the rules: id -> (Go function, message)

RULES: dict[str, tuple[str, str]] = {
    # ValidateRayClusterStatus
    "cluster.status.suspending-and-suspended": ("ValidateRayClusterStatus",
        "invalid RayCluster State: rayv1.RayClusterSuspending and rayv1.RayClusterSuspended conditions should not be "
        "both true"),
    # ValidateRayClusterMetadata
    "cluster.name.length": ("ValidateRayClusterMetadata", "RayCluster name should be no more than {max} characters"),
    "cluster.name.dns1035": ("ValidateRayClusterMetadata", "RayCluster name should be a valid DNS1035 label: {errs}"),
    # ValidateRayClusterUpgradeOptions
    "cluster.upgrade.type": ("ValidateRayClusterUpgradeOptions",
        "The RayCluster spec is invalid: Spec.UpgradeStrategy.Type value {value} is invalid, valid options are "
        "Recreate or None"),
    "cluster.upgrade.creator": ("ValidateRayClusterUpgradeOptions",
        "upgradeStrategy cannot be set when RayCluster is created by {crd}"),
    # validateRayGroupResources, validateRayGroupLabels
    "group.resources.both": ("validateRayGroupResources",
        "resource fields should not be set in both rayStartParams and Resources for {group} group; please use only "
        "one"),
    "group.labels.raystartparams": ("validateRayGroupLabels",
        "rayStartParams['labels'] is not supported for {group} group; please use the top-level Labels field instead"),
    "group.labels.key": ("validateRayGroupLabels", "invalid label key for {group} group: '{key}', error: {err}"),
    "group.labels.value": ("validateRayGroupLabels",
        "invalid label value for key '{key}' in {group} group: '{value}', error: {err}"),
    # ValidateRayClusterSpec
    "spec.head.containers": ("ValidateRayClusterSpec", "headGroupSpec should have at least one container"),
    "spec.worker.containers": ("ValidateRayClusterSpec", "workerGroupSpec should have at least one container"),
    "spec.worker.replicas-required": ("ValidateRayClusterSpec",
        "worker group {group} must set both minReplicas and maxReplicas when autoscaling is disabled"),
    "spec.worker.min-negative": ("ValidateRayClusterSpec", "worker group {group} has negative minReplicas {n}"),
    "spec.worker.max-negative": ("ValidateRayClusterSpec", "worker group {group} has negative maxReplicas {n}"),
    "spec.worker.min-gt-max": ("ValidateRayClusterSpec",
        "worker group {group} has minReplicas {min} greater than maxReplicas {max}"),
    "group.idle.negative": ("validateWorkerGroupIdleTimeout",
        "worker group {group}: idleTimeoutSeconds must be non-negative, got {n}"),
    "group.idle.v2": ("validateWorkerGroupIdleTimeout",
        "worker group {group}: idleTimeoutSeconds is set, but autoscaler v2 is not enabled. Please set "
        ".spec.autoscalerOptions.version to 'v2' (or set RAY_enable_autoscaler_v2 environment variable to 'true' in "
        "the head pod if using KubeRay < 1.4.0)"),
    "group.priority.no-version": ("validateWorkerGroupPriority",
        "worker group {group}: priority is set, but RayVersion was not specified. Ray version 2.56.0 or later is "
        "required"),
    "group.priority.bad-version": ("validateWorkerGroupPriority",
        "worker group {group}: priority is set, but RayVersion format is invalid: {version}, {err}"),
    "group.priority.old-version": ("validateWorkerGroupPriority",
        "worker group {group}: priority is set, but minimum Ray version is 2.56.0, got {version}"),
    "group.priority.v2": ("validateWorkerGroupPriority",
        "worker group {group}: priority is set to {n}, but autoscaler v2 is not enabled. Priority is only supported "
        "with autoscaler v2 enabled"),
    "spec.ft.annotation-and-options": ("ValidateRayClusterSpec",
        "ray.io/ft-enabled annotation and GcsFaultToleranceOptions are both set. Please use only "
        "GcsFaultToleranceOptions to configure GCS fault tolerance"),
    "spec.ft.redis-address-without-ft": ("ValidateRayClusterSpec",
        "RAY_REDIS_ADDRESS is set which implicitly enables GCS fault tolerance, but GcsFaultToleranceOptions is not "
        "set. Please set GcsFaultToleranceOptions to enable GCS fault tolerance"),
    "spec.ft.redis-password-param": ("ValidateRayClusterSpec",
        "cannot set `redis-password` in rayStartParams when GcsFaultToleranceOptions is enabled - use "
        "GcsFaultToleranceOptions.RedisPassword instead"),
    "spec.ft.redis-password-env": ("ValidateRayClusterSpec",
        "cannot set `REDIS_PASSWORD` env var in head Pod when GcsFaultToleranceOptions is enabled - use "
        "GcsFaultToleranceOptions.RedisPassword instead"),
    "spec.ft.redis-address-env": ("ValidateRayClusterSpec",
        "cannot set `RAY_REDIS_ADDRESS` env var in head Pod when GcsFaultToleranceOptions is enabled - use "
        "GcsFaultToleranceOptions.RedisAddress instead"),
    "spec.ft.external-storage-annotation": ("ValidateRayClusterSpec",
        "cannot set `ray.io/external-storage-namespace` annotation when GcsFaultToleranceOptions is enabled - use "
        "GcsFaultToleranceOptions.ExternalStorageNamespace instead"),
    "ft.rocksdb.gate": ("validateGcsFaultToleranceBackend",
        "the embedded RocksDB GCS fault tolerance backend (GcsFaultToleranceOptions.Backend: 'rocksdb') requires the "
        "GCSFaultToleranceEmbeddedStorage feature gate to be enabled"),
    "ft.rocksdb.redis-address": ("validateGcsFaultToleranceBackend",
        "cannot set GcsFaultToleranceOptions.RedisAddress when backend is 'rocksdb'"),
    "ft.rocksdb.redis-username": ("validateGcsFaultToleranceBackend",
        "cannot set GcsFaultToleranceOptions.RedisUsername when backend is 'rocksdb'"),
    "ft.rocksdb.redis-password": ("validateGcsFaultToleranceBackend",
        "cannot set GcsFaultToleranceOptions.RedisPassword when backend is 'rocksdb'"),
    "ft.rocksdb.external-storage-namespace": ("validateGcsFaultToleranceBackend",
        "cannot set GcsFaultToleranceOptions.ExternalStorageNamespace when backend is 'rocksdb'"),
    "ft.rocksdb.claim-exclusive": ("validateGcsFaultToleranceBackend",
        "GcsFaultToleranceOptions.Storage.ClaimName is mutually exclusive with size, storageClassName, and "
        "accessModes"),
    "ft.rocksdb.storage-env": ("validateGcsFaultToleranceBackend",
        "cannot set `RAY_gcs_storage` or `RAY_gcs_storage_path` env var in head Pod when the embedded GCS FT backend "
        "is used - these are managed by KubeRay"),
    "ft.rocksdb.mount": ("validateGcsFaultToleranceBackend",
        'cannot set a volume mount named "gcs-storage" or mounted at /data/gcs in the head container when the '
        "embedded GCS FT backend is used - it is managed by KubeRay"),
    "ft.rocksdb.volume": ("validateGcsFaultToleranceBackend",
        'cannot set a volume named "gcs-storage" in the head Pod when the embedded GCS FT backend is used - it is '
        "managed by KubeRay"),
    "ft.redis.storage": ("validateGcsFaultToleranceBackend",
        "cannot set GcsFaultToleranceOptions.Storage when backend is 'redis' - it only applies to the 'rocksdb' "
        "backend"),
    "spec.redis-username": ("ValidateRayClusterSpec",
        "cannot set redis username in rayStartParams or environment variables - use "
        "GcsFaultToleranceOptions.RedisUsername instead"),
    "spec.worker.suspend-gate": ("ValidateRayClusterSpec",
        "worker group {group} can be suspended only when the RayJobDeletionPolicy feature gate is enabled"),
    "spec.autoscaler-v2-env-without-autoscaling": ("ValidateRayClusterSpec",
        "environment variable RAY_enable_autoscaler_v2 cannot be set to '{value}' when enableInTreeAutoscaling is "
        "false. Please set enableInTreeAutoscaling: true to use autoscaler v2"),
    "spec.worker.suspend-autoscaler": ("ValidateRayClusterSpec",
        "worker group {group} cannot be suspended with Autoscaler enabled"),
    "spec.autoscaler.version-and-env": ("ValidateRayClusterSpec",
        "both .spec.autoscalerOptions.version and head Pod env var RAY_enable_autoscaler_v2 are set, please only use "
        "the former"),
    "spec.autoscaler-v2.head-restart": ("ValidateRayClusterSpec",
        "restartPolicy for head Pod should be Never or unset when using autoscaler V2"),
    "spec.autoscaler-v2.worker-restart": ("ValidateRayClusterSpec",
        "restartPolicy for worker group {group} should be Never or unset when using autoscaler V2"),
    "spec.autoscaler.idle-negative": ("ValidateRayClusterSpec",
        "autoscalerOptions.idleTimeoutSeconds must be non-negative, got {n}"),
    "spec.autoscaler.gen-cmd-env": ("ValidateRayClusterSpec",
        "autoscalerOptions.env must not contain KUBERAY_GEN_AUTOSCALER_START_CMD: it is managed by KubeRay and "
        "injected automatically into the autoscaler container"),
    "spec.history.gate": ("ValidateRayClusterSpec", "RayClusterHistoryServer feature gate is not enabled"),
    "spec.history.collector-required": ("ValidateRayClusterSpec", "historyServerOptions.collectorOptions must be set"),
    "collector.image": ("validateCollectorOptions", "historyServerOptions.collectorOptions.image must be set"),
    "collector.forbidden-env": ("validateCollectorOptions",
        "historyServerOptions.collectorOptions.env must not contain {name}: it is managed by KubeRay and injected "
        "automatically into the collector container"),
    "collector.backend": ("validateCollectorOptions",
        "STORAGE_BACKEND environment variable must be set with a literal string value in "
        "historyServerOptions.collectorOptions.env"),
    "collector.gcs-bucket": ("validateCollectorOptions",
        "GCS_BUCKET environment variable must be set when STORAGE_BACKEND is GCS"),
    "collector.s3-region": ("validateCollectorOptions",
        "S3_REGION environment variable must be set when STORAGE_BACKEND is S3"),
    "collector.azure-connection-string": ("validateCollectorOptions",
        "AZURE_STORAGE_CONNECTION_STRING environment variable must be set when STORAGE_BACKEND is AZUREBLOB and "
        "AZURE_STORAGE_AUTH_MODE is connection_string"),
    "collector.azure-account-url": ("validateCollectorOptions",
        "AZURE_STORAGE_ACCOUNT_URL environment variable must be set when STORAGE_BACKEND is AZUREBLOB and "
        "AZURE_STORAGE_AUTH_MODE is {mode}"),
    "collector.azure-either": ("validateCollectorOptions",
        "either AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL environment variable must be set when "
        "STORAGE_BACKEND is AZUREBLOB"),
    "collector.aliyun": ("validateCollectorOptions",
        "{name} environment variable must be set when STORAGE_BACKEND is ALIYUNOSS"),
    "spec.history.head-collector-name": ("ValidateRayClusterSpec",
        "head pod template must not define a container with name 'ray-history-collector' when history server "
        "collector options are enabled"),
    "spec.history.worker-collector-name": ("ValidateRayClusterSpec",
        "worker group {group} pod template must not define a container with name 'ray-history-collector' when "
        "history server collector options are enabled"),
    "spec.auth.no-version": ("ValidateRayClusterSpec",
        "authOptions.mode is 'token' but RayVersion was not specified. Ray version 2.52.0 or later is required"),
    "spec.auth.bad-version": ("ValidateRayClusterSpec",
        "authOptions.mode is 'token' but RayVersion format is invalid: {version}, {err}"),
    "spec.auth.old-version": ("ValidateRayClusterSpec",
        "authOptions.mode is 'token' but minimum Ray version is 2.52.0, got {version}"),
    "spec.auth.k8s-old-version": ("ValidateRayClusterSpec",
        "authOptions.enableK8sTokenAuth is enabled but minimum Ray version is 2.55.0, got {version}"),
    "spec.auth.k8s-secret-name": ("ValidateRayClusterSpec",
        "authOptions.enableK8sTokenAuth is enabled and authOptions.secretName is also set"),
    "spec.auth.k8s-without-token": ("ValidateRayClusterSpec",
        "authOptions.enableK8sTokenAuth is enabled but authOptions.mode not set to 'token'"),
    "spec.network-policy.gate": ("ValidateRayClusterSpec",
        "spec.networkPolicy requires the RayClusterNetworkPolicy feature gate to be enabled"),
    "np.head.ingress": ("validateNetworkPolicy",
        "networkPolicy.head.ingressRules cannot be set when mode is {mode} (ingress is not restricted)"),
    "np.head.egress": ("validateNetworkPolicy",
        "networkPolicy.head.egressRules cannot be set when mode is {mode} (egress is not restricted)"),
    "np.worker.ingress": ("validateNetworkPolicy",
        "networkPolicy.worker.ingressRules cannot be set when mode is {mode} (ingress is not restricted)"),
    "np.worker.egress": ("validateNetworkPolicy",
        "networkPolicy.worker.egressRules cannot be set when mode is {mode} (egress is not restricted)"),
    "np.group-name": ("validateNetworkPolicy",
        "worker group name {name} must be a valid DNS1123 label when networkPolicy is enabled (it is embedded in the "
        "NetworkPolicy name): {errs}"),
    "np.groups.ingress": ("validateNetworkPolicy",
        "networkPolicy.workerGroups[{group}].ingressRules cannot be set when mode is {mode} (ingress is not "
        "restricted)"),
    "np.groups.egress": ("validateNetworkPolicy",
        "networkPolicy.workerGroups[{group}].egressRules cannot be set when mode is {mode} (egress is not restricted)"),
    "np.groups.unknown": ("validateNetworkPolicy",
        "networkPolicy.workerGroups[{group}] does not match any group name in workerGroupSpecs"),
    "spec.tls.gate": ("ValidateRayClusterSpec",
        "spec.tlsOptions requires the RayClusterMTLS feature gate to be enabled"),
    "tls.head-env": ("validateTLSOptions",
        "cannot set {name} environment variable in head Pod when tlsOptions is set - the operator manages TLS "
        "configuration automatically"),
    "tls.worker-env": ("validateTLSOptions",
        "cannot set {name} environment variable in worker group {group} when tlsOptions is set - the operator "
        "manages TLS configuration automatically"),
    "tls.mount-name": ("validateNoConflictingTLSVolumeMount",
        'cannot use volume mount named "ray-tls" in {location} when tlsOptions is set - the operator manages TLS '
        "configuration automatically"),
    "tls.mount-path": ("validateNoConflictingTLSVolumeMount",
        'cannot use volume mount at path "/etc/ray/tls" in {location} when tlsOptions is set - the operator manages '
        "TLS configuration automatically"),
    "tls.autoscaler-env": ("validateTLSOptions",
        "cannot set {name} environment variable in autoscalerOptions.env when tlsOptions is set - the operator "
        "manages TLS configuration for the autoscaler automatically"),
    "tls.autoscaler-mount-name": ("validateTLSOptions",
        'cannot use volume mount named "ray-tls" in autoscalerOptions.volumeMounts when tlsOptions is set - the '
        "operator manages TLS configuration automatically"),
    "tls.autoscaler-mount-path": ("validateTLSOptions",
        'cannot use volume mount at path "/etc/ray/tls" in autoscalerOptions.volumeMounts when tlsOptions is set - '
        "the operator manages TLS configuration automatically"),
    # ValidateRayJobStatus, ValidateRayJobMetadata
    "job.status.waiting": ("ValidateRayJobStatus",
        "The RayJob status is invalid: JobDeploymentStatus cannot be `Waiting` when SubmissionMode is not "
        "InteractiveMode"),
    "job.name.length": ("ValidateRayJobMetadata",
        "The RayJob metadata is invalid: RayJob name should be no more than {max} characters"),
    "job.name.dns1035": ("ValidateRayJobMetadata",
        "The RayJob metadata is invalid: RayJob name should be a valid DNS1035 label: {errs}"),
    # ValidateRayJobSpec
    "job.suspend-without-shutdown": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to false is not allowed to be "
        "suspended"),
    "job.ttl-negative": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: TTLSecondsAfterFinished must be a non-negative integer"),
    "deletion.ttl-without-shutdown": ("validateDeletionConfiguration",
        "The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to false cannot have "
        "TTLSecondsAfterFinished"),
    "deletion.gate": ("validateDeletionConfiguration",
        "RayJobDeletionPolicy feature gate must be enabled to use DeletionStrategy"),
    "deletion.rules-and-shutdown": ("validateDeletionConfiguration",
        "The RayJob spec is invalid: spec.shutdownAfterJobFinishes and spec.deletionStrategy.deletionRules are "
        "mutually exclusive"),
    "deletion.rules-and-legacy": ("validateDeletionConfiguration",
        "The RayJob spec is invalid: Cannot use both legacy onSuccess/onFailure fields and deletionRules "
        "simultaneously"),
    "deletion.empty": ("validateDeletionConfiguration",
        "The RayJob spec is invalid: DeletionStrategy requires either BOTH onSuccess and onFailure, OR the "
        "deletionRules field (cannot be empty)"),
    "legacy.both": ("validateLegacyDeletionPolicies",
        "both DeletionStrategy.OnSuccess and DeletionStrategy.OnFailure must be set when using the legacy deletion "
        "policy fields of DeletionStrategy"),
    "legacy.on-success-policy": ("validateLegacyDeletionPolicies",
        "the DeletionPolicyType field of DeletionStrategy.OnSuccess cannot be unset when DeletionStrategy is enabled"),
    "legacy.on-failure-policy": ("validateLegacyDeletionPolicies",
        "the DeletionPolicyType field of DeletionStrategy.OnFailure cannot be unset when DeletionStrategy is enabled"),
    "legacy.selector-on-success": ("validateLegacyDeletionPolicies",
        "the ClusterSelector mode doesn't support DeletionStrategy={policy} on success"),
    "legacy.selector-on-failure": ("validateLegacyDeletionPolicies",
        "the ClusterSelector mode doesn't support DeletionStrategy={policy} on failure"),
    "legacy.delete-workers-autoscaling": ("validateLegacyDeletionPolicies",
        "DeletionStrategy=DeleteWorkers currently does not support RayCluster with autoscaling enabled"),
    "legacy.shutdown-delete-none": ("validateLegacyDeletionPolicies",
        "The RayJob spec is invalid: shutdownAfterJobFinshes is set to 'true' while deletion policy is 'DeleteNone'"),
    "rules.condition-both": ("validateDeletionCondition",
        "deletionRules[{i}]: cannot set both JobStatus and JobDeploymentStatus at the same time"),
    "rules.condition-none": ("validateDeletionCondition",
        "deletionRules[{i}]: exactly one of JobStatus and JobDeploymentStatus must be set"),
    "rules.ttl-negative": ("validateDeletionCondition", "deletionRules[{i}]: TTLSeconds must be non-negative"),
    "rules.selector-policy": ("validateDeletionRules",
        "deletionRules[{i}]: DeletionPolicyType '{policy}' not supported when ClusterSelector is set"),
    "rules.delete-workers-autoscaling": ("validateDeletionRules",
        "deletionRules[{i}]: DeletionPolicyType 'DeleteWorkers' not supported with autoscaling enabled"),
    "rules.duplicate-job-status": ("validateDeletionRules",
        "deletionRules[{i}]: duplicate rule for DeletionPolicyType '{policy}' and JobStatus '{status}'"),
    "rules.duplicate-deployment-status": ("validateDeletionRules",
        "deletionRules[{i}]: duplicate rule for DeletionPolicyType '{policy}' and JobDeploymentStatus '{status}'"),
    "rules.ttl-order": ("validateTTLConsistency",
        "for {ctype} '{cvalue}': {policy} TTL ({ttl}) must be >= {prev} TTL ({prev_ttl})"),
    "job.suspend-selector": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: the ClusterSelector mode doesn't support the suspend operation"),
    "job.cluster-required": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: one of RayClusterSpec or ClusterSelector must be set"),
    "job.selector-empty-name": ("ValidateRayJobSpec", "cluster name in ClusterSelector should not be empty"),
    "job.selector-sidecar": ("ValidateRayJobSpec", "ClusterSelector is not supported in SidecarMode"),
    "job.selector-backoff": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: BackoffLimit is incompatible with ClusterSelector mode"),
    "job.interactive-backoff": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: BackoffLimit is incompatible with InteractiveMode"),
    "job.sidecar-submitter-template": ("ValidateRayJobSpec",
        "Currently, SidecarMode doesn't support SubmitterPodTemplate"),
    "job.sidecar-submitter-config": ("ValidateRayJobSpec", "Currently, SidecarMode doesn't support SubmitterConfig"),
    "job.sidecar-head-restart": ("ValidateRayJobSpec",
        "restartPolicy for head Pod should be Never or unset when using SidecarMode"),
    "job.k8s-auth": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: K8s token auth mode is currently not supported for RayJob"),
    # The Go message ends with yaml.Unmarshal's own error, which differs from PyYAML's.
    "job.runtime-env-yaml": ("ValidateRayJobSpec (dashboardclient.UnmarshalRuntimeEnvYAML)",
        "failed to unmarshal RuntimeEnvYAML: {yaml}: {err}"),
    "job.active-deadline": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: activeDeadlineSeconds must be a positive integer"),
    "job.pre-running-deadline": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: preRunningDeadlineSeconds must be a positive integer"),
    "job.backoff-negative": ("ValidateRayJobSpec",
        "The RayJob spec is invalid: backoffLimit must be a positive integer"),
    # ValidateRayCronJobSpec
    "cron.name-length": ("ValidateRayCronJobSpec", "RayCronJob name should be no more than {max} characters"),
    "cron.tz-in-schedule": ("ValidateRayCronJobSpec",
        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    "cron.schedule": ("ValidateRayCronJobSpec", "invalid cron schedule: {err}"),
    "cron.timezone-empty": ("ValidateRayCronJobSpec",
        "timeZone must not be empty string, omit the field to use the local time zone of the KubeRay operator"),
    "cron.timezone": ("ValidateRayCronJobSpec", "invalid time zone: {err}"),
}
# Errors that wrap another rule's error (the wrapped rule stays the RuleError's `rule`).
WRAP_RAYJOB_CLUSTER_SPEC = "The RayJob spec is invalid: "   # ValidateRayJobSpec around ValidateRayClusterSpec
WRAP_CRON_TEMPLATE = "invalid RayJob template: "             # ValidateRayCronJobSpec around ValidateRayJobSpec


class RuleError(ValueError):
    """A refusal by one ported rule: `rule` is its RULES key, str() the operator's message."""

    def __init__(self, rule: str, message: str | None = None, **fields):
        self.rule = rule
        self.rules = [rule]  # every rule of an aggregated error (errors.Join, label errors)
        super().__init__(message if message is not None else RULES[rule][1].format(**fields))
        self.core = str(self)  # the message before a wrapper's prefix

    @property
    def go_function(self) -> str:
        return RULES[self.rule][0]


def _fail(cond: bool, rule: str, **fields) -> None:
    if cond:
        raise RuleError(rule, **fields)


def _joined(errors: list[RuleError], sep: str) -> RuleError | None:
    """Go's errors.Join / strings.Join of several errors: one error, the first one's rule."""
    if not errors:
        return None
    joined = RuleError(errors[0].rule, sep.join(str(e) for e in errors))
    joined.rules = [e.rule for e in errors]
    return joined

# ---------------------------------------------------------------- k8s.io/apimachinery v0.36.0 ports


def go_quote(s: str) -> str:
    """Go's %q for the plain strings used here."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_list(items: list[str]) -> str:
    """Go's %v of a []string."""
    return "[" + " ".join(items) + "]"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:  # util/validation RegexError
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    # Go appends "'<example>', " per example, joined by " or ".
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + "regex used for validation is '" + fmt + "')"


DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"
DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
LABEL_MAX = 63


def _full(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS_LABEL_MAX:
        errs.append(f"must be no more than {DNS_LABEL_MAX} characters")
    if not _full(DNS1035_LABEL_FMT, value):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                                 "with an alphabetic character, and end with an alphanumeric character",
                                 DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS_LABEL_MAX:
        errs.append(f"must be no more than {DNS_LABEL_MAX} characters")
    if not _full(DNS1123_LABEL_FMT, value):
        if _full(DNS1123_SUBDOMAIN_FMT, value):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                     "or '-', and must start and end with an alphanumeric character",
                                     DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str, unit: str = "characters") -> list[str]:
    errs = []
    if len(value) > DNS_SUBDOMAIN_MAX:
        errs.append(f"must be no more than {DNS_SUBDOMAIN_MAX} {unit}")
    if not _full(DNS1123_SUBDOMAIN_FMT, value):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                 "'-' or '.', and must start and end with an alphanumeric character",
                                 DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """validation.IsQualifiedName (= content.IsLabelKey)."""
    key_msg = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
               "character")
    parts = value.split("/")
    errs = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix, unit="bytes")]
    else:
        return ["a valid label key " + _regex_error(key_msg, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > LABEL_MAX:
        errs.append(f"name part must be no more than {LABEL_MAX} bytes")
    if not _full(LABEL_KEY_FMT, name):
        errs.append("name part " + _regex_error(key_msg, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > LABEL_MAX:
        errs.append(f"must be no more than {LABEL_MAX} bytes")
    if not _full(LABEL_VALUE_FMT, value):
        errs.append(_regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                 "'_' or '.', and must start and end with an alphanumeric character",
                                 LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


VERSION_RE = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)*)(.*)*$")


def parse_generic_version(text: str) -> tuple[int, ...]:
    """util/version.ParseGeneric: at least major.minor, numeric, no zero-prefixed major."""
    m = VERSION_RE.match(text)
    if m is None:
        raise ValueError(f"could not parse {go_quote(text)} as version")
    components = m.group(1).split(".")
    if len(components) < 2:
        raise ValueError(f"illegal version string {go_quote(text)}")
    if components[0].startswith("0") and components[0] != "0":
        raise ValueError(f"illegal zero-prefixed version component {go_quote(components[0])} in {go_quote(text)}")
    return tuple(int(c) for c in components)


def version_less(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Version.LessThan for generic versions (missing components count as 0)."""
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) < b + (0,) * (width - len(b))

# ---------------------------------------------------------------- github.com/robfig/cron/v3 v3.0.1 ParseStandard


class CronError(ValueError):
    pass


MONTH_NAMES = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                                "oct", "nov", "dec"))}
DOW_NAMES = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (min, max, names) of minute, hour, day of month, month, day of week: spec.go's bounds.
CRON_FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, MONTH_NAMES), (0, 6, DOW_NAMES))
CRON_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
GO_DURATION_RE = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


@dataclass(frozen=True)
class CronSchedule:
    """A parsed standard schedule: the allowed values of each field, and whether day-of-month / day-of-week
    was a star (robfig's starBit: then both must match, else either)."""
    minutes: frozenset
    hours: frozenset
    doms: frozenset
    months: frozenset
    dows: frozenset
    dom_star: bool
    dow_star: bool
    every_s: float | None = None  # "@every <duration>"

    def fires_at(self, t) -> bool:
        """Whether a whole minute `t` (a datetime in the schedule's zone) is a firing time."""
        if self.every_s is not None:
            raise CronError("@every schedules fire relative to their start, not at fixed times")
        day_dom, day_dow = t.day in self.doms, (t.isoweekday() % 7) in self.dows
        day = (day_dom and day_dow) if (self.dom_star or self.dow_star) else (day_dom or day_dow)
        return t.minute in self.minutes and t.hour in self.hours and t.month in self.months and day


def _cron_int(expr: str, names: dict | None) -> int:
    if names and expr.lower() in names:
        return names[expr.lower()]
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise CronError(f"failed to parse int from {expr}: strconv.Atoi: parsing {go_quote(expr)}: invalid syntax")
    num = int(expr)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _cron_range(expr: str, lo: int, hi: int, names) -> tuple[set, bool]:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _cron_int(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _cron_int(low_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _cron_int(range_and_step[1], None)
        if len(low_high) == 1:
            end = hi
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _go_duration_s(text: str) -> float:
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    if not body or GO_DURATION_RE.sub("", body):
        raise CronError(f"time: invalid duration {go_quote(text)}")
    return sum(float(n) * scale[u] for n, u in GO_DURATION_RE.findall(body)) * (-1 if text.startswith("-") else 1)


def parse_cron_standard(spec: str) -> CronSchedule:
    """cron.ParseStandard: 5 fields (minute hour dom month dow) or a descriptor; errors as robfig words them."""
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith("@"):
        if spec.startswith("@every "):
            try:
                every = _go_duration_s(spec[len("@every "):])
            except CronError as err:
                raise CronError(f"failed to parse duration {spec}: {err}") from None
            return CronSchedule(*(frozenset(),) * 5, False, False, every_s=every)
        if spec not in CRON_DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = CRON_DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != len(CRON_FIELDS):
        raise CronError(f"expected exactly {len(CRON_FIELDS)} fields, found {len(fields)}: {go_list(fields)}")
    values, stars = [], []
    for text, (lo, hi, names) in zip(fields, CRON_FIELDS):
        allowed, star = set(), False
        for expr in [e for e in text.split(",") if e]:
            got, got_star = _cron_range(expr, lo, hi, names)
            allowed |= got
            star = star or got_star
        values.append(frozenset(allowed))
        stars.append(star)
    return CronSchedule(*values, dom_star=stars[2], dow_star=stars[4])

# ---------------------------------------------------------------- helpers of utils/util.go


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj or obj[key] is None:
            return default
        obj = obj[key]
    return obj


def env_var(name: str, env: list | None):
    """EnvVarByName: the entry, or None."""
    return next((e for e in env or [] if e.get("name") == name), None)


def env_var_exists(name: str, env: list | None) -> bool:
    return env_var(name, env) is not None


def is_autoscaling_enabled(spec: dict | None) -> bool:
    return spec is not None and _get(spec, "enableInTreeAutoscaling") is True


def is_autoscaling_v2_enabled(spec: dict | None) -> bool:
    return spec is not None and _get(spec, "autoscalerOptions", "version") == "v2"


def is_gcs_ft_enabled(spec: dict, annotations: dict) -> bool:
    value = annotations.get(RAY_FT_ENABLED_ANNOTATION_KEY)
    return (value is not None and value.lower() == "true") or spec.get("gcsFaultToleranceOptions") is not None


def is_auth_enabled(spec: dict) -> bool:
    return _get(spec, "authOptions", "mode") == "token"


def is_k8s_auth_enabled(auth_options: dict | None) -> bool:
    return _get(auth_options or {}, "enableK8sTokenAuth") is True


def is_tls_enabled(spec: dict, gates: dict) -> bool:
    return gates["RayClusterMTLS"] and _get(spec, "tlsOptions", "enabled") is True


def _containers(group: dict) -> list:
    return _get(group, "template", "spec", "containers", default=[])


def _head_container(spec: dict) -> dict:
    return _containers(spec["headGroupSpec"])[RAY_CONTAINER_INDEX]


def _gates(gates: dict | None) -> dict:
    return {**DEFAULT_GATES, **(gates or {})}

# ---------------------------------------------------------------- RayCluster


def validate_ray_cluster_status(cluster: dict) -> None:
    """ValidateRayClusterStatus."""
    true = {c.get("type") for c in _get(cluster, "status", "conditions", default=[]) if c.get("status") == "True"}
    _fail({"RayClusterSuspending", "RayClusterSuspended"} <= true, "cluster.status.suspending-and-suspended")


def validate_ray_cluster_metadata(metadata: dict) -> None:
    """ValidateRayClusterMetadata."""
    name = metadata.get("name", "")
    _fail(len(name) > MAX_RAYCLUSTER_NAME_LENGTH, "cluster.name.length", max=MAX_RAYCLUSTER_NAME_LENGTH)
    errs = is_dns1035_label(name)
    _fail(bool(errs), "cluster.name.dns1035", errs=go_list(errs))


def validate_ray_cluster_upgrade_options(cluster: dict) -> None:
    """ValidateRayClusterUpgradeOptions."""
    kind = _get(cluster, "spec", "upgradeStrategy", "type")
    if kind is None:
        return
    _fail(kind not in ("Recreate", "None"), "cluster.upgrade.type", value=kind)
    creator = _get(cluster, "metadata", "labels", default={}).get(RAY_ORIGINATED_FROM_CRD_LABEL_KEY, "")
    creator = creator if creator in ("RayCluster", "RayJob", "RayService") else "RayCluster"  # GetCRDType
    _fail(creator in ("RayJob", "RayService"), "cluster.upgrade.creator", crd=creator)


def _validate_group_resources(group: str, params: dict, resources: dict) -> None:
    """validateRayGroupResources."""
    sets = any(params.get(k, "") != "" for k in ("num-cpus", "num-gpus", "memory", "resources"))
    _fail(sets and len(resources) > 0, "group.resources.both", group=group)


def _validate_group_labels(group: str, params: dict, labels: dict) -> None:
    """validateRayGroupLabels (Go ranges over a map: the order of several bad labels is not fixed)."""
    _fail("labels" in params, "group.labels.raystartparams", group=group)
    errors = []
    for key, value in labels.items():
        errors += [RuleError("group.labels.key", group=group, key=key, err=e) for e in is_qualified_name(key)]
        errors += [RuleError("group.labels.value", group=group, key=key, value=value, err=e)
                   for e in is_valid_label_value(value)]
    if errors:
        raise _joined(errors, "; ")


def _validate_worker_idle_timeout(group: dict, spec: dict) -> None:
    """validateWorkerGroupIdleTimeout."""
    idle = group.get("idleTimeoutSeconds")
    if idle is None:
        return
    _fail(idle < 0, "group.idle.negative", group=group.get("groupName", ""), n=idle)
    if is_autoscaling_v2_enabled(spec):
        return
    env = env_var(RAY_ENABLE_AUTOSCALER_V2, _head_container(spec).get("env"))
    _fail(not (env and env.get("value") in ("1", "true")), "group.idle.v2", group=group.get("groupName", ""))


def _validate_worker_priority(group: dict, spec: dict) -> None:
    """validateWorkerGroupPriority."""
    priority, name = group.get("priority"), group.get("groupName", "")
    if not priority:
        return
    version = spec.get("rayVersion", "")
    _fail(version == "", "group.priority.no-version", group=name)
    try:
        parsed = parse_generic_version(version)
    except ValueError as err:
        raise RuleError("group.priority.bad-version", group=name, version=version, err=err) from None
    _fail(version_less(parsed, parse_generic_version(MIN_RAY_VERSION_PRIORITY)), "group.priority.old-version",
          group=name, version=version)
    if is_autoscaling_v2_enabled(spec):
        return
    env = env_var(RAY_ENABLE_AUTOSCALER_V2, _head_container(spec).get("env"))
    _fail(not (env and env.get("value") in ("1", "true")), "group.priority.v2", group=name, n=priority)


def _validate_gcs_ft_backend(options: dict | None, head: dict, head_volumes: list, gates: dict) -> None:
    """validateGcsFaultToleranceBackend."""
    backend = _get(options or {}, "backend", default="") or "redis"
    if backend == "rocksdb":
        _fail(not gates["GCSFaultToleranceEmbeddedStorage"], "ft.rocksdb.gate")
        _fail(options.get("redisAddress", "") != "", "ft.rocksdb.redis-address")
        _fail(options.get("redisUsername") is not None, "ft.rocksdb.redis-username")
        _fail(options.get("redisPassword") is not None, "ft.rocksdb.redis-password")
        _fail(options.get("externalStorageNamespace", "") != "", "ft.rocksdb.external-storage-namespace")
        storage = options.get("storage")
        if storage and storage.get("claimName", ""):
            _fail(storage.get("size") is not None or storage.get("storageClassName") is not None
                  or len(storage.get("accessModes") or []) > 0, "ft.rocksdb.claim-exclusive")
        _fail(env_var_exists(RAY_GCS_STORAGE, head.get("env")) or env_var_exists(RAY_GCS_STORAGE_PATH, head.get("env")),
              "ft.rocksdb.storage-env")
        _fail(any(m.get("mountPath") == GCS_STORAGE_MOUNT_PATH or m.get("name") == GCS_STORAGE_VOLUME_NAME
                  for m in head.get("volumeMounts") or []), "ft.rocksdb.mount")
        _fail(any(v.get("name") == GCS_STORAGE_VOLUME_NAME for v in head_volumes), "ft.rocksdb.volume")
    else:
        _fail(options is not None and options.get("storage") is not None, "ft.redis.storage")


def _validate_collector_options(opts: dict | None) -> None:
    """validateCollectorOptions."""
    if opts is None:
        return
    _fail(not opts.get("image"), "collector.image")
    env = {e.get("name"): e for e in opts.get("env") or []}

    def has_value(name):
        return name in env and (env[name].get("value", "") != "" or env[name].get("valueFrom") is not None)

    for name in COLLECTOR_FORBIDDEN_ENV:
        _fail(name in env, "collector.forbidden-env", name=name)
    backend = (env.get("STORAGE_BACKEND") or {}).get("value", "")
    _fail(backend == "", "collector.backend")
    backend = backend.upper()
    if backend == "GCS":
        _fail(not has_value("GCS_BUCKET"), "collector.gcs-bucket")
    elif backend == "S3":
        _fail(not has_value("S3_REGION"), "collector.s3-region")
    elif backend == "AZUREBLOB":
        mode = (env.get("AZURE_STORAGE_AUTH_MODE") or {}).get("value", "").strip().lower()
        if mode == "connection_string":
            _fail(not has_value("AZURE_STORAGE_CONNECTION_STRING"), "collector.azure-connection-string")
        elif mode in ("workload_identity", "default"):
            _fail(not has_value("AZURE_STORAGE_ACCOUNT_URL"), "collector.azure-account-url", mode=mode)
        else:
            _fail(not has_value("AZURE_STORAGE_CONNECTION_STRING") and not has_value("AZURE_STORAGE_ACCOUNT_URL"),
                  "collector.azure-either")
    elif backend == "ALIYUNOSS":
        for name in ALIYUN_ENV:
            _fail(not has_value(name), "collector.aliyun", name=name)


def _validate_network_policy(spec: dict) -> None:
    """validateNetworkPolicy."""
    np = spec.get("networkPolicy")
    if np is None:
        return
    mode = np.get("mode") or "DenyAll"
    for part in ("head", "worker"):
        rules = np.get(part)
        if rules is not None:
            _fail(mode == "DenyAllEgress" and len(rules.get("ingressRules") or []) > 0, f"np.{part}.ingress",
                  mode=go_quote(mode))
            _fail(mode == "DenyAllIngress" and len(rules.get("egressRules") or []) > 0, f"np.{part}.egress",
                  mode=go_quote(mode))
    names = set()
    for group in spec.get("workerGroupSpecs") or []:
        name = group.get("groupName", "")
        errs = is_dns1123_label(name)
        _fail(bool(errs), "np.group-name", name=go_quote(name), errs=go_list(errs))
        names.add(name)
    for wg in np.get("workerGroups") or []:
        group = go_quote(wg.get("groupName", ""))
        _fail(mode == "DenyAllEgress" and len(wg.get("ingressRules") or []) > 0, "np.groups.ingress", group=group,
              mode=go_quote(mode))
        _fail(mode == "DenyAllIngress" and len(wg.get("egressRules") or []) > 0, "np.groups.egress", group=group,
              mode=go_quote(mode))
        _fail(wg.get("groupName", "") not in names, "np.groups.unknown", group=group)


def _validate_no_tls_mount(container: dict, location: str) -> None:
    """validateNoConflictingTLSVolumeMount."""
    for mount in container.get("volumeMounts") or []:
        _fail(mount.get("name") == RAY_TLS_VOLUME_NAME, "tls.mount-name", location=location)
        _fail(mount.get("mountPath") == RAY_TLS_CERT_MOUNT_PATH, "tls.mount-path", location=location)


def _validate_tls_options(spec: dict, gates: dict) -> None:
    """validateTLSOptions."""
    if not is_tls_enabled(spec, gates):
        return
    if _containers(spec["headGroupSpec"]):
        head = _head_container(spec)
        for name in TLS_ENV_VARS:
            _fail(env_var_exists(name, head.get("env")), "tls.head-env", name=name)
        _validate_no_tls_mount(head, "head Pod")
    for group in spec.get("workerGroupSpecs") or []:
        if _containers(group):
            worker = _containers(group)[RAY_CONTAINER_INDEX]
            for name in TLS_ENV_VARS:
                _fail(env_var_exists(name, worker.get("env")), "tls.worker-env", name=name,
                      group=go_quote(group.get("groupName", "")))
            _validate_no_tls_mount(worker, f"worker group {go_quote(group.get('groupName', ''))}")
    autoscaler = spec.get("autoscalerOptions")
    if autoscaler is not None:
        for name in TLS_ENV_VARS:
            _fail(env_var_exists(name, autoscaler.get("env")), "tls.autoscaler-env", name=name)
        for mount in autoscaler.get("volumeMounts") or []:
            _fail(mount.get("name") == RAY_TLS_VOLUME_NAME, "tls.autoscaler-mount-name")
            _fail(mount.get("mountPath") == RAY_TLS_CERT_MOUNT_PATH, "tls.autoscaler-mount-path")


def validate_ray_cluster_spec(spec: dict, annotations: dict | None = None, gates: dict | None = None) -> None:
    """ValidateRayClusterSpec, in the Go order."""
    annotations, gates = annotations or {}, _gates(gates)
    head_group = spec.get("headGroupSpec") or {}
    _fail(len(_containers(head_group)) == 0, "spec.head.containers")
    _validate_group_resources("Head", head_group.get("rayStartParams") or {}, head_group.get("resources") or {})
    _validate_group_labels("Head", head_group.get("rayStartParams") or {}, head_group.get("labels") or {})
    autoscaling = is_autoscaling_enabled(spec)
    workers = spec.get("workerGroupSpecs") or []
    for group in workers:
        name, low, high = group.get("groupName", ""), group.get("minReplicas"), group.get("maxReplicas")
        _fail(len(_containers(group)) == 0, "spec.worker.containers")
        _fail(not autoscaling and (low is None or high is None), "spec.worker.replicas-required", group=name)
        _fail(low is not None and low < 0, "spec.worker.min-negative", group=name, n=low)
        _fail(high is not None and high < 0, "spec.worker.max-negative", group=name, n=high)
        _fail(low is not None and high is not None and low > high, "spec.worker.min-gt-max", group=name, min=low,
              max=high)
        _validate_group_resources(name, group.get("rayStartParams") or {}, group.get("resources") or {})
        _validate_group_labels(name, group.get("rayStartParams") or {}, group.get("labels") or {})
        _validate_worker_idle_timeout(group, spec)
        _validate_worker_priority(group, spec)
    ft = spec.get("gcsFaultToleranceOptions")
    _fail(annotations.get(RAY_FT_ENABLED_ANNOTATION_KEY, "") != "" and ft is not None,
          "spec.ft.annotation-and-options")
    head = _head_container(spec)
    _fail(not is_gcs_ft_enabled(spec, annotations) and env_var_exists(RAY_REDIS_ADDRESS, head.get("env")),
          "spec.ft.redis-address-without-ft")
    if ft is not None:
        _fail((head_group.get("rayStartParams") or {}).get("redis-password", "") != "", "spec.ft.redis-password-param")
        _fail(env_var_exists(REDIS_PASSWORD, head.get("env")), "spec.ft.redis-password-env")
        _fail(env_var_exists(RAY_REDIS_ADDRESS, head.get("env")), "spec.ft.redis-address-env")
        _fail(annotations.get(RAY_EXTERNAL_STORAGE_NS_ANNOTATION_KEY, "") != "", "spec.ft.external-storage-annotation")
        _validate_gcs_ft_backend(ft, head, _get(head_group, "template", "spec", "volumes", default=[]), gates)
    _fail((head_group.get("rayStartParams") or {}).get("redis-username", "") != ""
          or env_var_exists(REDIS_USERNAME, head.get("env")), "spec.redis-username")
    if not gates["RayJobDeletionPolicy"]:
        for group in workers:
            _fail(group.get("suspend") is True, "spec.worker.suspend-gate", group=group.get("groupName", ""))
    if not autoscaling:
        env = env_var(RAY_ENABLE_AUTOSCALER_V2, head.get("env"))
        _fail(env is not None and env.get("value") in ("1", "true"), "spec.autoscaler-v2-env-without-autoscaling",
              value=(env or {}).get("value"))
    if autoscaling:
        for group in workers:
            _fail(group.get("suspend") is True, "spec.worker.suspend-autoscaler", group=group.get("groupName", ""))
        _fail(_get(spec, "autoscalerOptions", "version") is not None
              and env_var_exists(RAY_ENABLE_AUTOSCALER_V2, head.get("env")), "spec.autoscaler.version-and-env")
        if is_autoscaling_v2_enabled(spec):
            _fail(_get(head_group, "template", "spec", "restartPolicy", default="") not in ("", "Never"),
                  "spec.autoscaler-v2.head-restart")
            for group in workers:
                _fail(_get(group, "template", "spec", "restartPolicy", default="") not in ("", "Never"),
                      "spec.autoscaler-v2.worker-restart", group=group.get("groupName", ""))
    idle = _get(spec, "autoscalerOptions", "idleTimeoutSeconds")
    _fail(idle is not None and idle < 0, "spec.autoscaler.idle-negative", n=idle)
    if spec.get("autoscalerOptions") is not None:
        _fail(env_var_exists(KUBERAY_GEN_AUTOSCALER_START_CMD, spec["autoscalerOptions"].get("env")),
              "spec.autoscaler.gen-cmd-env")
    history = spec.get("historyServerOptions")
    if history is not None:
        _fail(not gates["RayClusterHistoryServer"], "spec.history.gate")
        _fail(history.get("collectorOptions") is None, "spec.history.collector-required")
        _validate_collector_options(history["collectorOptions"])
        _fail(any(c.get("name") == COLLECTOR_CONTAINER_NAME for c in _containers(head_group)),
              "spec.history.head-collector-name")
        for group in workers:
            _fail(any(c.get("name") == COLLECTOR_CONTAINER_NAME for c in _containers(group)),
                  "spec.history.worker-collector-name", group=group.get("groupName", ""))
    if is_auth_enabled(spec):
        version = spec.get("rayVersion", "")
        _fail(version == "", "spec.auth.no-version")
        try:
            parsed = parse_generic_version(version)
        except ValueError as err:
            raise RuleError("spec.auth.bad-version", version=version, err=err) from None
        _fail(version_less(parsed, parse_generic_version(MIN_RAY_VERSION_TOKEN_AUTH)), "spec.auth.old-version",
              version=version)
        if is_k8s_auth_enabled(spec.get("authOptions")):
            _fail(version_less(parsed, parse_generic_version(MIN_RAY_VERSION_K8S_TOKEN_AUTH)),
                  "spec.auth.k8s-old-version", version=version)
            _fail(_get(spec, "authOptions", "secretName", default="") != "", "spec.auth.k8s-secret-name")
    else:
        _fail(is_k8s_auth_enabled(spec.get("authOptions")), "spec.auth.k8s-without-token")
    _fail(spec.get("networkPolicy") is not None and not gates["RayClusterNetworkPolicy"], "spec.network-policy.gate")
    _validate_network_policy(spec)
    _fail(spec.get("tlsOptions") is not None and not gates["RayClusterMTLS"], "spec.tls.gate")
    _validate_tls_options(spec, gates)

# ---------------------------------------------------------------- RayJob


def validate_ray_job_status(job: dict) -> None:
    """ValidateRayJobStatus."""
    _fail(_get(job, "status", "jobDeploymentStatus") == "Waiting"
          and _get(job, "spec", "submissionMode") != "InteractiveMode", "job.status.waiting")


def validate_ray_job_metadata(metadata: dict) -> None:
    """ValidateRayJobMetadata."""
    name = metadata.get("name", "")
    _fail(len(name) > MAX_RAYJOB_NAME_LENGTH, "job.name.length", max=MAX_RAYJOB_NAME_LENGTH)
    errs = is_dns1035_label(name)
    _fail(bool(errs), "job.name.dns1035", errs=go_list(errs))


def _validate_deletion_condition(cond: dict) -> str | None:
    """validateDeletionCondition: the failing rule, or None."""
    has_status, has_deploy = cond.get("jobStatus") is not None, cond.get("jobDeploymentStatus") is not None
    if has_status and has_deploy:
        return "rules.condition-both"
    if not has_status and not has_deploy:
        return "rules.condition-none"
    if cond.get("ttlSeconds", 0) < 0:
        return "rules.ttl-negative"
    return None


DELETION_ORDER = ("DeleteWorkers", "DeleteCluster", "DeleteSelf")


def _validate_ttl_consistency(ttls: dict, ctype: str, cvalue: str) -> list[RuleError]:
    """validateTTLConsistency: Workers <= Cluster <= Self."""
    errors, prev = [], None
    for policy in DELETION_ORDER:
        if policy not in ttls:
            continue
        if prev is not None and ttls[policy] < prev[1]:
            errors.append(RuleError("rules.ttl-order", ctype=ctype, cvalue=cvalue, policy=policy, ttl=ttls[policy],
                                    prev=prev[0], prev_ttl=prev[1]))
        prev = (policy, ttls[policy])
    return errors


def _validate_deletion_rules(spec: dict) -> None:
    """validateDeletionRules (errors.Join of every failing rule)."""
    selector = len(spec.get("clusterSelector") or {}) != 0
    by_status, by_deploy, errors = {}, {}, []
    for i, rule in enumerate(_get(spec, "deletionStrategy", "deletionRules", default=[])):
        cond, policy = rule.get("condition") or {}, rule.get("policy")
        failed = _validate_deletion_condition(cond)
        if failed:
            errors.append(RuleError(failed, i=i))
            continue
        if selector and policy in ("DeleteCluster", "DeleteWorkers"):
            errors.append(RuleError("rules.selector-policy", i=i, policy=policy))
            continue
        if is_autoscaling_enabled(spec.get("rayClusterSpec")) and policy == "DeleteWorkers":
            errors.append(RuleError("rules.delete-workers-autoscaling", i=i))
            continue
        if cond.get("jobStatus") is not None:
            group, key, rule_id = by_status, cond["jobStatus"], "rules.duplicate-job-status"
        else:
            group, key, rule_id = by_deploy, cond["jobDeploymentStatus"], "rules.duplicate-deployment-status"
        ttls = group.setdefault(key, {})
        if policy in ttls:
            errors.append(RuleError(rule_id, i=i, policy=policy, status=key))
            continue
        ttls[policy] = cond.get("ttlSeconds", 0)
    for status, ttls in by_status.items():
        errors += _validate_ttl_consistency(ttls, "JobStatus", status)
    for status, ttls in by_deploy.items():
        errors += _validate_ttl_consistency(ttls, "JobDeploymentStatus", status)
    if errors:
        raise _joined(errors, "\n")


def _validate_legacy_deletion(spec: dict) -> None:
    """validateLegacyDeletionPolicies."""
    strategy = spec["deletionStrategy"]
    on_success, on_failure = strategy.get("onSuccess"), strategy.get("onFailure")
    _fail(on_success is None or on_failure is None, "legacy.both")
    _fail(on_success.get("policy") is None, "legacy.on-success-policy")
    _fail(on_failure.get("policy") is None, "legacy.on-failure-policy")
    success, failure = on_success["policy"], on_failure["policy"]
    if len(spec.get("clusterSelector") or {}) != 0:
        _fail(success in ("DeleteCluster", "DeleteWorkers"), "legacy.selector-on-success", policy=success)
        _fail(failure in ("DeleteCluster", "DeleteWorkers"), "legacy.selector-on-failure", policy=failure)
    _fail("DeleteWorkers" in (success, failure) and is_autoscaling_enabled(spec.get("rayClusterSpec")),
          "legacy.delete-workers-autoscaling")
    _fail(spec.get("shutdownAfterJobFinishes") is True and "DeleteNone" in (success, failure),
          "legacy.shutdown-delete-none")


def _validate_deletion_configuration(spec: dict, gates: dict) -> None:
    """validateDeletionConfiguration."""
    shutdown = spec.get("shutdownAfterJobFinishes") is True
    _fail(not shutdown and spec.get("ttlSecondsAfterFinished", 0) > 0, "deletion.ttl-without-shutdown")
    strategy = spec.get("deletionStrategy")
    if strategy is None:
        return
    _fail(not gates["RayJobDeletionPolicy"], "deletion.gate")
    legacy = strategy.get("onSuccess") is not None or strategy.get("onFailure") is not None
    rules = len(strategy.get("deletionRules") or []) > 0
    _fail(rules and shutdown, "deletion.rules-and-shutdown")
    _fail(rules and legacy, "deletion.rules-and-legacy")
    if legacy:
        _validate_legacy_deletion(spec)
    elif rules:
        _validate_deletion_rules(spec)
    else:
        raise RuleError("deletion.empty")


def validate_ray_job_spec(spec: dict, annotations: dict | None = None, gates: dict | None = None) -> None:
    """ValidateRayJobSpec, in the Go order."""
    gates = _gates(gates)
    suspend, shutdown = spec.get("suspend") is True, spec.get("shutdownAfterJobFinishes") is True
    _fail(suspend and not shutdown, "job.suspend-without-shutdown")
    _fail(spec.get("ttlSecondsAfterFinished", 0) < 0, "job.ttl-negative")
    _validate_deletion_configuration(spec, gates)
    selector = spec.get("clusterSelector") or {}
    mode, backoff = spec.get("submissionMode", "K8sJobMode"), spec.get("backoffLimit")
    _fail(suspend and len(selector) != 0, "job.suspend-selector")
    _fail(spec.get("rayClusterSpec") is None and len(selector) == 0, "job.cluster-required")
    if selector:
        _fail(len(selector.get(RAYJOB_CLUSTER_SELECTOR_KEY, "")) == 0, "job.selector-empty-name")
        _fail(mode == "SidecarMode", "job.selector-sidecar")
        _fail(backoff is not None and backoff > 0, "job.selector-backoff")
    _fail(mode == "InteractiveMode" and backoff is not None and backoff > 0, "job.interactive-backoff")
    if mode == "SidecarMode":
        _fail(spec.get("submitterPodTemplate") is not None, "job.sidecar-submitter-template")
        _fail(spec.get("submitterConfig") is not None, "job.sidecar-submitter-config")
        _fail(_get(spec, "rayClusterSpec", "headGroupSpec", "template", "spec", "restartPolicy", default="")
              not in ("", "Never"), "job.sidecar-head-restart")
    cluster_spec = spec.get("rayClusterSpec")
    if cluster_spec is not None:
        _fail(is_k8s_auth_enabled(cluster_spec.get("authOptions")), "job.k8s-auth")
        try:
            validate_ray_cluster_spec(cluster_spec, annotations, gates)
        except RuleError as err:
            wrapped = RuleError(err.rule, WRAP_RAYJOB_CLUSTER_SPEC + str(err))
            wrapped.rules, wrapped.core = err.rules, err.core
            raise wrapped from None
    runtime_env = spec.get("runtimeEnvYAML", "")
    try:
        parsed = yaml.safe_load(runtime_env) if runtime_env else None
        if parsed is not None and not isinstance(parsed, dict):
            raise ValueError(f"cannot unmarshal {type(parsed).__name__} into a runtime env (a mapping)")
    except (yaml.YAMLError, ValueError) as err:
        raise RuleError("job.runtime-env-yaml", yaml=runtime_env, err=err) from None
    _fail(spec.get("activeDeadlineSeconds") is not None and spec["activeDeadlineSeconds"] <= 0, "job.active-deadline")
    _fail(spec.get("preRunningDeadlineSeconds") is not None and spec["preRunningDeadlineSeconds"] <= 0,
          "job.pre-running-deadline")
    _fail(backoff is not None and backoff < 0, "job.backoff-negative")

# ---------------------------------------------------------------- RayCronJob


def validate_ray_cron_job_spec(cron: dict, gates: dict | None = None) -> None:
    """ValidateRayCronJobSpec (the child RayJob's metadata is the operator's own: not checked there)."""
    name, spec = _get(cron, "metadata", "name", default=""), cron.get("spec") or {}
    _fail(len(name) > MAX_RAYCRONJOB_NAME_LENGTH, "cron.name-length", max=MAX_RAYCRONJOB_NAME_LENGTH)
    schedule = spec.get("schedule", "")
    _fail("TZ" in schedule, "cron.tz-in-schedule")
    try:
        parse_cron_standard(schedule)
    except CronError as err:
        raise RuleError("cron.schedule", err=err) from None
    tz = spec.get("timeZone")
    if tz is not None:
        _fail(tz == "", "cron.timezone-empty")
        _fail(not valid_time_zone(tz), "cron.timezone", err=f"unknown time zone {tz}")  # Go's time package
    try:
        validate_ray_job_spec(spec.get("jobTemplate") or {}, None, gates)
    except RuleError as err:
        wrapped = RuleError(err.rule, WRAP_CRON_TEMPLATE + str(err))
        wrapped.rules, wrapped.core = err.rules, err.core
        raise wrapped from None


@functools.lru_cache(maxsize=1)
def _have_tz_database() -> bool:
    return bool(zoneinfo.available_timezones())


def valid_time_zone(name: str) -> bool:
    """time.LoadLocation with Go's bundled tz database (time/tzdata); "UTC" and "Local" are built in. Python
    reads the system's database (or the tzdata package): without one, every zone would look unknown."""
    if name in ("UTC", "Local"):
        return True
    if not _have_tz_database():
        raise RuntimeError("no time zone database here (install the system's tzdata, or the tzdata package)")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True

# ---------------------------------------------------------------- per kind, as the controllers call them

KINDS = ("RayCluster", "RayJob", "RayCronJob")


def validate(doc: dict, gates: dict | None = None) -> RuleError | None:
    """The operator's verdict on a document: None, or the first error, as its controller reports it
    (RayCluster: Metadata, Spec, UpgradeOptions, Status; RayJob: Metadata, Spec, Status; RayCronJob:
    ValidateRayCronJobSpec)."""
    kind, meta, spec = doc.get("kind"), doc.get("metadata") or {}, doc.get("spec") or {}
    annotations = meta.get("annotations") or {}
    steps = {"RayCluster": [lambda: validate_ray_cluster_metadata(meta),
                            lambda: validate_ray_cluster_spec(spec, annotations, gates),
                            lambda: validate_ray_cluster_upgrade_options(doc),
                            lambda: validate_ray_cluster_status(doc)],
             "RayJob": [lambda: validate_ray_job_metadata(meta),
                        lambda: validate_ray_job_spec(spec, annotations, gates),
                        lambda: validate_ray_job_status(doc)],
             "RayCronJob": [lambda: validate_ray_cron_job_spec(doc, gates)]}[kind]
    for step in steps:
        try:
            step()
        except RuleError as err:
            return err
    return None
