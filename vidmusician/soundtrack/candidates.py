"""Best of N: every candidate piece of music for a video is scored with the rhythm scores the table
already has and checked for what would make it unpublishable (clipping, near silence); the best
clean one by the configured score is kept. No torch here (the write stage)."""
from __future__ import annotations

import math

import numpy as np

from vidmusician.config.schema import SoundtrackConfig
from vidmusician.metrics.video_scores import rhythm_scores
from vidmusician.publish.loudness import measure

FULL_SCALE = 0.999  # a sample at or above this magnitude counts as clipped


def issues(wav: np.ndarray, sample_rate: int, st: SoundtrackConfig) -> tuple[str, float]:
    """(what is wrong with this candidate, "" when nothing; its integrated loudness)."""
    found = []
    clipped = float(np.mean(np.abs(wav) >= FULL_SCALE)) if len(wav) else 0.0
    if clipped > st.max_clipped_fraction:
        found.append(f"clipped {clipped:.2%}")
    lufs = measure(wav, sample_rate).integrated_lufs
    if not lufs > st.min_music_lufs:
        found.append(f"too quiet ({lufs:.1f} LUFS)")
    return "; ".join(found), lufs


def best(scores: list[float], problems: list[str]) -> int:
    """The index of the highest score among the clean candidates (among all, if none is clean); a
    missing (NaN) score ranks last; ties go to the earlier candidate."""
    pool = [i for i, p in enumerate(problems) if not p] or list(range(len(scores)))
    return max(pool, key=lambda i: (not math.isnan(scores[i]), scores[i] if not math.isnan(scores[i]) else 0.0, -i))


def choose(wavs: np.ndarray, sample_rate: int, visual: np.ndarray, flow: np.ndarray, duration_s: float,
           st: SoundtrackConfig) -> tuple[int, dict, dict]:
    """(the kept candidate's index, its rhythm scores, the table's candidate columns)."""
    scored = [rhythm_scores(visual, wav, sample_rate, duration_s, flow=flow) for wav in wavs]
    checked = [issues(wav, sample_rate, st) for wav in wavs]
    keys = [float(s[st.select_by]) for s in scored]
    chosen = best(keys, [p for p, _ in checked])
    return chosen, scored[chosen], {
        "candidates": len(wavs), "chosen_candidate": chosen, "candidate_scores": keys,
        "candidate_lufs": [float(lufs) for _, lufs in checked], "candidate_issues": [p for p, _ in checked]}
