"""Per-video features for the two adapter paths, from frames sampled at the rhythm rate.

The semantic rate (1 fps) divides the rhythm rate (25 fps), so CLIP runs once per rhythm frame and
the CLS tokens are read off every (rhythm_fps / semantic_fps)-th frame instead of decoding twice."""
from __future__ import annotations

import math

import numpy as np
import torch

from vidmusician.config.schema import ModelConfig
from vidmusician.models.clip_encoder import ClipEncoder
from vidmusician.models.generation import VideoFeatures
from vidmusician.models.rhythm import patch_change_curve, resample_curve
from vidmusician.storage import Storage
from vidmusician.video.frames import VideoFrames, sample_times


def semantic_indices(num_frames: int, rhythm_fps: float, semantic_fps: float) -> np.ndarray:
    times = np.arange(math.ceil(num_frames * semantic_fps / rhythm_fps - 1e-9)) / semantic_fps
    return np.minimum(np.round(times * rhythm_fps).astype(np.int64), num_frames - 1)


def clip_features(encoder: ClipEncoder, frames: np.ndarray, mcfg: ModelConfig, frame_rate: float,
                  num_lm_frames: int, skip_first: bool = False,
                  batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """frames: [N, S, W, 3] uint8 at mcfg.rhythm.fps -> (CLS tokens at the semantic fps [M, D],
    rhythm curve at the LM frame rate [num_lm_frames, S]). skip_first drops a leading frame that only
    served as the reference for the first change value."""
    out = encoder(torch.from_numpy(frames), batch_size=batch_size)
    curve, cls = patch_change_curve(out.patches, mcfg.rhythm.reduction), out.cls
    if skip_first:
        curve, cls = curve[1:], cls[1:]
    idx = semantic_indices(cls.shape[0], mcfg.rhythm.fps, mcfg.semantic.fps)
    return cls[torch.from_numpy(idx)], resample_curve(curve, mcfg.rhythm.fps, frame_rate, num_lm_frames)


class StreamingFeatures:
    """Whole-video features from its frames fed chunk by chunk (consecutive samples at the rhythm
    rate): the same values as one `clip_features` call on all of them, holding only the last frame's
    patch tokens and the small per-video results (CLS tokens at the semantic rate, the change curve)."""

    def __init__(self, encoder: ClipEncoder, mcfg: ModelConfig, batch_size: int = 256):
        self.encoder, self.mcfg, self.batch_size = encoder, mcfg, batch_size
        self.count = 0
        self.last_patches: torch.Tensor | None = None
        self.last_cls: torch.Tensor | None = None
        self.curves: list[torch.Tensor] = []
        self.cls: list[torch.Tensor] = []

    def _semantic_index(self, k: int) -> int:
        # As semantic_indices computes it (numpy's rounding, float64), for the same frames.
        return int(np.round(np.float64(k) / self.mcfg.semantic.fps * self.mcfg.rhythm.fps))

    def add(self, frames: np.ndarray) -> None:
        out = self.encoder(torch.from_numpy(frames), batch_size=self.batch_size)
        first = self.last_patches is None
        patches = out.patches if first else torch.cat([self.last_patches, out.patches])
        curve = patch_change_curve(patches, self.mcfg.rhythm.reduction)
        self.curves.append(curve if first else curve[1:])
        while (index := self._semantic_index(len(self.cls))) < self.count + len(frames):
            self.cls.append(out.cls[index - self.count])
        self.last_patches, self.last_cls = out.patches[-1:], out.cls[-1]
        self.count += len(frames)

    def result(self, duration_s: float, frame_rate: float) -> VideoFeatures:
        """The rhythm curve covering the whole duration at the LM frame rate, and the CLS tokens."""
        needed = len(semantic_indices(self.count, self.mcfg.rhythm.fps, self.mcfg.semantic.fps))
        cls = self.cls + [self.last_cls] * (needed - len(self.cls))  # the last samples clamp to the last frame
        rhythm = resample_curve(torch.cat(self.curves), self.mcfg.rhythm.fps, frame_rate,
                                math.ceil(duration_s * frame_rate))
        return VideoFeatures(cls=torch.stack(cls).cpu(), rhythm=rhythm.cpu(), duration_s=duration_s)


def video_features(encoder: ClipEncoder, frames: np.ndarray, duration_s: float, mcfg: ModelConfig,
                   frame_rate: float) -> VideoFeatures:
    """Whole-video features: rhythm curve covering the whole duration."""
    cls, rhythm = clip_features(encoder, frames, mcfg, frame_rate, math.ceil(duration_s * frame_rate))
    return VideoFeatures(cls=cls.cpu(), rhythm=rhythm.cpu(), duration_s=duration_s)


def uri_features(encoder: ClipEncoder, uri: str, mcfg: ModelConfig, frame_rate: float,
                 storage: Storage, chunk: int = 50) -> VideoFeatures:
    """Whole-video features of the video at `uri` (local or s3://), decoded at the rhythm rate `chunk`
    samples at a time."""
    with storage.local_copy(uri) as path:
        video = VideoFrames(path, encoder.image_size)
        try:
            times = sample_times(video.duration_s, mcfg.rhythm.fps)
            stream = StreamingFeatures(encoder, mcfg)
            for start in range(0, len(times), chunk):
                stream.add(video.at(times[start:start + chunk]))
        finally:
            video.close()
    return stream.result(video.duration_s, frame_rate)
