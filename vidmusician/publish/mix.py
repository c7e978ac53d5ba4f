"""Mix policies: what the published sound track is made of when the source has sound of its own.

replace: the music alone. duck: the source's audio as it is, the music under it, lowered by a depth
wherever the source speaks (offline, so the music starts to go down `attack` before the first word
and comes back over `release` after the last; pauses shorter than attack + release stay down, so the
music does not pump between words). keep: a video that already has music (the music detector,
publish/music.py) keeps its sound and gets no music; one with other sound (speech, effects) keeps it
with the music ducked under its speech; with no detector configured, any sound that is not speech
counts as music. auto: speech -> duck, anything else -> replace (the service exists to add music;
`keep` is the opt-in for sources whose own sound must stay). Without audible sound of its own a video
is always replace."""
from __future__ import annotations

import numpy as np

from vidmusician.config.schema import PublishConfig
from vidmusician.publish.speech import NONE, SILENT, SPEECH

REPLACE, DUCK, KEEP, AUTO = "replace", "duck", "keep", "auto"
# The gain curve is evaluated this many samples at a time (a 10-minute track's sample times in
# float64 would be 150 MB).
BLOCK_SAMPLES = 1 << 20


def mix_for(policy: str, source_kind: str, music: bool | None = None) -> str:
    """The mix a video gets under `policy`, given what its source sounds like. `music`: whether the
    music detector heard music in it (publish/music.py); None when no detector is configured, and
    `keep` then takes any sound that is not speech for music."""
    if source_kind in (NONE, SILENT):
        return REPLACE
    if policy == AUTO:
        return DUCK if source_kind == SPEECH else REPLACE
    if policy == KEEP:
        if music is None:
            return DUCK if source_kind == SPEECH else KEEP
        return KEEP if music else DUCK
    return policy


def _merge(segments: np.ndarray, gap_s: float) -> np.ndarray:
    merged: list[list[float]] = []
    for start, end in sorted(np.asarray(segments, dtype=np.float64).reshape(-1, 2).tolist()):
        if merged and start - merged[-1][1] < gap_s:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.array(merged, dtype=np.float64).reshape(-1, 2)


def duck_gain(n_samples: int, sample_rate: int, speech: np.ndarray, pub: PublishConfig) -> np.ndarray:
    """Linear gain per sample for the music: 1, down to -`duck_depth_db` over each speech segment,
    with linear (in dB) ramps of `duck_attack_s` before and `duck_release_s` after it."""
    spans = _merge(speech, pub.duck_attack_s + pub.duck_release_s)
    # Breakpoints of the ducking amount (0 = full music, 1 = full depth): spans no longer overlap.
    times, amount = [0.0], [0.0]
    for start, end in spans:
        times += [start - pub.duck_attack_s, start, end, end + pub.duck_release_s]
        amount += [0.0, 1.0, 1.0, 0.0]
    times, amount = np.array(times[1:] or [0.0]), np.array(amount[1:] or [0.0])
    gain = np.empty(n_samples, dtype=np.float32)
    for first in range(0, n_samples, BLOCK_SAMPLES):
        t = np.arange(first, min(n_samples, first + BLOCK_SAMPLES)) / sample_rate
        gain[first:first + len(t)] = 10 ** (-pub.duck_depth_db * np.interp(t, times, amount) / 20)
    return gain


def duck(music: np.ndarray, source: np.ndarray, sample_rate: int, speech: np.ndarray,
         pub: PublishConfig) -> np.ndarray:
    """The source's audio plus the music ducked under its speech (both mono at `sample_rate`,
    aligned at the video's start; the source is cut or padded with silence to the music's length)."""
    source = np.asarray(source, dtype=np.float32)[:len(music)]
    source = np.pad(source, (0, len(music) - len(source)))
    return (source + music * duck_gain(len(music), sample_rate, speech, pub)).astype(np.float32)
