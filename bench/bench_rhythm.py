"""What limits stage 2's onset F1 (issue #18): stage 1 trained once in one process (`train_stage_plain`,
the learning proof's settings) on the proof's training world, then stage 2 from it once per variant of
its settings (train.stage2.* overrides); each scored on the proof's held-out videos with the proof's
generation seeds: onset F1 against the video's events (+-70 ms, mir_eval matching) split into precision
and recall, the timing errors of the matched hits, and the judge's class accuracy. The cap first: the
world's own music of those videos, as the backbone's codec renders it, scored the same way.
Usage: python bench/bench_rhythm.py [--variants NAME ...] [--workdir DIR] [--out FILE]
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import torch

from bench_semantic import Shared, shared_inputs, variant_args
from vidmusician.config import load_config
from vidmusician.evaluation.learning_proof import codec_round_trip
from vidmusician.evaluation.proof_features import training_features
from vidmusician.metrics.beat_matching import ONSET_TOLERANCE_S
from vidmusician.metrics.onsets import detect_hits, f1, match
from vidmusician.models.builders import build_model
from vidmusician.models.checkpoint import adapter_bytes, load_adapters
from vidmusician.models.generation import soundtrack
from vidmusician.models.sampling import derive_seed
from vidmusician.toy.build import with_toy_backbone
from vidmusician.train.plain import train_stage_plain
from vidmusician.weights import local_models


def variant(lr: float, noise: float, steps: int, *extra: str) -> list[str]:
    """Overrides naming every setting this bench varies, so a variant means the same whatever the
    defaults become."""
    return [f"train.stage2.lr={lr:g}", f"train.stage2.loss.input_noise={noise:g}", f"train.stage2.steps={steps}",
            *extra]


PLAIN = ["train.stage2.loss.guidance=1", "train.stage2.loss.start_weight=1"]
# lr, input noise, steps; the first row is stage 2 as it was before 2026-12-07, the shipped one is marked
VARIANTS = {
    "lr 1e-3, noise 0.3, 400 steps (before)": variant(1e-3, 0.3, 400),
    "lr 1e-3, no noise, 400 steps, plain loss": variant(1e-3, 0, 400, *PLAIN),
    "lr 1e-3, noise 0.3, 800 steps": variant(1e-3, 0.3, 800),
    "lr 1e-3, noise 0.5, 400 steps": variant(1e-3, 0.5, 400),
    "lr 3e-3, noise 0.3, 400 steps": variant(3e-3, 0.3, 400),
    "lr 3e-3, noise 0.3, 400 steps, start weight 1": variant(3e-3, 0.3, 400, "train.stage2.loss.start_weight=1"),
    "lr 5e-3, noise 0.3, 400 steps": variant(5e-3, 0.3, 400),
    "lr 1e-2, noise 0.3, 400 steps": variant(1e-2, 0.3, 400),
    "lr 3e-3, noise 0.5, 400 steps": variant(3e-3, 0.5, 400),
    "lr 3e-3, noise 0.5, 200 steps": variant(3e-3, 0.5, 200),
    "lr 5e-3, noise 0.5, 400 steps": variant(5e-3, 0.5, 400),
    "lr 5e-3, noise 0.5, 200 steps": variant(5e-3, 0.5, 200),
    "lr 3e-3, noise 0.7, 400 steps": variant(3e-3, 0.7, 400),
    "lr 5e-3, noise 0.7, 200 steps (shipped)": variant(5e-3, 0.7, 200),
    "lr 5e-3, noise 0.9, 200 steps": variant(5e-3, 0.9, 200),
}


def rhythm_scores(waves: list[np.ndarray], sr: int, events: list[np.ndarray], kinds: list[list[str]]) -> dict:
    """Onset precision, recall and F1 per clip (mean over clips, as the proof averages F1), the timing
    errors of the matched hits (ms), and which events are missed: recall per event kind and per
    second of the clip."""
    p, r, f, errors, hit = [], [], [], [], []  # hit: (kind, second, found?) per event
    for wav, truth, kind in zip(waves, events, kinds):
        found = detect_hits(wav, sr)
        precision, recall, err = match(found, truth, ONSET_TOLERANCE_S)
        p.append(precision), r.append(recall), f.append(f1(precision, recall)), errors.extend(err * 1000)
        matched = {i for i, _ in mir_eval.util.match_events(truth, found, ONSET_TOLERANCE_S)} if len(found) else set()
        hit.extend((k, int(t), i in matched) for i, (t, k) in enumerate(zip(truth, kind)))
    errors = np.asarray(errors)
    by = {}
    for key, group in (("kind", 0), ("second", 1)):
        for value in sorted({h[group] for h in hit}):
            picked = [h[2] for h in hit if h[group] == value]
            by[f"recall_{key}_{value}"] = float(np.mean(picked))
    return {"onset_f1": float(np.mean(f)), "precision": float(np.mean(p)), "recall": float(np.mean(r)),
            "error_ms_median": float(np.median(errors)) if len(errors) else float("nan"),
            "error_ms_p90_abs": float(np.percentile(np.abs(errors), 90)) if len(errors) else float("nan"), **by}


def codec_cap(shared: Shared, model) -> dict:
    """The world's own music of each held-out video through the backbone's codec: what a system that
    made exactly the world's music would score."""
    held = shared.held
    music = [librosa.resample(m, orig_sr=held.music_sr, target_sr=model.sample_rate) for m in held.music]
    rendered = codec_round_trip(model.codec, np.stack(music))
    return {"raw": rhythm_scores(music, model.sample_rate, held.events, held.kinds),
            "codec": rhythm_scores(list(rendered), model.sample_rate, held.events, held.kinds)}


