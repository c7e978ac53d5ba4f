"""Per-video rhythm scores that need no model weights: visual beats of the video against the onsets
of its music (the score table of the soundtracking job).

Visual beats come from the rhythm curve the model itself is fed (mean patch change per frame at the
LM frame rate): librosa's peak picker with a 0.2 s exclusion (cuts and hits are rarely closer) and a
threshold of the curve's mean plus VISUAL_DELTA_STD standard deviations over a 1 s neighbourhood.
Music onsets: the shared percussive-hit detector (metrics/onsets.py); tempo: librosa's beat tracker."""
from __future__ import annotations

import librosa
import numpy as np

from vidmusician.metrics.beat_matching import (LITERATURE_SIGMA_S, beat_alignment_score, beats_coverage_score,
                                               beats_hit_score, onset_f1)
from vidmusician.metrics.onsets import ONSET_N_FFT, detect_hits, onset_envelope

VISUAL_WAIT_S = 0.2
VISUAL_AVG_S = 0.5        # each side of a frame, for the local mean
VISUAL_MAX_S = 0.1        # each side of a frame, for the local maximum
VISUAL_DELTA_STD = 1.0
# d_0 = 1 by definition (no previous frame): the first frames of the curve are not a visual event.
VISUAL_SKIP_S = 0.1
TEMPO_HOP = 512           # librosa.beat.beat_track's default


def pick_beats(envelope: np.ndarray, rate: float) -> np.ndarray:
    """Times (s) of the peaks of a visual envelope sampled at `rate`: librosa's peak picker, local
    maximum over VISUAL_MAX_S, above the local mean (VISUAL_AVG_S) by VISUAL_DELTA_STD std."""
    x = np.asarray(envelope, dtype=np.float64)
    skip = int(round(VISUAL_SKIP_S * rate))
    if len(x) <= skip + 1:
        return np.zeros(0)
    x = x.copy()
    x[:skip] = x[skip:].min()
    frames = lambda s: max(1, int(round(s * rate)))  # noqa: E731
    peaks = librosa.util.peak_pick(x, pre_max=frames(VISUAL_MAX_S), post_max=frames(VISUAL_MAX_S),
                                   pre_avg=frames(VISUAL_AVG_S), post_avg=frames(VISUAL_AVG_S),
                                   delta=VISUAL_DELTA_STD * float(x[skip:].std()), wait=frames(VISUAL_WAIT_S))
    return peaks / rate


def visual_beats(curve: np.ndarray, rate: float) -> np.ndarray:
    """Times (s) of the visual beats in a rhythm curve [T] or [T, S] (the mean change is column 0)."""
    x = np.asarray(curve, dtype=np.float64)
    return pick_beats(x[:, 0] if x.ndim == 2 else x, rate)


def music_beats(wav: np.ndarray, sr: int) -> tuple[float, np.ndarray]:
    """(tempo in bpm, beat times in s): librosa's beat tracker with its default envelope (hop 512,
    mean over bands), made by block."""
    env = onset_envelope(np.asarray(wav, np.float32), sr, TEMPO_HOP, ONSET_N_FFT)
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=TEMPO_HOP, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.float64)


def rhythm_scores(visual: np.ndarray, wav: np.ndarray, sr: int, duration_s: float,
                  flow: np.ndarray | None = None) -> dict[str, float]:
    """The score-table columns for one video: its visual beats (from the rhythm curve, and from the
    flow detector when given) against its new music's onsets."""
    onsets = detect_hits(np.asarray(wav, np.float32), sr)
    tempo, beats = music_beats(wav, sr)
    scores = {"visual_beats": int(len(visual)), "music_onsets": int(len(onsets)), "tempo_bpm": tempo,
              "onset_f1_70ms": onset_f1(onsets, visual),
              "beats_hit": beats_hit_score(onsets, visual, duration_s),
              "beats_coverage": beats_coverage_score(onsets, visual, duration_s),
              "beat_alignment_100ms": beat_alignment_score(visual, onsets),
              "beat_alignment_50ms": beat_alignment_score(visual, onsets, LITERATURE_SIGMA_S)}
    if flow is not None:
        scores.update(flow_beats=int(len(flow)), onset_f1_flow_70ms=onset_f1(onsets, flow))
    scores["music_onset_times"] = [float(t) for t in onsets]
    scores["music_beat_times"] = [float(t) for t in beats]
    return scores
