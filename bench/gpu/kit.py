"""GPU benchmark kit: VidMusician's throughput at real size on whatever device runs it.

Random weights built from the presets' architecture fields (no download, no Ray: the model is plain
PyTorch). Measured, each figure with the device's name:
- generation: the `small` preset's MusicGen + stage-2 adapters with CFG, 10 s and 30 s windows,
  batches of 1..256 videos: seconds of music per device-second, for audiocraft's streaming KV cache
  and for the static-cache decoder (`generation.fast`, CUDA graphs on CUDA), each against the frozen
  base decoded the same way (no adapters, a precomputed condition of the same shape);
- how many tokens the static decoder shares with the streaming one (greedy, same weights);
- CLIP B/32 and L/14 (the `small` and `medium` presets' encoders): frames per second;
- a training step in stage 1 and stage 2: seconds, adapted / frozen base, peak memory.
Every figure is written to <out>/gpu_bench.json as soon as it is measured, so a run cut short keeps
what it measured; `--budget-s` skips what would start after the budget is spent.

    python bench/gpu/kit.py --size real --out DIR      # the lent GPU (bench/gpu/run.sh)
    python bench/gpu/kit.py --size tiny --out DIR      # CPU smoke test (tests/test_gpu_kit.py)
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ (model_steps)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository (vidmusician)

from model_steps import random_conditions, train_steps  # noqa: E402
from vidmusician.config import load_config  # noqa: E402
from vidmusician.config.schema import Precision  # noqa: E402
from vidmusician.models.builders import build_clip_encoder, build_model  # noqa: E402
from vidmusician.models.generation import decode_window, generate_tokens  # noqa: E402
from vidmusician.train.loop import stage_schedule  # noqa: E402

NO_DOWNLOAD = ["model.musicgen.pretrained=null", "model.clip.pretrained=null", "model.t5.pretrained=null",
               "model.cond_dropout=0.0"]


@dataclasses.dataclass
class Size:
    preset: str                 # generation and training architecture
    clip_presets: tuple         # the presets whose CLIP encoders are measured
    seconds: tuple              # generation window lengths
    batches: tuple              # videos per generation batch
    streaming_batches: tuple    # the (slower) streaming decoder at these batches only
    clip_batch: int
    clip_repeats: int
    train_batch: int
    train_seconds: float
    train_repeats: int
    agreement_batch: int
    agreement_seconds: float


SIZES = {
    "real": Size("small", ("small", "medium"), (10.0, 30.0), (1, 16, 64, 128, 256, 512), (1, 16, 64, 128),
                 clip_batch=256, clip_repeats=10, train_batch=16, train_seconds=30.0, train_repeats=5,
                 agreement_batch=4, agreement_seconds=4.0),
    "tiny": Size("debug", ("debug",), (0.5, 1.0), (1, 3), (1, 3), clip_batch=8, clip_repeats=2,
                 train_batch=2, train_seconds=1.0, train_repeats=2, agreement_batch=2, agreement_seconds=1.0),
}
SECTIONS = ("clip", "train", "agreement", "generation", "profile")
PROFILE_BATCH, PROFILE_SECONDS, PROFILE_ROWS = 16, 2.0, 18


class Recorder:
    """Collects results and errors, rewriting the JSON file after each one."""

    def __init__(self, out: Path, budget_s: float, meta: dict):
        self.path = out / "gpu_bench.json"
        self.deadline = time.monotonic() + budget_s
        self.data = {"meta": meta, "clip": [], "train": [], "agreement": [], "generation": [],
                     "profile": [], "skipped": [], "errors": []}
        self.flush()

    def flush(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2))

    def add(self, section: str, row: dict) -> None:
        self.data[section].append(row)
        self.flush()
        print(f"[{section}] " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)

    def time_left(self, what: str) -> bool:
        if time.monotonic() < self.deadline:
            return True
        self.data["skipped"].append(what)
        self.flush()
        return False

    @contextlib.contextmanager
    def guard(self, what: str):
        """One measurement's failure (an out-of-memory batch, say) is recorded; the kit goes on."""
        try:
            yield
        except Exception as err:  # noqa: BLE001  (recorded with its traceback)
            self.data["errors"].append({"what": what, "error": f"{type(err).__name__}: {err}"[:500],
                                        "trace": traceback.format_exc()[-2000:]})
            self.flush()
            print(f"[error] {what}: {type(err).__name__}: {str(err)[:200]}", flush=True)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else v


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device) -> tuple[float, object]:
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def peak_memory_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None


