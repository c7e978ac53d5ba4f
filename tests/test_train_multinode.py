"""Training on a multi-node Ray cluster simulated on this machine (ray.cluster_utils.Cluster): a head
with no work, and three worker nodes advertising one accelerator-like `accel` each (CPU machines cannot
advertise real GPUs to Ray). The train job, given videos, runs its feature actors and then its two
DDP workers on those accelerators (the phases one after the other, so they never wait on each other);
the ranks sit on different nodes and hold identical adapters at every checkpoint; a node removed
mid-run is replaced by the spare one and the run resumes from its last checkpoint."""
from __future__ import annotations

import threading
import time

import pytest
import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from model_fixtures import TRAIN_ARGS, debug_config
from vidmusician.storage import Storage
from vidmusician.synth.world import write_world
from vidmusician.train.run import run_training

# Runs alone, after the rest (scripts/test.sh): it starts a Ray cluster of its own.
pytestmark = pytest.mark.own_cluster

ACCEL = "accel"
NODES = 3  # two ranks and a spare
ON_ACCEL = (f"train.worker_resources.{ACCEL}=1", f"extract.feature_resources.{ACCEL}=1",
            "extract.feature_actors_max=2")
CHECKPOINT_WAIT_S = 300
# A checkpoint is registered when Ray Train's controller next polls the workers (every 2 s): wait two
# polls after its files appear, so the restore finds it (train.fail_wait_s waits as long).
REGISTER_S = 4.0


@pytest.fixture(scope="module")
def cluster():
    ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})  # like the KubeRay head: no work
    nodes = [c.add_node(num_cpus=2, resources={ACCEL: 1}) for _ in range(NODES)]
    ray.init(address=c.address)
    yield c, nodes
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("multinode")
    write_world(debug_config("world.num_videos=8"), str(root / "world"))
    return root / "world" / "videos"


@pytest.mark.timeout(900)
def test_both_stages_from_videos_with_ranks_on_different_nodes_in_sync(cluster, videos, tmp_path):
    result = run_training(debug_config(f"input={videos}", f"output={tmp_path / 'run'}", *TRAIN_ARGS, *ON_ACCEL,
                                       "train.stage1.steps=4", "train.stage2.steps=4", "train.checkpoint_every=2"))
    assert [s.stage for s in result.stages] == [1, 2]
    for stage in result.stages:
        # Every checkpoint compares the ranks' adapters (all-reduced min and max of each tensor's sum
        # must agree, or the worker fails); the report says on how many nodes the ranks ran.
        assert stage.metrics["step"] == 4 and stage.metrics["nodes"] == 2 and stage.metrics["ranks_in_sync"]


def train_worker_nodes() -> set[str]:
    alive = list_actors(filters=[("state", "=", "ALIVE")], detail=True)
    return {a.node_id for a in alive if "TrainWorker" in (a.class_name or "")}


@pytest.mark.timeout(900)
def test_a_node_removed_mid_run_resumes_from_the_last_checkpoint(cluster, videos, tmp_path):
    c, nodes = cluster
    out = tmp_path / "run"
    cfg = debug_config(f"input={videos}", f"output={out}", "train.stage=1", "train.run_name=lost-node",
                       *TRAIN_ARGS, *ON_ACCEL, "train.stage1.steps=120", "train.checkpoint_every=3")
    result: dict = {}
    job = threading.Thread(target=lambda: result.update(out=run_training(cfg)), daemon=True)
    job.start()
    storage, deadline = Storage(), time.monotonic() + CHECKPOINT_WAIT_S
    checkpoints = str(out / "checkpoints" / "lost-node-stage1")
    while job.is_alive() and time.monotonic() < deadline and not any("checkpoint_" in u for u in storage.list(checkpoints)):
        time.sleep(0.5)
    time.sleep(REGISTER_S)
    used = train_worker_nodes()
    assert job.is_alive() and len(used) == 2, "no checkpoint while both ranks were running"
    # All the nodes share this machine's address, so the driver may be attached to a worker node's
    # raylet: removing that one would end the driver (seen once), not a rank.
    driver = ray.get_runtime_context().get_node_id()
    lost = next(n for n in nodes if n.node_id in used and n.node_id != driver)
    c.remove_node(lost)
    job.join(timeout=800)
    (stage,) = result["out"].stages
    # The restored group ran on two nodes again, the lost one gone: the spare took its place.
    assert stage.metrics["step"] == 120 and stage.metrics["restarts"] == 1 and stage.metrics["nodes"] == 2
