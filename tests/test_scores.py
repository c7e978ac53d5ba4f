"""Visual beats from the rhythm curve, and the per-video rhythm scores, on synthetic world clips whose
events and music hits are known."""
from __future__ import annotations

import numpy as np
import pytest

from model_fixtures import debug_config
from vidmusician.decode import sample_frames
from vidmusician.features import video_features
from vidmusician.metrics.rhythm import onset_f1
from vidmusician.metrics.scores import rhythm_scores, visual_beats
from vidmusician.models.builders import build_clip_encoder
from vidmusician.synth.media import read_audio
from vidmusician.synth.world import write_world

LM_RATE = 50.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    cfg = debug_config("world.num_videos=6")
    truth = write_world(cfg, str(tmp_path_factory.mktemp("world"))).to_pylist()
    encoder = build_clip_encoder(cfg.model.clip)
    out = []
    for row in truth:
        video = sample_frames(row["uri"], cfg.model.rhythm.fps, encoder.image_size)
        feats = video_features(encoder, video.frames, video.duration_s, cfg.model, LM_RATE)
        audio, sr = read_audio(row["uri"])
        out.append((row, visual_beats(feats.rhythm.numpy(), LM_RATE), audio, sr))
    return out


def test_visual_beats_fall_on_the_events(clips):
    scores = [onset_f1(beats, np.array(row["event_times"]), tolerance_s=0.04) for row, beats, _, _ in clips]
    assert np.mean(scores) >= 0.9 and min(scores) >= 0.75


def test_scores_tell_music_on_the_beats_from_music_off_them(clips):
    on, off = [], []
    for row, beats, audio, sr in clips:
        on.append(rhythm_scores(beats, audio, sr, row["duration_s"]))
        shifted = np.roll(audio, int(0.2 * sr))  # the same music, 200 ms late
        off.append(rhythm_scores(beats, shifted, sr, row["duration_s"]))
    mean = lambda rows, k: float(np.mean([r[k] for r in rows]))  # noqa: E731
    assert mean(on, "onset_f1") >= 0.85 and mean(off, "onset_f1") <= 0.2
    assert mean(on, "beat_alignment") > mean(off, "beat_alignment") + 0.5
    for r in on + off:
        assert 0 <= r["onset_f1"] <= 1 and 0 <= r["beats_hit"] <= 1 and 0 <= r["beat_alignment"] <= 1
        assert r["visual_beats"] > 0 and 40 <= r["tempo_bpm"] <= 250
