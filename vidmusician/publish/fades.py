"""The music's beginning and end: a short fade-in, and a fade-out that ends with the video's last
frame and starts, where one is near, on a beat of the music itself (an editor's cut lands on a beat).
The ramps are FFmpeg's afade (quarter-sine curve: no click, no audible corner)."""
from __future__ import annotations

import numpy as np

from vidmusician.publish.filters import run_chain

FADE_CURVE = "qsin"


def fade_out_start(duration_s: float, beats_s: np.ndarray, fade_out_s: float, beat_window_s: float,
                   max_fraction: float) -> float:
    """When the fade-out starts: `fade_out_s` before the end, moved to the music's nearest beat within
    `beat_window_s` of that; never more than `max_fraction` of the track (a short video keeps most of
    its music)."""
    length = min(fade_out_s, max_fraction * duration_s)
    planned = duration_s - length
    beats = np.asarray(beats_s, dtype=np.float64)
    near = beats[(np.abs(beats - planned) <= beat_window_s) & (beats >= (1 - max_fraction) * duration_s)
                 & (beats < duration_s)]
    return float(near[np.argmin(np.abs(near - planned))]) if len(near) else planned


def apply_fades(audio: np.ndarray, sample_rate: int, fade_in_s: float, out_start_s: float) -> np.ndarray:
    """`audio` faded in over `fade_in_s` and out from `out_start_s` to its last sample."""
    duration_s = len(audio) / sample_rate
    filters = []
    if fade_in_s > 0:
        filters.append(f"afade=t=in:st=0:d={min(fade_in_s, duration_s):.6f}:curve={FADE_CURVE}")
    if out_start_s < duration_s:
        filters.append(f"afade=t=out:st={out_start_s:.6f}:d={duration_s - out_start_s:.6f}:curve={FADE_CURVE}")
    if not filters:
        return audio
    faded, _ = run_chain(audio, sample_rate, ",".join(filters))
    return faded[:len(audio)]