def config(preset: str, device: torch.device):
    return load_config([f"preset={preset}", f"device={device.type}", *NO_DOWNLOAD])


def bench_clip(rec: Recorder, size: Size, device: torch.device, precision: Precision) -> None:
    for preset in size.clip_presets:
        if not rec.time_left(f"clip {preset}"):
            return
        with rec.guard(f"clip {preset}"):
            ccfg = config(preset, device).model.clip
            encoder = build_clip_encoder(ccfg, str(device), precision=precision)
            frames = torch.randint(0, 256, (size.clip_batch, ccfg.image_size, ccfg.image_size, 3),
                                   dtype=torch.uint8, device=device)
            encoder(frames, batch_size=size.clip_batch)  # warm-up
            elapsed, _ = timed(lambda: [encoder(frames, batch_size=size.clip_batch)
                                        for _ in range(size.clip_repeats)], device)
            rec.add("clip", {"preset": preset, "patch": ccfg.patch_size, "width": ccfg.hidden_size,
                             "batch": size.clip_batch, "precision": precision.value,
                             "frames_per_s": size.clip_batch * size.clip_repeats / elapsed})
            del encoder


def bench_train(rec: Recorder, size: Size, model, device: torch.device, tcfg) -> None:
    lm = model.lm
    frames = round(size.train_seconds * model.frame_rate)
    tokens = max(1, math.ceil(size.train_seconds * model.semantic_fps))
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, lm.card, (size.train_batch, lm.num_codebooks, frames), generator=g).to(device)
    cond = random_conditions(model, size.train_batch, tokens, frames, g).to(device)
    for stage in (1, 2):
        if not rec.time_left(f"train stage {stage}"):
            return
        with rec.guard(f"train stage {stage}"):
            model.set_stage(stage)
            adapted, base = train_steps(model, codes, cond, model.autocast, stage_schedule(tcfg, stage).loss)
            row = {"stage": stage, "batch": size.train_batch, "seconds": size.train_seconds,
                   "precision": model.precision.value}
            for name, step in (("adapted", adapted), ("base", base)):
                step()  # warm-up (optimizer state, kernels)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                elapsed, _ = timed(lambda: [step() for _ in range(size.train_repeats)], device)
                row[f"{name}_step_s"] = elapsed / size.train_repeats
                row[f"{name}_peak_gib"] = peak_memory_gib(device)
            row["adapted_over_base"] = row["adapted_step_s"] / row["base_step_s"]
            rec.add("train", row)
    model.zero_grad(set_to_none=True)


def window_inputs(model, batch: int, seconds: float, device: torch.device, seed: int):
    """Adapted-model conditions for `batch` videos, and the frozen base's stand-in condition tensors
    of the same shape (conditional rows, then the null rows as zeros)."""
    frames = round(seconds * model.frame_rate)
    tokens = max(1, math.ceil(seconds * model.semantic_fps))
    g = torch.Generator().manual_seed(seed)
    cond = random_conditions(model, batch, tokens, frames, g).to(device)
    stand_in = torch.randn(batch, tokens, model.lm.dim, generator=g).to(device)
    base = {model.cross_attention_key:
            (torch.cat([stand_in, torch.zeros_like(stand_in)]), torch.ones(2 * batch, tokens, device=device))}
    return frames, cond, base


