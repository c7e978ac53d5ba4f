"""Cross-attention that honours the visual tokens' padding mask.

audiocraft's fuser drops the condition mask before the LM's cross-attention, so padded visual tokens
(zeros) still took softmax weight, and a video's music depended on its batch-mates: a window with 2
tokens batched beside one with 4 attended to 2 zero keys it did not have alone. `CrossAttentionMask`
gives each layer a cross-attention block that masks those keys, for every path that runs the LM on
our conditions (teacher-forced training, audiocraft's streaming decoder); the static decoder applies
the same mask itself. Outside `using()` the LM's own block runs, untouched.

A row with no real token (the CFG null branch, a dropped condition: all tokens zero) attends to its
first key alone; that key is a zero token, so the result is what audiocraft's unmasked attention over
all-zero keys gave (the same value everywhere, averaged).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


def attention_projections(attn: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None, nn.Module]:
    """(packed q/k/v weight, its bias, output projection) of an audiocraft attention module, whichever
    implementation it wraps (its own, or torch's nn.MultiheadAttention when `custom` is off)."""
    src = attn if attn.custom else attn.mha
    return src.in_proj_weight, src.in_proj_bias, src.out_proj


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, T, H * D] -> [B, H, T, D]."""
    return x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def key_mask(condition_mask: torch.Tensor) -> torch.Tensor:
    """A condition mask [B, N] (1 = real token) -> the boolean key mask [B, 1, 1, N] for attention,
    with the first key kept for rows that have no real token."""
    keep = condition_mask > 0
    empty = ~keep.any(dim=1)
    keep[:, 0] |= empty
    return keep.view(keep.shape[0], 1, 1, -1)


def keys_values(attn: nn.Module, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The cross-attention keys and values [B, H, N, D] of the condition tokens `source` [B, N, dim]."""
    weight, bias, _ = attention_projections(attn)
    dim = weight.shape[1]
    k_b = v_b = None
    if bias is not None:
        k_b, v_b = bias[dim:2 * dim], bias[2 * dim:]
    return (split_heads(F.linear(source, weight[dim:2 * dim], k_b), attn.num_heads),
            split_heads(F.linear(source, weight[2 * dim:], v_b), attn.num_heads))


def attend_heads(attn: nn.Module, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                 mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Queries [B, H, T, D] over keys and values [B, H, S, D] under `mask`, through the module's output
    projection -> [B, T, dim] in the dtype and shape of `like` (the attention's input)."""
    _, _, out_proj = attention_projections(attn)
    if attn.attention_as_float32:
        q, keys, values = q.float(), keys.float(), values.float()
    out = F.scaled_dot_product_attention(q, keys.to(q.dtype), values.to(q.dtype), attn_mask=mask)
    return out_proj(out.to(like.dtype).transpose(1, 2).reshape(like.shape))


def attend(attn: nn.Module, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
           mask: torch.Tensor) -> torch.Tensor:
    """Masked multi-head attention of `query` [B, T, dim] over precomputed keys and values."""
    weight, bias, _ = attention_projections(attn)
    dim = weight.shape[1]
    q = split_heads(F.linear(query, weight[:dim], None if bias is None else bias[:dim]), attn.num_heads)
    return attend_heads(attn, q, keys, values, mask, query)


class CrossAttentionMask:
    """Installs the masked cross-attention block on each layer of an audiocraft transformer."""

    def __init__(self, transformer: nn.Module):
        self._mask: torch.Tensor | None = None
        self._layers = [layer for layer in transformer.layers if layer.cross_attention is not None]
        for layer in self._layers:
            # An instance attribute shadows the class's method for this layer only.
            layer._cross_attention_block = self._block(layer, layer._cross_attention_block)

    def remove(self) -> None:
        for layer in self._layers:
            layer.__dict__.pop("_cross_attention_block", None)
        self._layers = []

    @contextlib.contextmanager
    def using(self, condition_tensors: dict):
        """Masks the padded tokens of the (single) cross-attention condition for the forwards inside."""
        masks = [mask for _, mask in condition_tensors.values()]
        if len(masks) != 1:
            raise ValueError(f"one cross-attention condition expected, got {len(masks)}")
        previous = self._mask
        self._mask = key_mask(masks[0])
        try:
            yield
        finally:
            self._mask = previous

    def _block(self, layer: nn.Module, original):
        def block(src: torch.Tensor, cross_attention_src: torch.Tensor) -> torch.Tensor:
            if self._mask is None:
                return original(src, cross_attention_src)
            keys, values = keys_values(layer.cross_attention, cross_attention_src)
            return layer.dropout_cross(attend(layer.cross_attention, src, keys, values, self._mask))
        return block
