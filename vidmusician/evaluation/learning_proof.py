"""The learning proof: on held-out synthetic videos, music from (a) the frozen backbone with no
condition, (b) stage-1 adapters and (c) stage-2 adapters, several seeds each, scored for rhythm
(onset F1 against the video's events at +-70 ms, Beats Hit Score) and semantics (the class a
classifier fit on the world's real soundtracks, as the backbone's codec renders them, hears against
the video's scene class), beside the ceiling (the backbone given the class itself); and with the
scores as published papers compute them (metrics/reference_scores.py, metrics/visbeat.py): D2M-GAN's
Beats Coverage / Hit Score and LORIS' F1 against the world's own music of each video, and the beat
alignment score (sigma 50 ms) of librosa's onsets against visbeat's visual beats."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import librosa
import numpy as np
import torch

from vidmusician.config import Config
from vidmusician.evaluation.proof_features import training_features
from vidmusician.metrics.beat_matching import LITERATURE_SIGMA_S, beat_alignment_score, beats_hit_score, onset_f1
from vidmusician.metrics.music_class import MusicClassifier
from vidmusician.metrics.onsets import detect_hits
from vidmusician.metrics.reference_scores import d2m_gan_scores, loris_f1, loris_scores
from vidmusician.metrics.visbeat import visbeat_beats
from vidmusician.models.builders import build_clip_encoder
from vidmusician.models.checkpoint import load_adapters
from vidmusician.models.generation import VideoFeatures, soundtrack
from vidmusician.models.sampling import derive_seed
from vidmusician.models.vidmusician import VidMusician
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import make_clip, write_world
from vidmusician.toy.data import music_set
from vidmusician.video.features import uri_features
from vidmusician.weights import local_models

BASE = "base (no condition)"
CEILING = "ceiling (class condition)"
# name -> table header; the first three are the project's own scores, the rest the published ones
METRICS = {"onset_f1": "onset F1 (+-70 ms)", "beats_hit": "Beats Hit Score", "class_acc": "class accuracy",
           "bcs_d2m": "BCS (D2M-GAN)", "bhs_d2m": "BHS (D2M-GAN)", "loris_f1": "F1 (LORIS)",
           "bas_visbeat_50ms": "BAS (visbeat, 50 ms)"}


@dataclass
class HeldOut:
    feats: list[VideoFeatures]
    classes: list[str]
    events: list[np.ndarray]
    music: list[np.ndarray]      # each video's own music in the world (the reference), mono
    music_sr: int
    visbeats: list[np.ndarray]   # visbeat's visual beats of each video (s)
    kinds: list[list[str]]       # each event's kind (cut, flash, burst), as `events`


def held_out_videos(cfg: Config, output_uri: str, count: int, seed: int, frame_rate: float) -> HeldOut:
    """Fresh silent world videos (a seed the training world never used) and their features, made
    with the CLIP the feature stage uses (same config and seed)."""
    world = replace(cfg.world, num_videos=count, seed=seed, with_audio=False)
    truth = write_world(replace(cfg, world=world), output_uri)
    encoder = build_clip_encoder(local_models(cfg).model.clip, "cpu", cfg.seed, cfg.precision)
    storage = Storage(cfg.storage)
    feats = [uri_features(encoder, uri, cfg.model, frame_rate, storage) for uri in truth.column("uri").to_pylist()]
    clips = [make_clip(world, i) for i in range(count)]  # the same clips again, in memory
    return HeldOut(feats, truth.column("class_name").to_pylist(),
                   [np.asarray(t) for t in truth.column("event_times").to_pylist()],
                   [c.audio for c in clips], world.sample_rate, [visbeat_beats(c.frames, world.fps) for c in clips],
                   truth.column("event_kinds").to_pylist())


def codec_round_trip(codec, audio: np.ndarray) -> np.ndarray:
    """Clips [N, samples] as the backbone's codec renders them (encoded, then decoded)."""
    out = []
    with torch.no_grad():
        for clip in audio:
            codes, scale = codec.encode(torch.from_numpy(np.asarray(clip, np.float32))[None, None])
            out.append(codec.decode(codes, scale)[0, 0, :len(clip)].numpy())
    return np.stack(out)


