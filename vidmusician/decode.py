"""Video decoding for the feature paths: frames sampled at fixed rates, decoded by decord straight to
the encoder's input size (full-resolution frames are never held)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


# decord 0.6 fails ("Check failed: from_size") when scaling to a width that is not a multiple of 32
# (16, 24, 48, 72, 336 ...): decode to the next such width; the encoder resizes the rest of the way.
DECORD_WIDTH_MULTIPLE = 32


class DecodeError(ValueError):
    """A video that cannot be decoded; the message says why."""


@dataclass
class SampledVideo:
    frames: np.ndarray   # [N, size, width, 3] uint8 (width: size rounded up for decord), frame k at k / fps
    fps: float
    duration_s: float
    source_fps: float


def sample_times(duration_s: float, fps: float) -> np.ndarray:
    return np.arange(max(1, math.ceil(duration_s * fps - 1e-9))) / fps


def sample_frames(path: str, fps: float, size: int) -> SampledVideo:
    """Frames at `fps` (nearest source frame to each sample time), scaled to about size x size."""
    import decord

    try:
        width = math.ceil(size / DECORD_WIDTH_MULTIPLE) * DECORD_WIDTH_MULTIPLE
        reader = decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=size)
    except Exception as err:  # decord raises its own DECORDError / RuntimeError on bad input
        raise DecodeError(f"{path}: cannot open video ({str(err).splitlines()[0][:200]})") from None
    count, source_fps = len(reader), float(reader.get_avg_fps())
    if count == 0 or not source_fps > 0:
        raise DecodeError(f"{path}: no video frames")
    duration = count / source_fps
    index = np.minimum(np.round(sample_times(duration, fps) * source_fps).astype(np.int64), count - 1)
    try:
        frames = reader.get_batch(index.tolist()).asnumpy()
    except Exception as err:
        raise DecodeError(f"{path}: decoding failed ({str(err).splitlines()[0][:200]})") from None
    return SampledVideo(frames=frames, fps=fps, duration_s=duration, source_fps=source_fps)
