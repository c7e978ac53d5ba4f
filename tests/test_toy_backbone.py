"""The toy backbone's build path with a tiny budget: release format, cache, loading through the
`toy` preset, the LUT collision guard. (Its quality figures come from the full build, not here.)"""
from __future__ import annotations

import time

import pytest
import torch

from vidmusician.config import load_config
from vidmusician.models.builders import build_model
from vidmusician.toy.build import build_toy_backbone, is_built

TINY = ["preset=toy", "toy.codec_minutes=0.1", "toy.lm_minutes=0.1", "toy.codec_clips=16",
        "toy.lm_clips=24", "toy.eval_clips=3"]


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

    model = build_model(load_config(["preset=toy", f"model.musicgen.pretrained={tmp_path}"]).model)
    assert model.sample_rate == 16000 and model.lm.card == 128
    codes = torch.randint(0, 128, (1, 4, 20))
    from model_fixtures import conditions
    with torch.no_grad():
        assert torch.isfinite(model(codes, conditions(model, 1, 20, pad=0)).logits.nan_to_num(0)).all()


def test_lut_class_collisions_are_refused(tmp_path):
    from vidmusician.models.base import build_random
    from vidmusician.toy.lm import check_class_bins

    cfg = load_config(["preset=toy", "model.musicgen.lm.lut_bins=8"])
    backbone, _ = build_random(cfg.model.musicgen)
    with pytest.raises(ValueError, match="LUT bins"):
        check_class_bins(backbone.lm, "description", ["bass", "arpeggio", "bell"])
    ok, _ = build_random(load_config(["preset=toy"]).model.musicgen)
    check_class_bins(ok.lm, "description", ["bass", "arpeggio", "bell"])