def run_window(model, gcfg, frames: int, cond, base_tensors, adapted: bool, device, seed: int = 0):
    seeds = torch.arange(cond.batch_size) + seed * cond.batch_size
    if adapted:
        return generate_tokens(model, cond, frames, gcfg, seeds=seeds)
    return decode_window(model, base_tensors, None, cond.batch_size, frames, gcfg, seeds=seeds)


def warm_up(rec: Recorder, model, gcfg, device) -> bool:
    """Both decoders once, outside the timings (kernels, cuBLAS handles); False if they fail."""
    before = len(rec.data["errors"])
    with rec.guard("warm-up"):
        frames, cond, base = window_inputs(model, 1, 1.0, device, seed=0)
        for fast in (False, True):
            run_window(model, dataclasses.replace(gcfg, fast=fast), frames, cond, base, True, device)
    return len(rec.data["errors"]) == before


def bench_agreement(rec: Recorder, size: Size, model, gcfg, device) -> None:
    if not rec.time_left("agreement"):
        return
    with rec.guard("agreement"):
        frames, cond, _ = window_inputs(model, size.agreement_batch, size.agreement_seconds, device, seed=1)
        greedy = dataclasses.replace(gcfg, use_sampling=False)
        streaming = generate_tokens(model, cond, frames, dataclasses.replace(greedy, fast=False))
        fast = generate_tokens(model, cond, frames, dataclasses.replace(greedy, fast=True))
        first_diff = (streaming != fast).any(dim=(0, 1)).nonzero()
        rec.add("agreement", {"batch": size.agreement_batch, "frames": frames,
                              "equal_fraction": (streaming == fast).float().mean().item(),
                              "first_differing_frame": int(first_diff[0]) if len(first_diff) else None})


