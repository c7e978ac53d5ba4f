"""Rhythm scores as published papers compute them, to set the project's numbers beside theirs
(paper-notes, "Reference implementations of the rhythm scores").

Beats Coverage / Hit Score compare the onsets of the generated music with those of the reference
(ground-truth) music, both found by librosa's onset detector at 22.05 kHz (what `librosa.load` gives
the reference scripts) with the scripts' own peak-picking settings, binned into 1 s bins over the
audio (n = ceil(samples / sr) bins; an onset at t falls in bin trunc(t)):
- D2M-GAN / CDCD (L-YeZhu/Beats_Scores): BCS = sum(b_gen) / sum(b_ref) (can exceed 1),
  BHS = sum(b_gen & b_ref) / sum(b_ref).
- LORIS (OpenGVLab/LORIS): coverage = sum(b_gen & b_ref) / sum(b_gen) (a precision), hit as BHS, and
  an F1 of the two set-level means. Its detector looks 3 frames each way.
Where the scripts divide by zero (no reference onset) or return 0 for it (LORIS), these return NaN:
the score is undefined there, and a mean over videos must leave it out, not count it as a miss.
"""
from __future__ import annotations

import math

import librosa
import numpy as np

from vidmusician.metrics.beat_matching import beat_bins, beats_coverage_score, beats_hit_score

REFERENCE_SR = 22050
# librosa.onset.onset_detect keyword arguments of each script (pre_max: librosa's default where unset).
D2M_GAN_DETECTOR = {"wait": 1, "delta": 0.2, "pre_avg": 1, "post_avg": 1, "post_max": 1}
LORIS_DETECTOR = {"wait": 1, "delta": 0.2, "pre_avg": 3, "post_avg": 3, "pre_max": 3, "post_max": 3}


def reference_onsets(y: np.ndarray, sr: int, detector: dict) -> np.ndarray:
    """Onset times (s) of mono `y` as the reference scripts find them (resampled to 22.05 kHz)."""
    y = np.asarray(y, np.float32)
    if sr != REFERENCE_SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=REFERENCE_SR)
    return librosa.onset.onset_detect(y=y, sr=REFERENCE_SR, units="time", **detector)


def _bins_of(generated: np.ndarray, reference: np.ndarray, sr: int, detector: dict) -> tuple[np.ndarray, np.ndarray]:
    """Both tracks' 1 s bins (metrics/beat_matching.beat_bins) over the shorter length (the scripts
    assume, or cut to, equal lengths)."""
    seconds = min(len(generated), len(reference)) / sr
    return (beat_bins(reference_onsets(generated, sr, detector), seconds),
            beat_bins(reference_onsets(reference, sr, detector), seconds))


def d2m_gan_scores(generated: np.ndarray, reference: np.ndarray, sr: int) -> tuple[float, float]:
    """(BCS, BHS) of D2M-GAN between generated and reference music, mono at `sr`: the project's own
    Beats Coverage / Hit Score (the same formula), on onsets found the script's way."""
    seconds = min(len(generated), len(reference)) / sr
    gen, ref = reference_onsets(generated, sr, D2M_GAN_DETECTOR), reference_onsets(reference, sr, D2M_GAN_DETECTOR)
    return beats_coverage_score(gen, ref, seconds), beats_hit_score(gen, ref, seconds)


def loris_scores(generated: np.ndarray, reference: np.ndarray, sr: int) -> tuple[float, float]:
    """(coverage, hit) of LORIS between generated and reference music, mono at `sr`."""
    gen, ref = _bins_of(generated, reference, sr, LORIS_DETECTOR)
    hits = float((gen & ref).sum())
    return (hits / gen.sum() if gen.any() else math.nan), (hits / ref.sum() if ref.any() else math.nan)


def loris_f1(coverage: list[float], hit: list[float]) -> float:
    """LORIS' F1: the harmonic mean of the mean coverage and the mean hit over a set of videos."""
    c, h = float(np.nanmean(coverage)), float(np.nanmean(hit))
    return 2 * c * h / (c + h) if c + h > 0 else math.nan
