"""Decode-stage throughput, measured in one run on the same files:
- plain: a single-process loop running the decode stage's own code (PyAV in the isolated decoder
  process, at the encoder's size, 25 fps sampling, audio to mono 16 kHz + loudness) on each video;
- pipeline: the same stage inside Ray Data (flat_map tasks, `extract.decode_num_cpus` each), consumed
  to the end; reported per core against the plain loop (goal >= 0.8);
- processes: the plain loop in one process per physical core (multiprocessing, no Ray): what this
  machine's cores give in parallel, the ceiling the pipeline's per-core figure can reach here;
- read_videos: Ray Data's `read_videos` (every frame at full resolution) followed by the same
  sampling and resize (goal: the pipeline >= 5x faster); and, for reference, `read_videos` with its
  own `resize` (decord scaling, as ours does).
Usage: python bench/bench_decode.py [--copies N] [--size 224] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch

from vidmusician.config import load_config
from vidmusician.extract.decode import VideoDecoder, decode_video
from vidmusician.raycluster import init_ray
from vidmusician.storage import Storage
from vidmusician.video.inputs import resolve_inputs

ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets"
AUDIO_CLIPS = ("bigbuckbunny.mp4",)


def make_inputs(root: Path, copies: int) -> list[Path]:
    """Copies of the real 720p clip with an audio track (the training decode stage needs one): real
    footage is at least that large; the synthetic world's 96 px clips would flatter read_videos."""
    paths = []
    for i in range(copies):
        for name in AUDIO_CLIPS:
            dst = root / f"{Path(name).stem}-{i}.mp4"
            shutil.copy(ASSETS / name, dst)
            paths.append(dst)
    return paths


def frames_of(rows, fps: float) -> int:
    """Frames the stage decoded, from the row scalars (unpacking 20 MB payloads in the driver would
    measure the driver, not the stage): each window's frames plus the one before it."""
    from vidmusician.video.rows import STATUS_OK

    return sum(math.ceil(r["valid_s"] * fps - 1e-9) + (r["window_index"] > 0) for r in rows
               if r["status"] == STATUS_OK)


def plain_loop(cfg, size: int, items: list[dict]) -> int:
    """The decode stage's own code over `items` in this process, one thread; returns frames decoded."""
    torch.set_num_threads(1)
    decoder = VideoDecoder(cfg, size, cfg.model.musicgen.codec.sample_rate)
    return sum(frames_of(list(decoder(item)), cfg.model.rhythm.fps) for item in items)


def _timed_worker(cfg, size: int, items: list[dict], ready) -> None:
    plain_loop(cfg, size, items[:1])  # imports and warm-up, before the clock starts
    ready.wait()
    plain_loop(cfg, size, items)


