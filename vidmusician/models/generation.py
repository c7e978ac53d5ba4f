"""Generation: batched classifier-free guidance over the adapted LM, and sliding windows that cover
videos of any length.

CFG runs the conditional and the null branch as one batch of 2B rows through the LM, one step per
forward, like audiocraft's LMModel.generate, but with our precomputed visual condition tensors and
the rhythm features. The steps go through the static-shape decoder (`generation.fast`, the default;
models/static_decoding.py) or audiocraft's streaming KV cache; both give the same tokens.

Long videos: window w >= 1 starts `context_s` before the end of window w-1 and takes those tokens as
its prompt, so the music continues instead of restarting; all tokens of a video are decoded together
at the end, so there is no seam in the waveform at the joins.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from vidmusician.config.schema import GenerationConfig
from vidmusician.models.conditions import VisualConditions
from vidmusician.models.sampling import derive_seed, sample
from vidmusician.models.static_decoding import StaticDecoder
from vidmusician.models.vidmusician import VidMusician

UNKNOWN_TOKEN = -1


@dataclass
class VideoFeatures:
    """Whole-video features: what the feature stage emits and the generator consumes."""
    cls: torch.Tensor     # [N, Dc] CLS per frame sampled at the semantic fps (frame i at i / fps s)
    rhythm: torch.Tensor  # [T, S] patch-change curve at the LM frame rate, T >= frames of the video
    duration_s: float


@dataclass
class Window:
    start: int   # first LM frame of the window
    end: int     # one past its last frame
    prompt: int  # frames at its start taken from the previous window


def plan_generation_windows(num_frames: int, window: int, context: int) -> list[Window]:
    if window <= context:
        raise ValueError(f"generation window ({window} frames) must be longer than its context ({context})")
    plan = [Window(0, min(window, num_frames), 0)]
    while plan[-1].end < num_frames:
        start = plan[-1].end - context
        plan.append(Window(start, min(start + window, num_frames), context))
    return plan


@torch.no_grad()
def generate_tokens(model: VidMusician, cond: VisualConditions, num_frames: int, gcfg: GenerationConfig,
                    prompt: torch.Tensor | None = None, cfg: bool = True,
                    seeds: torch.Tensor | None = None, lengths: list[int] | None = None,
                    text: list[str | None] | None = None) -> torch.Tensor:
    """Codes [B, K, num_frames] for one window. `prompt` [B, K, P] fixes the first P frames.
    `text`: each row's text prompt or None (models/prompts.py); the null branch drops it.
    cfg=False runs the conditional branch alone (no null rows). `seeds` [B]: each row's sampling seed
    (models/sampling.py); by default the row's index. `lengths`: each row's own frames (<= num_frames);
    a row's codes past its length are not music."""
    both = VisualConditions.cat([cond, cond.null()]) if cfg else cond
    if text is not None and cfg:
        text = list(text) * 2
    with model.autocast():
        tensors = model.condition_tensors(both, text)
    rhythm = model.rhythm_input(both, model.sequence_steps(num_frames))
    return decode_window(model, tensors, rhythm, cond.batch_size, num_frames, gcfg, prompt, cfg, seeds, lengths)


@torch.no_grad()
def decode_window(model: VidMusician, tensors: dict, rhythm: torch.Tensor | None, batch: int,
                  num_frames: int, gcfg: GenerationConfig, prompt: torch.Tensor | None = None,
                  cfg: bool = True, seeds: torch.Tensor | None = None,
                  lengths: list[int] | None = None) -> torch.Tensor:
    """The decoding loop over precomputed condition tensors (and rhythm features), CFG rows second."""
    lm = model.lm
    device = next(lm.parameters()).device
    n_q = lm.num_codebooks
    seeds = torch.arange(batch) if seeds is None else torch.as_tensor(seeds)
    seeds = seeds.to(device=device, dtype=torch.long)
    pattern = lm.pattern_provider.get_pattern(num_frames)
    codes = torch.full((batch, n_q, num_frames), UNKNOWN_TOKEN, dtype=torch.long, device=device)
    prompt_len = 0 if prompt is None else prompt.shape[-1]
    if prompt_len:
        codes[..., :prompt_len] = prompt
    sequence, _, _ = pattern.build_pattern_sequence(codes, lm.special_token_id)
    valid = valid_steps(model, [num_frames] * batch if lengths is None else lengths, sequence.shape[-1])
    start = pattern.get_first_step_with_timesteps(prompt_len)
    with model.autocast(), _decoder(model, tensors, rhythm, batch * (2 if cfg else 1), sequence.shape[-1],
                                    gcfg) as decode:
        prev = 0
        for offset in range(start, sequence.shape[-1]):
            step_in = sequence[..., prev:offset]
            if cfg:
                step_in = torch.cat([step_in, step_in])
            logits = decode(step_in, prev)  # [B', K, card]
            if cfg:
                cond_logits, null_logits = logits.split(batch)
                logits = null_logits + (cond_logits - null_logits) * gcfg.cfg_coef
            token = sample(logits, gcfg, seeds, offset)
            token[~valid[..., offset:offset + 1]] = lm.special_token_id
            current = sequence[..., offset:offset + 1]
            sequence[..., offset:offset + 1] = torch.where(current == UNKNOWN_TOKEN, token, current)
            prev = offset
    out, _, _ = pattern.revert_pattern_sequence(sequence, special_token=UNKNOWN_TOKEN)
    return out[..., :num_frames]


