"""A job configured for a GPU that finds none fails at start, clearly, with exit 2; a GPU stage whose
process has no CUDA raises instead of running on the CPU (100x slower, unnoticed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import ray
import torch

from vidmusician.config import load_config
from vidmusician.devices import DeviceUnavailable, caused_by_missing_device, check_job_devices, model_device
from vidmusician.extract.featurize import WindowFeaturizer

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")


@pytest.mark.parametrize("gpu_setting", ["device=cuda", "soundtrack.num_gpus=1", "train.use_gpu=true",
                                         "extract.feature_num_gpus=0.5"])
def test_a_job_that_wants_a_gpu_exits_2_at_start_with_a_clear_message(tmp_path, gpu_setting):
    proc = subprocess.run([sys.executable, "jobs/soundtrack.py", "preset=debug", gpu_setting,
                           f"input={tmp_path}", f"output={tmp_path / 'out'}"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no CUDA GPU" in proc.stderr and "device=cpu" in proc.stderr
    assert not (tmp_path / "out").exists()  # failed before any work


def test_cpu_configs_pass_and_a_cluster_driver_defers_to_its_stages():
    check_job_devices(load_config(["preset=debug"]))  # device=cpu, no GPU asked of Ray
    # Joining a cluster, the driver may run on a CPU-only head: no check there.
    check_job_devices(load_config(["preset=small", "ray.address=auto"]))
    assert model_device("cpu") == "cpu"
    with pytest.raises(DeviceUnavailable, match="device='cuda'"):
        model_device("cuda")


def test_a_gpu_stage_without_cuda_fails_its_job_and_the_cause_is_found_through_ray(ray_local):
    """The feature stage's actor, configured for CUDA, under a real (local) Ray Data pipeline."""
    cfg = load_config(["preset=debug", "device=cuda"])
    with pytest.raises(Exception) as info:
        ray.data.range(4).map_batches(WindowFeaturizer, fn_constructor_args=(cfg,), batch_size=2, concurrency=1,
                                      num_cpus=0.25).materialize()
    found = caused_by_missing_device(info.value)
    assert found is not None and "no CUDA GPU" in str(found)
    assert caused_by_missing_device(RuntimeError("an unrelated failure")) is None
