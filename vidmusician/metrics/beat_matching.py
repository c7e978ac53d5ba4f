"""Rhythm scores that need no model weights (paper-notes, "Evaluation used in this field").

Beats Hit / Coverage Score (D2M-GAN's definitions): onsets binned into 1 s bins, b[k] = 1 if any onset
falls in [k, k + 1); BHS = sum(b_ref & b_gen) / sum(b_ref), BCS = sum(b_gen) / sum(b_ref); both are
undefined (NaN) without a reference beat. Onset F1: mir_eval's maximum one-to-one matching
(metrics/onsets.match) within +-70 ms against visual beats (mir_eval.beat's window: visual events are
beats, not note onsets; mir_eval.onset's is 50 ms). Beat alignment score:
mean over reference beats v of exp(-min_m (v - m)^2 / 2 sigma^2), with the project's sigma of 100 ms
and the 50 ms of AIST++ / Bailando's BeatAlign. The score columns name their window or sigma."""
from __future__ import annotations

import math

import numpy as np

from vidmusician.metrics.onsets import f1, match

ONSET_TOLERANCE_S = 0.07    # mir_eval.beat.f_measure's window
BEAT_BIN_S = 1.0
ALIGNMENT_SIGMA_S = 0.1
LITERATURE_SIGMA_S = 0.05   # AIST++ / Bailando BeatAlign


def beat_bins(times: np.ndarray, duration_s: float, bin_s: float = BEAT_BIN_S) -> np.ndarray:
    bins = np.zeros(max(1, math.ceil(duration_s / bin_s - 1e-9)), dtype=bool)
    idx = np.floor(np.asarray(times, dtype=np.float64) / bin_s).astype(int)
    bins[idx[(idx >= 0) & (idx < len(bins))]] = True
    return bins


def beats_hit_score(generated: np.ndarray, reference: np.ndarray, duration_s: float) -> float:
    ref, gen = beat_bins(reference, duration_s), beat_bins(generated, duration_s)
    return float((ref & gen).sum() / ref.sum()) if ref.any() else math.nan


def beats_coverage_score(generated: np.ndarray, reference: np.ndarray, duration_s: float) -> float:
    ref, gen = beat_bins(reference, duration_s), beat_bins(generated, duration_s)
    return float(gen.sum() / ref.sum()) if ref.any() else math.nan


def onset_f1(found: np.ndarray, truth: np.ndarray, tolerance_s: float = ONSET_TOLERANCE_S) -> float:
    precision, recall, _ = match(np.asarray(found), np.asarray(truth), tolerance_s)
    return f1(precision, recall)


def beat_alignment_score(reference: np.ndarray, onsets: np.ndarray, sigma_s: float = ALIGNMENT_SIGMA_S) -> float:
    reference, onsets = np.asarray(reference, np.float64), np.asarray(onsets, np.float64)
    if len(reference) == 0:
        return float("nan")
    if len(onsets) == 0:
        return 0.0
    gaps = np.abs(reference[:, None] - onsets[None, :]).min(axis=1)
    return float(np.exp(-gaps ** 2 / (2 * sigma_s ** 2)).mean())
