"""CPU decode stage: one input video -> its training windows (frames at the rhythm rate at the
encoder's size, and the prepared music track), or one error row with the reason."""
from __future__ import annotations

import hashlib
import math
from typing import Iterator

import numpy as np

from vidmusician.config.schema import Config, DataConfig
from vidmusician.data.audio import build_separator, normalize_loudness, read_audio_mono, rms_dbfs
from vidmusician.data.windows import STATUS_OK, STATUS_SILENT, base_row, error_row, pack, plan_windows
from vidmusician.decode import VideoFrames
from vidmusician.reasons import error_reason
from vidmusician.storage import Storage

HASH_CHUNK = 1 << 20


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def open_video(path: str, size: int, data: DataConfig, keep: int = 0) -> VideoFrames:
    """A decord reader for a decode task: as many FFmpeg threads as CPUs the task was given."""
    return VideoFrames(path, size, threads=max(1, math.floor(data.decode_num_cpus)), keep=keep)


def too_short(duration_s: float, data: DataConfig) -> str | None:
    """The error reason of a video below `data.min_duration_s`, else None."""
    if duration_s < data.min_duration_s:
        return f"too short ({duration_s:.2f} s < {data.min_duration_s} s)"
    return None


class VideoDecoder:
    """Decodes one video into window rows. Needs the encoder's input size and the codec's sample rate."""

    def __init__(self, cfg: Config, image_size: int, sample_rate: int):
        self.cfg = cfg
        self.image_size = image_size
        self.sample_rate = sample_rate
        self.storage = Storage(cfg.storage)
        self.separator = build_separator(cfg.data.separation, cfg.data.separation_model)

    def __call__(self, item: dict) -> Iterator[dict]:
        try:
            with self.storage.local_copy(item["uri"]) as path:
                yield from self._decode(item, path)
        except Exception as err:  # any failure is one error row with its reason, never a crashed job
            yield error_row(item, error_reason(err, item["uri"]))

    def _decode(self, item: dict, path: str) -> Iterator[dict]:
        data = self.cfg.data
        digest = file_sha256(path)
        fps = self.cfg.model.rhythm.fps
        # Each window also takes the frame before its start, so it overlaps the previous window by
        # that frame plus (window - hop): held over, they need no backward seek.
        overlap = math.ceil(max(0.0, data.window_s - data.hop_s) * fps) + 1
        video = open_video(path, self.image_size, data, keep=overlap)
        duration = video.duration_s
        short = too_short(duration, data)
        if short:
            yield error_row(item, short, content_hash=digest, duration_s=duration)
            return
        audio = read_audio_mono(path, self.sample_rate)
        if self.separator is not None:
            audio = self.separator(audio, self.sample_rate)
        if data.target_lufs is not None:
            audio = normalize_loudness(audio, self.sample_rate, data.target_lufs)
        for span in plan_windows(duration, data.window_s, data.hop_s):
            common = dict(content_hash=digest, duration_s=duration, window_index=span.index,
                          start_s=span.start_s, end_s=span.end_s, valid_s=span.valid_s)
            a0 = round(span.start_s * self.sample_rate)
            clip = audio[a0:a0 + round(span.valid_s * self.sample_rate)]
            if rms_dbfs(clip) < data.silence_dbfs:
                yield base_row(item, STATUS_SILENT, f"below {data.silence_dbfs} dBFS", **common)
                continue
            # Frame k of the window is taken at start + k / fps; one frame before the start (when there
            # is one) lets the rhythm curve's first value measure a real change rather than d_0 = 1.
            n = max(1, math.ceil(span.valid_s * fps - 1e-9))
            times = span.start_s + np.arange(-1 if span.index else 0, n) / fps
            frames = video.at(times)
            yield base_row(item, STATUS_OK, payload=pack(frames=frames, audio=clip,
                                                         has_prev=np.array(bool(span.index))), **common)


def decode_video(item: dict, cfg: Config) -> Iterator[dict]:
    """The Ray Data flat_map function of the decode stage."""
    decoder = VideoDecoder(cfg, cfg.model.clip.image_size, cfg.model.musicgen.codec.sample_rate)
    yield from decoder(item)
