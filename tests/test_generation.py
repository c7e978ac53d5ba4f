"""Generation on the debug preset: classifier-free guidance and sliding windows."""
from __future__ import annotations

import math

import pytest
import torch

from model_fixtures import conditions, debug_config, fresh_model, perturb_adapters
from vidmusician.models import generation
from vidmusician.models.generation import VideoFeatures, generate_tokens, plan_generation_windows, soundtrack

FRAMES = 30


def trained_model():
    model = fresh_model()
    model.set_stage(2)
    perturb_adapters(model, "semantic.")
    perturb_adapters(model, "rhythm.", seed=2)
    return model.eval()


def test_cfg_coefficient_one_equals_the_conditional_branch():
    model = trained_model()
    cond = conditions(model, 3, FRAMES)
    gcfg = debug_config("generation.cfg_coef=1.0").generation
    for sampling in (False, True):
        gcfg.use_sampling = sampling
        both = generate_tokens(model, cond, FRAMES, gcfg, cfg=True, seeds=torch.tensor([5, 6, 7]))
        alone = generate_tokens(model, cond, FRAMES, gcfg, cfg=False, seeds=torch.tensor([5, 6, 7]))
        assert torch.equal(both, alone)
    # With guidance on, the null branch does change the result.
    gcfg.use_sampling, gcfg.cfg_coef = False, 3.0
    guided = generate_tokens(model, cond, FRAMES, gcfg, cfg=True)
    assert not torch.equal(guided, alone)


def test_batched_rows_are_independent():
    """A video generates the same music alone or batched with others (greedy decoding)."""
    model = trained_model()
    gcfg = debug_config("generation.use_sampling=false").generation
    cond = conditions(model, 3, FRAMES, pad=0)
    batched = generate_tokens(model, cond, FRAMES, gcfg)
    single = cond.drop(torch.tensor([False, True, True]))
    single = type(cond)(*(t[:1] for t in (single.cls, single.cls_steps, single.cls_mask, single.rhythm,
                                          single.present)))
    alone = generate_tokens(model, single, FRAMES, gcfg)
    assert torch.equal(batched[:1], alone)


def test_window_plan_covers_the_video_with_context():
    plan = plan_generation_windows(250, window=100, context=25)
    assert plan[0].start == 0 and plan[-1].end == 250
    for prev, cur in zip(plan, plan[1:]):
        assert cur.start == prev.end - 25 and cur.prompt == 25
    assert all(w.end - w.start <= 100 for w in plan)


def video(model, duration_s: float, seed: int = 0) -> VideoFeatures:
    g = torch.Generator().manual_seed(seed)
    fr = model.frame_rate
    return VideoFeatures(cls=torch.randn(math.ceil(duration_s) + 1, model.semantic.manager.in_features, generator=g),
                         rhythm=torch.rand(math.ceil(duration_s * fr) + 1, 2, generator=g),
                         duration_s=duration_s)


def test_long_video_gets_exactly_its_duration_and_each_window_continues_the_last(monkeypatch):
    """Every window after the first is prompted with the previous window's last `context_s` of tokens,
    keeps that prompt, and the tokens decoded for a video are its windows' tokens, joined without a
    gap or a seam (a window left out would decode zeros, which are not silence)."""
    model = trained_model()
    gcfg = debug_config().generation  # 2 s windows, 0.5 s context
    step = gcfg.window_s - gcfg.context_s
    durations = [gcfg.window_s + 1.5 * step - 0.013, 1.3]  # 2.5 windows, and a short one in the batch
    calls, decoded = [], []
    real_generate, real_decode = generation.generate_tokens, model.codec.decode

    def recording_generate(model_, cond, num_frames, gcfg_, prompt=None, **kwargs):
        out = real_generate(model_, cond, num_frames, gcfg_, prompt=prompt, **kwargs)
        calls.append((prompt, out))
        return out

    def recording_decode(codes, scale=None):
        decoded.append(codes)
        return real_decode(codes, scale)

    monkeypatch.setattr(generation, "generate_tokens", recording_generate)
    monkeypatch.setattr(model.codec, "decode", recording_decode)
    feats = [video(model, d, seed=i) for i, d in enumerate(durations)]
    waves = soundtrack(model, feats, gcfg, seeds=[11, 12])

    fr, sr = model.frame_rate, model.sample_rate
    context = round(gcfg.context_s * fr)
    plans = [plan_generation_windows(math.ceil(d * fr), round(gcfg.window_s * fr), context) for d in durations]
    assert [len(p) for p in plans] == [3, 1] and len(calls) == 3 and len(decoded) == 2

    def row_of(video: int, r: int) -> int:
        """The video's row in round r's batch: the videos that still have a window, in order."""
        return [j for j, p in enumerate(plans) if r < len(p)].index(video)

    for i, (plan, wav, d) in enumerate(zip(plans, waves, durations)):
        assert wav.shape == (round(d * sr),) and torch.isfinite(wav).all()
        tokens = decoded[i][0]
        assert tokens.shape[-1] == plan[-1].end and (tokens >= 0).all()
        for r, w in enumerate(plan):
            row = row_of(i, r)
            prompt, out = calls[r]
            assert torch.equal(tokens[:, w.start:w.end], out[row, :, :w.end - w.start])
            if r == 0:
                assert prompt is None and w.prompt == 0
                continue
            prev = plan[r - 1]
            tail = calls[r - 1][1][row_of(i, r - 1), :, prev.end - prev.start - context:prev.end - prev.start]
            assert w.prompt == context and torch.equal(prompt[row], tail)  # the previous window's tail
            assert torch.equal(out[row, :, :context], tail)  # kept, not regenerated


