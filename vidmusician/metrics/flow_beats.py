"""Visual beats from optical flow, after Davis & Agrawala, "Visual Rhythm and Beat" (SIGGRAPH 2018).

Dense Farneback flow (OpenCV) between consecutive grey frames; each flow field becomes a directogram
column: flow magnitude summed per direction bin (the visual analogue of a spectrogram column). The
visual impulse is the directogram's flux, half-wave rectified both ways: D&A take the deceleration
(motion that stops), and a start of motion or a hard cut shows as the opposite sign, so both count.
Beats are the impulse's peaks (the same picker as the rhythm-curve beats)."""
from __future__ import annotations

import cv2
import numpy as np

from vidmusician.metrics.video_scores import pick_beats

# Farneback parameters: OpenCV's documented example values (pyramid 0.5 x 3 levels, window 15,
# 3 iterations, 5-pixel polynomial with sigma 1.2), fine for frames of about 64 px.
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def grey_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """[N, H, W, 3] uint8 RGB -> [N, size, size] uint8 grey."""
    return np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (size, size),
                                interpolation=cv2.INTER_AREA) for f in frames])


def directogram(grey: np.ndarray, bins: int) -> np.ndarray:
    """[N-1, bins]: per pair of frames, mean flow magnitude per direction bin."""
    out = np.zeros((max(0, len(grey) - 1), bins), np.float32)
    for t in range(1, len(grey)):
        flow = cv2.calcOpticalFlowFarneback(grey[t - 1], grey[t], None, **FARNEBACK)
        magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1])
        index = np.minimum((angle / (2 * np.pi) * bins).astype(np.int64), bins - 1)
        out[t - 1] = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=bins) / magnitude.size
    return out


def visual_impulse(directo: np.ndarray) -> np.ndarray:
    """[N]: the impulse at each frame (frame 0 has none): summed rectified change of every bin."""
    flux = np.abs(np.diff(directo, axis=0, prepend=directo[:1])).sum(axis=1) if len(directo) else directo[:, 0]
    return np.concatenate([[0.0], flux])


class FlowImpulse:
    """The visual impulse of a video fed chunk by chunk (consecutive frames): the same values as
    `visual_impulse(directogram(grey_frames(all frames)))`, holding one grey frame and one directogram
    column between chunks instead of the whole video."""

    def __init__(self, size: int, bins: int):
        self.size, self.bins = size, bins
        self.last_grey: np.ndarray | None = None
        self.last_column: np.ndarray | None = None

    def update(self, frames: np.ndarray) -> np.ndarray:
        """The impulse at each frame of the chunk."""
        if not len(frames):
            return np.zeros(0)
        grey = grey_frames(frames, self.size)
        first = self.last_grey is None
        columns = directogram(grey if first else np.concatenate([self.last_grey[None], grey]), self.bins)
        self.last_grey = grey[-1]
        if not len(columns):  # the video's first frame alone
            return np.zeros(len(frames))
        previous = columns[:1] if self.last_column is None else self.last_column[None]
        flux = np.abs(np.diff(columns, axis=0, prepend=previous)).sum(axis=1)
        self.last_column = columns[-1]
        return np.concatenate([[0.0], flux]) if first else flux


def flow_beats_of_impulse(impulse: np.ndarray, fps: float) -> np.ndarray:
    """Times (s) of the visual beats of an impulse sampled at `fps`."""
    if len(impulse) < 3:
        return np.zeros(0)
    return pick_beats(impulse, fps)


def flow_beats(frames: np.ndarray, fps: float, size: int, bins: int) -> np.ndarray:
    """Times (s) of the visual beats of frames sampled at `fps`."""
    return flow_beats_of_impulse(FlowImpulse(size, bins).update(frames), fps)
