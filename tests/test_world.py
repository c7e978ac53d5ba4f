"""The synthetic world's ground truth holds on the written mp4s, decoded back with decord and PyAV.
Hits are found with the shared detector in vidmusician/metrics/onsets.py (its docstring has the figures).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import av
import decord
import librosa
import numpy as np
import pyarrow.parquet as pq
import pytest

from vidmusician.config import load_config
from vidmusician.metrics.onsets import detect_hits, match
from vidmusician.storage import Storage
from vidmusician.synth import music, video
from vidmusician.synth.media import read_audio, read_frames
from vidmusician.synth.world import GROUND_TRUTH_NAME, GROUND_TRUTH_SCHEMA, class_of, make_clip, read_ground_truth, write_world

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_VIDEOS = 6  # two clips per class

HIT_TOLERANCE_S = 0.025

# --- Visual events: d_t = mean |frame_t - frame_{t-1}|. An event is the largest d within
# +-EVENT_WINDOW_S (events are >= min_gap_s apart) and above EVENT_FACTOR x the median d (the median is
# the between-event motion: events are < 20% of frames). The window matters after a flash: its fade
# changes every frame a little, unevenly once rounded to 8 bits and re-encoded.
EVENT_FACTOR = 5.0
EVENT_WINDOW_S = 0.2
FRAME_TOLERANCE = 1
# Events must also stand out: the weakest event is at least this many times the largest non-event change
# (a flash fades over FLASH_DECAY_S, so the frames after it change a little; worst of 90 clips: 3.15).
MIN_EVENT_CONTRAST = 2.5


@pytest.fixture(scope="module")
def cfg():
    return load_config([f"world.num_videos={NUM_VIDEOS}"])


@pytest.fixture(scope="module")
def world(cfg, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("world"))
    return write_world(cfg, out), out


@pytest.fixture(scope="module")
def rows(world):
    return world[0].to_pylist()


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """d[k] = mean |frame_k - frame_{k-1}| for k >= 1 (d[0] = 0)."""
    d = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    return np.concatenate([[0.0], d])


def detect_events(d: np.ndarray, fps: int) -> np.ndarray:
    """Frames k >= 1 whose change d[k] is the largest within +-EVENT_WINDOW_S and above the threshold."""
    threshold = EVENT_FACTOR * np.median(d[1:])
    w = int(round(EVENT_WINDOW_S * fps))
    return np.array([k for k in range(1, len(d))
                     if d[k] > threshold and d[k] == d[max(1, k - w) : k + w + 1].max()], dtype=int)


def decord_frames(path: str) -> np.ndarray:
    vr = decord.VideoReader(path)
    return vr.get_batch(list(range(len(vr)))).asnumpy()


# ---------------------------------------------------------------------------------------------------
def test_ground_truth_table(world, rows, cfg):
    table, out = world
    w = cfg.world
    assert table.schema.remove_metadata() == GROUND_TRUTH_SCHEMA
    assert read_ground_truth(out).equals(table)
    assert len(rows) == NUM_VIDEOS
    # Balanced, round-robin classes; class_index names the class.
    assert Counter(r["class_name"] for r in rows) == {c: NUM_VIDEOS // len(w.classes) for c in w.classes}
    kinds = Counter()
    for r in rows:
        assert w.classes[r["class_index"]] == r["class_name"] == class_of(w, r["video_id"])
        assert r["tempo_bpm"] in w.tempos_bpm
        t = np.asarray(r["event_times"])
        assert r["hit_times"] == r["event_times"] and len(t) > 0
        assert r["event_frames"] == np.round(t * w.fps).astype(int).tolist()
        np.testing.assert_allclose(t * w.fps, np.round(t * w.fps), atol=1e-9)  # on the frame grid
        assert np.all(np.diff(t) >= w.min_gap_s - 1e-9)
        assert t[0] > 0 and t[-1] < w.duration_s
        # On the tempo's beat grid: every gap is a whole number of beats, up to the frame rounding.
        beats = np.diff(t) / (60.0 / r["tempo_bpm"])
        assert np.all(np.abs(beats - np.round(beats)) * 60.0 / r["tempo_bpm"] <= 1.0 / w.fps + 1e-9)
        assert len(r["event_kinds"]) == len(t)
        kinds.update(r["event_kinds"])
        assert (r["duration_s"], r["fps"], r["width"], r["height"]) == (w.duration_s, w.fps, w.width, w.height)
        assert r["has_audio"] is True and r["seed"] == w.seed
    assert set(kinds) == set(video.EVENT_KINDS)  # the kinds are mixed


def test_streams_and_durations(rows, cfg):
    w = cfg.world
    for r in rows:
        with av.open(r["uri"]) as c:
            (vs,), (aus,) = c.streams.video, c.streams.audio
            assert vs.codec_context.name == "h264" and vs.codec_context.pix_fmt == "yuv420p"
            assert (vs.codec_context.width, vs.codec_context.height) == (w.width, w.height)
            assert vs.average_rate == w.fps
            assert aus.codec_context.name == "aac" and aus.rate == w.sample_rate
            assert aus.codec_context.layout.nb_channels == 1
            # Both tracks last exactly duration_s (the AAC track's edit list trims priming and padding).
            assert float(vs.duration * vs.time_base) == pytest.approx(w.duration_s)
            assert float(aus.duration * aus.time_base) == pytest.approx(w.duration_s)
        audio, sr = read_audio(r["uri"])
        assert (len(audio), sr) == (round(w.duration_s * w.sample_rate), w.sample_rate)
        assert len(decord.VideoReader(r["uri"])) == round(w.duration_s * w.fps)


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_visual_events_at_stated_frames(rows, cfg, decoder):
    for r in rows:
        frames = decord_frames(r["uri"]) if decoder == "decord" else read_frames(r["uri"])[0]
        d = frame_changes(frames)
        truth = np.asarray(r["event_frames"])
        found = detect_events(d, cfg.world.fps)
        assert len(found) == len(truth), (r["video_id"], found, truth)
        assert np.all(np.abs(found - truth) <= FRAME_TOLERANCE), (r["video_id"], found, truth)
        quiet = np.ones(len(d), bool)
        quiet[0] = False
        quiet[truth] = False
        assert d[truth].min() >= MIN_EVENT_CONTRAST * d[quiet].max(), r["video_id"]


def test_decoders_agree(rows):
    """decord and PyAV decode the same pixels (both are FFmpeg underneath, same colour conversion)."""
    r = rows[0]
    np.testing.assert_array_equal(decord_frames(r["uri"]), read_frames(r["uri"])[0])


def test_audio_hits_at_stated_times(rows, cfg):
    for r in rows:
        audio, sr = read_audio(r["uri"])
        found = detect_hits(audio, sr)
        precision, recall, errors = match(found, np.asarray(r["hit_times"]), HIT_TOLERANCE_S)
        assert (precision, recall) == (1.0, 1.0), (r["video_id"], found, r["hit_times"])
        assert np.abs(errors).max() <= HIT_TOLERANCE_S


def test_decoded_audio_is_the_synthesised_audio(rows, cfg):
    """The AAC priming delay is compensated by the container: decoded sample i is synthesised sample i."""
    max_lag = 2048  # two AAC frames either way
    for r in rows[:3]:
        clip = make_clip(cfg.world, int(r["video_id"].rsplit("-", 1)[1]))
        decoded, _ = read_audio(r["uri"])
        ref = clip.audio[max_lag:-max_lag]
        corr = np.correlate(decoded, ref, mode="valid")  # index max_lag == no shift
        assert int(np.argmax(corr)) - max_lag == 0
        snr_db = 10 * np.log10(np.sum(clip.audio ** 2) / np.sum((clip.audio - decoded) ** 2))
        assert snr_db > 20.0


def test_instrument_follows_class(rows, cfg):
    """Away from the hits, the strongest frequency lies in the class's MIDI range (bass < arpeggio < bell)."""
    hop, n_fft, guard_s = 256, 2048, 0.07  # guard: half an analysis window around each hit
    per_class = {}
    for r in rows:
        audio, sr = read_audio(r["uri"])
        spec = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop))
        t = librosa.frames_to_time(np.arange(spec.shape[1]), sr=sr, hop_length=hop)
        tonal = np.ones(len(t), bool)
        for h in r["hit_times"]:
            tonal &= ~((t > h - guard_s) & (t < h + music.HIT_LENGTH_S + guard_s))
        peak_hz = librosa.fft_frequencies(sr=sr, n_fft=n_fft)[spec[:, tonal].argmax(axis=0)]
        inst = music.INSTRUMENTS[r["class_name"]]
        lo, hi = librosa.midi_to_hz([inst.midi_lo - 0.5, inst.midi_hi + 0.5])
        assert np.mean((peak_hz >= lo) & (peak_hz <= hi)) > 0.9, r["video_id"]
        per_class.setdefault(r["class_name"], []).append(np.median(peak_hz))
    assert max(per_class["bass"]) < min(per_class["arpeggio"]) and max(per_class["arpeggio"]) < min(per_class["bell"])