def fit_classifier(cfg: Config, count: int, seed: int, codec) -> tuple[MusicClassifier, float]:
    """A classifier of the world's real music as the backbone's codec renders it (all generated music
    comes out of that codec: a judge fit on the raw clips hears the toy codec's bells as bass, which
    capped every system's class accuracy at 2/3); returns it and its accuracy on fresh clips."""
    train, test = music_set(cfg.world, count, seed), music_set(cfg.world, max(12, count // 4), seed + 1)
    clf = MusicClassifier(cfg.world.sample_rate, cfg.seed).fit(codec_round_trip(codec, train.audio), train.classes)
    heard = clf.predict(codec_round_trip(codec, test.audio))
    return clf, float(np.mean(np.array(heard) == np.array(test.classes)))


def score(model: VidMusician, held: HeldOut, cfg: Config, clf: MusicClassifier, seed: int,
          conditioned: bool = True, prompts: list[str] | None = None) -> dict[str, float]:
    torch.manual_seed(seed)
    seeds = [derive_seed(seed, i) for i in range(len(held.feats))]
    waves = soundtrack(model, held.feats, cfg.generation, seeds=seeds, conditioned=conditioned, prompts=prompts)
    sr = model.sample_rate
    per_video: dict[str, list[float]] = {k: [] for k in ("onset_f1", "beats_hit", "bcs_d2m", "bhs_d2m",
                                                         "loris_cover", "loris_hit", "bas_visbeat_50ms")}
    for i, (wav, feat) in enumerate(zip(waves, held.feats)):
        wav, events = wav.numpy(), held.events[i]
        reference = librosa.resample(held.music[i], orig_sr=held.music_sr, target_sr=sr)
        onsets = detect_hits(wav, sr)
        found = {"onset_f1": onset_f1(onsets, events), "beats_hit": beats_hit_score(onsets, events, feat.duration_s),
                 "bas_visbeat_50ms": beat_alignment_score(held.visbeats[i], librosa.onset.onset_detect(
                     y=wav, sr=sr, units="time"), LITERATURE_SIGMA_S)}
        found["bcs_d2m"], found["bhs_d2m"] = d2m_gan_scores(wav, reference, sr)
        found["loris_cover"], found["loris_hit"] = loris_scores(wav, reference, sr)
        for key, value in found.items():
            per_video[key].append(value)
    predicted = clf.predict([w.numpy() for w in waves])
    means = {k: float(np.nanmean(v)) for k, v in per_video.items() if not k.startswith("loris_")}
    return {**means, "class_acc": float(np.mean(np.array(predicted) == np.array(held.classes))),
            "loris_f1": loris_f1(per_video["loris_cover"], per_video["loris_hit"])}


def evaluate_systems(model: VidMusician, adapters: dict[str, str], held: HeldOut, cfg: Config,
                     clf: MusicClassifier, seeds: list[int], log=print) -> dict[str, dict[str, list[float]]]:
    """Scores per system and seed: the base model, the ceiling (the backbone told each video's class
    through its own lookup-table condition, as a text prompt: what the semantic path should reach),
    then each adapter file (by URI)."""
    systems = {BASE: None, CEILING: None, **adapters}
    results: dict[str, dict[str, list[float]]] = {}
    for name, uri in systems.items():
        if uri is not None:
            load_adapters(model, uri, cfg.storage)
        model.eval()
        prompts = held.classes if name == CEILING else None
        runs = [score(model, held, cfg, clf, s, conditioned=uri is not None, prompts=prompts) for s in seeds]
        results[name] = {m: [r[m] for r in runs] for m in METRICS}
        log(f"{name}: " + ", ".join(f"{m} {np.mean(results[name][m]):.3f}" for m in METRICS))
    return results


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = ["| system | " + " | ".join(METRICS.values()) + " |", "|" + " --- |" * (len(METRICS) + 1)]
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
    features_uri = training_features(cfg, workdir, lap, log)
    tcfg = replace(cfg.train, features=features_uri, stage="both", val_every=proof.eval_every,
                   checkpoint_every=proof.eval_every,
                   stage1=replace(cfg.train.stage1, steps=proof.stage1_steps),
                   stage2=replace(cfg.train.stage2, steps=proof.stage2_steps))
    trained = run_training(replace(cfg, train=tcfg, output=join_uri(workdir, "train")), log=log)
    lap("training")
    model = build_model(local_models(cfg).model, "cpu", cfg.seed, cfg.precision, recorded=cfg.model)
    held = held_out_videos(cfg, join_uri(workdir, "heldout"), proof.heldout_videos, proof.heldout_seed,
                           model.frame_rate)
    clf, clf_acc = fit_classifier(cfg, proof.classifier_clips, proof.heldout_seed + 1, model.codec)
    adapters = {f"stage {s.stage}": s.paths.final for s in trained.stages}
    results = evaluate_systems(model, adapters, held, cfg, clf, list(proof.seeds), log)
    lap("evaluation")
    return ProofResult(results, clf_acc, timings, trained.summary(), adapters)
