"""Percussive-hit detection and onset matching, shared by the world's tests, the toy backbone's
report and the rhythm metrics.

Detector (toy-world-notes pitfall 6: librosa's defaults misfire at 16 kHz): librosa onset_strength
(log-mel flux, n_fft 2048, hop 256) taking the MEDIAN over mel bands, then onset_detect with wait
0.1 s, delta 0.3, pre_max 0.03 s, post_max 1 frame, pre_avg 0.1 s, post_avg 0.1 s + 1 frame (all
rounded to frames), reported one hop earlier. The median keeps broadband hits and ignores note
changes, which light up only a few bands. Measured on 90 world clips (465 hits) after the AAC round
trip: 0 false / 0 missed, errors 0..+8 ms (the default mean: 2 false / 0 missed).

The envelope is computed block by block (`onset_envelope`), so a 10-minute track never holds its
whole spectrogram (75,000 frames x 1,025 bins at 32 kHz: 0.6 GB); it equals librosa's whole-signal
envelope (tested).
"""
from __future__ import annotations

import librosa
import mir_eval
import numpy as np

ONSET_HOP = 256
ONSET_N_FFT = 2048
ONSET_AGGREGATE = np.median  # over mel bands
ONSET_WAIT_S = 0.1
ONSET_DELTA = 0.3
ONSET_PRE_MAX_S = 0.03
ONSET_PRE_AVG_S = 0.1
ONSET_POST_AVG_S = 0.1
# librosa marks these hits one to one and a half hops late (+16..+24 ms at hop 16 ms); reporting one
# hop earlier leaves 0..+8 ms.
ONSET_LATENCY_HOPS = 1
# Spectrogram frames per block of the envelope: memory is one block's STFT, the result is the same.
ONSET_BLOCK_S = 20.0


def _mel_power_blocks(y: np.ndarray, sr: int, hop: int, n_fft: int, block_frames: int):
    """librosa's centred, zero-padded mel power spectrogram of `y`, `block_frames` columns at a time:
    frame t covers samples [t * hop - n_fft // 2, t * hop + n_fft // 2), zeros outside the signal."""
    half, frames = n_fft // 2, 1 + len(y) // hop
    for first in range(0, frames, block_frames):
        last = min(frames, first + block_frames) - 1
        lo, hi = first * hop - half, last * hop - half + n_fft
        piece = np.pad(y[max(lo, 0):min(hi, len(y))], (max(0, -lo), max(0, hi - len(y))))
        yield librosa.feature.melspectrogram(y=piece, sr=sr, n_fft=n_fft, hop_length=hop, center=False)


def onset_envelope(y: np.ndarray, sr: int, hop: int, n_fft: int, aggregate=np.mean,
                   block_s: float = ONSET_BLOCK_S) -> np.ndarray:
    """librosa.onset.onset_strength(y=y, ...) with memory bounded by `block_s`: the mel power is
    computed block by block; the dB conversion (its 80 dB floor is relative to the whole track's
    maximum) and the flux run on the small mel spectrogram."""
    block_frames = max(1, int(block_s * sr / hop))
    mel = np.concatenate(list(_mel_power_blocks(y, sr, hop, n_fft, block_frames)), axis=-1)
    return librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr, hop_length=hop,
                                        n_fft=n_fft, aggregate=aggregate)


def detect_hits(y: np.ndarray, sr: int) -> np.ndarray:
    """Onset times (s) of the percussive hits in `y`, with the detector parameters above."""
    hop_s = ONSET_HOP / sr
    env = onset_envelope(y, sr, ONSET_HOP, ONSET_N_FFT, ONSET_AGGREGATE)
    frames = librosa.onset.onset_detect(
        onset_envelope=env, sr=sr, hop_length=ONSET_HOP, delta=ONSET_DELTA,
        wait=round(ONSET_WAIT_S / hop_s), pre_max=round(ONSET_PRE_MAX_S / hop_s), post_max=1,
        pre_avg=round(ONSET_PRE_AVG_S / hop_s), post_avg=round(ONSET_POST_AVG_S / hop_s) + 1)
    return (frames - ONSET_LATENCY_HOPS) * hop_s


def match(found: np.ndarray, truth: np.ndarray, tol: float) -> tuple[float, float, np.ndarray]:
    """Precision, recall and the errors (found - truth, in truth order) of mir_eval's maximum one-to-one
    matching within `tol` (`mir_eval.util.match_events`, as `mir_eval.onset` and `mir_eval.beat` score).
    A greedy nearest match can pair one found event with the wrong truth and leave a later one
    unmatched: on dense lists it scores lower."""
    found, truth = np.asarray(found, np.float64), np.asarray(truth, np.float64)
    pairs = mir_eval.util.match_events(truth, found, tol) if len(found) and len(truth) else []
    errors = np.array([found[j] - truth[i] for i, j in pairs], dtype=np.float64)
    return len(pairs) / max(len(found), 1), len(pairs) / max(len(truth), 1), errors


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
