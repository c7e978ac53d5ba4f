"""Opening and sampling a video, for both pipelines: frames sampled at fixed rates, decoded by decord
straight to the encoder's input size (full-resolution frames are never held)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidmusician.video.errors import InputError


# decord 0.6 fails ("Check failed: from_size") when scaling to a width that is not a multiple of 32
# (16, 24, 48, 72, 336 ...): decode to the next such width; the encoder resizes the rest of the way.
DECORD_WIDTH_MULTIPLE = 32


class DecodeError(InputError):
    """A video that cannot be decoded; the message says why."""


@dataclass
class SampledVideo:
    frames: np.ndarray   # [N, size, width, 3] uint8 (width: size rounded up for decord), frame k at k / fps
    fps: float
    duration_s: float
    source_fps: float


def sample_times(duration_s: float, fps: float) -> np.ndarray:
    return np.arange(max(1, math.ceil(duration_s * fps - 1e-9))) / fps


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


class VideoFrames:
    """A decord reader that scales to about size x size, with sampling by time."""

    def __init__(self, path: str, size: int, threads: int = 0, keep: int = 0):
        """threads: FFmpeg decoding threads (0 = one per core; a Ray task uses the CPUs it was given).
        keep: how many of the newest decoded frames to hold for the next call. Windows that overlap
        the previous one by up to `keep` frames are then served in one forward pass: decord answers
        any frame behind its position by seeking back to the keyframe and decoding the whole GOP
        again (on a clip with one keyframe, every window would re-decode the video from the start)."""
        import decord

        try:
            width = math.ceil(size / DECORD_WIDTH_MULTIPLE) * DECORD_WIDTH_MULTIPLE
            self.reader = decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=size,
                                              num_threads=threads)
        except Exception as err:  # decord raises its own DECORDError / RuntimeError on bad input
            raise DecodeError(f"cannot open video ({_first_line(err)})") from None
        self.count, self.source_fps = len(self.reader), float(self.reader.get_avg_fps())
        if self.count == 0 or not self.source_fps > 0:
            raise DecodeError("no video frames")
        self.duration_s = self.count / self.source_fps
        self.keep = keep
        self.recent: dict[int, np.ndarray] = {}

    def at(self, times: np.ndarray) -> np.ndarray:
        """Frames nearest to each time (seconds), [N, size, width, 3] uint8."""
        index = np.clip(np.round(times * self.source_fps).astype(np.int64), 0, self.count - 1).tolist()
        missing = sorted(set(index) - self.recent.keys())
        try:
            fetched = self.reader.get_batch(missing).asnumpy() if missing else None
        except Exception as err:
            raise DecodeError(f"decoding failed ({_first_line(err)})") from None
        if len(missing) == len(index) and missing == index and not self.keep:
            return fetched  # the common one-call case: no copy
        frames = {**self.recent, **dict(zip(missing, fetched if fetched is not None else []))}
        self.recent = {i: frames[i] for i in sorted(frames)[-self.keep:]} if self.keep else {}
        return np.stack([frames[i] for i in index])


def open_video(path: str, size: int, task_cpus: float, keep: int = 0) -> VideoFrames:
    """A decord reader for a decode task: as many FFmpeg threads as CPUs the task was given."""
    return VideoFrames(path, size, threads=max(1, math.floor(task_cpus)), keep=keep)


def too_short(duration_s: float, min_duration_s: float) -> str | None:
    """The error reason of a video below `video.min_duration_s`, else None."""
    if duration_s < min_duration_s:
        return f"too short ({duration_s:.2f} s < {min_duration_s} s)"
    return None


def sample_frames(path: str, fps: float, size: int) -> SampledVideo:
    """Frames at `fps` (nearest source frame to each sample time), scaled to about size x size."""
    try:
        video = VideoFrames(path, size)
    except DecodeError as err:
        raise DecodeError(f"{path}: {err}") from None
    frames = video.at(sample_times(video.duration_s, fps))
    return SampledVideo(frames=frames, fps=fps, duration_s=video.duration_s, source_fps=video.source_fps)
