"""Token sampling whose randomness belongs to each row, not to the batch.

`torch.multinomial` with one generator draws every row's randomness from one stream, so a video's
music depended on which videos shared its batch (and in which order); the soundtracking job hid this
behind a seed per batch. Here each row has its own integer seed, and the noise of row b at step s,
codebook k, token v is a hash of (seed_b, s, k, v): the same numbers whatever the batch. Sampling is
the Gumbel-max trick on that noise, which draws exactly from the (top-k or top-p filtered)
distribution; one vectorised pass per step, with no generator state (so it also runs inside CUDA
graphs). The hash is SplitMix64's finaliser on int64 (torch's int64 products wrap around; its right
shifts are arithmetic, so they are masked to act as the logical shifts the finaliser expects).
"""
from __future__ import annotations

import hashlib

import torch

from vidmusician.config.schema import GenerationConfig

SEED_BITS = 63
_UNIFORM_BITS = 24  # float32 holds 24 bits of mantissa exactly
_MIX_1, _MIX_2 = -4658895280553007687, -7723592293110705685  # 0xbf58476d1ce4e5b9, 0x94d049bb133111eb


def derive_seed(*parts) -> int:
    """A 63-bit seed from any values (a run seed, a content hash, a window index...)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << SEED_BITS) - 1)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _mix(x: torch.Tensor) -> torch.Tensor:
    x = x ^ _shift_right(x, 30)
    x = x * _MIX_1
    x = x ^ _shift_right(x, 27)
    x = x * _MIX_2
    return x ^ _shift_right(x, 31)


def uniform_noise(seeds: torch.Tensor, step: int, codebooks: int, card: int) -> torch.Tensor:
    """[B, K, card] uniforms in (0, 1), a function of (seed, step, codebook, token) alone."""
    device = seeds.device
    index = (step * codebooks + torch.arange(codebooks, device=device).view(1, -1, 1)) * card \
        + torch.arange(card, device=device).view(1, 1, -1)
    bits = _shift_right(_mix(_mix(seeds.view(-1, 1, 1)) + index), 64 - _UNIFORM_BITS)
    return (bits.float() + 0.5) / float(1 << _UNIFORM_BITS)


def _top_p(probs: torch.Tensor, p: float) -> torch.Tensor:
    """Keeps the smallest set of most likely tokens whose probability reaches p (as audiocraft's)."""
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    drop = torch.cumsum(sorted_probs, dim=-1) - sorted_probs > p
    return probs * ~drop.scatter(-1, order, drop)


def _top_k(probs: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, probs.shape[-1])  # top_k above the codebook size would fail in topk
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]
    return probs * (probs >= kth)


def sample(logits: torch.Tensor, gcfg: GenerationConfig, seeds: torch.Tensor, step: int) -> torch.Tensor:
    """logits [B, K, card] -> tokens [B, K, 1]; greedy, or drawn with each row's own noise."""
    if not gcfg.use_sampling or gcfg.temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = torch.softmax(logits.float() / gcfg.temperature, dim=-1)
    if gcfg.top_p > 0:
        probs = _top_p(probs, gcfg.top_p)
    elif gcfg.top_k > 0:
        probs = _top_k(probs, gcfg.top_k)
    gumbel = -torch.log(-torch.log(uniform_noise(seeds, step, probs.shape[1], probs.shape[2])))
    return (torch.log(probs) + gumbel).argmax(dim=-1, keepdim=True)