def valid_steps(model: VidMusician, lengths: list[int], steps: int) -> torch.Tensor:
    """[B, K, steps]: where row b's codebook k holds one of the row's own frames, from the delay
    pattern of the row's own length. Elsewhere the special token is fed, as when the row is decoded
    alone: otherwise codebook 0 past a short row's end (its batch-mates' length) would feed the
    upper codebooks of its last frames, and its music would depend on its batch-mates."""
    lm = model.lm
    device = lm.emb[0].weight.device
    out = torch.zeros(len(lengths), lm.num_codebooks, steps, dtype=torch.bool, device=device)
    for n in set(lengths):  # one pattern per distinct length (most rows of a window share one)
        codes = torch.zeros(1, lm.num_codebooks, n, dtype=torch.long, device=device)
        _, _, mask = lm.pattern_provider.get_pattern(n).build_pattern_sequence(codes, lm.special_token_id)
        rows = torch.tensor([r for r, length in enumerate(lengths) if length == n], device=device)
        out[rows, :, :mask.shape[-1]] = mask
    return out


@contextlib.contextmanager
def _decoder(model: VidMusician, tensors: dict, rhythm: torch.Tensor | None, rows: int, steps: int,
             gcfg: GenerationConfig):
    """A function (tokens [rows, K, T] fed at steps start.., start) -> logits of the last step:
    audiocraft's streaming LM, or with generation.fast the static-shape decoder (same tokens)."""
    if gcfg.fast:
        yield StaticDecoder(model, tensors, rhythm, rows, steps, gcfg.graph_bucket_steps, gcfg.cuda_graphs)
        return
    with model.lm.streaming(), model.injector.using(rhythm), model.cross_mask.using(tensors):
        yield lambda tokens, start: model.lm(tokens, [], condition_tensors=tensors)[:, :, -1]


def window_conditions(feats: list[VideoFeatures], windows: list[Window], frame_rate: float,
                      semantic_fps: float, length: int, device) -> VisualConditions:
    """Conditions of one window per video, padded to the same token count and to `length` frames.
    A window's tokens are the CLS frames whose time falls inside it, timed from the window start."""
    rows = []
    for f, w in zip(feats, windows):
        t0, t1 = w.start / frame_rate, w.end / frame_rate
        times = torch.arange(f.cls.shape[0], dtype=torch.float64) / semantic_fps
        keep = (times >= t0) & (times < t1)
        rhythm = f.rhythm[w.start:w.end].float()
        rhythm = F.pad(rhythm, (0, 0, 0, length - rhythm.shape[0]))
        rows.append((f.cls[keep].float(), ((times[keep] - t0) * semantic_fps).float(), rhythm))
    n_tok = max(1, max(c.shape[0] for c, _, _ in rows))
    cls = torch.zeros(len(rows), n_tok, feats[0].cls.shape[-1])
    steps = torch.zeros(len(rows), n_tok)
    mask = torch.zeros(len(rows), n_tok)
    for i, (c, s, _) in enumerate(rows):
        cls[i, :c.shape[0]], steps[i, :c.shape[0]], mask[i, :c.shape[0]] = c, s, 1
    cond = VisualConditions(cls=cls, cls_steps=steps, cls_mask=mask,
                            rhythm=torch.stack([r for _, _, r in rows]),
                            present=torch.ones(len(rows), dtype=torch.bool))
    return cond.to(device)


