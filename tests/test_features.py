"""Decoding to the encoder's size and the per-video features of both adapter paths."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model_fixtures import debug_config
from vidmusician.models.builders import build_clip_encoder
from vidmusician.models.rhythm import patch_change_curve, resample_curve
from vidmusician.synth.world import write_world
from vidmusician.video.features import semantic_indices, video_features
from vidmusician.video.frames import DecodeError, VideoFrames, sample_frames, sample_times

ASSETS = Path(__file__).parent / "assets"
LM_FRAME_RATE = 50.0


@pytest.mark.parametrize("size", [32, 48, 224])
def test_sample_frames_at_fixed_rate_and_size(size):
    video = sample_frames(str(ASSETS / "carphone_pristine.mp4"), fps=25.0, size=size)
    # 29.97 fps source, ~4 s: 25 fps sampling gives ceil(duration * 25) frames.
    assert video.frames.shape[0] == int(np.ceil(video.duration_s * 25 - 1e-9))
    assert video.frames.shape[1:] == (size, size, 3) and video.frames.dtype == np.uint8
    assert abs(video.source_fps - 29.97) < 0.01


def _windows(video: VideoFrames, window: int, hop: int, fps: float) -> list[np.ndarray]:
    """Frames of each window the way the decode stage asks for them: the window plus the frame before it."""
    count = int(video.duration_s * fps)
    return [video.at(np.arange(max(0, start - 1), min(count, start + window)) / fps)
            for start in range(0, count, hop)]


@pytest.mark.parametrize("hop", [100, 60])
def test_windowed_decoding_serves_overlaps_from_memory(hop):
    """Windows that overlap the previous one get the same frames as one pass over the video, and on a
    clip with a single keyframe they cost about one pass; without the held samples, a window that
    starts behind the reader's position (hop < window) seeks and re-decodes from the keyframe. The one
    sample before each window (hop = window) is the frame still shown: no seek either way."""
    path, fps, window = str(ASSETS / "bigbuckbunny.mp4"), 25.0, 100
    whole = VideoFrames(path, 64, threads=1)
    everything = whole.at(np.arange(int(whole.duration_s * fps)) / fps)
    video = VideoFrames(path, 64, threads=1, keep=window - hop + 1)
    for i, frames in enumerate(_windows(video, window, hop, fps)):
        start = i * hop
        assert np.array_equal(frames, everything[max(0, start - 1):start + window])
    assert len(video.recent) <= window - hop + 1

    # The cost is counted in decoded frames, not timed: a timing beside other test workers is noise.
    def decoded(video: VideoFrames) -> int:
        _windows(video, window, hop, fps)
        return video.decoded

    one_pass = VideoFrames(path, 64, threads=1)
    one_pass.at(np.arange(int(whole.duration_s * fps)) / fps)
    windowed = decoded(VideoFrames(path, 64, threads=1, keep=window - hop + 1))
    seeking = decoded(VideoFrames(path, 64, threads=1))
    assert windowed <= one_pass.decoded, (windowed, one_pass.decoded)
    assert (seeking > 1.25 * one_pass.decoded) == (hop < window), (seeking, one_pass.decoded)


@pytest.mark.parametrize("source", ["60fps", "vfr"])
def test_each_sample_is_the_frame_shown_at_its_time(tmp_path, source):
    """Frame i of the source shows grey level 8 * (i % 32); the sample at time t must be the last frame
    whose timestamp is at or before t: a 60 fps source sampled at 25 fps (frames skipped, and a freed
    frame's memory reused by the next), and a variable frame rate (gaps of 10-90 ms)."""
    from vidmusician.synth.media import encode_video

    n = 150
    times = np.arange(n) / 60 if source == "60fps" else np.concatenate(
        [[0.0], np.cumsum(np.random.default_rng(2).uniform(0.01, 0.09, n - 1))])
    frames = np.repeat((8 * (np.arange(n) % 32)).astype(np.uint8)[:, None, None, None], 3, axis=3)
    frames = np.broadcast_to(frames, (n, 32, 32, 3)).copy()
    path = tmp_path / f"{source}.mp4"
    encode_video(frames, 60, "libx264", "mp4", {"crf": "0", "preset": "ultrafast"}, times_s=times, path=str(path))
    video = VideoFrames(str(path), 16)
    samples = sample_times(video.duration_s, 25.0)
    shown = np.searchsorted(times, samples + 1e-6, side="right") - 1
    got = video.at(samples)[:, 8, 8, 0].astype(int)
    assert np.abs(got - 8 * (shown % 32)).max() <= 2, (got[:20], 8 * (shown % 32)[:20])


def test_undecodable_inputs_raise_a_clear_error(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(DecodeError, match="notes.mp4"):
        sample_frames(str(bad), 25.0, 32)


def test_rhythm_curve_peaks_at_the_visual_events(tmp_path):
    cfg = debug_config("world.num_videos=3", "world.with_audio=false")
    table = write_world(cfg, str(tmp_path))
    encoder = build_clip_encoder(cfg.model.clip)
    for row in table.to_pylist():
        video = sample_frames(row["uri"], cfg.model.rhythm.fps, encoder.image_size)
        feats = encoder(torch.from_numpy(video.frames))
        curve = patch_change_curve(feats.patches, "mean")[:, 0].numpy()
        events = np.array(row["event_frames"])
        # The strongest len(events) changes after frame 0 (d_0 = 1 by definition) are the events, +-1 frame.
        top = np.sort(np.argsort(curve[1:])[::-1][:len(events)] + 1)
        assert np.all(np.abs(top - events) <= 1), (top, events)


def test_video_features_shapes_and_rates():
    cfg = debug_config()
    encoder = build_clip_encoder(cfg.model.clip)
    video = sample_frames(str(ASSETS / "bikes.mp4"), cfg.model.rhythm.fps, encoder.image_size)
    feats = video_features(encoder, video.frames, video.duration_s, cfg.model, LM_FRAME_RATE)
    assert feats.cls.shape == (int(np.ceil(video.duration_s)), encoder.dim)  # 1 fps
    assert feats.rhythm.shape == (int(np.ceil(video.duration_s * LM_FRAME_RATE)), 2)
    assert semantic_indices(250, 25.0, 1.0).tolist() == list(range(0, 250, 25))


def test_resampling_is_linear_interpolation():
    curve = torch.tensor([[0.0], [1.0], [0.0]])
    out = resample_curve(curve, 25.0, 50.0, 6)[:, 0].tolist()
    assert out == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])
