"""The static-shape decoder (generation.fast) makes exactly the tokens of audiocraft's streaming."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from model_fixtures import conditions, debug_config
from test_generation import codes_of, trained_model, video
from vidmusician.models.static_decoding import StaticDecoder, check_supported


@pytest.mark.parametrize("sampling", [False, True], ids=["greedy", "seeded"])
def test_fast_decoding_gives_the_streaming_tokens(sampling):
    """Adapters on (semantic and rhythm perturbed away from their identity start), CFG, videos of
    different lengths batched together, windows prompted by the previous one's tail."""
    model = trained_model()
    gcfg = debug_config(f"generation.use_sampling={str(sampling).lower()}", "generation.top_k=20",
                        "generation.graph_bucket_steps=16").generation
    step = gcfg.window_s - gcfg.context_s
    feats = [video(model, d, seed=i) for i, d in enumerate([gcfg.window_s + 1.5 * step, 1.3, 3.1])]
    streaming = codes_of(model, feats, dataclasses.replace(gcfg, fast=False))
    fast = codes_of(model, feats, dataclasses.replace(gcfg, fast=True))
    assert len(streaming) == len(fast) == 3
    for a, b in zip(streaming, fast):
        assert torch.equal(a, b)
    # The rhythm branch and the conditions shape these tokens: the comparison is not between two
    # decoders that both ignore the adapters.
    model.rhythm.input_proj.weight.data.mul_(3.0)
    moved = codes_of(model, feats, dataclasses.replace(gcfg, fast=True))
    assert any(not torch.equal(a, b) for a, b in zip(fast, moved))


def test_a_step_past_the_cache_and_unsupported_backbones_are_refused():
    model = trained_model()
    decoder = StaticDecoder(model, model.condition_tensors(conditions(model, 1, 4)), None, rows=1, steps=4,
                            bucket=2, graphs=False)
    tokens = torch.zeros(1, model.lm.num_codebooks, 1, dtype=torch.long)
    assert decoder(tokens, 3).shape == (1, model.lm.num_codebooks, model.lm.card)
    with pytest.raises(ValueError, match="past this decoder"):
        decoder(tokens, 4)
    model.lm.transformer.positional_embedding = "rope"
    with pytest.raises(ValueError, match="positional_embedding='rope'"):
        check_supported(model)


