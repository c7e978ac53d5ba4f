"""The learning proof: on held-out synthetic videos, music from (a) the frozen backbone with no
condition, (b) stage-1 adapters and (c) stage-2 adapters, several seeds each, scored for rhythm
(onset F1 against the video's events at +-70 ms, Beats Hit Score) and semantics (the class a
classifier fit on the world's real soundtracks hears, against the video's scene class)."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from vidmusician.config import Config
from vidmusician.metrics.beat_matching import beats_hit_score, onset_f1
from vidmusician.metrics.music_class import MusicClassifier
from vidmusician.metrics.onsets import detect_hits
from vidmusician.models.builders import build_clip_encoder
from vidmusician.models.checkpoint import load_adapters
from vidmusician.models.generation import VideoFeatures, soundtrack
from vidmusician.models.sampling import derive_seed
from vidmusician.models.vidmusician import VidMusician
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world
from vidmusician.toy.data import music_set
from vidmusician.video.features import uri_features
from vidmusician.weights import local_models

BASE = "base (no condition)"
METRICS = ("onset_f1", "beats_hit", "class_acc")


@dataclass
class HeldOut:
    feats: list[VideoFeatures]
    classes: list[str]
    events: list[np.ndarray]


def held_out_videos(cfg: Config, output_uri: str, count: int, seed: int, frame_rate: float) -> HeldOut:
    """Fresh silent world videos (a seed the training world never used) and their features, made
    with the CLIP the feature stage uses (same config and seed)."""
    world = replace(cfg.world, num_videos=count, seed=seed, with_audio=False)
    truth = write_world(replace(cfg, world=world), output_uri)
    encoder = build_clip_encoder(local_models(cfg).model.clip, "cpu", cfg.seed, cfg.precision)
    storage = Storage(cfg.storage)
    feats = [uri_features(encoder, uri, cfg.model, frame_rate, storage) for uri in truth.column("uri").to_pylist()]
    return HeldOut(feats, truth.column("class_name").to_pylist(),
                   [np.asarray(t) for t in truth.column("event_times").to_pylist()])


def fit_classifier(cfg: Config, count: int, seed: int) -> tuple[MusicClassifier, float]:
    """A classifier of the world's real music; returns it and its accuracy on fresh real clips."""
    train, test = music_set(cfg.world, count, seed), music_set(cfg.world, max(12, count // 4), seed + 1)
    clf = MusicClassifier(cfg.world.sample_rate, cfg.seed).fit(train.audio, train.classes)
    return clf, float(np.mean(np.array(clf.predict(test.audio)) == np.array(test.classes)))


def score(model: VidMusician, held: HeldOut, cfg: Config, clf: MusicClassifier, seed: int,
          conditioned: bool = True) -> dict[str, float]:
    torch.manual_seed(seed)
    seeds = [derive_seed(seed, i) for i in range(len(held.feats))]
    waves = soundtrack(model, held.feats, cfg.generation, seeds=seeds, conditioned=conditioned)
    sr = model.sample_rate
    f1s, bhs = [], []
    for wav, events, feat in zip(waves, held.events, held.feats):
        onsets = detect_hits(wav.numpy(), sr)
        f1s.append(onset_f1(onsets, events))
        bhs.append(beats_hit_score(onsets, events, feat.duration_s))
    predicted = clf.predict([w.numpy() for w in waves])
    return {"onset_f1": float(np.mean(f1s)), "beats_hit": float(np.mean(bhs)),
            "class_acc": float(np.mean(np.array(predicted) == np.array(held.classes)))}


def evaluate_systems(model: VidMusician, adapters: dict[str, str], held: HeldOut, cfg: Config,
                     clf: MusicClassifier, seeds: list[int], log=print) -> dict[str, dict[str, list[float]]]:
    """Scores per system and seed: the base model first, then each adapter file (by URI)."""
    systems = {BASE: None, **adapters}
    results: dict[str, dict[str, list[float]]] = {}
    for name, uri in systems.items():
        if uri is not None:
            load_adapters(model, uri, cfg.storage)
        model.eval()
        runs = [score(model, held, cfg, clf, s, conditioned=uri is not None) for s in seeds]
        results[name] = {m: [r[m] for r in runs] for m in METRICS}
        log(f"{name}: " + ", ".join(f"{m} {np.mean(results[name][m]):.3f}" for m in METRICS))
    return results


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = ["| system | onset F1 (+-70 ms) | Beats Hit Score | class accuracy |", "| --- | --- | --- | --- |"]
    for name, r in results.items():
        cells = [f"{np.mean(r[m]):.3f} +- {np.std(r[m]):.3f}" for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class ProofResult:
    results: dict[str, dict[str, list[float]]]
    classifier_accuracy: float  # on fresh real clips: the classifier itself is trustworthy
    timings: dict[str, float]
    train_summary: str
    adapters: dict[str, str]    # system name -> its adapter file (URI), e.g. "stage 2"

    def table(self) -> str:
        return table(self.results)


def run_proof(cfg: Config, workdir: str, log=print) -> ProofResult:
    """The whole proof on the `toy` preset: toy backbone (shipped) -> training world -> features ->
    stage 1 -> stage 2 (Ray Train) -> held-out videos scored per system and seed."""
    from vidmusician.extract.pipeline import run_extract
    from vidmusician.models.builders import build_model
    from vidmusician.toy.build import with_toy_backbone
    from vidmusician.train.run import run_training

    timings, clock = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()
        log(f"proof: {name} done in {timings[name]:.0f} s")

    proof = cfg.proof
    cfg = with_toy_backbone(cfg, log=log)
    lap("toy_backbone")
    world_uri, features_uri = join_uri(workdir, "world"), join_uri(workdir, "features")
    write_world(replace(cfg, world=replace(cfg.world, num_videos=proof.train_videos, seed=proof.world_seed)),
                world_uri)
    lap("world")
    run_extract(replace(cfg, input=join_uri(world_uri, "videos"), output=features_uri))
    lap("features")
    tcfg = replace(cfg.train, features=features_uri, stage="both", val_every=proof.eval_every,
                   checkpoint_every=proof.eval_every,
                   stage1=replace(cfg.train.stage1, steps=proof.stage1_steps),
                   stage2=replace(cfg.train.stage2, steps=proof.stage2_steps))
    trained = run_training(replace(cfg, train=tcfg, output=join_uri(workdir, "train")), log=log)
    lap("training")
    model = build_model(local_models(cfg).model, "cpu", cfg.seed, cfg.precision, recorded=cfg.model)
    held = held_out_videos(cfg, join_uri(workdir, "heldout"), proof.heldout_videos, proof.heldout_seed,
                           model.frame_rate)
    clf, clf_acc = fit_classifier(cfg, proof.classifier_clips, proof.heldout_seed + 1)
    adapters = {f"stage {s.stage}": s.paths.final for s in trained.stages}
    results = evaluate_systems(model, adapters, held, cfg, clf, list(proof.seeds), log)
    lap("evaluation")
    return ProofResult(results, clf_acc, timings, trained.summary(), adapters)
