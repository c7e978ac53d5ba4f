"""Global (semantic) path: CLS tokens at 1 fps -> embedding manager -> LoRA-tuned T5 encoder ->
projector -> the LM's cross-attention, in the place of the text prompt.

Choices where the paper is silent:
- Each visual token gets a sinusoidal embedding of its time (in token steps from the window start)
  added after the embedding manager: T5's relative position bias gives order, not absolute time.
- The projector starts as a copy of the backbone's own text projector when the shapes allow
  (T5 width -> LM width): pseudo-tokens in T5's output space then land where MusicGen expects text.
- audiocraft's fuser drops the condition mask before cross-attention, so padded positions are zeroed
  here; a dropped (classifier-free) condition is all zeros, like MusicGen's null text condition.
"""
from __future__ import annotations

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model
from torch import nn
from transformers import T5EncoderModel

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.modules.transformer import create_sin_embedding


LORA_MARKER = "lora_"


class SemanticAdapter(nn.Module):
    def __init__(self, clip_dim: int, t5: T5EncoderModel, lm_dim: int, lora: PeftLoraConfig,
                 time_period: float | None, text_projector: nn.Linear | None = None):
        """time_period: max period of the tokens' sinusoidal time embedding; None adds none."""
        super().__init__()
        d_model = int(t5.config.d_model)
        self.time_period = time_period
        self.manager = nn.Linear(clip_dim, d_model)
        for p in t5.parameters():
            p.requires_grad_(False)
        self.t5 = get_peft_model(t5, lora)
        self.projector = nn.Linear(d_model, lm_dim)
        if text_projector is not None and text_projector.weight.shape == self.projector.weight.shape:
            with torch.no_grad():
                self.projector.weight.copy_(text_projector.weight)
                if text_projector.bias is not None:
                    self.projector.bias.copy_(text_projector.bias)

    def forward(self, cls: torch.Tensor, steps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """cls [B, N, Dc], steps [B, N] (time in token steps from the window start), mask [B, N]
        (1 = real token) -> [B, N, lm_dim] with padded positions exactly zero."""
        x = self.manager(cls)
        if self.time_period is not None:
            x = x + create_sin_embedding(steps.unsqueeze(-1).to(x.dtype), x.shape[-1],
                                         max_period=self.time_period, dtype=x.dtype)
        # A row with no token at all (a dropped condition) still needs one key for T5's attention.
        attn = mask.clone()
        attn[:, 0] = 1
        hidden = self.t5(inputs_embeds=x, attention_mask=attn.long()).last_hidden_state
        return self.projector(hidden) * mask.unsqueeze(-1).to(hidden.dtype)
