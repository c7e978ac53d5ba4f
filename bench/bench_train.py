"""Ray Train against a plain loop, in one run on the same model, batches and threads:
- plain: `train_stage_plain` (one process, windows in memory), stage 2 (every adapter trains);
- ray-1: the Ray Train worker loop with 1 worker (DDP off), same batch and torch threads:
  step time ratio ray-1 / plain (goal <= 1.10);
- ray-2: 2 workers (DDP over gloo), same per-worker batch: throughput in windows/s against ray-1,
  per worker, and the scaling efficiency (speed-up / workers).
Step time is the mean wall time per step over the second half of the run (data loading included,
start-up and the final validation/checkpoint excluded).
The model is the `toy` architecture with random weights (no cached build needed).
Usage: python bench/bench_train.py [--steps 40] [--videos 48] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch

from vidmusician.config import load_config
from vidmusician.extract.pipeline import run_extract
from vidmusician.models.builders import build_model
from vidmusician.storage import Storage
from vidmusician.synth.world import write_world
from vidmusician.train.batch import TRAIN_COLUMNS
from vidmusician.train.feature_data import read_windows, validation_videos
from vidmusician.train.plain import train_stage_plain
from vidmusician.train.run import run_training

STAGE = 2


def config(root: Path, steps: int, videos: int, *extra: str):
    half = max(1, steps // 2)
    return load_config(["preset=toy", "model.musicgen.pretrained=null", f"world.num_videos={videos}",
                        f"train.features={root / 'features'}", "train.stage=2", f"train.stage2.steps={steps}",
                        f"train.log_every={half}", f"train.val_every={steps}", f"train.checkpoint_every={steps}",
                        "train.torch_threads=1", "train.cpus_per_worker=0.5", *extra])


def plain_step_s(cfg) -> float:
    torch.set_num_threads(cfg.train.torch_threads)
    vids, cols = read_windows(cfg.train.features, Storage(), TRAIN_COLUMNS)
    val = validation_videos(vids, cfg.train.val_fraction, cfg.seed)
    is_val = np.array([v in val for v in vids])
    rows = np.arange(len(vids))
    model = build_model(cfg.model, "cpu", cfg.seed)
    history = train_stage_plain(model, STAGE, cfg.train, cols, rows[~is_val], rows[is_val], cfg.seed,
                                log=lambda *_: None)
    return float(np.mean(history["step_s"][len(history["step_s"]) // 2:]))


def ray_metrics(root: Path, steps: int, videos: int, workers: int) -> dict:
    cfg = config(root, steps, videos, f"train.num_workers={workers}", f"output={root / f'ray-{workers}'}")
    return run_training(cfg, log=lambda *_: None).stages[0].metrics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--videos", type=int, default=48)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_cpu.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = config(root, args.steps, args.videos)
        write_world(cfg, str(root / "world"))
        run_extract(config(root, args.steps, args.videos, f"input={root / 'world' / 'videos'}",
                           f"output={root / 'features'}"))
        plain = plain_step_s(cfg)
        one = ray_metrics(root, args.steps, args.videos, 1)
        two = ray_metrics(root, args.steps, args.videos, 2)
        ray.shutdown()
    batch = cfg.train.batch_size
    report = {
        "model": "toy architecture (LM dim 128 x 4 layers), random weights; stage 2", "steps": args.steps,
        "batch_per_worker": batch, "torch_threads_per_worker": cfg.train.torch_threads,
        "plain_step_s": plain, "ray1_step_s": one["step_time_s"], "ray2_step_s": two["step_time_s"],
        "ray1_over_plain": one["step_time_s"] / plain,
        "windows_per_s": {"plain": batch / plain, "ray1": one["samples_per_s"], "ray2": two["samples_per_s"]},
        "ray2_over_ray1_throughput": two["samples_per_s"] / one["samples_per_s"],
        # Per worker, and the speed-up per added worker (1.0: linear scaling).
        "windows_per_s_per_worker": {"ray1": one["samples_per_s"], "ray2": two["samples_per_s"] / 2},
        "scaling_efficiency_2_workers": two["samples_per_s"] / one["samples_per_s"] / 2,
        "date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU",
    }
    print(json.dumps(report, indent=2))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
