"""Peak memory of the feature pipeline as the number of videos grows (it streams: the peak should
not grow with the input count). Runs the extract job on N and 4N synthetic videos in one Ray session
and samples the summed RSS of the driver and every Ray process it started (bench/memory.py).
Usage: python bench/bench_extract_memory.py [--videos N] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from memory import peak_during

from vidmusician.config import load_config
from vidmusician.extract.pipeline import run_extract
from vidmusician.raycluster import init_ray
from vidmusician.synth.world import write_world

GROWTH = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    rows = []
    base = load_config(["preset=debug"])
    init_ray(base.ray)
    for n in (args.videos, args.videos, args.videos * GROWTH):  # the first run warms the workers up
        world = root / f"world-{n}"
        write_world(load_config([f"world.num_videos={n}", "world.seed=3"]), str(world))
        cfg = load_config(["preset=debug", f"input={world / 'videos'}", f"output={root / f'out-{n}'}"])
        peak, result = peak_during(lambda: run_extract(cfg))
        rows.append({"videos": n, "peak_rss_mb": peak / 2**20, "s": result.elapsed_s})
    rows = rows[1:]
    ratio = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print("| videos | peak RSS (driver + Ray) | time |")
    print("| --- | --- | --- |")
    for r in rows:
        print(f"| {r['videos']} | {r['peak_rss_mb']:.0f} MB | {r['s']:.1f} s |")
    print(f"peak at {rows[1]['videos']} / peak at {rows[0]['videos']}: {ratio:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
