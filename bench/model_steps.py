"""The training steps that the adapter-overhead benchmarks compare (bench_model.py on CPU, the GPU
kit at real size): the adapted model's step against the frozen base's step on the same codes.

The base step runs the same LM forward + backward + optimizer step, with a trainable cross-attention
condition of the adapters' output shape standing in for them, so its backward still runs through the
LM as the adapted one does."""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

from vidmusician.config.schema import LossConfig
from vidmusician.models.conditions import VisualConditions
from vidmusician.models.rhythm import REDUCTIONS
from vidmusician.models.vidmusician import VidMusician, codebook_losses

STAND_IN_SCALE = 0.02  # the stand-in condition's init scale, like the LM's own embeddings


def random_conditions(model: VidMusician, batch: int, tokens: int, frames: int,
                      generator: torch.Generator) -> VisualConditions:
    """Full (unpadded) visual conditions of random content, on CPU."""
    return VisualConditions(cls=torch.randn(batch, tokens, model.semantic.manager.in_features, generator=generator),
                            cls_steps=torch.arange(tokens, dtype=torch.float32).repeat(batch, 1),
                            cls_mask=torch.ones(batch, tokens),
                            rhythm=torch.rand(batch, frames, REDUCTIONS[model.config.rhythm.reduction],
                                              generator=generator),
                            present=torch.ones(batch, dtype=torch.bool))


def train_steps(model: VidMusician, codes: torch.Tensor, cond: VisualConditions,
                autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                objective: LossConfig | None = None) -> tuple[Callable[[], None], Callable[[], None]]:
    """(adapted step, frozen-base step) for the model's current stage; each runs under `autocast`. The
    adapted step minimises `objective` (train.stageN.loss: with guidance, one more forward of the frozen LM)."""
    lm = model.lm
    batch, tokens = cond.cls_mask.shape
    key = model.cross_attention_key
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def adapted_step():
        opt.zero_grad()
        with autocast():
            loss = model.loss(codes, cond, objective=objective).loss
        loss.backward()
        opt.step()

    stand_in = torch.nn.Parameter(torch.randn(batch, tokens, lm.dim, device=codes.device) * STAND_IN_SCALE)
    base_opt = torch.optim.AdamW([stand_in], lr=1e-4)
    ones = torch.ones(batch, tokens, device=codes.device)

    def base_step():
        base_opt.zero_grad()
        with autocast():
            out = lm.compute_predictions(codes, [], condition_tensors={key: (stand_in, ones)})
            loss = codebook_losses(out.logits, codes, out.mask).mean()
        loss.backward()
        base_opt.step()

    return adapted_step, base_step
