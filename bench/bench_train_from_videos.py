"""Training straight from videos against extract-then-train, on the same world videos and settings:
- extract_then_train: the extract job writes Parquet shards, then the train job reads them;
- from_videos: the train job given the videos (windows in Ray's object store, train/video_data.py);
- from_videos_storage: the same with train.video_features=storage (shards written, then read).
Each path runs in a fresh process with its own local Ray; reported: wall time (Ray's start included)
and the peak summed RSS of that process and every Ray process it started (bench/memory.py).
Usage: python bench/bench_train_from_videos.py [--videos 48] [--steps 30] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import peak_during

PATHS = ("extract_then_train", "from_videos", "from_videos_storage")


def overrides(root: Path, steps: int) -> list[str]:
    return ["preset=toy", f"train.stage1.steps={steps}", f"train.stage2.steps={steps}", f"train.val_every={steps}",
            f"train.checkpoint_every={steps}", f"train.log_every={steps}", f"output={root / 'run'}"]


def run_path(path: str, root: Path, steps: int) -> dict:
    """In this process: one path, timed and measured."""
    from vidmusician.config import load_config
    from vidmusician.extract.pipeline import run_extract
    from vidmusician.train.run import run_training

    videos, args = root / "world" / "videos", overrides(root, steps)

    def job():
        if path == "extract_then_train":
            run_extract(load_config(["preset=toy", f"input={videos}", f"output={root / 'features'}"]))
            return run_training(load_config([*args, f"train.features={root / 'features'}"]))
        storage = ["train.video_features=storage"] if path == "from_videos_storage" else []
        return run_training(load_config([*args, f"input={videos}", *storage]))

    start = time.perf_counter()
    peak, result = peak_during(job)
    return {"wall_s": time.perf_counter() - start, "peak_rss_gib": peak / 2**30,
            "stage_s": [s.elapsed_s for s in result.stages], "videos": list(result.videos)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=48)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", default="bench/results/train_from_videos_cpu.json")
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)  # one path, in a child process
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.path:
        print(json.dumps(run_path(args.path, Path(args.root), args.steps)))
        return
    from vidmusician.config import load_config
    from vidmusician.synth.world import write_world

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        write_world(load_config(["preset=toy", f"world.num_videos={args.videos}"]), str(Path(tmp) / "world"))
        for path in PATHS:
            root = Path(tmp) / path
            root.mkdir()
            (root / "world").symlink_to(Path(tmp) / "world")
            child = subprocess.run([sys.executable, __file__, "--path", path, "--root", str(root),
                                    "--steps", str(args.steps)], capture_output=True, text=True, check=True)
            results[path] = json.loads(child.stdout.strip().splitlines()[-1])
            print(path, results[path], flush=True)
    base = results["extract_then_train"]
    for r in results.values():
        r["wall_vs_extract_then_train"] = r["wall_s"] / base["wall_s"]
        r["peak_vs_extract_then_train"] = r["peak_rss_gib"] / base["peak_rss_gib"]
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU",
                                          "videos": args.videos, "steps_per_stage": args.steps,
                                          "paths": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
