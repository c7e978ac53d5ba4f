"""What the source video already sounds like: no audio track, silent, speech, or other sound (music,
effects). Speech is found by Silero VAD (the `silero-vad` package, which ships its model: no download,
CPU, about 0.1 s per minute of audio). Chosen over WebRTC's VAD because WebRTC's energy-and-GMM detector
fires on music as well, and generated videos often carry music or effects, which must not be ducked
as if they were speech."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from vidmusician.config.schema import Config
from vidmusician.publish.loudness import measure
from vidmusician.publish.music import music_fraction
from vidmusician.video.audio import NoAudioTrack, read_audio_aligned

VAD_RATE = 16000  # Silero VAD's rate
NONE, SILENT, SPEECH, SOUND = "none", "silent", "speech", "sound"


@dataclass(frozen=True)
class SourceAudio:
    kind: str                       # NONE, SILENT, SPEECH or SOUND
    lufs: float = -math.inf         # integrated loudness of the source's audio
    speech: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # [K, 2] seconds
    # Fraction of its windows the music detector hears music in (publish/music.py); NaN: not asked.
    music: float = math.nan

    @property
    def speech_s(self) -> float:
        return float((self.speech[:, 1] - self.speech[:, 0]).sum()) if len(self.speech) else 0.0


@functools.cache
def _vad():
    from silero_vad import load_silero_vad  # torch: imported only where speech is looked for
    return load_silero_vad()


def speech_segments(audio: np.ndarray, threshold: float) -> np.ndarray:
    """[K, 2] start and end times (s) of the speech in a mono track at VAD_RATE."""
    import torch
    from silero_vad import get_speech_timestamps
    found = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), _vad(),
                                  threshold=threshold, sampling_rate=VAD_RATE, return_seconds=True)
    return np.array([[s["start"], s["end"]] for s in found], dtype=np.float64).reshape(-1, 2)


def analyse_source_audio(path: str, cfg: Config, listen_for_music: bool = False) -> SourceAudio:
    """Whether the video at `path` has sound of its own, how loud, where it speaks, and (when asked
    and a detector is configured) how much of it is music."""
    pub = cfg.soundtrack.publish
    try:
        audio = read_audio_aligned(path, VAD_RATE)
    except NoAudioTrack:
        return SourceAudio(NONE)
    level = measure(audio, VAD_RATE)
    if not level.integrated_lufs > pub.silence_lufs:
        return SourceAudio(SILENT, level.integrated_lufs)
    speech = speech_segments(audio, pub.vad_threshold)
    spoken_s = float((speech[:, 1] - speech[:, 0]).sum())
    music = music_fraction(audio, VAD_RATE, cfg) if listen_for_music and pub.music_detector else math.nan
    return SourceAudio(SPEECH if spoken_s >= pub.speech_min_s else SOUND, level.integrated_lufs, speech, music)
