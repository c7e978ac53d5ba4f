"""Generation on the debug preset: classifier-free guidance and sliding windows."""
from __future__ import annotations

import math

import torch

from model_fixtures import conditions, debug_config, fresh_model, perturb_adapters
from vidmusician.models import generation
from vidmusician.models.generation import VideoFeatures, generate_tokens, plan_windows, soundtrack

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
        both = generate_tokens(model, cond, FRAMES, gcfg, cfg=True, generator=torch.Generator().manual_seed(5))
        alone = generate_tokens(model, cond, FRAMES, gcfg, cfg=False, generator=torch.Generator().manual_seed(5))
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
    plan = plan_windows(250, window=100, context=25)
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
    waves = soundtrack(model, feats, gcfg, generator=torch.Generator().manual_seed(0))

    fr, sr = model.frame_rate, model.sample_rate
    context = round(gcfg.context_s * fr)
    plans = [plan_windows(math.ceil(d * fr), round(gcfg.window_s * fr), context) for d in durations]
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
