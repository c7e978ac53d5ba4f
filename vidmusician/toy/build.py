"""Builds the toy backbone once and caches it: the demo, the tests and the `toy` preset share it.

A directory counts as built when it holds both release files and a stamp with the hash of the
settings that made them; anything else is rebuilt from scratch."""
from __future__ import annotations

import json
import time
from pathlib import Path

from vidmusician.config import Config, config_hash
from vidmusician.models.base import CODEC_FILE, LM_FILE, Backbone, build_random, save_release
from vidmusician.toy.codec import codec_report, train_codec
from vidmusician.toy.data import music_set
from vidmusician.toy.lm import tokenize, train_lm

STAMP = "toy-build.json"
# World settings that shape videos only: the build (music only) does not depend on them.
VIDEO_ONLY_WORLD_FIELDS = ("num_videos", "seed", "fps", "width", "height", "with_audio", "video_crf",
                           "audio_bitrate")


def build_hash(cfg: Config) -> str:
    music = {k: v for k, v in vars(cfg.world).items() if k not in VIDEO_ONLY_WORLD_FIELDS}
    toy = {k: v for k, v in vars(cfg.toy).items() if k != "output_dir"}  # where, not what
    arch = {"codec": config_hash(cfg.model.musicgen.codec), "lm": config_hash(cfg.model.musicgen.lm),
            "key": cfg.model.musicgen.cross_attention_key}
    return config_hash({"toy": config_hash(toy), "world": config_hash(music), "musicgen": config_hash(arch)})


def is_built(directory: str | Path, cfg: Config) -> bool:
    d = Path(directory).expanduser()
    stamp = d / STAMP
    return ((d / LM_FILE).exists() and (d / CODEC_FILE).exists() and stamp.exists()
            and json.loads(stamp.read_text()).get("hash") == build_hash(cfg))


def build_toy_backbone(cfg: Config, directory: str | None = None, log=print) -> dict:
    """Trains the codec, then the LM, saves both in release format; returns the build report.
    Skips the work when `directory` already holds a build with the same settings."""
    out = Path(directory or cfg.toy.output_dir).expanduser()
    if is_built(out, cfg):
        return json.loads((out / STAMP).read_text())["report"]
    start = time.monotonic()
    mcfg = cfg.model.musicgen.__class__(**{**vars(cfg.model.musicgen), "pretrained": None})
    backbone, xp = build_random(mcfg, seed=cfg.toy.seed)
    sr = backbone.codec.sample_rate
    if sr != cfg.world.sample_rate:
        raise ValueError(f"world.sample_rate {cfg.world.sample_rate} != codec sample rate {sr}")
    codec_data = music_set(cfg.world, cfg.toy.codec_clips, cfg.toy.seed)
    report = train_codec(backbone.codec, codec_data.audio, cfg.toy, sr, log)
    held_out = music_set(cfg.world, cfg.toy.eval_clips, cfg.toy.seed + 1000)
    report.update(codec_report(backbone.codec, held_out.audio, held_out.hit_times, sr))
    log(f"codec: SNR {report['codec_snr_db']:.1f} dB, hit F1 {report['codec_hit_f1']:.2f}")
    lm_data = music_set(cfg.world, cfg.toy.lm_clips, cfg.toy.seed + 1)
    codes = tokenize(backbone.codec, lm_data.audio)
    report.update(train_lm(backbone.lm, codes, lm_data.classes, mcfg.cross_attention_key, cfg.toy, log))
    for p in backbone.lm.parameters():
        p.requires_grad_(False)
    save_release(Backbone(lm=backbone.lm, codec=backbone.codec), xp, out)
    report["build_s"] = time.monotonic() - start
    (out / STAMP).write_text(json.dumps({"hash": build_hash(cfg), "report": report}, indent=2))
    return report
