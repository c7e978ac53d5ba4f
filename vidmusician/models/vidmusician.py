"""VidMusician: a frozen MusicGen LM steered by a semantic adapter (cross-attention) and a rhythm
adapter (in-attention). Plain PyTorch; Ray code only orchestrates it."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.models.lm import LMOutput
from audiocraft.modules.conditioners import ConditioningAttributes

from vidmusician.config.schema import LossConfig, ModelConfig, Precision
from vidmusician.models.backbone import Backbone, freeze
from vidmusician.models.conditions import VisualConditions
from vidmusician.models.cross_attention import CrossAttentionMask
from vidmusician.models.precision import autocast
from vidmusician.models.prompts import PromptEncoder
from vidmusician.models.rhythm import RhythmAdapter, RhythmInjector, stack_context
from vidmusician.models.semantic import LORA_MARKER, SemanticAdapter
from vidmusician.models.text_projection import TextProjection

STAGES = (1, 2)


def is_adapter_param(name: str) -> bool:
    """The filter that tells adapter parameters (trained, checkpointed) from the frozen base."""
    if name.startswith(("semantic.manager.", "semantic.projector.", "rhythm.")):
        return True
    return name.startswith("semantic.t5.") and LORA_MARKER in name


def stage_trains(name: str, stage: int, stage2_trains_semantic: bool) -> bool:
    if not is_adapter_param(name):
        return False
    if name.startswith("rhythm."):
        return stage == 2
    return stage == 1 or stage2_trains_semantic


@dataclass
class LossOutput:
    loss: torch.Tensor             # mean over codebooks
    per_codebook: torch.Tensor     # [K]


class VidMusician(nn.Module):
    def __init__(self, backbone: Backbone, semantic: SemanticAdapter, rhythm: RhythmAdapter, *,
                 cross_attention_key: str, cond_dropout: float, stage2_trains_semantic: bool,
                 rhythm_context: tuple[int, int], semantic_fps: float, config: ModelConfig,
                 prompts: PromptEncoder | None = None):
        """cross_attention_key: the LM's condition the visual tokens stand in for; cond_dropout: the
        probability of dropping a row's conditions in training (classifier-free guidance);
        rhythm_context: curve frames before and after each step in its rhythm input; semantic_fps:
        visual tokens per second. config: what the model was built from, recorded in its adapter
        checkpoints (checkpoint.py) and never read here. prompts: text prompts for a backbone whose
        condition is T5 text (models/prompts.py)."""
        super().__init__()
        self.cross_attention_key, self.cond_dropout = cross_attention_key, cond_dropout
        self.stage2_trains_semantic, self.rhythm_context = stage2_trains_semantic, rhythm_context
        self.semantic_fps, self.config = semantic_fps, config
        self.prompts = prompts or PromptEncoder(None)
        self.lm = freeze(backbone.lm)
        self.codec = freeze(backbone.codec)
        self.semantic = semantic
        self.rhythm = rhythm
        self.injector = RhythmInjector(self.lm.transformer, self.rhythm)
        self.cross_mask = CrossAttentionMask(self.lm.transformer)
        self.stage = 1
        self.precision = Precision.fp32  # the LM's weight layout (models/precision.py); builders set it
        fuser = self.lm.fuser.fuse2cond
        if fuser.get("prepend"):
            raise ValueError("backbones with 'prepend' conditions shift sequence positions: unsupported")
        if cross_attention_key not in fuser.get("cross", []):
            raise ValueError(f"model.musicgen.cross_attention_key={cross_attention_key!r} is "
                             f"not a cross-attention condition of this LM ({fuser.get('cross')})")

    # --- stages -------------------------------------------------------------------------------
    def set_stage(self, stage: int) -> list[str]:
        """Switches the model to a training stage and marks trainable exactly what that stage trains.
        Stage 1: semantic path only, rhythm branch off. Stage 2: rhythm branch on (and the semantic
        path too, if model.stage2_trains_semantic). Returns the trainable parameter names."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage}")
        self.stage = stage
        names = []
        for name, p in self.named_parameters():
            p.requires_grad_(stage_trains(name, stage, self.stage2_trains_semantic))
            if p.requires_grad:
                names.append(name)
        return names

    def train(self, mode: bool = True):
        super().train(mode)
        # The backbone stays in eval mode (no dropout) whatever the adapters do.
        self.lm.eval()
        self.codec.eval()
        return self

    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if is_adapter_param(k)}

    def autocast(self):
        """The context every forward runs in, for this model's precision (nothing for fp32)."""
        return autocast(self.lm.emb[0].weight.device, self.precision)

    # --- conditioning -------------------------------------------------------------------------
    @property
    def frame_rate(self) -> float:
        return float(self.codec.frame_rate)

    @property
    def sample_rate(self) -> int:
        return int(self.codec.sample_rate)

    @property
    def max_delay(self) -> int:
        return max(self.lm.pattern_provider.delays)

    def condition_tensors(self, cond: VisualConditions, text: list[str | None] | None = None) -> dict:
        """The cross-attention condition: the video's tokens, then each row's text prompt's (`text`, a
        prompt or None per row; models/prompts.py). A dropped row drops its prompt too."""
        key = self.cross_attention_key
        mask = cond.cls_mask * cond.present.view(-1, 1).to(cond.cls_mask.dtype)
        tokens = self.semantic(cond.cls, cond.cls_steps, mask)
        if text is not None:
            text = [t if present else None for t, present in zip(text, cond.present.tolist())]
        if text is not None and any(t is not None for t in text):
            conditioner = self.lm.condition_provider.conditioners[key]
            if isinstance(conditioner, TextProjection):
                text_emb, text_mask = self.prompts.encode(self.semantic.t5, conditioner.output_proj, text)
            else:  # a lookup-table condition (random and toy backbones)
                attrs = [ConditioningAttributes(text={key: t}) for t in text]
                provider = self.lm.condition_provider
                text_emb, text_mask = provider(provider.tokenize(attrs))[key]
                text_emb = text_emb * text_mask.unsqueeze(-1).to(text_emb.dtype)
            tokens = torch.cat([tokens, text_emb.to(tokens.dtype)], dim=1)
            mask = torch.cat([mask, text_mask.to(mask.dtype)], dim=1)
        return {key: (tokens, mask)}

    def check_prompts(self) -> None:
        """Raises PromptsUnsupported when this model could not read a text prompt."""
        if isinstance(self.lm.condition_provider.conditioners[self.cross_attention_key], TextProjection):
            self.prompts.tokenizer  # noqa: B018  (loads it, or says why not)

    def rhythm_input(self, cond: VisualConditions, total_steps: int) -> torch.Tensor | None:
        """Per sequence step s, the curve around frame s (the frame whose first codebook step s emits);
        frames past the curve count as 0. The curve is padded to `total_steps` frames before the
        windows are stacked, so a step's features do not depend on how far the batch's padding goes.
        None in stage 1 (the branch is off)."""
        if self.stage < 2:
            return None
        curve = cond.rhythm
        if curve.shape[1] < total_steps:
            curve = F.pad(curve, (0, 0, 0, total_steps - curve.shape[1]))
        x = stack_context(curve, *self.rhythm_context)
        x = x * cond.present.view(-1, 1, 1).to(x.dtype)
        return x[:, :total_steps]

    def sequence_steps(self, num_frames: int) -> int:
        # Delay pattern: one initial special step plus max_delay trailing steps.
        return num_frames + self.max_delay + 1

    # --- training-time forward ----------------------------------------------------------------
    def forward(self, codes: torch.Tensor, cond: VisualConditions,
                text: list[str | None] | None = None) -> LMOutput:
        """Teacher-forced logits [B, K, T, card] for codes [B, K, T] under the visual conditions.
        In training mode, conditions are dropped per row with probability model.cond_dropout."""
        if self.training and self.cond_dropout > 0:
            dropped = torch.rand(cond.batch_size, device=codes.device) < self.cond_dropout
            cond = cond.drop(dropped)
        tensors = self.condition_tensors(cond, text)
        rhythm = self.rhythm_input(cond, self.sequence_steps(codes.shape[-1]))
        with self.injector.using(rhythm), self.cross_mask.using(tensors):
            return self.lm.compute_predictions(codes, [], condition_tensors=tensors)

    def loss(self, codes: torch.Tensor, cond: VisualConditions, frame_mask: torch.Tensor | None = None,
             objective: LossConfig | None = None) -> LossOutput:
        """Cross-entropy per codebook over valid positions; frame_mask [B, T] excludes padding.
        objective (train.stageN.loss): in training, part of the LM's input tokens replaced by random
        ones; the logits read under CFG with its guidance (the null branch is the frozen backbone with
        every condition dropped, on the same inputs, without gradient); the first frames of each window
        weighted. None is the conditional LM's plain cross-entropy."""
        inputs = codes
        if objective is not None and objective.input_noise > 0 and self.training:
            noisy = torch.rand(codes.shape, device=codes.device) < objective.input_noise
            inputs = torch.where(noisy, torch.randint_like(codes, self.lm.card), codes)
        out = self(inputs, cond)
        valid = out.mask
        if frame_mask is not None:
            valid = valid & frame_mask.bool().unsqueeze(1)
        if objective is None:
            return self._loss_output(codebook_losses(out.logits, codes, valid))
        logits = out.logits
        if objective.guidance != 1:
            with torch.no_grad():
                null = self(inputs, cond.null()).logits
            logits = null + objective.guidance * (logits - null)
        weight = torch.ones(codes.shape[-1], device=codes.device)
        weight[:objective.start_frames] = objective.start_weight
        return self._loss_output(codebook_losses(logits, codes, valid, weight))

    @staticmethod
    def _loss_output(per_codebook: torch.Tensor) -> LossOutput:
        return LossOutput(per_codebook.mean(), per_codebook)


def codebook_losses(logits: torch.Tensor, codes: torch.Tensor, valid: torch.Tensor,
                    frame_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy per codebook [K] of logits [B, K, T, card] over the positions `valid` [B, K, T],
    each frame weighted by frame_weight [T] (None: all alike). A masked sum rather than boolean
    indexing: indexing waits for the GPU (it must count the kept positions), in the middle of every
    training step. Positions left out hold NaN logits (audiocraft's marker); they are replaced before
    the loss, never multiplied by 0 (NaN * 0 is NaN)."""
    logits = torch.where(valid.unsqueeze(-1), logits.float(), 0.0)
    token_loss = F.cross_entropy(logits.permute(0, 3, 1, 2), codes, reduction="none")  # [B, K, T]
    weight = valid.to(token_loss.dtype)
    if frame_weight is not None:
        weight = weight * frame_weight.to(weight.dtype)
    return (token_loss * weight).sum(dim=(0, 2)) / weight.sum(dim=(0, 2))
