"""Opening and sampling a video, for both pipelines, with PyAV (FFmpeg's own libraries).

Frame k of a sampling at `fps` is the frame the viewer sees at k / fps: the last frame whose
presentation timestamp is at or before that time. Timestamps come from the stream, not from an
average frame rate, so variable-frame-rate clips (phones, screen recorders) stay in sync with what is
shown. Frames are turned upright by the stream's display matrix (phones store portrait video as
rotated landscape) and scaled to size x size straight from the decoder; full-resolution frames are
never held. The reader goes forward only; samples behind its position come from the last `keep`
samples or, failing that, a seek."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional

import av
import numpy as np

from vidmusician.config.schema import VideoConfig
from vidmusician.video.errors import InputError

# Two timestamps closer than this are the same instant (timestamps are rationals rounded to floats).
TIME_EPS_S = 1e-6
# Frames that stop more than this before a sample time (past the last frame's own duration) mean a
# truncated or damaged file, not a still picture: the file promised more.
MISSING_TAIL_S = 0.5
RGB = "rgb24"


class DecodeError(InputError):
    """A video that cannot be decoded; the message says why."""


@dataclass
class SampledVideo:
    frames: np.ndarray   # [N, size, size, 3] uint8, frame k shown at k / fps
    fps: float
    duration_s: float
    source_fps: float


def sample_times(duration_s: float, fps: float) -> np.ndarray:
    return np.arange(max(1, math.ceil(duration_s * fps - 1e-9))) / fps


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


def _seconds(value: Optional[int], time_base) -> Optional[float]:
    return None if value is None or time_base is None else float(value * time_base)


def stream_duration(container, stream) -> float:
    """Seconds from the stream's first frame to the end of its last: the stream's own duration, else
    its packets' (Matroska and fragmented files record none per stream; the container's duration
    covers every stream, so audio that outlasts the video would read as missing frames)."""
    duration = _seconds(stream.duration, stream.time_base)
    if duration:
        return duration
    start = _seconds(stream.start_time, stream.time_base) or 0.0
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start)
    container.seek(0, stream=stream)
    return end


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """The image as displayed: PyAV's `rotation` is the display matrix's counter-clockwise angle."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


