"""Rhythm scores that need no model weights (paper-notes, "Evaluation used in this field").

Beats Hit / Coverage Score: onsets binned into 1 s bins, b[k] = 1 if any onset falls in [k, k + 1);
BHS = sum(b_ref & b_gen) / sum(b_ref), BCS = sum(b_gen) / sum(b_ref). Onset F1: one-to-one matching
within a tolerance (+-70 ms by default, mir_eval style). Beat alignment score:
mean over reference beats v of exp(-min_m (v - m)^2 / 2 sigma^2)."""
from __future__ import annotations

import math

import numpy as np

from vidmusician.metrics.onsets import f1, match

ONSET_TOLERANCE_S = 0.07
BEAT_BIN_S = 1.0
ALIGNMENT_SIGMA_S = 0.1


def beat_bins(times: np.ndarray, duration_s: float, bin_s: float = BEAT_BIN_S) -> np.ndarray:
    bins = np.zeros(max(1, math.ceil(duration_s / bin_s - 1e-9)), dtype=bool)
    idx = np.floor(np.asarray(times, dtype=np.float64) / bin_s).astype(int)
    bins[idx[(idx >= 0) & (idx < len(bins))]] = True
    return bins


def beats_hit_score(generated: np.ndarray, reference: np.ndarray, duration_s: float) -> float:
    ref, gen = beat_bins(reference, duration_s), beat_bins(generated, duration_s)
    return float((ref & gen).sum() / max(ref.sum(), 1))


def beats_coverage_score(generated: np.ndarray, reference: np.ndarray, duration_s: float) -> float:
    ref, gen = beat_bins(reference, duration_s), beat_bins(generated, duration_s)
    return float(gen.sum() / max(ref.sum(), 1))


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
