"""Stage placement on a multi-node Ray cluster simulated on this machine (ray.cluster_utils.Cluster):
a CPU-only node advertising `cpu_pool` (as the KubeRay `cpu` group does) and a node advertising an
accelerator-like resource. Decoding and writing must run on the CPU node and generation on the other;
while training holds every accelerator, the generation pool's actor waits for it (seen pending in Ray's
state API) instead of failing, and the job completes once it is released. With several accelerator
nodes and no upper bound on the generation pool (`soundtrack.actors_max=null`, the cluster presets'
default), the pool grows onto every one of them and the videos spread across them."""
from __future__ import annotations

import threading
import time

import pytest
import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from model_fixtures import debug_config
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.synth.world import write_world

# Runs alone, after the rest (scripts/test.sh): it starts a Ray cluster of its own.
pytestmark = pytest.mark.own_cluster

ACCEL = "accel"  # stands in for GPU: CPU machines cannot advertise real GPUs to Ray
PENDING_WAIT_S = 300
ACCEL_NODES = 2
SPREAD_VIDEOS = 8
POLL_S = 0.5


@pytest.fixture
def cluster():
    ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})  # like the KubeRay head: no work
    cpu = c.add_node(num_cpus=3, resources={"cpu_pool": 100})
    accel = c.add_node(num_cpus=1, resources={ACCEL: 1})
    ray.init(address=c.address)
    yield c, cpu.node_id, accel.node_id
    ray.shutdown()
    c.shutdown()


@pytest.fixture
def accel_nodes():
    """A CPU node and ACCEL_NODES accelerator nodes, as a GPU group scaled out."""
    ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    c.add_node(num_cpus=2, resources={"cpu_pool": 100})
    accel = [c.add_node(num_cpus=1, resources={ACCEL: 1}) for _ in range(ACCEL_NODES)]
    ray.init(address=c.address)
    yield [n.node_id for n in accel]
    ray.shutdown()
    c.shutdown()


@ray.remote(resources={ACCEL: 1}, num_cpus=0)
class Trainer:
    """Holds the only accelerator, as a training run would."""

    def ready(self) -> bool:
        return True


def waiting_for(resource: str) -> list:
    """Actors that ask for `resource` and wait for it (Ray's state API: pending creation)."""
    pending = list_actors(filters=[("state", "=", "PENDING_CREATION")], detail=True)
    return [a for a in pending if resource in (a.required_resources or {})]


@pytest.mark.timeout(900)
def test_decode_on_cpu_node_generation_on_accelerator_node_and_waits_for_it(cluster, tmp_path):
    _, cpu_node, accel_node = cluster
    write_world(debug_config("world.num_videos=4", "world.with_audio=false"), str(tmp_path / "world"))
    cfg = debug_config(f"input={tmp_path / 'world' / 'videos'}", f"output={tmp_path / 'out'}",
                       "soundtrack.cpu_resources.cpu_pool=1", f"soundtrack.actor_resources.{ACCEL}=1",
                       "generation.batch_size=2")
    trainer = Trainer.remote()
    ray.get(trainer.ready.remote())
    result: dict = {}
    job = threading.Thread(target=lambda: result.update(out=run_soundtrack(cfg)), daemon=True)
    job.start()
    deadline = time.monotonic() + PENDING_WAIT_S
    while not waiting_for(ACCEL) and job.is_alive() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert waiting_for(ACCEL), "the generation pool never asked for the accelerator"
    assert job.is_alive() and "out" not in result  # waiting for the accelerator, not failed
    ray.kill(trainer)
    job.join(timeout=600)
    rows = result["out"].table.to_pylist()
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    assert {r["decode_node"] for r in rows} == {cpu_node}
    assert {r["generate_node"] for r in rows} == {accel_node}
    assert {r["write_node"] for r in rows} == {cpu_node}


@pytest.mark.timeout(900)
def test_generation_pool_grows_onto_every_accelerator_node(accel_nodes, tmp_path):
    write_world(debug_config(f"world.num_videos={SPREAD_VIDEOS}", "world.with_audio=false"), str(tmp_path / "world"))
    cfg = debug_config(f"input={tmp_path / 'world' / 'videos'}", f"output={tmp_path / 'out'}",
                       "soundtrack.cpu_resources.cpu_pool=1", f"soundtrack.actor_resources.{ACCEL}=1",
                       "soundtrack.actors_min=1", "soundtrack.actors_max=null", "generation.batch_size=1",
                       "soundtrack.candidates=4")  # generation outlasts preparing: the queue grows, so does the pool
    rows = run_soundtrack(cfg).table.to_pylist()
    assert len(rows) == SPREAD_VIDEOS and {r["status"] for r in rows} == {"ok"}
    per_node = {node: sum(r["generate_node"] == node for r in rows) for node in accel_nodes}
    assert all(per_node.values()), per_node  # every accelerator node generated some of the videos
