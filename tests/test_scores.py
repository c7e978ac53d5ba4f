"""Visual beats from the rhythm curve, and the per-video rhythm scores, on synthetic world clips whose
events and music hits are known."""
from __future__ import annotations

import numpy as np
import pytest

from model_fixtures import debug_config
from vidmusician.metrics.beat_matching import onset_f1
from vidmusician.metrics.flow_beats import flow_beats
from vidmusician.metrics.onsets import match
from vidmusician.metrics.video_scores import rhythm_scores, visual_beats
from vidmusician.models.builders import build_clip_encoder
from vidmusician.synth.media import read_audio
from vidmusician.synth.world import write_world
from vidmusician.video.features import video_features
from vidmusician.video.frames import sample_frames

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
    assert mean(on, "onset_f1_70ms") >= 0.85 and mean(off, "onset_f1_70ms") <= 0.2
    assert mean(on, "beat_alignment_100ms") > mean(off, "beat_alignment_100ms") + 0.5
    for r in on + off:
        assert 0 <= r["onset_f1_70ms"] <= 1 and 0 <= r["beats_hit"] <= 1 and 0 <= r["beat_alignment_100ms"] <= 1
        assert r["visual_beats"] > 0 and 40 <= r["tempo_bpm"] <= 250


def test_flow_beats_find_the_motion_events(clips):
    """The Davis & Agrawala style detector sees motion: cuts and motion bursts, not flashes (a
    brightness change moves nothing). Its beats must hit those events and little else."""
    scfg, fps = debug_config().soundtrack.scores, 25.0
    hits_motion = motion_events = hits_any = beats_total = 0
    for row, _, _, _ in clips:
        video = sample_frames(row["uri"], fps, scfg.flow_size)
        beats = flow_beats(video.frames, fps, scfg.flow_size, scfg.flow_bins)
        times, kinds = np.array(row["event_times"]), np.array(row["event_kinds"])
        motion = times[kinds != "flash"]
        hits_motion += round(match(beats, motion, 0.07)[1] * len(motion))
        hits_any += round(match(beats, times, 0.07)[0] * len(beats))
        motion_events, beats_total = motion_events + len(motion), beats_total + len(beats)
    assert motion_events >= 6 and hits_motion / motion_events >= 0.9  # recall on motion events
    assert hits_any / beats_total >= 0.8                                # precision against all events


def test_model_scores_are_absent_unless_configured():
    from vidmusician.metrics import model_scores
    from vidmusician.soundtrack.table import to_table

    assert model_scores.build_scorers({}) == {}
    with pytest.raises(ValueError, match="no scorer registered for \\['kl'\\]"):
        model_scores.build_scorers({"kl": "/weights/kl"})
    with pytest.raises(ValueError, match="has no column"):
        model_scores.register("made-up")
    model_scores.register("kl")(lambda weights: lambda features, wav, sr: len(weights))
    try:
        (scorer,) = model_scores.build_scorers({"kl": "/weights/kl"}).values()
        assert scorer(None, None, 16000) == len("/weights/kl")
    finally:
        model_scores._FACTORIES.pop("kl")
    row = to_table([{"video_id": "v", "status": "ok", "onset_f1_70ms": 0.5}]).to_pylist()[0]
    assert row["onset_f1_70ms"] == 0.5 and row["kl"] is None and row["fad"] is None  # null, not 0


def test_blockwise_onset_envelope_is_librosas_with_a_block_of_memory(clips):
    """The envelope made block by block equals librosa's whole-signal one (block edges that cut
    frames, the zero padding at both ends, the dB floor relative to the whole track's maximum), and
    its peak allocation is a block's, not the track's."""
    import tracemalloc

    import librosa

    from vidmusician.metrics.onsets import onset_envelope
    _, _, audio, sr = clips[0]
    music = np.tile(audio, 8)  # a longer track, so the whole spectrogram dwarfs one block
    music[: sr // 2] *= 1e-6   # a quiet start: the dB floor must follow the whole track's maximum
    for hop, aggregate in ((256, np.median), (512, np.mean)):
        whole = librosa.onset.onset_strength(y=music, sr=sr, hop_length=hop, n_fft=2048, aggregate=aggregate)
        blocks = onset_envelope(music, sr, hop, 2048, aggregate, block_s=0.77)
        np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-5 * whole.max())
    peaks = []
    for fn in (lambda: librosa.onset.onset_strength(y=music, sr=sr, hop_length=256, n_fft=2048),
               lambda: onset_envelope(music, sr, 256, 2048, block_s=1.0)):
        tracemalloc.start()
        fn()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] / 4, peaks
