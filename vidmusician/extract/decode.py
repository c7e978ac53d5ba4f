"""CPU decode stage: one input video -> its training windows (frames at the rhythm rate at the
encoder's size, and the prepared music track), or one error row with the reason. The frames are decoded
in the isolated decoder process, window by window (memory holds a window, not the video); a storage
fault reading the input is retried, then the input is not done (the next run tries it again)."""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np

from vidmusician.config.schema import Config
from vidmusician.extract.audio import build_separator, normalize_loudness, rms_dbfs
from vidmusician.video.audio import read_audio_mono
from vidmusician.extract.windows import plan_training_windows
from vidmusician.faults import failure, retrying
from vidmusician.storage import Storage
from vidmusician.video.content import file_sha256
from vidmusician.video.decoding import decode_threads, injected_fault, probe_of
from vidmusician.video.frames import VideoFrames, duration_problem
from vidmusician.video.isolation import isolated
from vidmusician.video.rows import STATUS_ERROR, STATUS_OK, STATUS_SILENT, pack, video_row

# The fields a training-window row adds to the per-video row (an error row keeps these defaults).
NO_WINDOW = {"window_index": -1, "start_s": 0.0, "end_s": 0.0, "valid_s": 0.0}


def window_row(item: dict, status: str, reason: str = "", **fields) -> dict:
    return video_row(item, status, reason, **{**NO_WINDOW, **fields})


def window_times(start_s: float, valid_s: float, index: int, fps: float) -> np.ndarray:
    """Sample k of a window is taken at start + k / fps; one sample before the start (when there is
    one) lets the rhythm curve's first value measure a real change rather than d_0 = 1."""
    n = max(1, math.ceil(valid_s * fps - 1e-9))
    return start_s + np.arange(-1 if index else 0, n) / fps


def training_windows(path: str, size: int, threads: int, fps: float, sample_rate: int, window_s: float,
                     hop_s: float) -> Iterator:
    """Runs in the isolated decoder: the probe, the music track, then each planned window's frames."""
    # Each window also takes the sample before its start, so it overlaps the previous window by that
    # sample plus (window - hop): held over, they need no backward seek.
    overlap = math.ceil(max(0.0, window_s - hop_s) * fps) + 1
    video = VideoFrames(path, size, threads, keep=overlap)
    try:
        yield probe_of(video)
        yield read_audio_mono(path, sample_rate)
        for span in plan_training_windows(video.duration_s, window_s, hop_s):
            yield video.at(window_times(span.start_s, span.valid_s, span.index, fps))
    finally:
        video.close()


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
            with contextlib.ExitStack() as stack:
                path = retrying(lambda: stack.enter_context(self.storage.local_copy(item["uri"])), self.cfg.retry)
                yield from self._decode(item, path)
        except Exception as err:  # any failure is one row with its reason, never a crashed job
            yield window_row(item, *failure(err, item["uri"]))

    def _decode(self, item: dict, path: str) -> Iterator[dict]:
        ecfg, vcfg = self.cfg.extract, self.cfg.video
        digest = file_sha256(path)
        fps = self.cfg.model.rhythm.fps
        args = (path, self.image_size, decode_threads(ecfg.decode_num_cpus), fps, self.sample_rate,
                ecfg.window_s, ecfg.hop_s)
        with contextlib.closing(isolated(training_windows, args, vcfg.decode_timeout_s,
                                         injected_fault(vcfg, item["uri"]))) as decoded:
            duration = next(decoded).duration_s
            reason = duration_problem(duration, vcfg)
            if reason:
                yield window_row(item, STATUS_ERROR, reason, content_hash=digest, duration_s=duration)
                return
            audio = next(decoded)
            if self.separator is not None:
                audio = self.separator(audio, self.sample_rate)
            if ecfg.target_lufs is not None:
                audio = normalize_loudness(audio, self.sample_rate, ecfg.target_lufs)
            for span, frames in zip(plan_training_windows(duration, ecfg.window_s, ecfg.hop_s), decoded):
                common = dict(content_hash=digest, duration_s=duration, window_index=span.index,
                              start_s=span.start_s, end_s=span.end_s, valid_s=span.valid_s)
                a0 = round(span.start_s * self.sample_rate)
                clip = audio[a0:a0 + round(span.valid_s * self.sample_rate)]
                if rms_dbfs(clip) < ecfg.silence_dbfs:
                    yield window_row(item, STATUS_SILENT, f"below {ecfg.silence_dbfs} dBFS", **common)
                    continue
                yield window_row(item, STATUS_OK, payload=pack(frames=frames, audio=clip,
                                                               has_prev=np.array(bool(span.index))), **common)
            for _ in decoded:  # its end: the decoder process is left ready for the next video
                pass


def decode_video(item: dict, cfg: Config) -> Iterator[dict]:
    """The Ray Data flat_map function of the decode stage."""
    decoder = VideoDecoder(cfg, cfg.model.clip.image_size, cfg.model.musicgen.codec.sample_rate)
    yield from decoder(item)
