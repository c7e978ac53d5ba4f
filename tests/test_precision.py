"""One `precision` setting (fp32, bf16, fp16) for generation, features and training, on any device:
run here on CPU, including an LM stored the way audiocraft's loader stores it for a GPU."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.models import builders as ac_builders
from model_fixtures import codes_for, conditions, debug_config, perturb_adapters
from vidmusician.config.schema import Precision
from vidmusician.models.backbone import xp_cfg
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.models.generation import generate_tokens
from vidmusician.models.precision import apply_lm_layout, layout_of
from vidmusician.models.rhythm import RhythmInjector
from vidmusician.train.batch import TrainBatch
from vidmusician.train.loop import StageTrainer

HALF = [Precision.bf16, Precision.fp16]
FRAMES = 40


def adapted(precision: Precision, *overrides: str):
    cfg = debug_config(f"precision={precision.value}", "generation.use_sampling=false", *overrides)
    model = build_model(cfg.model, precision=cfg.precision).eval()
    model.set_stage(2)
    perturb_adapters(model, "semantic.")
    perturb_adapters(model, "rhythm.", seed=2)
    return model, cfg


def matmul_and_other_dtypes(lm) -> tuple[set, set]:
    matmul, other = set(), set()
    for name, p in lm.named_parameters():
        is_matmul = name.startswith("transformer.") and ("in_proj" in name or "linear" in name or "out_proj" in name)
        (matmul if is_matmul else other).add(p.dtype)
    return matmul, other


@pytest.mark.parametrize("precision", HALF, ids=lambda p: p.value)
def test_half_precision_layout_and_generation_with_both_decoders(precision):
    model, cfg = adapted(precision)
    matmul, other = matmul_and_other_dtypes(model.lm)
    assert matmul == {torch.bfloat16 if precision is Precision.bf16 else torch.float16}
    assert other == {torch.float32}  # norms, embeddings, heads, conditioner
    assert all(p.dtype == torch.float32 for p in model.semantic.parameters())  # adapters: fp32 masters
    cond = conditions(model, 3, FRAMES)
    tokens = {fast: generate_tokens(model, cond, FRAMES, dataclasses.replace(cfg.generation, fast=fast))
              for fast in (True, False)}
    for t in tokens.values():
        assert t.shape == (3, model.lm.num_codebooks, FRAMES) and (t >= 0).all() and (t < model.lm.card).all()
    # Rounding differs between the two decoders' attention kernels in half precision; most tokens agree.
    assert (tokens[True] == tokens[False]).float().mean() > 0.85


def test_an_lm_stored_as_audiocrafts_gpu_loader_stores_it_runs_after_the_layout():
    """audiocraft's loader builds the LM with dtype float16 on any GPU (transformer in float16,
    embeddings and output norm float32); called without autocast it fails at the first layer norm.
    Built here exactly that way, on the CPU."""
    model, cfg = adapted(Precision.fp32)
    xp = xp_cfg(cfg.model.musicgen)
    xp.dtype = "float16"
    gpu_lm = ac_builders.get_lm_model(xp).eval()
    gpu_lm.load_state_dict(model.lm.state_dict())  # copied into each parameter's own dtype
    assert "float16" in layout_of(gpu_lm) and gpu_lm.emb[0].weight.dtype == torch.float32
    model.lm = gpu_lm
    model.injector.remove()
    model.injector = RhythmInjector(gpu_lm.transformer, model.rhythm)
    cond = conditions(model, 2, FRAMES)
    with pytest.raises(RuntimeError, match="dtype|Half|Float"):
        generate_tokens(model, cond, FRAMES, dataclasses.replace(cfg.generation, fast=False))
    apply_lm_layout(gpu_lm, Precision.bf16)
    model.precision = Precision.bf16
    for fast in (True, False):
        out = generate_tokens(model, cond, FRAMES, dataclasses.replace(cfg.generation, fast=fast))
        assert (out >= 0).all() and (out < gpu_lm.card).all()


@pytest.mark.parametrize("precision", HALF, ids=lambda p: p.value)
def test_half_precision_training_steps_learn_and_features_match_fp32(precision):
    model, cfg = adapted(precision, "model.cond_dropout=0.0")
    trainer = StageTrainer(model, 2, cfg.train)
    assert trainer.scaler.is_enabled() == (precision is Precision.fp16)
    codes, cond = codes_for(model, 2, FRAMES), conditions(model, 2, FRAMES)
    batch = TrainBatch(codes=codes, cond=cond, frame_mask=torch.ones(2, FRAMES))
    losses = [trainer.train_step(batch)["loss"] for _ in range(8)]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in model.rhythm.parameters())
    # Features: CLIP under autocast stays close to float32 (same weights, same frames).
    ccfg = cfg.model.clip
    frames = torch.randint(0, 256, (4, ccfg.image_size, ccfg.image_size, 3), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    half = build_clip_encoder(ccfg, precision=precision)(frames)
    full = build_clip_encoder(ccfg)(frames)
    assert half.cls.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(half.cls, full.cls, dim=-1).min() > 0.99
    assert not torch.equal(half.cls, full.cls)  # the half-precision path did run
