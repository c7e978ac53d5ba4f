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


def semantic_indices(num_frames: int, rhythm_fps: float, semantic_fps: float) -> np.ndarray:
    times = np.arange(math.ceil(num_frames * semantic_fps / rhythm_fps - 1e-9)) / semantic_fps
    return np.minimum(np.round(times * rhythm_fps).astype(np.int64), num_frames - 1)


def video_features(encoder: ClipEncoder, frames: np.ndarray, duration_s: float, mcfg: ModelConfig,
                   frame_rate: float) -> VideoFeatures:
    """frames: [N, S, S, 3] uint8 at mcfg.rhythm.fps -> CLS at the semantic fps + rhythm curve at
    the LM frame rate covering the whole duration."""
    feats = encoder(torch.from_numpy(frames))
    idx = semantic_indices(frames.shape[0], mcfg.rhythm.fps, mcfg.semantic.fps)
    curve = patch_change_curve(feats.patches, mcfg.rhythm.reduction)
    rhythm = resample_curve(curve, mcfg.rhythm.fps, frame_rate, math.ceil(duration_s * frame_rate))
    return VideoFeatures(cls=feats.cls[torch.from_numpy(idx)].cpu(), rhythm=rhythm.cpu(), duration_s=duration_s)