@torch.no_grad()
def soundtrack(model: VidMusician, feats: list[VideoFeatures], gcfg: GenerationConfig,
               cfg: bool = True, seeds: list[int] | None = None,
               conditioned: bool = True, prompts: list[str | None] | None = None) -> list[torch.Tensor]:
    """Music for any number of videos: a mono waveform per video of exactly its duration, made in
    batches of `gcfg.batch_size` videos. `seeds`: one sampling seed per video (by default its index);
    a video's music depends on its features, its seed and the settings, not on its batch-mates.
    conditioned=False ignores the videos (null conditions): the frozen backbone on its own, with no CFG
    unless a video has a text prompt. `prompts`: a text prompt (or None) per video, beside its video
    condition."""
    seeds = list(range(len(feats))) if seeds is None else list(seeds)
    prompts = [None] * len(feats) if prompts is None else list(prompts)
    if not len(seeds) == len(prompts) == len(feats):
        raise ValueError(f"{len(seeds)} seeds and {len(prompts)} prompts for {len(feats)} videos")
    waves: list[torch.Tensor] = []
    for b in range(0, len(feats), gcfg.batch_size):
        waves += _soundtrack_batch(model, feats[b:b + gcfg.batch_size], gcfg, cfg,
                                   seeds[b:b + gcfg.batch_size], conditioned, prompts[b:b + gcfg.batch_size])
    return waves


def _soundtrack_batch(model: VidMusician, feats: list[VideoFeatures], gcfg: GenerationConfig,
                      cfg: bool, seeds: list[int], conditioned: bool,
                      prompts: list[str | None]) -> list[torch.Tensor]:
    """One batch: videos advance window by window in lockstep, so each LM step serves every video in
    the batch (and both CFG branches) at once."""
    device = next(model.lm.parameters()).device
    fr, sr = model.frame_rate, model.sample_rate
    window, context = round(gcfg.window_s * fr), round(gcfg.context_s * fr)
    frames = [max(1, math.ceil(f.duration_s * fr)) for f in feats]
    plans = [plan_generation_windows(n, window, context) for n in frames]
    n_q = model.lm.num_codebooks
    tokens = [torch.zeros(n_q, n, dtype=torch.long, device=device) for n in frames]
    semantic_fps = model.semantic_fps
    for r in range(max(len(p) for p in plans)):
        active = [i for i, p in enumerate(plans) if r < len(p)]  # videos that still have a window
        wins = [plans[i][r] for i in active]
        length = max(w.end - w.start for w in wins)
        cond = window_conditions([feats[i] for i in active], wins, fr, semantic_fps, length, device)
        text = [prompts[i] for i in active]
        if not conditioned:  # the video dropped; a row's text prompt alone stays (MusicGen's text-to-music)
            cond = replace(cond.null(), present=torch.tensor([t is not None for t in text], device=device))
        prompt = None
        if r > 0:
            prompt = torch.stack([tokens[i][:, w.start:w.start + context] for i, w in zip(active, wins)])
        out = generate_tokens(model, cond, length, gcfg, prompt=prompt, cfg=cfg and bool(cond.present.any()),
                              seeds=torch.tensor([derive_seed(seeds[i], r) for i in active]),
                              lengths=[w.end - w.start for w in wins], text=text)
        for row, (i, w) in enumerate(zip(active, wins)):
            tokens[i][:, w.start + w.prompt:w.end] = out[row, :, w.prompt:w.end - w.start]
    waves = []
    for tok, f in zip(tokens, feats):
        wav = decode_audio(model.codec, tok.unsqueeze(0), fr, sr, round(gcfg.codec_chunk_s * fr),
                           round(gcfg.codec_margin_s * fr))[0].mean(dim=0)  # mono
        n = round(f.duration_s * sr)
        waves.append(F.pad(wav, (0, max(0, n - wav.shape[-1])))[:n].cpu())
    return waves


def decode_audio(codec, tokens: torch.Tensor, frame_rate: float, sample_rate: int, chunk: int,
                 margin: int) -> torch.Tensor:
    """tokens [B, K, T] -> audio [B, C, T * hop], `chunk` frames at a time, each decoded with `margin`
    frames of tokens on both sides and cropped to its own samples (see generation.codec_chunk_s)."""
    hop = round(sample_rate / frame_rate)
    total = tokens.shape[-1]
    parts = []
    for start in range(0, total, max(1, chunk)):
        end = min(total, start + max(1, chunk))
        lo, hi = max(0, start - margin), min(total, end + margin)
        audio = codec.decode(tokens[..., lo:hi], None)
        parts.append(audio[..., (start - lo) * hop:(end - lo) * hop])
    return torch.cat(parts, dim=-1)
