"""Where the semantic path loses the scene class, and what brings it back (issue #18): stage 1 alone,
trained in one process (`train_stage_plain`) on the learning proof's training world, once per variant
of its settings (train.stage1.loss and the others), then
- validation loss per class and frame span, with the visual condition against the backbone given the
  class through its own lookup-table condition (LUT) and against no condition (null);
- KL from null of the LM's first-codebook distribution over the first 10 frames (LUT vs visual), and
  the negative log-likelihood of the true first tokens after CFG (coefficient generation.cfg_coef);
- class accuracy of generated music on the proof's held-out videos (its judge, 4 seeds), confusion.
Usage: python bench/bench_semantic.py [--variants NAME ...] (names as in VARIANTS) [--workdir DIR] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

import vidmusician.models  # noqa: F401  (torchaudio shim before audiocraft)
from audiocraft.modules.conditioners import ConditioningAttributes
from vidmusician.config import load_config
from vidmusician.evaluation.learning_proof import fit_classifier, held_out_videos
from vidmusician.evaluation.proof_features import training_features
from vidmusician.models.builders import build_model
from vidmusician.models.generation import soundtrack
from vidmusician.models.sampling import derive_seed
from vidmusician.models.vidmusician import codebook_losses
from vidmusician.storage import Storage
from vidmusician.synth.world import class_of
from vidmusician.toy.build import with_toy_backbone
from vidmusician.train.batch import TRAIN_COLUMNS, collate
from vidmusician.train.feature_data import read_windows, validation_videos
from vidmusician.train.plain import eval_batches, train_stage_plain
from vidmusician.weights import local_models

# The conditional LM's cross-entropy alone, as stage 1 trained before 2026-12-07.
PLAIN = ["train.stage1.loss.guidance=1", "train.stage1.loss.start_weight=1", "train.stage1.loss.input_noise=0"]
VARIANTS = {
    "train.stage1.loss as shipped": [],
    "plain loss": PLAIN,
    "no input noise": ["train.stage1.loss.input_noise=0"],
    "no guidance": ["train.stage1.loss.guidance=1"],
    "no start weight": ["train.stage1.loss.start_weight=1"],
    "stage-1 lr 1e-3": ["train.stage1.lr=1e-3"],
    "guidance 5 (generation at 3)": ["train.stage1.loss.guidance=5"],
}
SPANS = [(0, 5), (5, 25), (25, 100), (100, 400)]  # LM frames (50 Hz)
FIRST_FRAMES = 10
SEEDS = (0, 1, 2, 3)


def lm_losses(model, batch, tensors) -> tuple[list[float], torch.Tensor]:
    """Loss per frame span, and the first codebook's log-probabilities over the first frames."""
    with torch.no_grad(), model.injector.using(None), model.cross_mask.using(tensors):
        out = model.lm.compute_predictions(batch.codes, [], condition_tensors=tensors)
    valid = out.mask & batch.frame_mask.bool().unsqueeze(1)
    spans = []
    for a, z in SPANS:
        v = valid.clone()
        v[..., :a] = False
        v[..., z:] = False
        spans.append(float(codebook_losses(out.logits, batch.codes, v).mean()))
    return spans, torch.log_softmax(out.logits[:, 0, :FIRST_FRAMES].float(), -1)


def plain_val_loss(model, cols, rows, chunk: int = 32) -> float:
    """The conditional LM's cross-entropy on the validation windows (no guidance, no frame weights), so
    that variants trained on different objectives are compared on one."""
    total, tokens = 0.0, 0
    with torch.no_grad():
        for b in eval_batches(cols, rows, chunk):
            total += float(model.loss(b.codes, b.cond, b.frame_mask).loss) * b.tokens
            tokens += b.tokens
    return total / tokens


def lut_condition(model, name: str, rows: int) -> dict:
    key, provider = model.cross_attention_key, model.lm.condition_provider
    emb, mask = provider(provider.tokenize([ConditioningAttributes(text={key: name})] * rows))[key]
    return {key: (emb * mask.unsqueeze(-1), mask)}


def diagnose(model, cfg, cols, rows, classes_of_rows) -> dict:
    found = {}
    for name in cfg.world.classes:
        b = collate({k: v[rows[classes_of_rows == name]] for k, v in cols.items()})
        conds = {"visual": model.condition_tensors(b.cond), "lut": lut_condition(model, name, b.size),
                 "null": model.condition_tensors(b.cond.null())}
        spans, logp = {}, {}
        for k, tensors in conds.items():
            spans[k], logp[k] = lm_losses(model, b, tensors)
        kl = {k: float((logp[k].exp() * (logp[k] - logp["null"])).sum(-1).mean()) for k in ("visual", "lut")}
        target = b.codes[:, 0, :FIRST_FRAMES].unsqueeze(-1)
        coef = cfg.generation.cfg_coef
        guided = {k: float(-torch.log_softmax(logp["null"] + coef * (logp[k] - logp["null"]), -1)
                           .gather(-1, target).mean()) for k in ("visual", "lut")}
        found[name] = {"loss_by_span": spans, "kl_first_frames": kl, "cfg_nll_first_frames": guided}
    return found