def test_deterministic_from_seed(world, cfg, tmp_path):
    table, _ = world
    # Same seed, fewer videos: the same first clips, bit for bit (a clip does not depend on the others).
    small = load_config([f"world.seed={cfg.world.seed}", "world.num_videos=2"])
    again = write_world(small, str(tmp_path / "again")).to_pylist()
    for a, b in zip(again, table.to_pylist()[:2]):
        assert {k: v for k, v in a.items() if k != "uri"} == {k: v for k, v in b.items() if k != "uri"}
        assert Storage().read_bytes(a["uri"]) == Storage().read_bytes(b["uri"])
        np.testing.assert_array_equal(read_audio(a["uri"])[0], read_audio(b["uri"])[0])
    # Another seed: another world.
    other = [make_clip(load_config(["world.seed=1"]).world, i) for i in range(2)]
    assert any(not np.array_equal(o.event_times, np.asarray(r["event_times"])) for o, r in zip(other, again))


def test_audioless_flavour(rows, tmp_path):
    silent_cfg = load_config(["world.num_videos=2", "world.with_audio=false"])
    silent = write_world(silent_cfg, str(tmp_path / "silent")).to_pylist()
    for s, r in zip(silent, rows):
        assert s["has_audio"] is False
        with av.open(s["uri"]) as c:
            assert len(c.streams.audio) == 0 and len(c.streams.video) == 1
        with pytest.raises(LookupError):
            read_audio(s["uri"])
        # Same seed: the same pictures and events as the world with audio.
        assert s["event_times"] == r["event_times"] and s["event_kinds"] == r["event_kinds"]
        np.testing.assert_array_equal(decord_frames(s["uri"]), decord_frames(r["uri"]))


