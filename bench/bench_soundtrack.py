"""Scale of the soundtracking job on this machine, `debug` preset, tiny synthetic silent videos:

- throughput (videos/hour) and peak memory (driver + every Ray process it started) at N and 10N
  videos, in one Ray session (a first small run warms the workers up): the job streams, so the
  peak should not grow with the input count (goal: peak at 10N <= 1.2 x peak at N);
- generation time per second of music, adapted vs base, plain PyTorch on the same features and
  batches: adapted = stage-2 adapters (semantic tokens + rhythm injection), base = the same backbone
  without adapters; both with CFG, as MusicGen always generates (goal: ratio <= 1.10). The job's own
  base path skips CFG altogether (null conditions make both branches equal): reported beside it.

Usage: python bench/bench_soundtrack.py [--videos 200] [--growth 10] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from memory import peak_during

from vidmusician.config import load_config
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.models.generation import soundtrack
from vidmusician.raycluster import init_ray
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.storage import Storage
from vidmusician.synth.world import write_world
from vidmusician.video.features import uri_features

TINY = ["world.with_audio=false", "world.duration_s=2", "world.width=64", "world.height=64"]
WARMUP_VIDEOS = 16
GENERATION_VIDEOS, GENERATION_REPEATS = 16, 3


def make_videos(root: Path, n: int) -> str:
    write_world(load_config(["preset=debug", f"world.num_videos={n}", "world.seed=5", *TINY]), str(root))
    return str(root / "videos")


def scale(root: Path, videos: int, growth: int) -> list[dict]:
    rows = []
    init_ray(load_config(["preset=debug"]).ray)
    for n in (WARMUP_VIDEOS, videos, videos * growth):
        cfg = load_config(["preset=debug", f"input={make_videos(root / f'in-{n}', n)}",
                           f"output={root / f'out-{n}'}", "soundtrack.progress_every_s=60"])
        peak, result = peak_during(lambda: run_soundtrack(cfg))
        assert result.work["generated"] == n, result.summary
        rows.append({"videos": n, "peak_rss_mb": peak / 2**20, "s": result.elapsed_s,
                     "videos_per_hour": n / result.elapsed_s * 3600})
    return rows[1:]


def generation_ratio(root: Path) -> dict:
    cfg = load_config(["preset=debug", *TINY])
    storage = Storage(cfg.storage)
    base = build_model(cfg.model, cfg.device, cfg.seed).eval()
    adapted = build_model(cfg.model, cfg.device, cfg.seed)
    adapted.set_stage(2)
    adapted.eval()
    encoder = build_clip_encoder(cfg.model.clip)
    videos = storage.list(make_videos(root / "gen", GENERATION_VIDEOS))
    feats = [uri_features(encoder, uri, cfg.model, base.frame_rate, storage) for uri in videos]
    music_s = sum(f.duration_s for f in feats)

    def per_music_second(model, **kwargs) -> float:
        best = float("inf")
        for _ in range(GENERATION_REPEATS):  # the best of a few runs: the least disturbed by the machine
            start = time.perf_counter()
            soundtrack(model, feats, cfg.generation, **kwargs)
            best = min(best, time.perf_counter() - start)
        return best / music_s

    base_cfg, adapted_cfg = per_music_second(base), per_music_second(adapted)
    base_job = per_music_second(base, conditioned=False)
    return {"base_cfg_s_per_music_s": base_cfg, "adapted_cfg_s_per_music_s": adapted_cfg,
            "adapted_over_base": adapted_cfg / base_cfg, "base_job_no_cfg_s_per_music_s": base_job,
            "videos": len(feats), "batch_size": cfg.generation.batch_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--growth", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="bench-soundtrack-"))
    gen = generation_ratio(root)
    print(f"generation, s per s of music: base (CFG) {gen['base_cfg_s_per_music_s']:.4f}, adapted (CFG) "
          f"{gen['adapted_cfg_s_per_music_s']:.4f}: ratio {gen['adapted_over_base']:.3f}; "
          f"the job's base path (no CFG) {gen['base_job_no_cfg_s_per_music_s']:.4f}", flush=True)
    rows = scale(root, args.videos, args.growth)
    ratio = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print("| videos | time | videos/hour | peak RSS (driver + Ray) |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['videos']} | {r['s']:.0f} s | {r['videos_per_hour']:.0f} | {r['peak_rss_mb']:.0f} MB |")
    print(f"peak at {rows[1]['videos']} / peak at {rows[0]['videos']}: {ratio:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"scale": rows, "peak_ratio": ratio, "generation": gen}, indent=2))


if __name__ == "__main__":
    main()
