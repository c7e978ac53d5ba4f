"""The weight-free rhythm scores on hand-made onset lists, and the music classifier on world music."""
from __future__ import annotations

import warnings

import mir_eval
import numpy as np
import pytest

from vidmusician.config import load_config
from vidmusician.metrics.beat_matching import (LITERATURE_SIGMA_S, beat_alignment_score, beat_bins, beats_coverage_score,
                                               beats_hit_score, onset_f1)
from vidmusician.metrics.music_class import MusicClassifier
from vidmusician.toy.data import music_set


def test_beat_bins_and_scores():
    ref = np.array([0.2, 1.5, 2.1, 3.9])             # bins 0, 1, 2, 3 of a 4 s clip
    assert beat_bins(ref, 4.0).tolist() == [True, True, True, True]
    gen = np.array([0.9, 0.95, 2.5, 4.5])             # bins 0, 2 (4.5 s is past the end)
    assert beats_hit_score(gen, ref, 4.0) == 0.5
    assert beats_coverage_score(gen, ref, 4.0) == 0.5
    assert beats_hit_score(np.array([]), ref, 4.0) == 0.0
    # D2M-GAN divides by the reference beats: without one both scores are undefined, not a count
    assert np.isnan(beats_hit_score(gen, np.array([]), 4.0)) and np.isnan(beats_coverage_score(gen, np.array([]), 4.0))


def test_onset_f1_counts_each_onset_once_within_the_tolerance():
    truth = np.array([1.0, 2.0, 3.0])
    assert onset_f1(truth + 0.05, truth) == 1.0
    assert onset_f1(truth + 0.09, truth) == 0.0                  # outside +-70 ms
    assert onset_f1(np.array([1.0, 1.01, 2.0]), truth) == pytest.approx(2 / 3)  # one duplicate, one miss
    assert onset_f1(np.array([]), truth) == 0.0 and onset_f1(truth, np.array([])) == 0.0


def test_onset_matching_is_mir_evals_maximum_matching():
    # A nearest-first greedy match pairs 1.04 with 1.0 (its nearest), leaving 1.10 nothing within
    # 70 ms; the maximum matching pairs 0.98 with 1.0 and 1.04 with 1.10.
    truth, found = np.array([1.0, 1.10]), np.array([0.98, 1.04])
    assert onset_f1(found, truth) == 1.0
    # and it is mir_eval's F-measure on random lists, at mir_eval.onset's window and at ours
    rng = np.random.default_rng(0)
    for _ in range(200):
        truth, found = np.sort(rng.uniform(0, 5, rng.integers(0, 30))), np.sort(rng.uniform(0, 5, rng.integers(0, 30)))
        for window in (0.05, 0.07):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # mir_eval warns about empty lists
                expected = mir_eval.onset.f_measure(truth, found, window=window)[0]
            assert onset_f1(found, truth, tolerance_s=window) == pytest.approx(expected, abs=1e-12)


def test_beat_alignment_score():
    beats = np.array([1.0, 2.0])
    assert beat_alignment_score(beats, beats) == 1.0
    assert beat_alignment_score(beats, np.array([1.1, 2.1])) == pytest.approx(np.exp(-0.5))  # one sigma off
    assert beat_alignment_score(beats, np.array([1.05, 2.05]), LITERATURE_SIGMA_S) == pytest.approx(np.exp(-0.5))
    assert beat_alignment_score(beats, np.array([])) == 0.0
    assert np.isnan(beat_alignment_score(np.array([]), beats))


def test_classifier_tells_the_world_classes_apart():
    cfg = load_config(["preset=toy"])
    train, test = music_set(cfg.world, 60, seed=1), music_set(cfg.world, 15, seed=2)
    clf = MusicClassifier(cfg.world.sample_rate).fit(train.audio, train.classes)
    assert np.mean(np.array(clf.predict(test.audio)) == np.array(test.classes)) >= 0.9
