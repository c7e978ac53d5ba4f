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
from vidmusician.video.frames import sample_frames


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


def video_features(encoder: ClipEncoder, frames: np.ndarray, duration_s: float, mcfg: ModelConfig,
                   frame_rate: float) -> VideoFeatures:
    """Whole-video features: rhythm curve covering the whole duration."""
    cls, rhythm = clip_features(encoder, frames, mcfg, frame_rate, math.ceil(duration_s * frame_rate))
    return VideoFeatures(cls=cls.cpu(), rhythm=rhythm.cpu(), duration_s=duration_s)


def uri_features(encoder: ClipEncoder, uri: str, mcfg: ModelConfig, frame_rate: float,
                 storage: Storage) -> VideoFeatures:
    """Whole-video features of the video at `uri` (local or s3://), decoded at the rhythm rate."""
    with storage.local_copy(uri) as path:
        video = sample_frames(path, mcfg.rhythm.fps, encoder.image_size)
    return video_features(encoder, video.frames, video.duration_s, mcfg, frame_rate)
