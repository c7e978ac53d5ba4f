"""Visual beats after Davis & Agrawala (SIGGRAPH 2018) as the `visbeat3` package computes them
(`Video.getVisualBeats`, the detector CMT vendors), ported so its scores can be set beside published
ones; the project's own detector (metrics/flow_beats.py, and the rhythm-curve beats) stays the one
the job uses. Default path, in order (source read 2026-11-28, haofanwang/visbeat3 Video_CV.py /
Video.py / Event.py):

1. frames at the video's own rate, shrunk to at most 240 px high (`PullVideo`'s max_height), grey;
2. Farneback flow from each frame to the next (pyramid 0.5 with log2(min side) - 4 levels, window
   15, 3 iterations, poly_n 5, sigma 1.25); frame 0's column is no motion;
3. a 128-bin directogram: flow magnitude summed per direction (atan2 + pi over [0, 2 pi)) inside a
   5% border cut;
4. Gaussian smoothing (sigma 5 bins, 3 frames; scipy's reflecting edges), a 3 x 3 median, the
   forward difference over time, only decreases kept (deceleration: motion that stops), the mean
   over bins;
5. a 5th-order Butterworth high-pass at 1 / 0.8 s, forward and back (filtfilt);
6. samples beyond the 99th percentile of |v| set to the 98th percentile's value, all divided by the
   99th percentile;
7. librosa's peak picker over 2 / 2 frames (max), 5 / 5 frames (mean), wait 2 frames, delta 0.015;
   beat time = frame / fps.
visbeat also drops a video's last frame (its frame count is one short) and sets outliers of either
sign to +p98; the first is a reader quirk and is not copied, the second is (it is the algorithm).
"""
from __future__ import annotations

import math

import cv2
import librosa
import numpy as np
from scipy import ndimage, signal

MAX_HEIGHT = 240
BINS = 128
BORDER = 0.05
FARNEBACK = dict(pyr_scale=0.5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.25, flags=0)
SMOOTH_SIGMA = (5, 3)       # direction bins, frames
MEDIAN = (3, 3)
HIGHPASS_ORDER, HIGHPASS_WINDOW_S = 5, 0.8
CLIP_PERCENTILE, CLIP_VALUE_PERCENTILE = 99, 98
PEAKS = dict(pre_max=2, post_max=2, pre_avg=5, post_avg=5, wait=2, delta=0.015)  # frames


def grey(frames: np.ndarray) -> np.ndarray:
    """[N, H, W, 3] uint8 RGB -> [N, h, w] uint8 grey, at most MAX_HEIGHT high (aspect kept)."""
    height, width = frames.shape[1:3]
    size = None
    if height > MAX_HEIGHT:
        size = (max(2, round(width * MAX_HEIGHT / height) // 2 * 2), MAX_HEIGHT)
    out = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    return np.stack([cv2.resize(g, size, interpolation=cv2.INTER_AREA) if size else g for g in out])


def directogram(frames: np.ndarray) -> np.ndarray:
    """[BINS, N]: flow magnitude summed per direction bin, per frame (column 0: no motion yet)."""
    g = grey(frames)
    h, w = g.shape[1:]
    y0, x0 = int(BORDER * h), int(BORDER * w)
    levels = max(0, int(math.log2(min(h, w))) - 4)
    out = np.zeros((BINS, len(g)), np.float64)
    for t in range(1, len(g)):
        flow = cv2.calcOpticalFlowFarneback(g[t - 1], g[t], None, levels=levels, **FARNEBACK)
        fx, fy = flow[y0:h - y0, x0:w - x0, 0], flow[y0:h - y0, x0:w - x0, 1]
        angle, magnitude = np.arctan2(fy, fx) + np.pi, np.sqrt(fx * fx + fy * fy)
        out[:, t] = np.histogram(angle.ravel(), bins=BINS, range=(0, 2 * np.pi), weights=magnitude.ravel())[0]
    return out


def impact_envelope(directo: np.ndarray, fps: float) -> np.ndarray:
    """[N]: the deceleration envelope of a directogram [BINS, N], high-passed and normalised."""
    im = signal.medfilt(ndimage.gaussian_filter(directo, sigma=SMOOTH_SIGMA), MEDIAN)
    change = np.diff(im, axis=1, prepend=0.0)  # column 0 minus nothing, as visbeat
    v = np.clip(-change, 0, None).mean(axis=0)
    b, a = signal.butter(HIGHPASS_ORDER, (1 / HIGHPASS_WINDOW_S) / (fps / 2), btype="high")
    if len(v) <= 3 * max(len(a), len(b)):  # filtfilt's padding needs a longer signal
        return np.zeros_like(v)
    v = signal.filtfilt(b, a, v)
    top, fill = np.percentile(np.abs(v), CLIP_PERCENTILE), np.percentile(np.abs(v), CLIP_VALUE_PERCENTILE)
    v[np.abs(v) > top] = fill
    return v / top if top > 0 else v


def visbeat_beats(frames: np.ndarray, fps: float) -> np.ndarray:
    """Times (s) of the visual beats of RGB frames sampled at `fps`, as visbeat finds them."""
    if len(frames) < 2:
        return np.zeros(0)
    envelope = impact_envelope(directogram(frames), fps)
    return librosa.util.peak_pick(envelope, **PEAKS) / fps
