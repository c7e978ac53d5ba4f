"""Odd but real uploads, made with FFmpeg (PyAV) for the tests: other codecs and containers, variable
frame rates, phone rotation, fragmented and 4K files, short audio, damage. Each clip's frames are known."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidmusician.synth.media import encode_video, set_mp4_rotation

FPS = 25
SIZE = (96, 128)  # height, width: not square, so a rotation shows
SR = 16000
# x265 and libaom log to stderr unless told; AV1 at libaom's fastest setting.
QUIET = {"libx265": {"x265-params": "log-level=error"}, "libaom-av1": {"cpu-used": "8"}}


@dataclass
class Clip:
    path: Path
    frames: np.ndarray                 # what was encoded, [N, H, W, 3]
    times_s: np.ndarray                # when each frame is shown
    events_s: list[float] = field(default_factory=list)  # cuts (new scene) times


def scenes(count: int, size=SIZE, seed: int = 0) -> np.ndarray:
    """`count` distinct random block pictures (coarse, so every codec keeps them apart)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (count, size[0] // 16, size[1] // 16, 3), dtype=np.uint8)
    return blocks.repeat(16, axis=1).repeat(16, axis=2)


def marked(frames: np.ndarray) -> np.ndarray:
    """A white square in the top-left corner of every frame: where it ends up shows the orientation."""
    frames = frames.copy()
    frames[:, :24, :24] = 255
    return frames


def cut_video(duration_s: float, cuts_s: list[float], times_s: np.ndarray, seed: int = 0,
              size=SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Frames at `times_s` showing a new scene from each cut on: (frames, scene index per frame)."""
    scene = np.searchsorted(np.asarray(cuts_s), times_s, side="right")
    pictures = scenes(len(cuts_s) + 1, size, seed)
    return pictures[scene], scene


def write(path: Path, frames: np.ndarray, codec: str = "libx264", container: str = "mp4", *,
          times_s: np.ndarray | None = None, pix_fmt: str = "yuv420p", audio_s: float | None = None,
          options: dict | None = None, container_options: dict | None = None, rotation: int = 0,
          fps: int = FPS) -> Clip:
    audio = None if audio_s is None else (0.1 * np.sin(np.arange(int(audio_s * SR)) / SR * 2 * np.pi * 440)
                                          ).astype(np.float32)
    data = encode_video(frames, fps, codec, container, {**QUIET.get(codec, {}), **(options or {})},
                        pix_fmt=pix_fmt, times_s=times_s, audio=audio, sample_rate=SR,
                        container_options=container_options, path=str(path))
    if rotation:
        data = set_mp4_rotation(data, rotation)
    path.write_bytes(data)
    times = np.arange(len(frames)) / fps if times_s is None else np.asarray(times_s)
    return Clip(path, frames, times)


def vfr_times(duration_s: float, seed: int = 0) -> np.ndarray:
    """Frame times of a variable-frame-rate clip: intervals of 10 to 90 ms, as a phone's under load."""
    gaps = np.random.default_rng(seed).uniform(0.01, 0.09, int(duration_s / 0.01))
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    return times[times < duration_s]


def damaged(data: bytes, at: float = 0.5, length: int = 3000, seed: int = 0) -> bytes:
    """Random bytes written over the middle of a file (a broken upload or disk)."""
    out = bytearray(data)
    start = int(len(out) * at)
    out[start:start + length] = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    return bytes(out)
