"""The toy backbone: the build shipped in the package matches the `toy` preset's settings and loads;
the build path with a tiny budget (release format, cache, loading, a private build for other
settings); the LUT collision guard. (Its quality figures come from the full build, not here.)"""
from __future__ import annotations

import time

import pytest
import torch

from vidmusician.config import load_config
from vidmusician.embedded import model_path
from vidmusician.models.builders import build_model
from vidmusician.toy.build import build_toy_backbone, is_built, read_stamp, settings_changed, with_toy_backbone

TINY = ["preset=toy", "toy.codec_minutes=0.05", "toy.lm_minutes=0.05", "toy.codec_clips=16",
        "toy.lm_clips=24", "toy.eval_clips=3"]


def test_the_shipped_build_matches_the_toy_settings_and_loads():
    cfg = load_config(["preset=toy"])
    assert cfg.model.musicgen.pretrained == cfg.toy.output_dir == "embedded:toy-backbone"
    changed = settings_changed(cfg.toy.output_dir, cfg)
    assert not changed, (
        f"the toy backbone shipped in {model_path(cfg.toy.output_dir)} was built with other settings than "
        f"the toy preset's: {changed}. Rebuild it (python jobs/build_toy_backbone.py preset=toy, about 16 "
        f"minutes) and commit the files it rewrites.")
    assert is_built(cfg.toy.output_dir, cfg) and with_toy_backbone(cfg, log=None) is cfg  # nothing to build
    report = read_stamp(cfg.toy.output_dir)["report"]
    assert report["codec_hit_f1"] >= 0.9  # a trained codec, not a random one
    model = build_model(cfg.model)
    assert model.sample_rate == 16000 and model.lm.card == 128


def test_settings_that_shape_the_build_are_named_when_they_change():
    cfg = load_config(["preset=toy"])
    assert settings_changed(cfg.toy.output_dir, load_config(["preset=toy", "world.num_videos=3"])) == []
    changed = settings_changed(cfg.toy.output_dir, load_config(["preset=toy", "world.tempos_bpm=[100.0]",
                                                                 "model.musicgen.lm.num_layers=2"]))
    assert [c.split(":")[0] for c in changed] == ["lm.num_layers", "world.tempos_bpm"], changed


def test_tiny_build_saves_loads_and_caches(tmp_path):
    cfg = load_config([*TINY, f"toy.output_dir={tmp_path}"])
    report = build_toy_backbone(cfg, log=lambda *_: None)
    assert report["codec_steps"] > 0 and report["lm_steps"] > 0
    assert -60 < report["codec_snr_db"] < 60 and 0 <= report["codec_hit_f1"] <= 1
    assert is_built(tmp_path, cfg)
    t = time.monotonic()
    assert build_toy_backbone(cfg, log=lambda *_: None) == report  # cached: no second training
    assert time.monotonic() - t < 5
    changed = load_config([*TINY, f"toy.output_dir={tmp_path}", "toy.lm_lr=0.001"])
    assert not is_built(tmp_path, changed)  # other settings are another build

    # A run whose settings differ from toy.output_dir's build gets (and then reuses) its own build.
    other = load_config([*TINY, f"model.musicgen.pretrained={tmp_path}", f"toy.output_dir={tmp_path}",
                         f"toy.cache_dir={tmp_path / 'cache'}", "toy.lm_lr=0.001"])
    moved = with_toy_backbone(other, log=lambda *_: None)
    private = moved.model.musicgen.pretrained
    assert private.startswith(str(tmp_path / "cache")) and is_built(private, other)
    made = next((tmp_path / "cache").rglob("state_dict.bin")).stat().st_mtime_ns
    assert with_toy_backbone(other, log=lambda *_: None).model.musicgen.pretrained == private
    assert next((tmp_path / "cache").rglob("state_dict.bin")).stat().st_mtime_ns == made  # reused, not rebuilt

    model = build_model(load_config(["preset=toy", f"model.musicgen.pretrained={tmp_path}"]).model)
    assert model.sample_rate == 16000 and model.lm.card == 128
    codes = torch.randint(0, 128, (1, 4, 20))
    from model_fixtures import conditions
    with torch.no_grad():
        assert torch.isfinite(model(codes, conditions(model, 1, 20, pad=0)).logits.nan_to_num(0)).all()


def test_lut_class_collisions_are_refused(tmp_path):
    from vidmusician.models.backbone import build_random
    from vidmusician.toy.lm import check_class_bins

    cfg = load_config(["preset=toy", "model.musicgen.lm.lut_bins=8"])
    backbone, _ = build_random(cfg.model.musicgen)
    with pytest.raises(ValueError, match="LUT bins"):
        check_class_bins(backbone.lm, "description", ["bass", "arpeggio", "bell"])
    ok, _ = build_random(load_config(["preset=toy"]).model.musicgen)
    check_class_bins(ok.lm, "description", ["bass", "arpeggio", "bell"])
