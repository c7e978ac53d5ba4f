"""Adapter overhead, as ratios measured in one run on the same machine:
- train step: adapted model (frozen LM + semantic and rhythm adapters, stage 2) vs the frozen base
  alone (same LM forward + backward + optimizer step, with a trainable cross-attention condition of
  the same shape standing in for the adapters, so the backward still runs through the LM);
- generation: adapted model with batched CFG vs audiocraft's own LMModel.generate with CFG, same
  batch and length; and the static-cache decoder (generation.fast) vs the streaming one.
Usage: python bench/bench_model.py [--sizes debug,mid] [--repeats N] [--out FILE]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch

from vidmusician.config import load_config
from vidmusician.models.builders import build_model
from vidmusician.models.conditions import VisualConditions
from vidmusician.models.generation import generate_tokens

from model_steps import random_conditions, train_steps

# A mid-size backbone shaped like MusicGen (FFN 4x, rhythm into 3/4 of the blocks) that still
# trains and generates in seconds on a 2-core CPU.
SIZES = {
    "debug": [],
    "mid": ["model.musicgen.lm.dim=256", "model.musicgen.lm.num_heads=4", "model.musicgen.lm.num_layers=8",
            "model.musicgen.lm.hidden_scale=4",
            "model.musicgen.codec.bins=1024", "model.t5.d_model=128", "model.t5.d_ff=256",
            "model.t5.num_layers=4", "model.clip.hidden_size=128"],
}
BATCH, TRAIN_FRAMES, GEN_FRAMES, TOKENS = 4, 250, 100, 5


def timed(fns, repeats: int) -> list[float]:
    """Median times of the functions, run in turn so that drift in machine load hits all alike."""
    for fn in fns:  # warm-up
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return [statistics.median(t) for t in times]


def bench_size(name: str, repeats: int) -> dict:
    cfg = load_config(["preset=debug", "model.cond_dropout=0.0", *SIZES[name]])
    model = build_model(cfg.model)
    model.set_stage(2)
    lm = model.lm
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, lm.card, (BATCH, lm.num_codebooks, TRAIN_FRAMES), generator=g)
    cond = random_conditions(model, BATCH, TOKENS, TRAIN_FRAMES, g)
    key = cfg.model.musicgen.cross_attention_key
    adapted_step, base_step = train_steps(model, codes, cond, objective=cfg.train.stage2.loss)
    train_adapted, train_base = timed([adapted_step, base_step], repeats)

    model.eval()
    gcfg = cfg.generation
    gen_cond = VisualConditions(cls=cond.cls, cls_steps=cond.cls_steps, cls_mask=cond.cls_mask,
                                rhythm=cond.rhythm[:, :GEN_FRAMES], present=cond.present)
    from audiocraft.modules.conditioners import ConditioningAttributes
    attrs = [ConditioningAttributes(text={key: "bass"}) for _ in range(BATCH)]
    top_k = min(gcfg.top_k, lm.card)
    streaming, fast = dataclasses.replace(gcfg, fast=False), dataclasses.replace(gcfg, fast=True)
    gen_adapted, gen_base, gen_fast = timed([
        lambda: generate_tokens(model, gen_cond, GEN_FRAMES, streaming),
        lambda: lm.generate(conditions=attrs, max_gen_len=GEN_FRAMES, top_k=top_k, cfg_coef=gcfg.cfg_coef),
        lambda: generate_tokens(model, gen_cond, GEN_FRAMES, fast)], repeats)
    seconds = BATCH * GEN_FRAMES / model.frame_rate
    return {
        "size": name, "lm_params_M": sum(p.numel() for p in lm.parameters()) / 1e6,
        "adapter_params_M": sum(p.numel() for p in model.adapter_state_dict().values()) / 1e6,
        "train_step_adapted_s": train_adapted, "train_step_base_s": train_base,
        "train_ratio": train_adapted / train_base,
        "generate_adapted_s": gen_adapted, "generate_base_s": gen_base,
        "generate_ratio": gen_adapted / gen_base,
        "music_s_per_s_adapted": seconds / gen_adapted,
        "generate_fast_s": gen_fast, "fast_over_streaming": gen_fast / gen_adapted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="debug,mid")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = [bench_size(s, args.repeats) for s in args.sizes.split(",")]
    print(f"torch threads: {torch.get_num_threads()}, batch {BATCH}, train {TRAIN_FRAMES} frames, "
          f"generate {GEN_FRAMES} frames with CFG")
    print("| size | LM params | adapter params | train step adapted / base | ratio | "
          "generate adapted / base | ratio | generate fast | fast / streaming |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['size']} | {r['lm_params_M']:.2f} M | {r['adapter_params_M']:.2f} M | "
              f"{r['train_step_adapted_s'] * 1e3:.0f} / {r['train_step_base_s'] * 1e3:.0f} ms | "
              f"{r['train_ratio']:.2f} | {r['generate_adapted_s']:.2f} / {r['generate_base_s']:.2f} s | "
              f"{r['generate_ratio']:.2f} | {r['generate_fast_s']:.2f} s | {r['fast_over_streaming']:.2f} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