def codes_of(model, feats, gcfg, seeds: list[int] | None = None) -> list[torch.Tensor]:
    """The tokens each video gets (captured where the codec decodes them)."""
    decoded = []
    real_decode = model.codec.decode

    def recording_decode(codes, scale=None):
        decoded.append(codes.clone())
        return real_decode(codes, scale)

    model.codec.decode = recording_decode
    try:
        soundtrack(model, feats, gcfg, seeds=seeds)
    finally:
        del model.codec.decode
    return decoded


@pytest.mark.parametrize("fast", [True, False], ids=["static", "streaming"])
@pytest.mark.parametrize("sampling", [False, True], ids=["greedy", "seeded"])
def test_a_videos_music_does_not_depend_on_its_batch_mates(fast, sampling):
    """A short video alone, and batched between a longer and a shorter one (other token counts, other
    window counts), gets the same tokens: padded visual tokens are masked out of the cross-attention,
    and each video's sampling noise is its own."""
    model = trained_model()
    gcfg = debug_config(f"generation.use_sampling={str(sampling).lower()}", "generation.top_k=20",
                        f"generation.fast={str(fast).lower()}").generation
    step = gcfg.window_s - gcfg.context_s
    # One visual token in its window; the longer video has two per window: the short one is padded.
    short, longer, shorter = video(model, 0.9, seed=1), video(model, gcfg.window_s + 1.5 * step, seed=2), \
        video(model, 0.5, seed=3)
    alone = codes_of(model, [short], gcfg, seeds=[7])[0]
    batched = codes_of(model, [longer, short, shorter], gcfg, seeds=[3, 7, 5])
    assert torch.equal(alone, batched[1])
    # The seed does shape the music (the check above is not between two seed-blind runs).
    if sampling:
        assert not torch.equal(alone, codes_of(model, [short], gcfg, seeds=[8])[0])


def test_a_rows_codes_past_its_own_length_are_never_sampled():
    """Rows shorter than the window get the special token past their end, as when decoded alone."""
    model = trained_model()
    gcfg = debug_config("generation.use_sampling=true").generation
    cond = conditions(model, 2, FRAMES)
    out = generate_tokens(model, cond, FRAMES, gcfg, lengths=[FRAMES - 7, FRAMES])
    assert (out[0, :, FRAMES - 7:] == model.lm.special_token_id).all()
    assert (out[0, :, :FRAMES - 7] < model.lm.card).all() and (out[1] < model.lm.card).all()


def test_long_music_is_decoded_in_chunks_that_match_one_whole_decode():
    """Chunks with a margin of tokens on both sides agree with one decode of all tokens to float
    precision; without the margin the seams differ (the codec's LSTM and convolutions need context)."""
    model = fresh_model()
    tokens = torch.randint(0, debug_config().model.musicgen.codec.bins, (1, model.lm.num_codebooks, 1200))
    with torch.no_grad():
        whole = model.codec.decode(tokens, None)
        chunked = generation.decode_audio(model.codec, tokens, model.frame_rate, model.sample_rate, 250, 50)
        seamed = generation.decode_audio(model.codec, tokens, model.frame_rate, model.sample_rate, 250, 0)
    scale = whole.abs().max().item()
    assert chunked.shape == whole.shape and (chunked - whole).abs().max().item() < 1e-5 * scale
    assert (seamed - whole).abs().max().item() > 1e-2 * scale