class VideoFrames:
    """A forward reader of the first video stream with sampling by presentation time."""

    def __init__(self, path: str, size: int, threads: int = 0, keep: int = 0):
        """threads: FFmpeg decoding threads (0 = FFmpeg's choice; a Ray task uses the CPUs it was given).
        keep: how many of the newest samples to hold, so that windows overlapping the previous one by up
        to `keep` samples need no backward seek (on a clip with one keyframe a seek re-decodes from the
        start)."""
        try:
            self.container = av.open(path)
        except Exception as err:  # FFmpeg's errors (InvalidDataError, ...) on bad input
            raise DecodeError(f"cannot open video ({_first_line(err)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise DecodeError("no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.stream.codec_context.thread_count = threads
        self.size, self.keep = size, keep
        self.codec = self.stream.codec_context.codec.canonical_name  # "av1", not the decoder "libdav1d"
        self.source_fps = float(self.stream.average_rate or self.stream.guessed_rate or 0)
        self.start_s = _seconds(self.stream.start_time, self.stream.time_base) or 0.0
        try:
            self.duration_s = stream_duration(self.container, self.stream)
        except Exception as err:
            self.container.close()
            raise DecodeError(f"cannot read video ({_first_line(err)})") from None
        self.recent: dict[int, np.ndarray] = {}
        self.decoded = 0  # frames decoded so far, seeks' re-decoding included: the cost of the reads
        self._restart()
        if self._next is None or not self.duration_s > 0:
            self.container.close()
            raise DecodeError("no video frames")
        self.rotation = int(self._next[1].rotation or 0)

    def _restart(self) -> None:
        self._frames = self._decode()
        self._shown: Optional[tuple[float, av.VideoFrame]] = None
        self._next = next(self._frames, None)
        self._converted: Optional[tuple[av.VideoFrame, np.ndarray]] = None

    def _decode(self) -> Iterator[tuple[float, av.VideoFrame]]:
        """(seconds from the stream's start, frame), in presentation order."""
        try:
            for frame in self.container.decode(self.stream):
                self.decoded += 1
                stamp = frame.pts if frame.pts is not None else frame.dts  # some AVI files have no pts
                if stamp is not None:
                    yield float(stamp * frame.time_base) - self.start_s, frame
        except Exception as err:  # a damaged stream: FFmpeg gives up at some packet
            at = f" at {self._shown[0]:.2f} s" if self._shown else ""
            raise DecodeError(f"decoding failed{at} ({_first_line(err)})") from None

    def _seek(self, t: float) -> None:
        target = int((t + self.start_s) / self.stream.time_base)
        self.container.seek(target, stream=self.stream, backward=True)
        self._restart()

    def _image(self, frame: av.VideoFrame) -> np.ndarray:
        # A source slower than the sampling shows a frame twice: it is converted once. (The frame itself
        # is held, not its id: a freed frame's id is reused by the next one.)
        if self._converted is None or self._converted[0] is not frame:
            image = frame.reformat(width=self.size, height=self.size, format=RGB).to_ndarray()
            self._converted = (frame, upright(image, self.rotation))
        return self._converted[1]

    def _at(self, t: float) -> np.ndarray:
        if self._shown is not None and t + TIME_EPS_S < self._shown[0]:
            self._seek(t)
        while self._next is not None and self._next[0] <= t + TIME_EPS_S:
            self._shown, self._next = self._next, next(self._frames, None)
        shown = self._shown or self._next  # before the first frame: the first frame
        if self._next is None:
            time_s, frame = shown
            end = time_s + float((frame.duration or 0) * frame.time_base)
            if t > end + MISSING_TAIL_S:
                raise DecodeError(f"the frames end at {end:.2f} s of {self.duration_s:.2f} s (truncated or damaged)")
        return self._image(shown[1])

    def at(self, times: np.ndarray) -> np.ndarray:
        """The frames shown at each time (seconds from the start), [N, size, size, 3] uint8."""
        out = []
        for t in np.asarray(times, dtype=np.float64):
            key = round(t / TIME_EPS_S)
            image = self.recent.get(key)
            if image is None:
                image = self._at(float(t))
                if self.keep:
                    self.recent[key] = image
            out.append(image)
        if self.keep and len(self.recent) > self.keep:
            self.recent = {k: self.recent[k] for k in sorted(self.recent)[-self.keep:]}
        return np.stack(out)

    def close(self) -> None:
        self.container.close()


def too_short(duration_s: float, min_duration_s: float) -> str | None:
    """The error reason of a video below `video.min_duration_s`, else None."""
    if duration_s < min_duration_s:
        return f"too short ({duration_s:.2f} s < {min_duration_s} s)"
    return None


def too_long(duration_s: float, max_duration_s: float) -> str | None:
    """The error reason of a video above `video.max_duration_s`, else None."""
    if duration_s > max_duration_s:
        return f"too long ({duration_s:.0f} s > {max_duration_s:g} s)"
    return None


def duration_problem(duration_s: float, vcfg: VideoConfig) -> str | None:
    """Why a video of this length is not processed (`video.min_duration_s` / `max_duration_s`), or None."""
    return too_short(duration_s, vcfg.min_duration_s) or too_long(duration_s, vcfg.max_duration_s)


def sample_frames(path: str, fps: float, size: int) -> SampledVideo:
    """Frames at `fps` (the frame shown at each sample time), scaled to size x size."""
    try:
        video = VideoFrames(path, size)
    except DecodeError as err:
        raise DecodeError(f"{path}: {err}") from None
    try:
        frames = video.at(sample_times(video.duration_s, fps))
    finally:
        video.close()
    return SampledVideo(frames=frames, fps=fps, duration_s=video.duration_s, source_fps=video.source_fps)