def run_variant(overrides: list[str], stage1: Path, shared: Shared) -> dict:
    cfg = with_toy_backbone(load_config(["preset=toy", *overrides]), log=lambda *_: None)
    model = build_model(local_models(cfg).model, "cpu", cfg.seed, cfg.precision, recorded=cfg.model)
    load_adapters(model, str(stage1))
    start = time.perf_counter()
    train_stage_plain(model, 2, replace(cfg.train, val_every=cfg.train.stage2.steps), shared.cols,
                      shared.train_rows, shared.val_rows, seed=cfg.seed, log=lambda *_: None)
    train_s = time.perf_counter() - start
    model.eval()
    return {"overrides": overrides, "train_s": train_s, **score_model(model, cfg, shared)}


def score_model(model, cfg, shared: Shared) -> dict:
    held, per_seed = shared.held, []
    for seed in cfg.proof.seeds:
        waves = [w.numpy() for w in soundtrack(model, held.feats, cfg.generation,
                                               seeds=[derive_seed(seed, i) for i in range(len(held.feats))])]
        heard = shared.clf.predict(waves)
        per_seed.append({**rhythm_scores(waves, model.sample_rate, held.events, held.kinds),
                         "class_acc": float(np.mean(np.array(heard) == np.array(held.classes)))})
    return {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]} | {"per_seed": per_seed}


def main() -> None:
    args = variant_args(VARIANTS, "outputs/bench_rhythm", "bench/results/rhythm_stage2_cpu.json")
    torch.set_num_threads(2)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    base = with_toy_backbone(load_config(["preset=toy"]), log=lambda *_: None)
    shared = shared_inputs(training_features(base, str(workdir)), workdir)
    cfg = with_toy_backbone(load_config(["preset=toy", f"train.stage1.steps={base.proof.stage1_steps}"]),
                            log=lambda *_: None)
    model = build_model(local_models(cfg).model, "cpu", cfg.seed, cfg.precision, recorded=cfg.model)
    cap = codec_cap(shared, model)
    print(f"cap: {json.dumps(cap)}", flush=True)
    # Stage 1 is the same for every variant and every run of these settings.
    cached = workdir / f"stage1-{hashlib.sha1(repr((cfg.train.stage1, cfg.model, cfg.seed)).encode()).hexdigest()[:12]}.pt"
    if not cached.exists():
        train_stage_plain(model, 1, replace(cfg.train, val_every=cfg.train.stage1.steps), shared.cols,
                          shared.train_rows, shared.val_rows, seed=cfg.seed, log=lambda *_: None)
        cached.write_bytes(adapter_bytes(model))
    out = Path(args.out)  # variants run before (another --variants list) are kept
    results = json.loads(out.read_text())["variants"] if out.exists() else {}
    for name in args.variants:
        results[name] = run_variant(VARIANTS[name], cached, shared)
        r = results[name]
        print(json.dumps({k: round(v, 3) for k, v in r.items() if k.startswith("recall_")}), flush=True)
        print(f"{name}: onset F1 {r['onset_f1']:.3f} (P {r['precision']:.3f} R {r['recall']:.3f}, error median "
              f"{r['error_ms_median']:.0f} ms, |p90| {r['error_ms_p90_abs']:.0f} ms), class {r['class_acc']:.3f}, "
              f"{r['train_s']:.0f} s", flush=True)
        out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU",
                                  "cap": cap, "variants": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
