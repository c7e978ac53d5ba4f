"""Putting music into videos with PyAV (FFmpeg): the video stream is copied packet for packet (never
re-encoded), the music is encoded to AAC, and the file appears under its final name only when complete.

AAC priming: FFmpeg's mp4 muxer records the encoder's 1024 priming samples in an edit list, so audio
fed with pts 0 starts at 0 for every FFmpeg-based player (see synth/media.py)."""
from __future__ import annotations

import os
import tempfile
from fractions import Fraction

import av
import numpy as np

AUDIO_CODEC = "aac"
AUDIO_BITRATE = 128000


def add_aac_stream(out, sample_rate: int, bitrate: int = AUDIO_BITRATE):
    stream = out.add_stream(AUDIO_CODEC, rate=sample_rate, layout="mono")
    stream.bit_rate = bitrate
    stream.time_base = Fraction(1, sample_rate)
    return stream


def encode_audio(stream, audio: np.ndarray, sample_rate: int) -> list:
    """All AAC packets of a mono float track, in the codec's frame size (1024; the last may be shorter)."""
    samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
    step = stream.codec_context.frame_size
    packets = []
    for start in range(0, samples.shape[1], step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + step]),
                                           format="fltp", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, start
        packets += stream.encode(frame)
    return packets + stream.encode(None)


def _seconds(packet) -> float:
    return float((packet.dts if packet.dts is not None else packet.pts or 0) * packet.time_base)


def mux_soundtrack(video_path: str, audio: np.ndarray, sample_rate: int, out_path: str,
                   bitrate: int = AUDIO_BITRATE) -> None:
    """Writes `out_path` (mp4): the first video stream of `video_path` copied, plus `audio` (mono float)
    as its only audio track; any audio the source had is dropped. Atomic: written beside the target
    under a temporary name, then renamed."""
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".mp4.part", dir=directory)
    os.close(fd)
    try:
        with av.open(video_path) as src, av.open(tmp, mode="w", format="mp4") as out:
            if not src.streams.video:
                raise ValueError(f"{video_path}: no video stream")
            vin = src.streams.video[0]
            vout = out.add_stream_from_template(vin)
            aout = add_aac_stream(out, sample_rate, bitrate)
            out.start_encoding()  # opens the codecs (the AAC frame size is known from here on)
            audio_packets = encode_audio(aout, audio, sample_rate)
            # Interleave by time, so the muxer never buffers a whole stream.
            a = 0
            for packet in src.demux(vin):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                while a < len(audio_packets) and _seconds(audio_packets[a]) <= _seconds(packet):
                    out.mux(audio_packets[a])
                    a += 1
                packet.stream = vout
                out.mux(packet)
            for packet in audio_packets[a:]:
                out.mux(packet)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
