"""Generation stage: an actor that loads the backbone, CLIP, the adapters (and any configured
model-based scorers) once, then per batch of videos computes their features and makes their music
together (batched CFG, sliding windows; see models/generation.py). Each video is decoded here, in the
isolated decoder process, chunk by chunk straight into the encoder: memory holds a chunk of frames,
never a whole video, and nothing large crosses the object store. Plain PyTorch; Ray's actor pool calls
it on batches of rows."""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace

import numpy as np

from vidmusician.config.schema import Config
from vidmusician.devices import model_device, set_torch_threads
from vidmusician.faults import failure, retrying
from vidmusician.metrics.flow_beats import flow_beats_of_impulse
from vidmusician.metrics.model_scores import build_scorers
from vidmusician.models.builders import build_clip_encoder, build_model
from vidmusician.models.checkpoint import load_adapters
from vidmusician.models.generation import VideoFeatures, soundtrack
from vidmusician.models.sampling import derive_seed
from vidmusician.publish.mix import KEEP
from vidmusician.raycluster import node_id
from vidmusician.storage import Storage, StorageError
from vidmusician.video.decoding import isolated_chunks
from vidmusician.video.features import StreamingFeatures
from vidmusician.video.rows import STATUS_OK, pack
from vidmusician.weights import local_models


def columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """Rows -> a numpy batch; text and bytes as object arrays (fixed-width unicode would pad)."""
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows]
        text = isinstance(values[0], (str, bytes))
        out[key] = np.array(values, dtype=object) if text else np.array(values)
    return out


def candidate_seed(seed: int, content_hash: str, k: int) -> int:
    """Candidate k's sampling seed; candidate 0's is the one a single candidate has always had."""
    return derive_seed(seed, content_hash) if k == 0 else derive_seed(seed, content_hash, k)


