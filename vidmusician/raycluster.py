"""Starting or joining Ray, the same way for every job."""
from __future__ import annotations

import logging
import os

import ray

from vidmusician.config.schema import RayConfig

# Passed to the workers of a local Ray so they reach the same object storage as the driver.
FORWARDED_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")
# Run by every worker process of the job as it starts (Ray's runtime_env worker_process_setup_hook).
WORKER_SETUP_HOOK = "vidmusician.raycluster.setup_worker"


def setup_worker() -> None:
    """Ray Data's INFO lines from inside workers (one per epoch from Ray Train's split coordinator, one
    per dataset a training worker reads) go to Ray Data's log file (logs/ray-data.log of the session),
    not to the job's terminal; warnings and errors still reach it. The driver's own Ray Data progress
    (the stages of the extract and soundtracking jobs) is not affected.

    And the worker's state-API calls address its own cluster: Ray Train's placement-group cleaner asks
    the state API with no address, and with two local Rays on one machine (two jobs, or a job beside
    a test session) that lookup fails ("Found multiple active Ray instances")."""
    import ray.data  # noqa: F401  (configures the "ray.data" logger, once per process)

    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler):  # the console handler; the file handler is not one
            handler.setLevel(logging.WARNING)
    os.environ.setdefault("RAY_ADDRESS", ray.get_runtime_context().gcs_address)


def worker_env(rcfg: RayConfig) -> dict[str, str]:
    """What ray.init's runtime env sets for every worker of the job."""
    env = {"OMP_NUM_THREADS": str(rcfg.torch_threads)}
    if rcfg.malloc_mmap_threshold is not None:
        env["MALLOC_MMAP_THRESHOLD_"] = str(rcfg.malloc_mmap_threshold)
    return env


def init_ray(rcfg: RayConfig) -> None:
    """Joins `ray.address` ("auto" under `ray job submit`) or starts a local Ray with `ray.num_cpus`
    logical CPUs. Workers run `ray.torch_threads` OpenMP threads each: more would oversubscribe; and
    glibc's mmap threshold is fixed at `ray.malloc_mmap_threshold` (see the schema)."""
    if ray.is_initialized():
        return
    env = worker_env(rcfg)
    if rcfg.address:
        ray.init(address=rcfg.address,
                 runtime_env={"env_vars": env, "worker_process_setup_hook": WORKER_SETUP_HOOK})
        return
    env.update({k: os.environ[k] for k in FORWARDED_ENV if k in os.environ})
    # "local": always a new local Ray; without it ray.init would join any `ray start` cluster on the machine.
    # The dashboard serves Ray's state API, which Ray Train's placement-group cleaner polls.
    ray.init(address="local", num_cpus=rcfg.num_cpus, include_dashboard=True,
             runtime_env={"env_vars": env, "worker_process_setup_hook": WORKER_SETUP_HOOK})


def node_id() -> str:
    """The Ray node this process runs on ("" outside Ray): recorded per stage in the score table."""
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
