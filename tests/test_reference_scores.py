"""The published rhythm scores (D2M-GAN's and LORIS' Beats Coverage / Hit) on click tracks whose
answers are worked out by hand from the scripts' definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vidmusician.metrics.beat_matching import beat_bins  # the 1 s bins both scripts use
from vidmusician.metrics.reference_scores import (D2M_GAN_DETECTOR, LORIS_DETECTOR, REFERENCE_SR, d2m_gan_scores,
                                                  loris_f1, loris_scores, reference_onsets)

SECONDS = 5.0
REFERENCE_CLICKS = [0.5, 1.5, 2.5, 3.5]   # bins 0, 1, 2, 3 of 5
GENERATED_CLICKS = [0.5, 2.5, 4.5]        # bins 0, 2, 4


def click_track(times: list[float], sr: int, seconds: float = SECONDS) -> np.ndarray:
    """Decaying noise bursts of 20 ms at `times` over a quiet noise floor."""
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1e-4, int(seconds * sr)).astype(np.float32)
    n = int(0.02 * sr)
    burst = rng.normal(0, 0.5, n) * np.exp(-np.arange(n) / (0.004 * sr))
    for t in times:
        start = int(t * sr)
        y[start:start + n] += burst.astype(np.float32)
    return y


@pytest.mark.parametrize("sr", [REFERENCE_SR, 16000])  # 16 kHz goes through the resampling
@pytest.mark.parametrize("detector", [D2M_GAN_DETECTOR, LORIS_DETECTOR])
def test_the_scripts_detectors_find_each_click(sr, detector):
    found = reference_onsets(click_track(REFERENCE_CLICKS, sr), sr, detector)
    assert len(found) == len(REFERENCE_CLICKS)
    assert np.abs(found - np.array(REFERENCE_CLICKS)).max() < 0.03  # within about a hop (23 ms)


@pytest.mark.parametrize("sr", [REFERENCE_SR, 16000])
def test_d2m_gan_and_loris_scores_on_click_tracks(sr):
    generated, reference = click_track(GENERATED_CLICKS, sr), click_track(REFERENCE_CLICKS, sr)
    # bins: reference 1 1 1 1 0, generated 1 0 1 0 1: 3 generated, 4 reference, 2 shared
    bcs, bhs = d2m_gan_scores(generated, reference, sr)
    assert (bcs, bhs) == (pytest.approx(3 / 4), pytest.approx(2 / 4))
    coverage, hit = loris_scores(generated, reference, sr)
    assert (coverage, hit) == (pytest.approx(2 / 3), pytest.approx(2 / 4))
    assert loris_f1([coverage], [hit]) == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))
    # D2M-GAN's coverage can exceed 1: more generated bins than reference ones
    assert d2m_gan_scores(reference, generated, sr)[0] == pytest.approx(4 / 3)


def test_undefined_scores_are_nan_not_a_count():
    sr = REFERENCE_SR
    silent, clicks = np.zeros(int(SECONDS * sr), np.float32), click_track(REFERENCE_CLICKS, sr)
    assert all(math.isnan(s) for s in d2m_gan_scores(clicks, silent, sr))  # no reference onset
    coverage, hit = loris_scores(clicks, silent, sr)  # generated onsets, none of them a hit
    assert coverage == 0.0 and math.isnan(hit)
    coverage, hit = loris_scores(silent, clicks, sr)  # nothing generated: coverage undefined, hit 0
    assert math.isnan(coverage) and hit == 0.0
    assert loris_f1([math.nan, 0.5], [0.5, 0.5]) == pytest.approx(0.5)  # the undefined one left out


def test_second_bins_truncate_and_cover_the_whole_length():
    assert beat_bins(np.array([0.0, 0.99, 2.0, 4.7]), 4.7).tolist() == [True, False, True, False, True]
    assert beat_bins(np.array([5.2]), 4.7).tolist() == [False] * 5  # past the end: dropped


def ball_video(segments: list[tuple[int, int]], fps: int = 25) -> tuple[np.ndarray, list[float], list[float]]:
    """A white ball moving right 4 px a frame for `move` frames, then holding for `hold` frames, per
    segment; returns the frames and the times it starts and stops."""
    height, width = 96, 240
    n = sum(move + hold for move, hold in segments) + 10
    frames = np.zeros((n, height, width, 3), np.uint8)
    yy, xx = np.mgrid[:height, :width]
    x, t, starts, stops = 15.0, 0, [], []
    for move, hold in segments:
        starts.append(t / fps)
        for step in range(move + hold):
            x += 4 if step < move else 0
            frames[t][(yy - 48) ** 2 + (xx - x) ** 2 < 64] = 255
            t += 1
        stops.append((t - hold) / fps)
    frames[t:] = frames[t - 1]
    return frames, starts, stops


def test_visbeat_beats_fall_where_motion_stops_not_where_it_starts():
    """Davis & Agrawala's beats are decelerations: irregular moves and holds (so the high-pass
    filter's ringing lands on neither), each stop has a beat within 2 frames, no later start has."""
    from vidmusician.metrics.visbeat import visbeat_beats
    fps = 25
    frames, starts, stops = ball_video([(10, 30), (8, 27), (12, 33), (9, 26), (11, 31)], fps)
    beats = visbeat_beats(frames, fps)
    near = lambda t: np.abs(beats - t).min() <= 2 / fps + 1e-9  # noqa: E731
    assert all(near(t) for t in stops), (beats, stops)
    assert not any(near(t) for t in starts[1:]), (beats, starts)
    assert len(visbeat_beats(frames[:1], fps)) == 0
