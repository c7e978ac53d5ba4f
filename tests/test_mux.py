"""Muxing music into real clips: the video stream is copied bit for bit, the new AAC track replaces
any old one, lines up in time and lasts as long as the video, and nothing half-written is left."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import decord
import numpy as np
import pytest

from vidmusician.config import load_config
from vidmusician.metrics.onsets import detect_hits, match
from vidmusician.mux import mux_soundtrack
from vidmusician.synth.media import read_audio
from vidmusician.synth.music import make_music

ASSETS = Path(__file__).parent / "assets"
SR = 16000


def video_packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def video_duration(path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return float(s.duration * s.time_base)


@pytest.mark.parametrize("clip", ["bigbuckbunny.mp4", "bikes.mp4"])  # 6-channel AAC / no audio at all
def test_mux_copies_video_and_adds_aligned_music(clip, tmp_path):
    src = ASSETS / clip
    duration = video_duration(src)
    world = replace(load_config(["preset=debug"]).world, duration_s=duration)
    music = make_music(np.random.default_rng(3), "bass", 120.0, world)
    out = tmp_path / "out" / f"{src.stem}.mp4"
    mux_soundtrack(str(src), music.audio, SR, str(out))

    assert video_packets(out) == video_packets(src)  # stream copy: not re-encoded
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1 and c.streams.audio[0].codec_context.name == "aac"
        assert c.streams.audio[0].codec_context.channels == 1
    audio, sr = read_audio(str(out))
    assert sr == SR and abs(len(audio) / sr - duration) < 0.01  # same duration as the video
    precision, recall, errors = match(detect_hits(audio, sr), music.hit_times, 0.03)
    assert recall >= 0.9 and np.abs(errors).max() < 0.02  # in time: no priming shift
    vr = decord.VideoReader(str(out))
    assert len(vr) == len(decord.VideoReader(str(src))) and vr[0].shape == decord.VideoReader(str(src))[0].shape
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left


def test_a_failed_mux_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(av.error.InvalidDataError):
        mux_soundtrack(str(bad), np.zeros(SR, np.float32), SR, str(tmp_path / "out" / "x.mp4"))
    assert list((tmp_path / "out").iterdir()) == []