class SoundtrackGenerator:
    def __init__(self, cfg: Config, device: str | None = None):
        set_torch_threads(cfg.ray.torch_threads)
        self.cfg = cfg
        self.device = device or model_device(cfg.device)
        models = local_models(cfg).model
        self.model = build_model(models, self.device, cfg.seed, cfg.precision, recorded=cfg.model)
        self.conditioned = bool(cfg.soundtrack.adapters)
        if self.conditioned:
            self.model = load_adapters(self.model, cfg.soundtrack.adapters, cfg.storage)
        self.model.eval()
        if cfg.generation.prompt is not None:  # a configured prompt the model cannot read fails at start
            self.model.check_prompts()
        self.encoder = build_clip_encoder(models.clip, self.device, cfg.seed, cfg.precision)
        self.scorers = build_scorers(cfg.soundtrack.scores.model_scores)
        self.storage = Storage(cfg.storage)

    def features(self, uri: str) -> tuple[VideoFeatures, np.ndarray]:
        """The video's features and its flow beats, decoded chunk by chunk in the isolated decoder."""
        cfg, scfg = self.cfg, self.cfg.soundtrack.scores
        fps = cfg.model.rhythm.fps
        with self.storage.local_copy(uri) as path, contextlib.closing(isolated_chunks(
                path, uri, self.encoder.image_size, cfg.soundtrack.num_cpus, fps, cfg.video, scfg.flow_size,
                scfg.flow_bins)) as chunks:
            probe = next(chunks)
            stream, impulse = StreamingFeatures(self.encoder, cfg.model), []
            for chunk in chunks:
                stream.add(chunk.frames)
                impulse.append(np.array(chunk.impulse))  # a copy: the received array may view the whole message
        return (stream.result(probe.duration_s, self.model.frame_rate),
                flow_beats_of_impulse(np.concatenate(impulse), fps))

    def music(self, feats: list[VideoFeatures], rows: list[dict]) -> list[np.ndarray]:
        """Per video its candidates [N, samples] (`soundtrack.candidates`, or the row's control), made
        in batched steps, one pass per CFG coefficient in use. A seed per candidate from the video's
        content (and its seed control): its music does not depend on its batch-mates, so a rerun makes
        the same music however the videos are batched."""
        gcfg = self.cfg.generation
        jobs = []  # (video, seed, cfg_coef, prompt) per candidate
        for i, row in enumerate(rows):
            c = json.loads(row["controls"])
            seed = c.get("seed", self.cfg.seed)
            jobs += [(i, candidate_seed(seed, row["content_hash"], k), c.get("cfg_coef", gcfg.cfg_coef),
                      c.get("prompt", gcfg.prompt))
                     for k in range(c.get("candidates", self.cfg.soundtrack.candidates))]
        waves: list = [None] * len(jobs)
        for coef in sorted({j[2] for j in jobs}):
            todo = [n for n, j in enumerate(jobs) if j[2] == coef]
            made = soundtrack(self.model, [feats[jobs[n][0]] for n in todo], replace(gcfg, cfg_coef=coef),
                              seeds=[jobs[n][1] for n in todo], conditioned=self.conditioned,
                              prompts=[jobs[n][3] for n in todo])
            for n, wave in zip(todo, made):
                waves[n] = wave.numpy().astype(np.float32)
        return [np.stack([w for job, w in zip(jobs, waves) if job[0] == i]) for i in range(len(rows))]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [{k: batch[k][i] for k in batch} for i in range(len(batch["video_id"]))]
        todo = [r for r in rows if r["status"] == STATUS_OK and not r["reused"] and not r["duplicate_of"]
                and r["mix"] != KEEP]  # a video that keeps its own sound gets no music
        here = node_id()
        inputs = []
        for row in todo:
            start = time.perf_counter()
            try:
                feats, beats = retrying(lambda: self.features(row["uri"]), self.cfg.retry)
                inputs.append((row, beats, feats))
            except StorageError as err:  # reading the input again
                row["status"], row["reason"] = failure(err, row["uri"])
            except Exception as err:  # one bad video is one error row (or not done, for the next run)
                row["status"], row["reason"] = failure(err, row["uri"], stage="decode")
            row.update(features_s=time.perf_counter() - start, generate_node=here)
        if inputs:
            self._generate(inputs)
        return columns(rows)

    def _generate(self, inputs: list) -> None:
        start = time.perf_counter()
        try:
            waves = self.music([f for _, _, f in inputs], [r for r, _, _ in inputs])
        except Exception:  # a batch failing as a whole (e.g. out of memory): retry video by video
            for item in inputs:
                self._generate_one(item)
            return
        total = sum(f.duration_s for _, _, f in inputs)
        for (row, beats, feats), wav in zip(inputs, waves):
            # The batch's time is shared by seconds of music.
            self._finish(row, beats, feats, wav, (time.perf_counter() - start) * feats.duration_s / max(total, 1e-9))

    def _generate_one(self, item) -> None:
        row, beats, feats = item
        start = time.perf_counter()
        try:
            wav = self.music([feats], [row])[0]
        except Exception as err:  # out of memory alone is not done (the next run tries again)
            row["status"], row["reason"] = failure(err, stage="generation")
            row.update(payload=b"", generate_s=time.perf_counter() - start)
            return
        self._finish(row, beats, feats, wav, time.perf_counter() - start)

    def _finish(self, row: dict, beats: np.ndarray, feats: VideoFeatures, wav: np.ndarray, seconds: float) -> None:
        """`wav`: the video's candidates [N, samples]; model scores per candidate."""
        sr = self.model.sample_rate
        try:
            model_scores = [{name: float(score(feats, w, sr)) for name, score in self.scorers.items()} for w in wav]
        except Exception as err:  # a scorer failing on one video is that video's row
            row["status"], row["reason"] = failure(err, stage="scores")
            row.update(payload=b"", generate_s=seconds)
            return
        row.update(generate_s=seconds, payload=pack(
            wav=wav, sample_rate=np.array(sr), curve=feats.rhythm.numpy().astype(np.float32),
            curve_rate=np.array(self.model.frame_rate), flow_beats=beats.astype(np.float64),
            model_scores=np.array(json.dumps(model_scores))))