def bench_generation(rec: Recorder, size: Size, model, gcfg, device,
                     decoders: tuple = ("fast", "streaming")) -> None:
    fr = model.frame_rate
    plan = [(s, fast, b) for s in size.seconds for fast in (True, False)
            if ("fast" if fast else "streaming") in decoders
            for b in (size.batches if fast else size.streaming_batches)]
    too_big: set = set()
    for seconds, fast, batch in plan:
        decoder = "fast" if fast else "streaming"
        what = f"generation {decoder} {seconds:g}s x{batch}"
        if (decoder, seconds) in too_big or not rec.time_left(what):
            continue
        row = {"decoder": decoder, "seconds": seconds, "batch": batch}
        with rec.guard(what):
            frames, cond, base = window_inputs(model, batch, seconds, device, seed=batch)
            wcfg = dataclasses.replace(gcfg, fast=fast)
            # Untimed first: a shape's first use pays one-off costs (cuDNN attention plans, cuBLAS
            # heuristics) that would otherwise land on whichever of the pair ran first.
            run_window(model, wcfg, frames, cond, base, False, device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            for name, adapted in (("adapted", True), ("base", False)):
                elapsed, _ = timed(lambda: run_window(model, wcfg, frames, cond, base, adapted, device), device)
                row[f"{name}_s"] = elapsed
                row[f"{name}_music_s_per_s"] = batch * frames / fr / elapsed
            row["adapted_over_base"] = row["adapted_s"] / row["base_s"]
            row["peak_gib"] = peak_memory_gib(device)
            rec.add("generation", row)
        if "adapted_over_base" not in row:
            too_big.add((decoder, seconds))  # a failed batch (out of memory): larger ones would fail too


def bench_profile(rec: Recorder, out: Path, model, gcfg, device) -> None:
    """Where a window's time goes, per decoder, adapted and base: the top operators by device and by
    host time (to <out>/profile.txt), and the number of kernels launched per decoding step."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    with (out / "profile.txt").open("w") as report:
        for decoder in ("fast", "streaming"):
            for adapted in (True, False):
                what = f"profile {decoder} {'adapted' if adapted else 'base'}"
                if not rec.time_left(what):
                    return
                with rec.guard(what):
                    frames, cond, base = window_inputs(model, PROFILE_BATCH, PROFILE_SECONDS, device, seed=3)
                    wcfg = dataclasses.replace(gcfg, fast=decoder == "fast")
                    run_window(model, wcfg, frames, cond, base, adapted, device)  # first-use costs untraced
                    with profile(activities=activities) as prof:
                        elapsed, _ = timed(lambda: run_window(model, wcfg, frames, cond, base, adapted, device),
                                           device)
                    events = prof.key_averages()
                    kernels = sum(e.count for e in events if e.device_type.name == "CUDA")
                    steps = model.sequence_steps(frames)
                    rec.add("profile", {"what": what, "batch": PROFILE_BATCH, "seconds": PROFILE_SECONDS,
                                        "window_s": elapsed, "kernels_per_step": kernels / steps})
                    report.write(f"## {what}: {elapsed:.3f} s\n")
                    report.write(events.table(sort_by=sort, row_limit=PROFILE_ROWS) + "\n")
                    report.write(events.table(sort_by="cpu_time_total", row_limit=PROFILE_ROWS) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="real")
    parser.add_argument("--out", required=True)
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--precision", choices=[p.value for p in Precision], default=None,
                        help="default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--sections", default=",".join(SECTIONS[:-1]),
                        help=f"comma-separated, of {', '.join(SECTIONS)} (profile: off by default)")
    parser.add_argument("--seconds", default=None, help="generation window lengths, e.g. 30 or 10,30")
    parser.add_argument("--batches", default=None, help="generation batches, e.g. 64,128,256")
    parser.add_argument("--decoders", default="fast,streaming", help="generation decoders to time")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    if args.seconds:
        size = dataclasses.replace(size, seconds=tuple(float(x) for x in args.seconds.split(",")))
    if args.batches:
        batches = tuple(int(x) for x in args.batches.split(","))
        size = dataclasses.replace(size, batches=batches,
                                   streaming_batches=tuple(b for b in batches if b in size.streaming_batches))
    sections = set(args.sections.split(","))
    if sections - set(SECTIONS):
        parser.error(f"unknown sections {sorted(sections - set(SECTIONS))}; known: {SECTIONS}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = Precision(args.precision or ("bf16" if device.type == "cuda" else "fp32"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    meta = {"size": args.size, "device": name,
            "torch": torch.__version__, "cuda": torch.version.cuda, "precision": precision.value,
            "date": time.strftime("%Y-%m-%d"), "threads": torch.get_num_threads()}
    print(json.dumps(meta), flush=True)
    rec = Recorder(out, args.budget_s, meta)
    t0 = time.perf_counter()
    torch.manual_seed(0)
    if "clip" in sections:
        bench_clip(rec, size, device, precision)
    cfg = config(size.preset, device)
    with rec.guard("build model"):
        start = time.perf_counter()
        model = build_model(cfg.model, str(device), precision=precision)
        rec.data["meta"]["build_s"] = time.perf_counter() - start
    if "model" not in locals():
        return 1
    if "train" in sections:
        bench_train(rec, size, model, device, cfg.train)
    model.set_stage(2)
    model.eval()
    if not warm_up(rec, model, cfg.generation, device):
        return 1
    if "agreement" in sections:
        bench_agreement(rec, size, model, cfg.generation, device)
    if "generation" in sections:
        bench_generation(rec, size, model, cfg.generation, device, tuple(args.decoders.split(",")))
    if "profile" in sections:
        bench_profile(rec, out, model, cfg.generation, device)
    rec.data["meta"]["total_s"] = time.perf_counter() - t0
    rec.flush()
    print(json.dumps({k: rec.data[k] for k in ("skipped", "errors")}, indent=1)[:4000], flush=True)
    return 0 if not rec.data["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
