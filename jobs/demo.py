"""The demo on the embedded default (local storage, tiny models, CPU): README command 1.

    python jobs/demo.py [preset=debug] [output=outputs/demo] [key=value ...]

1. writes a synthetic world (videos with music, ground truth) and a silent "AI-generated" flavour;
2. builds the VidMusician model (frozen MusicGen + semantic and rhythm adapters) from config;
3. decodes the silent videos, extracts CLIP features and soundtracks them (batched CFG, sliding
   windows), writing one wav per video.
With the `debug` preset every model has random weights: the music is noise shaped by the pipeline,
which is what the demo checks end to end. Training the adapters comes with the training job.
"""
import io
import sys
import time
from dataclasses import replace

import soundfile
import torch

from vidmusician.cli import EXIT_OK, run_job
from vidmusician.config import Config, dump_config
from vidmusician.decode import sample_frames
from vidmusician.features import video_features
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.models.generation import soundtrack
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world

SUMMARY = "End-to-end demo: synthetic world -> features -> VidMusician soundtracks (local, CPU, tiny models)."


def demo(cfg: Config) -> int:
    start = time.perf_counter()
    storage = Storage(cfg.storage)
    world = write_world(cfg, join_uri(cfg.output, "world"))
    silent_cfg = replace(cfg, world=replace(cfg.world, with_audio=False, seed=cfg.world.seed + 1))
    silent = write_world(silent_cfg, join_uri(cfg.output, "silent"))
    dump_config(cfg, cfg.output)
    t_world = time.perf_counter() - start

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, cfg.device, cfg.seed).eval()
    encoder = build_clip_encoder(cfg.model.clip, cfg.device, cfg.seed)
    feats, ids = [], []
    for row in silent.to_pylist():
        with storage.local_copy(row["uri"]) as path:
            video = sample_frames(path, cfg.model.rhythm.fps, encoder.image_size)
        feats.append(video_features(encoder, video.frames, video.duration_s, cfg.model, model.frame_rate))
        ids.append(row["video_id"])
    t_feat = time.perf_counter() - start - t_world

    music_dir = join_uri(cfg.output, "music")
    generator = torch.Generator().manual_seed(cfg.seed)
    seconds = 0.0
    for b in range(0, len(feats), cfg.generation.batch_size):
        waves = soundtrack(model, feats[b:b + cfg.generation.batch_size], cfg.generation, generator=generator)
        for vid, wav in zip(ids[b:b + cfg.generation.batch_size], waves):
            buf = io.BytesIO()
            soundfile.write(buf, wav.numpy(), model.sample_rate, format="WAV")
            storage.write_bytes(join_uri(music_dir, f"{vid}.wav"), buf.getvalue())
            seconds += wav.shape[-1] / model.sample_rate
    t_gen = time.perf_counter() - start - t_world - t_feat

    print(f"demo (preset={cfg.preset}) done in {time.perf_counter() - start:.1f} s")
    print(f"  world:  {world.num_rows} videos with music + {silent.num_rows} silent -> "
          f"{join_uri(cfg.output, 'world')}/, {join_uri(cfg.output, 'silent')}/  ({t_world:.1f} s)")
    print(f"  model:  trainable adapter parameters {sum(v.numel() for v in model.adapter_state_dict().values()):,}"
          f" on a frozen MusicGen LM of {sum(p.numel() for p in model.lm.parameters()):,}")
    print(f"  features: {len(feats)} videos at {cfg.model.rhythm.fps:g} fps through CLIP ({t_feat:.1f} s)")
    print(f"  music:  {len(ids)} wavs, {seconds:.1f} s of audio at {model.sample_rate} Hz -> {music_dir}/"
          f"  ({t_gen:.1f} s)")
    print(f"  config: {join_uri(cfg.output, 'config.yaml')}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(run_job("demo", SUMMARY, "output=outputs/demo world.num_videos=4", demo))
