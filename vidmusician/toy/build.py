"""Builds the toy backbone and finds a build that matches a config.

The package ships one build (`embedded:toy-backbone`, the `toy` preset's backbone and `toy.output_dir`'s
default), so the demo, the tests and the learning proof load it without training. A directory counts
as built for a config when it holds both release files and a stamp whose settings hash matches the
config's; a run whose settings differ from the shipped build's gets its own build in `toy.cache_dir`."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from vidmusician.config import Config, config_hash
from vidmusician.embedded import model_path
from vidmusician.models.backbone import CODEC_FILE, LM_FILE, Backbone, build_random, save_release
from vidmusician.toy.codec import codec_report, train_codec
from vidmusician.toy.data import music_set
from vidmusician.toy.lm import tokenize, train_lm

STAMP = "toy-build.json"
# World settings that shape videos only: the build (music only) does not depend on them.
VIDEO_ONLY_WORLD_FIELDS = ("num_videos", "seed", "fps", "width", "height", "with_audio", "video_crf",
                           "audio_bitrate")
# Where a build goes, not what it is.
PLACE_ONLY_TOY_FIELDS = ("output_dir", "cache_dir")


def build_settings(cfg: Config) -> dict:
    """Every setting a build depends on: the world's music, the toy trainings, the codec and LM."""
    mcfg = cfg.model.musicgen
    return json.loads(json.dumps({
        "world": {k: v for k, v in vars(cfg.world).items() if k not in VIDEO_ONLY_WORLD_FIELDS},
        "toy": {k: v for k, v in vars(cfg.toy).items() if k not in PLACE_ONLY_TOY_FIELDS},
        "codec": vars(mcfg.codec), "lm": vars(mcfg.lm), "cross_attention_key": mcfg.cross_attention_key}))


def build_hash(cfg: Config) -> str:
    return config_hash(build_settings(cfg))


def read_stamp(directory: str) -> dict | None:
    stamp = Path(model_path(directory)) / STAMP
    return json.loads(stamp.read_text()) if stamp.exists() else None


def settings_changed(directory: str, cfg: Config) -> list[str]:
    """The dotted settings whose values differ between the build in `directory` and `cfg`
    (["<no build>"] when there is none)."""
    stamp = read_stamp(directory)
    if stamp is None or "settings" not in stamp:
        return ["<no build>"]
    return sorted(_diff(stamp["settings"], build_settings(cfg), ""))


def _diff(a, b, prefix: str):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from _diff(a.get(k), b.get(k), f"{prefix}{k}.")
    elif a != b:
        yield f"{prefix[:-1]}: built with {a!r}, now {b!r}"


def is_built(directory: str, cfg: Config) -> bool:
    d = Path(model_path(directory))
    stamp = read_stamp(directory)
    return ((d / LM_FILE).exists() and (d / CODEC_FILE).exists() and stamp is not None
            and stamp.get("hash") == build_hash(cfg))


def build_toy_backbone(cfg: Config, directory: str | None = None, log=print) -> dict:
    """Trains the codec, then the LM, saves both in release format; returns the build report.
    Skips the work when `directory` already holds a build with the same settings."""
    target = directory or cfg.toy.output_dir
    out = Path(model_path(target))
    if is_built(target, cfg):
        return read_stamp(target)["report"]
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
    write_stamp(out, cfg, report)
    return report


def write_stamp(directory: Path, cfg: Config, report: dict) -> None:
    stamp = {"hash": build_hash(cfg), "settings": build_settings(cfg), "report": report}
    (directory / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")


def with_toy_backbone(cfg: Config, log=print) -> Config:
    """`cfg` ready to load its toy backbone. Only a config whose backbone is `toy.output_dir` (the `toy`
    preset) is concerned: when that build was made with other settings (a run that overrides the
    world's music or the toy architecture), a build with this run's settings is made once into
    `toy.cache_dir/<hash>` (about codec_minutes + lm_minutes) and the returned config points at it."""
    if cfg.model.musicgen.pretrained != cfg.toy.output_dir or is_built(cfg.toy.output_dir, cfg):
        return cfg
    target = str(Path(model_path(cfg.toy.cache_dir)) / build_hash(cfg))
    changed = settings_changed(cfg.toy.output_dir, cfg)
    log(f"toy backbone: {cfg.toy.output_dir} was built with other settings ({'; '.join(changed[:3])}"
        f"{' ...' if len(changed) > 3 else ''}); using a build with this run's settings in {target} "
        f"(made now if missing: about {cfg.toy.codec_minutes + cfg.toy.lm_minutes:.0f} min)")
    build_toy_backbone(cfg, target, log)
    return replace(cfg, model=replace(cfg.model, musicgen=replace(cfg.model.musicgen, pretrained=target)))