def test_music_only(cfg):
    """The training-audio path: music for a given class/tempo/hits, without any video."""
    w = cfg.world
    rng = np.random.default_rng(7)
    clip = music.make_music(rng, "bell", 120.0, w)
    assert clip.audio.dtype == np.float32 and len(clip.audio) == round(w.duration_s * w.sample_rate)
    assert np.abs(clip.audio).max() <= 1.0
    # A hit adds sound starting exactly at its sample, not before.
    hit_s = 1.0
    quiet = music.render_music(np.random.default_rng(3), "bass", [], w)
    loud = music.render_music(np.random.default_rng(3), "bass", [hit_s], w)
    changed = np.flatnonzero(quiet != loud)
    assert changed[0] == round(hit_s * w.sample_rate)
    # Many clips: ~1.5 hits/s on average, never two hits closer than min_gap_s.
    gen = np.random.default_rng(0)
    hits = [music.sample_hit_times(gen, float(gen.choice(w.tempos_bpm)), w) for _ in range(300)]
    rate = np.mean([len(h) for h in hits]) / w.duration_s
    assert 1.2 < rate < 1.8
    assert min(np.diff(h).min() for h in hits if len(h) > 1) >= w.min_gap_s - 1e-9
    with pytest.raises(ValueError, match="no instrument"):
        music.render_music(rng, "kazoo", [], w)


def test_s3_output(s3_moto_env, cfg):
    """The world goes through Storage, so it can be written to S3 as well as to a folder."""
    out = f"s3://{s3_moto_env.new_bucket()}/world"
    table = write_world(load_config(["world.num_videos=1"]), out)
    uri = table.column("uri")[0].as_py()
    assert uri.startswith(out + "/videos/")
    storage = Storage()
    with storage.local_copy(uri) as path:
        assert len(decord.VideoReader(path)) == round(cfg.world.duration_s * cfg.world.fps)
    assert read_ground_truth(out).equals(table)


def test_make_world_job(tmp_path):
    out = tmp_path / "job"
    proc = subprocess.run([sys.executable, "jobs/make_world.py", f"output={out}", "world.num_videos=3"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "3 videos (with audio)" in proc.stdout
    assert "bass=1, arpeggio=1, bell=1" in proc.stdout
    assert str(out) in proc.stdout
    assert pq.read_table(out / GROUND_TRUTH_NAME).num_rows == 3
    assert len(list((out / "videos").glob("*.mp4"))) == 3
    helped = subprocess.run([sys.executable, "jobs/make_world.py", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "usage: python jobs/make_world.py" in helped.stdout
    assert "world.num_videos" in helped.stdout