def plain_processes(cfg, size: int, items: list[dict], processes: int) -> float:
    """Seconds for `processes` plain loops in parallel over an even split of `items`, timed from the
    moment all of them are warm."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(processes + 1)
    workers = [ctx.Process(target=_timed_worker, args=(cfg, size, items[i::processes], ready))
               for i in range(processes)]
    for w in workers:
        w.start()
    ready.wait()
    t = time.perf_counter()
    for w in workers:
        w.join()
    if any(w.exitcode for w in workers):
        raise RuntimeError("a plain-loop process failed")
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", default=None)
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="bench-decode-"))
    paths = make_inputs(root, args.copies)
    cfg = load_config(["preset=debug", f"input={root}", f"model.clip.image_size={args.size}", *args.overrides,
                       "extract.window_s=4.0", "extract.hop_s=4.0"])
    inputs = resolve_inputs(str(root), Storage(), cfg.video.suffixes).items
    fps, n = cfg.model.rhythm.fps, len(inputs)

    plain_loop(cfg, args.size, inputs[:1])
    t = time.perf_counter()
    plain_frames = plain_loop(cfg, args.size, inputs)
    plain_s = time.perf_counter() - t
    physical = len(os.sched_getaffinity(0))
    processes_s = plain_processes(cfg, args.size, inputs, physical)

    init_ray(cfg.ray)
    cores = int(ray.cluster_resources().get("CPU", 1))

    def pipeline(items):
        return ray.data.from_items(items, override_num_blocks=len(items)).flat_map(
            decode_video, fn_kwargs={"cfg": cfg}, num_cpus=cfg.extract.decode_num_cpus)

    # Warm-up on a few inputs: starts the workers and imports the stage's modules, which a long
    # nightly run pays once; the timed run then measures steady-state throughput.
    for _ in pipeline(inputs[:cores]).iter_rows():
        pass
    t = time.perf_counter()
    pipe_frames = frames_of(list(pipeline(inputs).select_columns(
        ["status", "valid_s", "window_index"]).iter_rows()), fps)
    pipe_s = time.perf_counter() - t
    physical = min(cores, physical)

    import torch.nn.functional as F

    def sample_and_resize(batch):
        # read_videos yields one row per frame (full resolution) with its index; keep the 25 fps ones.
        out = []
        for frame in batch["frame"]:
            x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
            out.append(F.interpolate(x, size=(args.size, args.size), mode="bilinear").to(torch.uint8)[0].numpy())
        return {"frame": np.stack(out)}

    for _ in ray.data.read_videos([str(p) for p in paths[:cores]]).iter_batches(batch_size=256):
        pass  # the same warm-up for the baseline
    t = time.perf_counter()
    rv = ray.data.read_videos([str(p) for p in paths], include_paths=True)
    rv_frames = 0
    for batch in rv.map_batches(sample_and_resize, batch_size=64).iter_batches(batch_size=256):
        rv_frames += len(batch["frame"])
    rv_s = time.perf_counter() - t
    t = time.perf_counter()
    rv_resized = sum(len(b["frame"]) for b in ray.data.read_videos(
        [str(p) for p in paths], resize=(args.size, args.size)).iter_batches(batch_size=256))
    rv_resize_s = time.perf_counter() - t
    ray.shutdown()

    result = {
        "videos": n, "size": args.size, "ray_cpus": cores, "physical_cores": physical,
        "plain": {"s": plain_s, "videos_per_s": n / plain_s, "frames_per_s": plain_frames / plain_s},
        "pipeline": {"s": pipe_s, "videos_per_s": n / pipe_s, "frames_per_s": pipe_frames / pipe_s},
        "processes": {"s": processes_s, "videos_per_s": n / processes_s, "frames_per_s": plain_frames / processes_s},
        "read_videos": {"s": rv_s, "videos_per_s": n / rv_s, "frames_decoded": rv_frames},
        "read_videos_resize": {"s": rv_resize_s, "videos_per_s": n / rv_resize_s, "frames_decoded": rv_resized},
    }
    result["pipeline_per_core_vs_plain"] = (n / pipe_s / physical) / (n / plain_s)
    result["processes_per_core_vs_plain"] = (n / processes_s / physical) / (n / plain_s)
    result["pipeline_vs_processes"] = processes_s / pipe_s
    result["pipeline_vs_read_videos"] = rv_s / pipe_s
    result["pipeline_vs_read_videos_resize"] = rv_resize_s / pipe_s
    print(f"{n} videos at {args.size}px, 25 fps sampling; {physical} physical cores, Ray CPUs {cores}")
    print("| path | time | videos/s | frames/s |")
    print("| --- | --- | --- | --- |")
    for key, label in (("plain", "plain loop, 1 process"), ("processes", f"plain loop, {physical} processes"),
                       ("pipeline", "Ray Data pipeline")):
        r = result[key]
        print(f"| {label} | {r['s']:.1f} s | {r['videos_per_s']:.2f} | {r['frames_per_s']:.0f} |")
    print(f"| read_videos + same sampling | {rv_s:.1f} s | {n / rv_s:.2f} | ({rv_frames} full-res frames) |")
    print(f"| read_videos(resize) | {rv_resize_s:.1f} s | {n / rv_resize_s:.2f} | ({rv_resized} frames) |")
    print(f"pipeline per core / plain loop: {result['pipeline_per_core_vs_plain']:.2f} (goal >= 0.8); "
          f"{physical} plain processes per core: {result['processes_per_core_vs_plain']:.2f}")
    print(f"pipeline vs read_videos: {result['pipeline_vs_read_videos']:.1f}x (goal >= 5x); "
          f"vs read_videos(resize): {result['pipeline_vs_read_videos_resize']:.1f}x")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
