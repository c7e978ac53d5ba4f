"""What every worker of a job's Ray gets from init_ray: its own cluster's address for the state API."""
from __future__ import annotations

import os

import ray


@ray.remote(num_cpus=0.1)
def _worker_view() -> tuple[str | None, str]:
    return os.environ.get("RAY_ADDRESS"), ray.get_runtime_context().gcs_address


def test_workers_address_their_own_cluster(ray_local):
    """Ray Train's placement-group cleaner calls the state API with no address; with two local Rays on
    one machine that lookup fails unless the worker's RAY_ADDRESS names its own cluster."""
    address, own = ray.get(_worker_view.remote())
    assert address == own == ray.get_runtime_context().gcs_address
