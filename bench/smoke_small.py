"""Real-size smoke on the CPU: the `small` preset's architectures (MusicGen-small LM and 32 kHz
EnCodec, CLIP ViT-B/32, t5-base) with random weights, through the real job code in bf16: extract
features of two videos of different lengths, one training step (stage 1; one video trains, the other
is the held-out split), then soundtrack both videos with that step's adapters, each job a fresh
`python jobs/<job>.py` on a local Ray.

The videos are the first seconds of a real clip in ../shared/media (video and sound). Training
windows are shortened to `--window-s` (the preset's are 30 s; the model is what is real-size here,
not the windows).

Usage: python bench/smoke_small.py [--durations 1.1 1.6] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from vidmusician.synth.media import encode_mp4, read_audio, read_frames

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "media" / "bigbuckbunny.mp4"
RANDOM_WEIGHTS = ["model.musicgen.pretrained=null", "model.clip.pretrained=null", "model.t5.pretrained=null"]
CRF = 18
ON_CPU = ["device=cpu", "extract.feature_num_gpus=0", "train.use_gpu=false", "soundtrack.num_gpus=0",
          "ray.address=null", "ray.num_cpus=4", "train.num_workers=1", "train.cpus_per_worker=0.5"]


def cut(frames, fps: float, audio, sr: int, dst: Path, seconds: float) -> None:
    """The first `seconds` of the clip, video and sound, re-encoded (PyAV)."""
    dst.write_bytes(encode_mp4(frames[:round(seconds * fps)], round(fps), CRF, audio[:round(seconds * sr)], sr))


def job(name: str, args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, f"jobs/{name}.py", *args], cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--durations", type=float, nargs=2, default=[1.1, 1.6])
    ap.add_argument("--window-s", type=float, default=2.0)
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "smoke_small_cpu.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "videos").mkdir()
        frames, fps = read_frames(str(CLIP))
        audio, sr = read_audio(str(CLIP))
        for i, seconds in enumerate(args.durations):
            cut(frames, fps, audio, sr, root / "videos" / f"clip{i}.mp4", seconds)
        common = ["preset=small", f"precision={args.precision}", *RANDOM_WEIGHTS, *ON_CPU,
                  f"extract.window_s={args.window_s}", f"extract.hop_s={args.window_s}"]
        extract_s, _ = job("extract_features", [*common, f"input={root / 'videos'}", f"output={root / 'features'}"])
        extracted = pq.read_table(root / "features" / "outcomes.parquet").to_pylist()
        train_s, out = job("train", [*common, f"train.features={root / 'features'}", f"output={root / 'train'}",
                                     "train.stage=1", "train.stage1.steps=1", "train.stage1.warmup_steps=0",
                                     "train.val_every=1", "train.checkpoint_every=1", "train.batch_size=1"])
        adapters = next(line.split("export: ", 1)[1] for line in out.splitlines() if line.startswith("export: "))
        sound_s, _ = job("soundtrack", [*common, f"input={root / 'videos'}", f"output={root / 'music'}",
                                        f"soundtrack.adapters={adapters}"])
        rows = [r for part in sorted((root / "music").glob("mv-*/outcomes/*.parquet"))
                for r in pq.read_table(part).to_pylist()]
    report = {
        "preset": "small, random weights (pretrained: null for MusicGen, CLIP, T5)",
        "precision": args.precision, "video_durations_s": args.durations, "train_window_s": args.window_s,
        "extract": {"wall_s": round(extract_s, 1), "statuses": sorted(r["status"] for r in extracted)},
        "train": {"steps": 1, "wall_s": round(train_s, 1)},
        "soundtrack": {"wall_s": round(sound_s, 1),
                       "outcomes": sorted((r["status"], round(r["duration_s"], 2)) for r in rows)},
        "music_s": round(sum(r["duration_s"] for r in rows if r["status"] == "ok"), 2),
    }
    print(json.dumps(report, indent=1))
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    if sorted(r["status"] for r in rows) != ["ok", "ok"]:
        sys.exit("smoke: not every video got its soundtrack")


if __name__ == "__main__":
    main()
