"""The demo on the embedded default (local Ray, local storage, tiny models, CPU): README command 1.

    python jobs/demo.py [preset=toy (default) | debug] [output=outputs/demo] [key=value ...]

1. writes a synthetic world (videos with music, ground truth) and a silent "AI-generated" flavour;
2. builds the toy backbone, a tiny MusicGen pretrained on the world's music (preset `toy`; cached in
   toy.output_dir after the first run, which takes about 16 minutes on 2 cores);
3. extracts the training features with the Ray Data pipeline (decode -> CLIP + codec -> Parquet);
4. trains stage 1 (semantic) then stage 2 (rhythm) with Ray Train, and prints the training summary;
5. soundtracks the silent videos with the trained adapters (batched CFG, sliding windows): one wav each.
With `preset=debug` every model is random and tiny: the same path in about two minutes, noise for music.
"""
import io
import sys
import time
from dataclasses import replace

import soundfile
import torch

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config, dump_config
from vidmusician.data.pipeline import run_extract
from vidmusician.features import uri_features
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.models.checkpoint import load_adapters
from vidmusician.models.generation import soundtrack
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world
from vidmusician.toy.build import build_toy_backbone
from vidmusician.train.run import run_training

SUMMARY = ("End-to-end demo: synthetic world -> toy backbone -> features (Ray Data) -> stage 1 + 2 "
           "(Ray Train) -> soundtracks for silent videos (local, CPU, tiny models).")


def soundtrack_silent(cfg: Config, silent_rows: list[dict], adapters: str, music_dir: str) -> float:
    """Writes one wav per silent video; returns the seconds of music written."""
    storage = Storage(cfg.storage)
    torch.manual_seed(cfg.seed)
    model = load_adapters(build_model(cfg.model, cfg.device, cfg.seed), adapters, cfg.storage).eval()
    encoder = build_clip_encoder(cfg.model.clip, cfg.device, cfg.seed)
    feats = [uri_features(encoder, row["uri"], cfg.model, model.frame_rate, storage) for row in silent_rows]
    generator = torch.Generator().manual_seed(cfg.seed)
    seconds = 0.0
    for row, wav in zip(silent_rows, soundtrack(model, feats, cfg.generation, generator=generator)):
        buf = io.BytesIO()
        soundfile.write(buf, wav.numpy(), model.sample_rate, format="WAV")
        storage.write_bytes(join_uri(music_dir, f"{row['video_id']}.wav"), buf.getvalue())
        seconds += wav.shape[-1] / model.sample_rate
    return seconds


def demo(cfg: Config) -> int:
    start, laps = time.perf_counter(), {}

    def lap(name: str) -> None:
        laps[name] = time.perf_counter() - start - sum(laps.values())

    world_uri, silent_uri = join_uri(cfg.output, "world"), join_uri(cfg.output, "silent")
    world = write_world(cfg, world_uri)
    silent_cfg = replace(cfg, world=replace(cfg.world, with_audio=False, seed=cfg.world.seed + 1))
    silent = write_world(silent_cfg, silent_uri)
    dump_config(cfg, cfg.output)
    lap("world")
    if cfg.model.musicgen.pretrained == cfg.toy.output_dir:
        build_toy_backbone(cfg)
    lap("backbone")
    features_uri = join_uri(cfg.output, "features")
    extracted = run_extract(replace(cfg, input=join_uri(world_uri, "videos"), output=features_uri))
    lap("features")
    trained = run_training(replace(cfg, output=join_uri(cfg.output, "train"),
                                   train=replace(cfg.train, features=features_uri)))
    lap("training")
    music_dir = join_uri(cfg.output, "music")
    seconds = soundtrack_silent(cfg, silent.to_pylist(), trained.adapters, music_dir)
    lap("music")

    print(f"demo (preset={cfg.preset}) done in {time.perf_counter() - start:.1f} s")
    print(f"  world:    {world.num_rows} videos with music + {silent.num_rows} silent -> {world_uri}/, "
          f"{silent_uri}/  ({laps['world']:.1f} s)")
    print(f"  backbone: {cfg.model.musicgen.pretrained or 'random (debug)'}  ({laps['backbone']:.1f} s)")
    print(f"  features: {features_uri}  ({laps['features']:.1f} s)\n    " + extracted.summary.replace("\n", "\n    "))
    print(f"  training ({laps['training']:.1f} s):\n    " + trained.summary().replace("\n", "\n    "))
    print(f"  music:    {silent.num_rows} wavs, {seconds:.1f} s of audio -> {music_dir}/  ({laps['music']:.1f} s)")
    print(f"  config:   {join_uri(cfg.output, 'config.yaml')}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("demo", SUMMARY, "output=outputs/demo preset=debug", demo, default_preset="toy"))
