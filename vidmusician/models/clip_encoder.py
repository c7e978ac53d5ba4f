"""Frozen CLIP vision encoder: per frame, the CLS embedding (global path) and the patch tokens (local path)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import CLIPVisionModel

from vidmusician.config.schema import Precision
from vidmusician.models.precision import autocast

# CLIP's published input normalisation (openai/clip-vit-*): per-channel RGB mean and std.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
UINT8_MAX = 255.0


@dataclass
class FrameFeatures:
    cls: torch.Tensor      # [N, D] post-layernorm CLS embedding per frame
    patches: torch.Tensor  # [N, P, D] patch tokens per frame


class ClipEncoder(torch.nn.Module):
    def __init__(self, model: CLIPVisionModel, precision: Precision = Precision.fp32):
        super().__init__()
        self.model = model
        self.precision = Precision(precision)  # float32 weights, matmuls under autocast (precision.py)
        self.image_size = int(model.config.image_size)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_patches(self) -> int:
        return (self.image_size // int(self.model.config.patch_size)) ** 2

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [N, H, W, 3] -> normalised float [N, 3, S, S]. The decoder normally delivers frames at
        the encoder's size already; other sizes are resized (CLIP's centre crop is not applied)."""
        x = frames.to(self.mean.device).permute(0, 3, 1, 2).float() / UINT8_MAX
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              antialias=True, align_corners=False)
        return (x - self.mean) / self.std

    @torch.no_grad()
    def forward(self, frames: torch.Tensor, batch_size: int = 256) -> FrameFeatures:
        cls, patches = [], []
        for start in range(0, frames.shape[0], batch_size):
            pixels = self.preprocess(frames[start:start + batch_size]).to(self.model.dtype)
            with autocast(self.mean.device, self.precision):
                out = self.model(pixel_values=pixels)
            cls.append(out.pooler_output.float())
            patches.append(out.last_hidden_state[:, 1:].float())
        if not cls:
            empty = torch.zeros(0, self.dim, device=self.mean.device)
            return FrameFeatures(empty, torch.zeros(0, self.num_patches, self.dim, device=self.mean.device))
        return FrameFeatures(torch.cat(cls), torch.cat(patches))
