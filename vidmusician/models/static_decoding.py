"""Static-shape decoding: the adapted LM one step at a time over a KV cache allocated once.

Why: audiocraft's streaming grows each layer's keys and values with `torch.cat` at every step, so
every step has new shapes, copies the whole cache and launches a few hundred small kernels from
Python; at small batches the GPU waits on those launches. Here the caches are allocated once per
window ([rows, heads, steps, head_dim] per layer) and written in place, so a step's shapes depend
only on how far into the cache it must attend. Attention lengths are rounded up to buckets of
`generation.graph_bucket_steps`; on CUDA each bucket's step is captured once as a CUDA graph and
replayed.

Same math as the streaming path, with the same weights (read from the audiocraft modules, never
copied): the codebook embeddings summed, sinusoidal positions, pre-norm blocks, cross-attention to
the visual tokens (their keys and values projected once per window instead of at every step), the
rhythm adapter's features added before its blocks at each absolute step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.modules.transformer import create_sin_embedding

from vidmusician.models.cross_attention import (attend, attend_heads, attention_projections, key_mask,
                                                keys_values, split_heads)
from vidmusician.models.vidmusician import VidMusician


def check_supported(model: VidMusician) -> None:
    """The layer features this decoder reproduces; anything else would decode different music."""
    tr = model.lm.transformer
    problems = []
    if tr.positional_embedding != "sin":
        problems.append(f"positional_embedding={tr.positional_embedding!r} (only 'sin')")
    for i, layer in enumerate(tr.layers):
        sa = layer.self_attn
        if not layer.norm_first:
            problems.append(f"layer {i}: post-norm")
        if sa.past_context is not None or sa.rope is not None or sa.kv_repeat != 1 or sa.qk_layer_norm:
            problems.append(f"layer {i}: past_context, rope, kv_repeat or qk_layer_norm")
        if layer.cross_attention is not None and layer.cross_attention.qk_layer_norm:
            problems.append(f"layer {i}: cross-attention qk_layer_norm")
    if problems:
        raise ValueError("generation.fast does not support this backbone: " + "; ".join(problems))


class StaticDecoder:
    """One window's decoding state for `rows` sequences (both CFG branches) of up to `steps` steps."""

    def __init__(self, model: VidMusician, condition_tensors: dict, rhythm: torch.Tensor | None,
                 rows: int, steps: int, bucket: int, graphs: bool):
        check_supported(model)
        lm = model.lm
        self.model, self.lm, self.steps, self.bucket = model, lm, steps, max(1, bucket)
        self.device = lm.emb[0].weight.device
        # The cache holds keys and values as the layers compute them: in the autocast precision when
        # one is on (audiocraft's GPU layout: transformer in half precision, embeddings and heads in
        # float32, run under autocast), else in the transformer's own precision.
        self.dtype = (torch.get_autocast_dtype(self.device.type) if torch.is_autocast_enabled(self.device.type)
                      else next(lm.transformer.parameters()).dtype)
        self.input_dtype = lm.emb[0].weight.dtype
        self.heads = lm.transformer.layers[0].self_attn.num_heads
        self.dim = lm.dim
        head_dim = self.dim // self.heads
        shape = (len(lm.transformer.layers), rows, self.heads, steps, head_dim)
        self.keys = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.values = torch.zeros_like(self.keys)
        self.key_pos = torch.arange(steps, device=self.device)
        self.rhythm = rhythm
        self.cross = self._cross_keys_values(condition_tensors, rows)
        (_, condition_mask), = condition_tensors.values()
        self.cross_mask = key_mask(condition_mask)
        self.graphs_on = graphs and self.device.type == "cuda"
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._pool = None
        self._tokens = torch.zeros(rows, lm.num_codebooks, 1, dtype=torch.long, device=self.device)
        self._position = torch.zeros(1, dtype=torch.long, device=self.device)

    def _cross_keys_values(self, condition_tensors: dict, rows: int) -> list:
        """Per layer, the visual tokens' keys and values (the streaming path recomputes them each step)."""
        _, source = self.lm.fuser(torch.zeros(rows, 1, self.dim, dtype=self.input_dtype, device=self.device),
                                  condition_tensors)
        return [None if layer.cross_attention is None else keys_values(layer.cross_attention, source)
                for layer in self.lm.transformer.layers]

    def _span(self, last_position: int) -> int:
        """How many cache steps a step at `last_position` reads: rounded up to the bucket size."""
        return min(self.steps, -(-(last_position + 1) // self.bucket) * self.bucket)

    def _forward(self, tokens: torch.Tensor, positions: torch.Tensor, span: int) -> torch.Tensor:
        """tokens [rows, K, T] at absolute steps `positions` [T] -> logits of the last step [rows, K, card].
        Keys past `span` are never read; the mask hides those not yet written."""
        lm, tr = self.lm, self.lm.transformer
        x = sum([lm.emb[k](tokens[:, k]) for k in range(tokens.shape[1])])
        x = x + tr.positional_scale * create_sin_embedding(positions.view(1, -1, 1), self.dim,
                                                           max_period=tr.max_period, dtype=x.dtype)
        per_block = []
        if self.rhythm is not None:
            per_block = self.model.rhythm(self.rhythm.index_select(1, positions).to(x.dtype))
        mask = self.key_pos[:span].view(1, -1) <= positions.view(-1, 1)  # [T, span]
        for j, layer in enumerate(tr.layers):
            if j < len(per_block):
                x = x + per_block[j].to(x.dtype)
            x = x + layer.layer_scale_1(self._self_attention(j, layer, layer.norm1(x), positions, span, mask))
            if self.cross[j] is not None:
                keys, values = self.cross[j]
                x = x + layer.layer_scale_cross(attend(layer.cross_attention, layer.norm_cross(x), keys, values,
                                                       self.cross_mask))
            x = x + layer.layer_scale_2(layer._ff_block(layer.norm2(x)))
        if lm.out_norm is not None:
            x = lm.out_norm(x)
        last = x[:, -1]
        return torch.stack([lm.linears[k](last) for k in range(len(lm.linears))], dim=1)

    def _self_attention(self, j, layer, h, positions, span, mask):
        weight, bias, _ = attention_projections(layer.self_attn)
        q, k, v = F.linear(h, weight, bias).chunk(3, dim=-1)
        self.keys[j].index_copy_(2, positions, split_heads(k, self.heads).to(self.dtype))
        self.values[j].index_copy_(2, positions, split_heads(v, self.heads).to(self.dtype))
        return attend_heads(layer.self_attn, split_heads(q, self.heads), self.keys[j, :, :, :span],
                            self.values[j, :, :, :span], mask, h)

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """Feeds tokens [rows, K, T] at steps start .. start+T-1; logits of the last one [rows, K, card]."""
        steps = tokens.shape[-1]
        end = start + steps
        if end > self.steps:
            raise ValueError(f"step {end - 1} is past this decoder's {self.steps} steps")
        span = self._span(end - 1)
        if steps == 1 and self.graphs_on:
            return self._replay(tokens, start, span)
        positions = torch.arange(start, end, device=self.device)
        return self._forward(tokens, positions, span)

    def _replay(self, tokens: torch.Tensor, position: int, span: int) -> torch.Tensor:
        self._tokens.copy_(tokens)
        self._position.fill_(position)
        if span not in self._graphs:
            self._graphs[span] = self._capture(span)
        graph, logits = self._graphs[span]
        graph.replay()
        return logits.clone()

    def _capture(self, span: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        # Warm-up and capture run the step on the current inputs: they write the same keys and values
        # that the replay after them writes, so the cache is left as one step would leave it.
        # torch.cuda.graph() would also run gc.collect() and empty_cache() before every capture (a
        # window captures one graph per bucket); capture_begin/end on a side stream skip those, and the
        # window's graphs share one memory pool (they never run at the same time).
        autocast = dict(device_type="cuda", enabled=torch.is_autocast_enabled("cuda"),
                        dtype=torch.get_autocast_dtype("cuda"), cache_enabled=False)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.stream(side), torch.autocast(**autocast):
            self._forward(self._tokens, self._position, span)  # warm-up, as CUDA graphs require
            graph.capture_begin(pool=self._pool)
            try:
                logits = self._forward(self._tokens, self._position, span)
            finally:
                graph.capture_end()
        torch.cuda.current_stream().wait_stream(side)
        return graph, logits
