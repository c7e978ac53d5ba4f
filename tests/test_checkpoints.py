"""Loading paths: MusicGen release format through audiocraft's loaders, CLIP / T5 from local dirs,
adapter-only checkpoints, and the parameter report."""
from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import load as load_safetensors

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.models import loaders as ac_loaders

from model_fixtures import codes_for, conditions, debug_config, fresh_model, perturb_adapters
from vidmusician.models.backbone import CODEC_FILE, LM_FILE, build_random, load_codec, save_release
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.models.builders import build_t5
from vidmusician.models.checkpoint import (AdapterMismatch, check_adapters, load_adapters, read_adapters,
                                           save_adapters)
from vidmusician.models.vidmusician import is_adapter_param

FRAMES = 24


def forced_logits(model, codes, cond):
    with torch.no_grad():
        return model(codes, cond).logits.nan_to_num(0.0)


def test_release_format_round_trip(tmp_path):
    cfg = debug_config()
    backbone, xp = build_random(cfg.model.musicgen, seed=3)
    save_release(backbone, xp, tmp_path)
    for name in (LM_FILE, CODEC_FILE):
        pkg = torch.load(tmp_path / name, map_location="cpu", weights_only=True)  # no pickled objects
        assert isinstance(pkg["xp.cfg"], str) and "best_state" in pkg
    cfg.model.musicgen.pretrained = str(tmp_path)
    loaded = build_model(cfg.model, seed=99)  # different seed: weights must come from the files
    fresh = build_model(debug_config().model, seed=3)
    for (n1, p1), (n2, p2) in zip(loaded.lm.named_parameters(), fresh.lm.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    wav = torch.randn(1, 1, cfg.model.musicgen.codec.sample_rate)
    with torch.no_grad():
        assert torch.equal(loaded.codec.encode(wav)[0], fresh.codec.encode(wav)[0])


def test_a_release_with_a_pickled_config_loads_under_weights_only(tmp_path):
    """Official-format files whose `xp.cfg` is a pickled DictConfig (not a YAML string) load through
    the allow-list of omegaconf types, with torch.load's weights_only=True, never False."""
    cfg = debug_config()
    backbone, xp = build_random(cfg.model.musicgen, seed=3)
    for name, module in ((LM_FILE, backbone.lm), (CODEC_FILE, backbone.codec)):
        torch.save({"xp.cfg": xp, "best_state": module.state_dict()}, tmp_path / name)  # pickled DictConfig
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        ac_loaders.load_lm_model(str(tmp_path))  # audiocraft alone: refused
    cfg.model.musicgen.pretrained = str(tmp_path)
    loaded = build_model(cfg.model, seed=99)
    fresh = build_model(debug_config().model, seed=3)
    for (n1, p1), (n2, p2) in zip(loaded.lm.named_parameters(), fresh.lm.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    assert torch.equal(next(load_codec(cfg.model.musicgen).parameters()), next(fresh.codec.parameters()))


def test_clip_and_t5_load_from_local_dirs(tmp_path):
    cfg = debug_config()
    clip = build_clip_encoder(cfg.model.clip, seed=4)
    clip.model.save_pretrained(tmp_path / "clip")
    cfg.model.clip.pretrained = str(tmp_path / "clip")
    reloaded = build_clip_encoder(cfg.model.clip, seed=5)
    frames = torch.randint(0, 256, (3, 40, 56, 3), dtype=torch.uint8)
    a, b = clip(frames), reloaded(frames)
    assert torch.equal(a.cls, b.cls) and torch.equal(a.patches, b.patches)
    assert a.patches.shape == (3, clip.num_patches, clip.dim)

    t5 = build_t5(cfg.model.t5, seed=6)
    t5.save_pretrained(tmp_path / "t5")
    cfg.model.t5.pretrained = str(tmp_path / "t5")
    t5_again = build_t5(cfg.model.t5, seed=7)
    x = torch.randn(1, 3, cfg.model.t5.d_model)
    with torch.no_grad():
        assert torch.equal(t5(inputs_embeds=x).last_hidden_state, t5_again(inputs_embeds=x).last_hidden_state)


def test_adapter_checkpoint_round_trip(tmp_path):
    model = fresh_model()
    model.set_stage(2)
    perturb_adapters(model, "semantic.")
    perturb_adapters(model, "rhythm.", seed=2)
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    ref = forced_logits(model, codes, cond)
    uri = str(tmp_path / "adapters.safetensors")
    save_adapters(model, uri)
    state = load_safetensors((tmp_path / "adapters.safetensors").read_bytes())
    assert state and all(is_adapter_param(k) for k in state)
    n_adapter = sum(v.numel() for v in state.values())
    n_total = sum(v.numel() for v in model.state_dict().values())
    assert n_adapter < n_total / 2  # adapter-only, not the whole model
    _, mcfg, stage = read_adapters(uri)
    assert stage == 2 and mcfg == model.config

    fresh = fresh_model()  # same base, untrained adapters, stage 1
    assert (forced_logits(fresh, codes, cond) - ref).abs().max().item() > 1e-4
    load_adapters(fresh, uri)
    assert fresh.stage == 2
    assert torch.equal(forced_logits(fresh.eval(), codes, cond), ref)


def test_adapter_checkpoint_rejects_another_architecture(tmp_path):
    model = fresh_model()
    uri = str(tmp_path / "a.safetensors")
    save_adapters(model, uri)
    other = fresh_model("model.semantic.lora.r=4")
    try:
        load_adapters(other, uri)
    except ValueError as err:
        assert "a.safetensors" in str(err)
    else:
        raise AssertionError("loading adapters of another shape must fail")


def test_adapters_carry_the_model_they_were_made_for(tmp_path):
    """Same shapes, another backbone (or rhythm depth): refused before any video, naming the setting;
    settings that only shape training do not matter."""
    uri = save_adapters(fresh_model(), str(tmp_path / "a.safetensors"))
    cfg = debug_config()
    check_adapters(uri, cfg.model)
    check_adapters(uri, debug_config("model.cond_dropout=0.5").model)
    with pytest.raises(AdapterMismatch, match="model.musicgen.pretrained: adapters None, config 'org/other'"):
        check_adapters(uri, debug_config("model.musicgen.pretrained=org/other").model)
    with pytest.raises(AdapterMismatch, match="model.rhythm.block_fraction"):
        load_adapters(fresh_model("model.rhythm.block_fraction=0.5"), uri)  # shapes match: the config does not
    with pytest.raises(AdapterMismatch, match="no such adapter file"):
        check_adapters(str(tmp_path / "missing.safetensors"), cfg.model)


@pytest.mark.parametrize("case", ["missing", "other-backbone"])
def test_the_soundtrack_job_refuses_wrong_adapters_with_exit_2(tmp_path, capsys, case):
    import runpy
    from pathlib import Path

    from vidmusician.cli import EXIT_BAD_CONFIG, run_job

    uri = str(tmp_path / "a.safetensors")
    if case == "other-backbone":
        save_adapters(fresh_model("model.rhythm.block_fraction=0.5"), uri)
    job = runpy.run_path(str(Path(__file__).parent.parent / "jobs" / "soundtrack.py"))
    code = run_job("soundtrack", job["SUMMARY"], "", job["soundtrack"], argv=[
        "preset=debug", f"input={tmp_path}", f"output={tmp_path / 'out'}", f"soundtrack.adapters={uri}"])
    assert code == EXIT_BAD_CONFIG
    err = capsys.readouterr().err
    assert ("no such adapter file" if case == "missing" else "model.rhythm.block_fraction") in err, err


def test_parameter_report_matches_the_paper_order_of_magnitude():
    from vidmusician.models.param_count import PAPER_TRAINABLE, count

    small = count("small")
    assert small.stage1_trainable < small.stage2_trainable
    assert 0.5 * PAPER_TRAINABLE < small.stage2_trainable < 1.5 * PAPER_TRAINABLE
    # Frozen parts are reported, not trained: the LM of musicgen-small has hundreds of millions.
    assert small.lm > 300e6 and small.clip > 80e6 and small.t5 > 100e6
