"""Local (rhythmic) path: how much the picture changes from frame to frame, injected into the LM's
early blocks ("in-attention").

Choices where the paper is silent:
- Reduction over patches: d_t is computed per patch, 1 - cos(p_t, p_t-1), then reduced per frame to
  `mean` (how much of the picture changed) and, with `mean_max`, also `max` (a small object moving
  fast changes few patches a lot, which the mean alone washes out). d_0 = 1, as in the paper.
- Context: position s of the delay-pattern sequence emits codebook q of frame s - q, so its input
  stacks the curve at frames s - context_before .. s + context_after (future frames are known: the
  video is given whole).
- The chain O, L_1..L_n is linear, as described: O zero-initialised (the branch adds exactly 0 when
  it is switched on), each L_j identity-initialised (the signal reaches deeper blocks unchanged).
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from vidmusician.config.schema import RhythmConfig
from vidmusician.config.validate import RHYTHM_REDUCTIONS

REDUCTIONS = RHYTHM_REDUCTIONS


def patch_change_curve(patches: torch.Tensor, reduction: str = "mean_max") -> torch.Tensor:
    """[N, P, D] patch tokens -> [N, S] per-frame change statistics (S = 1 or 2)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"model.rhythm.reduction={reduction!r}: expected one of {sorted(REDUCTIONS)}")
    n = patches.shape[0]
    stats = REDUCTIONS[reduction]
    curve = torch.ones(n, stats, dtype=torch.float32, device=patches.device)
    if n > 1:
        dist = 1.0 - F.cosine_similarity(patches[1:].float(), patches[:-1].float(), dim=-1)  # [N-1, P]
        curve[1:, 0] = dist.mean(dim=-1)
        if reduction == "mean_max":
            curve[1:, 1] = dist.amax(dim=-1)
    return curve


def resample_curve(curve: torch.Tensor, src_fps: float, dst_rate: float, num_frames: int) -> torch.Tensor:
    """Linear interpolation of a [N, S] curve sampled at src_fps onto num_frames frames at dst_rate.
    Frames past the end of the curve hold its last value."""
    n = curve.shape[0]
    if n == 0:
        return torch.zeros(num_frames, curve.shape[1], dtype=curve.dtype, device=curve.device)
    pos = torch.arange(num_frames, dtype=torch.float64, device=curve.device) * (src_fps / dst_rate)
    pos = pos.clamp(max=n - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n - 1)
    w = (pos - lo).to(curve.dtype).unsqueeze(-1)
    return curve[lo] * (1 - w) + curve[hi] * w


def stack_context(curve: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """[..., T, S] -> [..., T, S * (before + 1 + after)]; frames outside the curve count as 0."""
    padded = F.pad(curve, (0, 0, before, after))
    t = curve.shape[-2]
    views = [padded[..., k:k + t, :] for k in range(before + 1 + after)]
    return torch.cat(views, dim=-1)


def rhythm_input_dim(rcfg: RhythmConfig) -> int:
    return REDUCTIONS[rcfg.reduction] * (rcfg.context_before + 1 + rcfg.context_after)


def num_rhythm_blocks(num_layers: int, fraction: float) -> int:
    return max(1, min(num_layers, math.floor(num_layers * fraction + 0.5)))


class RhythmAdapter(nn.Module):
    """F_1 = L_1(O(x)), F_j = L_j(F_j-1); F_j is added to the hidden state entering block j."""

    def __init__(self, in_dim: int, dim: int, num_blocks: int):
        super().__init__()
        self.input_proj = nn.Linear(in_dim, dim)  # O
        nn.init.zeros_(self.input_proj.weight)
        nn.init.zeros_(self.input_proj.bias)
        self.chain = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_blocks))  # L_j
        for layer in self.chain:
            nn.init.eye_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.input_proj(x)
        out = []
        for layer in self.chain:
            h = layer(h)
            out.append(h)
        return out


class RhythmInjector:
    """Adds a RhythmAdapter's outputs to the LM's early blocks through forward pre-hooks.

    The base modules stay untouched. Positions are absolute sequence steps: the transformer's own
    streaming offset is read on every call, so step-by-step generation (one step per call, after a
    multi-step prompt) gets exactly the features a teacher-forced forward gives the same step.
    """

    def __init__(self, transformer: nn.Module, adapter: RhythmAdapter):
        self.transformer = transformer
        self.adapter = adapter
        self._input: torch.Tensor | None = None  # [B, S_total, in_dim] for the current batch
        self._per_block: list[torch.Tensor] | None = None
        layers = transformer.layers
        if len(adapter.chain) > len(layers):
            raise ValueError(f"rhythm adapter has {len(adapter.chain)} blocks, the LM only {len(layers)}")
        self._handles = [transformer.register_forward_pre_hook(self._on_transformer)]
        for j in range(len(adapter.chain)):
            self._handles.append(layers[j].register_forward_pre_hook(self._make_layer_hook(j)))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    @contextlib.contextmanager
    def using(self, rhythm_input: torch.Tensor | None):
        """Features for the forwards run inside the block: [B, S_total, in_dim] or None (no injection)."""
        previous = self._input
        self._input = rhythm_input
        try:
            yield
        finally:
            self._input = previous
            self._per_block = None

    def _on_transformer(self, module, args):
        self._per_block = None
        if self._input is None:
            return None
        x = args[0]
        batch, steps = x.shape[:2]
        if self._input.shape[0] != batch:
            raise ValueError(f"rhythm features for batch {self._input.shape[0]}, LM batch is {batch}")
        offsets = module._streaming_state.get("offsets")
        if offsets is None:
            offsets = torch.zeros(batch, dtype=torch.long, device=x.device)
        positions = offsets.view(-1, 1) + torch.arange(steps, device=x.device).view(1, -1)  # [B, T]
        total = self._input.shape[1]
        valid = (positions < total).unsqueeze(-1)
        gathered = torch.gather(self._input, 1, positions.clamp(max=total - 1).unsqueeze(-1)
                                .expand(-1, -1, self._input.shape[-1]))
        gathered = torch.where(valid, gathered, torch.zeros_like(gathered)).to(x.dtype)
        self._per_block = self.adapter(gathered)
        return None

    def _make_layer_hook(self, j: int):
        def hook(module, args):
            if self._per_block is None:
                return None
            return (args[0] + self._per_block[j].to(args[0].dtype),) + tuple(args[1:])
        return hook
