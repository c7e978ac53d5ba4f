"""Peak memory of soundtracking one long video against one short one: frames are decoded and turned
into features chunk by chunk, so the peak should not grow with the video's length (goal: the 10-minute
video's peak <= 1.2x the 1-minute video's). Runs the soundtracking job on each in one Ray session, with
the debug model at CLIP's real input size (224 px: what frames cost), and samples the summed RSS of
the driver and every Ray process it started (bench/memory.py).
Usage: python bench/bench_soundtrack_memory.py [--short-s 60] [--long-s 600] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from memory import peak_during

from vidmusician.config import load_config
from vidmusician.raycluster import init_ray
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.synth.media import encode_video

FPS, SIZE = 25, (360, 640)  # a small real upload: 640x360 at 25 fps
SCENE_S = 2.0               # a new picture every 2 s
# CLIP at its real input size; generation in long windows (the step count is the duration's either way).
OVERRIDES = ["model.clip.image_size=224", "model.clip.patch_size=32", "generation.window_s=10",
             "generation.context_s=1", "generation.batch_size=1"]


def long_video(path: Path, seconds: float) -> None:
    """A clip of `seconds` whose picture changes every SCENE_S (the encoder sees every frame)."""
    n = int(seconds * FPS)
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (int(seconds / SCENE_S) + 1, SIZE[0] // 40, SIZE[1] // 40, 3), dtype=np.uint8)
    frames = pictures.repeat(40, axis=1).repeat(40, axis=2)[(np.arange(n) / FPS / SCENE_S).astype(int)]
    encode_video(frames, FPS, "libx264", "mp4", {"preset": "ultrafast", "crf": "28"}, path=str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-s", type=float, default=60.0)
    parser.add_argument("--long-s", type=float, default=600.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-stmem-"))
    base = load_config(["preset=debug", "video.max_duration_s=3600"])
    init_ray(base.ray)
    rows = []
    # The first short run warms the workers up (imports, the forkserver): it is not counted.
    for label, seconds in (("warm-up", args.short_s), ("short", args.short_s), ("long", args.long_s)):
        folder = root / f"{label}-{seconds:g}"
        folder.mkdir()
        long_video(folder / f"{label}.mp4", seconds)
        cfg = load_config(["preset=debug", "video.max_duration_s=3600", f"input={folder}",
                           f"output={root / ('out-' + label)}", *OVERRIDES])
        start = time.perf_counter()
        peak, result = peak_during(lambda: run_soundtrack(cfg))
        (row,) = result.table.to_pylist()
        assert row["status"] == "ok", row["reason"]
        rows.append({"video": label, "seconds": seconds, "peak_rss_mb": peak / 2**20,
                     "wall_s": time.perf_counter() - start})
    rows = rows[1:]
    ratio = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print("| video | peak RSS (driver + Ray) | wall |")
    print("| --- | --- | --- |")
    for r in rows:
        print(f"| {r['seconds'] / 60:g} min | {r['peak_rss_mb']:.0f} MB | {r['wall_s']:.0f} s |")
    print(f"peak at {rows[1]['seconds']:g} s / peak at {rows[0]['seconds']:g} s: {ratio:.2f} (goal <= 1.2)")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