@dataclass
class Shared:
    """What every variant is trained and judged on (variants change neither the world, the backbone
    nor CLIP): the training windows and their split, the held-out videos and the judge."""
    cols: dict
    train_rows: np.ndarray
    val_rows: np.ndarray
    val_classes: np.ndarray
    held: object
    clf: object


def shared_inputs(features: str, workdir: Path) -> Shared:
    cfg = with_toy_backbone(load_config(["preset=toy"]), log=lambda *_: None)
    ids, cols = read_windows(features, Storage(), TRAIN_COLUMNS)
    val = validation_videos(ids, cfg.train.val_fraction, cfg.seed)
    is_val, rows = np.array([v in val for v in ids]), np.arange(len(ids))
    classes_of_rows = np.array([class_of(cfg.world, v.rsplit("-", 1)[0]) for v in ids])
    model = build_model(local_models(cfg).model, "cpu", cfg.seed, cfg.precision, recorded=cfg.model)
    held = held_out_videos(cfg, str(workdir / "heldout"), cfg.proof.heldout_videos, cfg.proof.heldout_seed,
                           model.frame_rate)
    clf, _ = fit_classifier(cfg, cfg.proof.classifier_clips, cfg.proof.heldout_seed + 1, model.codec)
    return Shared(cols, rows[~is_val], rows[is_val], classes_of_rows[is_val], held, clf)


def run_variant(name: str, overrides: list[str], shared: Shared) -> dict:
    proof = load_config(["preset=toy"]).proof  # stage 1 as the learning proof runs it, then the variant
    cfg = with_toy_backbone(load_config(["preset=toy", f"train.stage1.steps={proof.stage1_steps}", *overrides]),
                            log=lambda *_: None)
    model = build_model(local_models(cfg).model, "cpu", cfg.seed, cfg.precision, recorded=cfg.model)
    start = time.perf_counter()
    history = train_stage_plain(model, 1, replace(cfg.train, val_every=cfg.train.stage1.steps), shared.cols,
                                shared.train_rows, shared.val_rows, seed=cfg.seed, log=lambda *_: None)
    train_s = time.perf_counter() - start
    model.eval()
    diag = diagnose(model, cfg, shared.cols, shared.val_rows, shared.val_classes)
    held, classes = shared.held, list(cfg.world.classes)
    accuracy, confusion = [], np.zeros((len(classes), len(classes)), int)
    for seed in SEEDS:
        waves = soundtrack(model, held.feats, cfg.generation,
                           seeds=[derive_seed(seed, i) for i in range(len(held.feats))])
        predicted = shared.clf.predict([w.numpy() for w in waves])
        accuracy.append(float(np.mean(np.array(predicted) == np.array(held.classes))))
        for t, p in zip(held.classes, predicted):
            confusion[classes.index(t), classes.index(p)] += 1
    result = {"overrides": overrides, "class_acc": accuracy, "confusion": confusion.tolist(), "classes": classes,
              "val_loss": plain_val_loss(model, shared.cols, shared.val_rows),
              "objective_val_loss": history["val"][-1][1], "train_s": train_s, "diagnosis": diag}
    print(f"{name}: class accuracy {np.mean(accuracy):.3f}, confusion {confusion.tolist()}, val {result['val_loss']:.3f}",
          flush=True)
    return result


def variant_args(variants: dict, workdir: str, out: str) -> argparse.Namespace:
    """The command line of a variant bench (this one, bench_rhythm): which variants, where."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", nargs="*", default=list(variants), choices=list(variants))
    parser.add_argument("--workdir", default=workdir)
    parser.add_argument("--out", default=out)
    return parser.parse_args()


def main() -> None:
    args = variant_args(VARIANTS, "outputs/bench_semantic", "bench/results/semantic_ablation_cpu.json")
    torch.set_num_threads(2)
    workdir = Path(args.workdir)
    features = training_features(with_toy_backbone(load_config(["preset=toy"])), str(workdir))
    shared = shared_inputs(features, workdir)
    results = {name: run_variant(name, VARIANTS[name], shared) for name in args.variants}
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU",
                                          "variants": results}, indent=1) + "\n")
    print("| variant | class accuracy | confusion (rows: true class) | val loss |\n| --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {np.mean(r['class_acc']):.3f} | {r['confusion']} | {r['val_loss']:.3f} |")


if __name__ == "__main__":
    main()
