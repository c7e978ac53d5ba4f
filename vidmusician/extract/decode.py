"""CPU decode stage: one input video -> its training windows (frames at the rhythm rate at the
encoder's size, and the prepared music track), or one error row with the reason."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from vidmusician.config.schema import Config
from vidmusician.extract.audio import build_separator, normalize_loudness, read_audio_mono, rms_dbfs
from vidmusician.extract.windows import plan_training_windows
from vidmusician.storage import Storage
from vidmusician.video.content import file_sha256
from vidmusician.video.errors import error_reason
from vidmusician.video.frames import open_video, too_short
from vidmusician.video.rows import STATUS_ERROR, STATUS_OK, STATUS_SILENT, pack, video_row

# The fields a training-window row adds to the per-video row (an error row keeps these defaults).
NO_WINDOW = {"window_index": -1, "start_s": 0.0, "end_s": 0.0, "valid_s": 0.0}


def window_row(item: dict, status: str, reason: str = "", **fields) -> dict:
    return video_row(item, status, reason, **{**NO_WINDOW, **fields})


class VideoDecoder:
    """Decodes one video into window rows. Needs the encoder's input size and the codec's sample rate."""

    def __init__(self, cfg: Config, image_size: int, sample_rate: int):
        self.cfg = cfg
        self.image_size = image_size
        self.sample_rate = sample_rate
        self.storage = Storage(cfg.storage)
        self.separator = build_separator(cfg.extract.separation, cfg.extract.separation_model)

    def __call__(self, item: dict) -> Iterator[dict]:
        try:
            with self.storage.local_copy(item["uri"]) as path:
                yield from self._decode(item, path)
        except Exception as err:  # any failure is one error row with its reason, never a crashed job
            yield window_row(item, STATUS_ERROR, error_reason(err, item["uri"]))

    def _decode(self, item: dict, path: str) -> Iterator[dict]:
        ecfg = self.cfg.extract
        digest = file_sha256(path)
        fps = self.cfg.model.rhythm.fps
        # Each window also takes the frame before its start, so it overlaps the previous window by
        # that frame plus (window - hop): held over, they need no backward seek.
        overlap = math.ceil(max(0.0, ecfg.window_s - ecfg.hop_s) * fps) + 1
        video = open_video(path, self.image_size, ecfg.decode_num_cpus, keep=overlap)
        duration = video.duration_s
        short = too_short(duration, self.cfg.video.min_duration_s)
        if short:
            yield window_row(item, STATUS_ERROR, short, content_hash=digest, duration_s=duration)
            return
        audio = read_audio_mono(path, self.sample_rate)
        if self.separator is not None:
            audio = self.separator(audio, self.sample_rate)
        if ecfg.target_lufs is not None:
            audio = normalize_loudness(audio, self.sample_rate, ecfg.target_lufs)
        for span in plan_training_windows(duration, ecfg.window_s, ecfg.hop_s):
            common = dict(content_hash=digest, duration_s=duration, window_index=span.index,
                          start_s=span.start_s, end_s=span.end_s, valid_s=span.valid_s)
            a0 = round(span.start_s * self.sample_rate)
            clip = audio[a0:a0 + round(span.valid_s * self.sample_rate)]
            if rms_dbfs(clip) < ecfg.silence_dbfs:
                yield window_row(item, STATUS_SILENT, f"below {ecfg.silence_dbfs} dBFS", **common)
                continue
            # Frame k of the window is taken at start + k / fps; one frame before the start (when there
            # is one) lets the rhythm curve's first value measure a real change rather than d_0 = 1.
            n = max(1, math.ceil(span.valid_s * fps - 1e-9))
            times = span.start_s + np.arange(-1 if span.index else 0, n) / fps
            frames = video.at(times)
            yield window_row(item, STATUS_OK, payload=pack(frames=frames, audio=clip,
                                                           has_prev=np.array(bool(span.index))), **common)


def decode_video(item: dict, cfg: Config) -> Iterator[dict]:
    """The Ray Data flat_map function of the decode stage."""
    decoder = VideoDecoder(cfg, cfg.model.clip.image_size, cfg.model.musicgen.codec.sample_rate)
    yield from decoder(item)
