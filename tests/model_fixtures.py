"""Small builders shared by the model tests (debug preset, CPU)."""
from __future__ import annotations

import torch

from vidmusician.config import load_config
from vidmusician.models.builders import build_model
from vidmusician.models.conditions import VisualConditions
from vidmusician.models.vidmusician import VidMusician, is_adapter_param

N_TOKENS = 4
# Small and fast: one-window videos, 2 workers x 2 windows a step, a checkpoint every 3 steps.
TRAIN_ARGS = ("train.num_workers=2", "train.cpus_per_worker=0.5", "train.batch_size=2",
              "train.stage1.steps=9", "train.stage2.steps=9", "train.stage1.lr=3e-3", "train.stage2.lr=3e-3",
              "train.stage1.warmup_steps=2", "train.stage2.warmup_steps=2", "train.val_every=3",
              "train.checkpoint_every=3", "train.log_every=1", "train.keep_checkpoints=2",
              "model.cond_dropout=0.1")
# Fail fast while the storage is away: one-second timeouts, no botocore retries, two tries of ours.
FAST_FAILURE = ("storage.read_timeout_s=1", "storage.connect_timeout_s=1", "storage.max_attempts=1",
                "retry.attempts=2", "retry.backoff_s=0.2", "retry.max_backoff_s=0.5")
STATS = 2  # "mean_max" reduction


def debug_config(*overrides: str):
    return load_config(["preset=debug", *overrides])


def conditions(model: VidMusician, batch: int, frames: int, seed: int = 0, pad: int = 1) -> VisualConditions:
    g = torch.Generator().manual_seed(seed)
    dim = model.semantic.manager.in_features
    mask = torch.ones(batch, N_TOKENS)
    if pad:
        mask[0, -pad:] = 0  # first row has padding
    return VisualConditions(
        cls=torch.randn(batch, N_TOKENS, dim, generator=g),
        cls_steps=torch.arange(N_TOKENS, dtype=torch.float32).repeat(batch, 1),
        cls_mask=mask,
        rhythm=torch.rand(batch, frames, STATS, generator=g),
        present=torch.ones(batch, dtype=torch.bool))


def perturb_adapters(model: VidMusician, names_prefix: str, seed: int = 1, scale: float = 0.05) -> None:
    """Stands in for training: gives the named adapter weights non-trivial values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(names_prefix) and is_adapter_param(name):
                p.add_(torch.randn(p.shape, generator=g) * scale)


def fresh_model(*overrides: str, seed: int = 0) -> VidMusician:
    return build_model(debug_config(*overrides).model, seed=seed).eval()


def codes_for(model: VidMusician, batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.lm.card, (batch, model.lm.num_codebooks, frames), generator=g)
