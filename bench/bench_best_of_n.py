"""Best of N on the toy world: the soundtracking job with the toy backbone (preset `toy`, its shipped
build) on silent synthetic videos, once with one candidate per video and once with N, in one Ray
session; mean onset F1 and beat alignment against the videos' visual beats, and the time each took.
Candidate 0 of the N-run is the 1-run's music (same seed), so the gain is the selection's alone.
Usage: python bench/bench_best_of_n.py [--videos 12] [--n 4] [--adapters URI] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from vidmusician.config import load_config
from vidmusician.raycluster import init_ray
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.synth.world import write_world

WORLD = ["world.with_audio=false", "world.seed=7"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--adapters", default=None, help="trained adapters (default: the base backbone)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-best-of-n-"))
    base = ["preset=toy", *WORLD, f"world.num_videos={args.videos}"]
    write_world(load_config(base), str(root / "world"))
    init_ray(load_config(base).ray)
    extra = [f"soundtrack.adapters={args.adapters}"] if args.adapters else []
    rows = []
    for n in (1, args.n):
        cfg = load_config([*base, *extra, f"input={root / 'world' / 'videos'}", f"output={root / f'n{n}'}",
                           f"soundtrack.candidates={n}"])
        result = run_soundtrack(cfg)
        table = [r for r in result.table.to_pylist() if r["status"] == "ok"]
        assert len(table) == args.videos, result.summary
        rows.append({"candidates": n, "onset_f1_70ms": float(np.mean([r["onset_f1_70ms"] for r in table])),
                     "beat_alignment_100ms": float(np.nanmean([r["beat_alignment_100ms"] for r in table])),
                     "chosen_not_first": sum(r["chosen_candidate"] > 0 for r in table), "s": result.elapsed_s})
    print("| candidates | mean onset F1 | mean beat alignment | kept another than #0 | time |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['candidates']} | {r['onset_f1_70ms']:.3f} | {r['beat_alignment_100ms']:.3f} | "
              f"{r['chosen_not_first']} / {args.videos} | {r['s']:.0f} s |")
    print(f"best of {args.n} / 1, mean onset F1: {rows[1]['onset_f1_70ms'] / max(rows[0]['onset_f1_70ms'], 1e-9):.2f}x")
    if args.out:
        Path(args.out).write_text(json.dumps({"videos": args.videos, "adapters": args.adapters, "rows": rows},
                                             indent=2))


if __name__ == "__main__":
    main()
