"""Numeric precision: one setting, `precision` (fp32, bf16, fp16), for generation, features,
evaluation and training, on every device.

The choice: autocast over a weight layout that is ours, whatever loaded the model. audiocraft's
loader stores the LM's transformer in float16 on any GPU (embeddings, output norm and heads stay
float32) because its MusicGen only ever runs under autocast; called without autocast, such an LM
fails at its first layer norm. So:
- the LM transformer's matmul weights (attention projections, feed-forward linears) are stored in
  the precision's dtype: half the memory and bandwidth of the largest weights;
- everything else stays float32: layer norms, embeddings, the output heads, the adapters (trained:
  their float32 weights are the optimizer's master copy), CLIP and T5 (autocast casts their matmuls),
  and the codec (convolutions and an LSTM, a small share of the time, run outside autocast). The
  residual stream stays float32, so sinusoidal positions past 256 keep their exact values, which a
  bfloat16 stream would round;
- the model runs under `torch.autocast` to that dtype on whatever device it is on (CPU included),
  which runs the matmuls in half precision and the norms and softmax in float32.
fp32 stores everything in float32 and runs without autocast. Weights are loaded in float32 (on the
CPU) and cast once, so bf16 never inherits a float16 copy's rounding.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.modules.transformer import StreamingMultiheadAttention

from vidmusician.config.schema import Precision


DTYPES = {Precision.fp32: torch.float32, Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}
# Modules whose own parameters are matmul weights (StreamingMultiheadAttention keeps its packed q/k/v
# projection as a parameter of its own; nn.MultiheadAttention likewise).
_MATMUL_MODULES = (nn.Linear, nn.MultiheadAttention, StreamingMultiheadAttention)


def dtype_of(precision: Precision | str) -> torch.dtype:
    return DTYPES[Precision(precision)]


def autocast(device: torch.device | str, precision: Precision | str):
    """The context every forward of the model runs in: autocast to the precision's dtype, or nothing
    for fp32."""
    precision = Precision(precision)
    if precision is Precision.fp32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])


def apply_lm_layout(lm: nn.Module, precision: Precision | str) -> nn.Module:
    """Stores the LM's transformer matmul weights in the precision's dtype and every other parameter
    and buffer of the LM in float32 (whatever layout it was loaded with)."""
    dtype = dtype_of(precision)
    lm.float()
    if dtype != torch.float32:
        for module in lm.transformer.modules():
            if isinstance(module, _MATMUL_MODULES):
                for name, param in module.named_parameters(recurse=False):
                    param.data = param.data.to(dtype)
    return lm


def layout_of(lm: nn.Module) -> dict[str, int]:
    """Parameter counts by dtype (for reports and tests)."""
    out: dict[str, int] = {}
    for p in lm.parameters():
        key = str(p.dtype).replace("torch.", "")
        out[key] = out.get(key, 0) + p.numel()
    return out
