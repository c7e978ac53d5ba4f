"""What runs in the isolated decoder process (isolation.py), for both pipelines: a probe of the video,
then its frames at the rhythm rate in chunks, each with the visual impulse of its frames. Memory is
bounded by a chunk, not by the video. No torch here: the decoder process imports this module."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from vidmusician.config.schema import VideoConfig
from vidmusician.metrics.flow_beats import FlowImpulse
from vidmusician.video.frames import VideoFrames, sample_times
from vidmusician.video.isolation import isolated


@dataclass
class VideoProbe:
    duration_s: float
    source_fps: float
    codec: str
    rotation: int      # the display matrix's angle, applied to the frames read
    has_audio: bool


@dataclass
class FrameChunk:
    frames: np.ndarray   # [n, size, size, 3] uint8, sample k shown at k / fps
    impulse: np.ndarray  # [n] the visual impulse at each sample (metrics/flow_beats.py)


def probe_of(video: VideoFrames) -> VideoProbe:
    return VideoProbe(video.duration_s, video.source_fps, video.codec, video.rotation,
                      bool(video.container.streams.audio))


def probe(path: str, size: int, threads: int) -> Iterator[VideoProbe]:
    """Opens the video and decodes its first frame (a file that cannot do that fails here)."""
    video = VideoFrames(path, size, threads)
    try:
        yield probe_of(video)
    finally:
        video.close()


def frame_chunks(path: str, size: int, threads: int, fps: float, chunk: int, flow_size: int,
                 flow_bins: int) -> Iterator[VideoProbe | FrameChunk]:
    """The probe, then every sample at `fps` in chunks of `chunk` samples."""
    video = VideoFrames(path, size, threads)
    try:
        yield probe_of(video)
        impulse = FlowImpulse(flow_size, flow_bins)
        times = sample_times(video.duration_s, fps)
        for start in range(0, len(times), chunk):
            frames = video.at(times[start:start + chunk])
            yield FrameChunk(frames, impulse.update(frames))
    finally:
        video.close()


def injected_fault(vcfg: VideoConfig, uri: str) -> str:
    """The test hook of `video.fault_injection` for this input ("" for every real run)."""
    return next((fault for text, fault in vcfg.fault_injection.items() if text in uri), "")


def decode_threads(task_cpus: float) -> int:
    """FFmpeg threads for a process given `task_cpus` CPUs."""
    return max(1, math.floor(task_cpus))


def isolated_probe(path: str, uri: str, size: int, task_cpus: float, vcfg: VideoConfig) -> VideoProbe:
    # Read to the end, so that the decoder process is left ready for the next video.
    (found,) = isolated(probe, (path, size, decode_threads(task_cpus)), vcfg.decode_timeout_s,
                        injected_fault(vcfg, uri))
    return found


def isolated_chunks(path: str, uri: str, size: int, task_cpus: float, fps: float, vcfg: VideoConfig,
                    flow_size: int, flow_bins: int) -> Iterator[VideoProbe | FrameChunk]:
    chunk = max(1, round(vcfg.decode_chunk_s * fps))
    return isolated(frame_chunks, (path, size, decode_threads(task_cpus), fps, chunk, flow_size, flow_bins),
                    vcfg.decode_timeout_s, injected_fault(vcfg, uri))
