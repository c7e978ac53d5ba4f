"""A video's own sound track, decoded by FFmpeg (PyAV): the extract job's music and the soundtracking
job's source audio (what a mix policy keeps or ducks under the music)."""
from __future__ import annotations

import av
import numpy as np

from vidmusician.video.errors import InputError


class NoAudioTrack(InputError):
    pass


def _decode_mono(container, sample_rate: int) -> np.ndarray:
    if not container.streams.audio:
        raise NoAudioTrack("no audio track")
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks = []
    for frame in container.decode(container.streams.audio[0]):
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def read_audio_mono(path: str, sample_rate: int) -> np.ndarray:
    """The first audio stream, mixed to mono and resampled by FFmpeg (PyAV), float32."""
    with av.open(path) as container:
        return _decode_mono(container, sample_rate)


def _start_s(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def read_audio_aligned(path: str, sample_rate: int) -> np.ndarray:
    """The first audio stream as read_audio_mono gives it, with time 0 at the first video frame: an
    audio stream that starts later is padded with silence, one that starts earlier is cut (as a
    player presents them together)."""
    with av.open(path) as container:
        audio = _decode_mono(container, sample_rate)
        video = container.streams.video
        offset = _start_s(container.streams.audio[0]) - (_start_s(video[0]) if video else 0.0)
    shift = round(offset * sample_rate)
    return np.pad(audio, (shift, 0)) if shift > 0 else audio[-shift:]
