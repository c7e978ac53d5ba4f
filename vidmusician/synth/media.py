"""mp4 in memory with PyAV (which bundles FFmpeg): h264 + AAC encoding for the world, plain decoding to check it.

Encoding choices:
- video: libx264 (PyAV's wheels ship it), yuv420p, constant quality `crf`, a keyframe at least every
  GOP_S (x264 adds more at cuts) and no B-frames, so any frame decodes from a nearby keyframe and
  frame i is shown at i / fps.
- audio: FFmpeg's native `aac` encoder, mono. AAC encoders prepend `initial_padding` (1024) priming
  samples; FFmpeg's mp4 muxer records them in an edit list (and the trailing padding via the track
  duration), and FFmpeg-based decoders drop them. So we feed the audio with pts 0 and do not shift
  it ourselves: decoded sample i is synthesised sample i (tests/test_world.py checks this by
  cross-correlation and by hit onsets). The decoder does return the padding of the last AAC frame
  (512 samples for 4 s at 16 kHz): `read_audio` cuts the audio at the track's duration.
"""
from __future__ import annotations

import io
from fractions import Fraction
from typing import BinaryIO, Union

import av
import numpy as np

from vidmusician.mux import add_aac_stream, encode_audio

VIDEO_CODEC = "libx264"
PIX_FMT = "yuv420p"
X264_PRESET = "medium"
GOP_S = 0.5  # longest distance between keyframes

Source = Union[str, BinaryIO]


def encode_mp4(frames: np.ndarray, fps: int, crf: int, audio: np.ndarray | None = None,
               sample_rate: int | None = None, audio_bitrate: int = 96000) -> bytes:
    """Encodes RGB frames (N, H, W, 3) uint8 and an optional mono float audio track into mp4 bytes."""
    n, height, width, _ = frames.shape
    if height % 2 or width % 2:
        raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        vs = out.add_stream(VIDEO_CODEC, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, PIX_FMT
        vs.time_base = Fraction(1, fps)
        gop = max(1, int(round(GOP_S * fps)))
        vs.options = {"crf": str(crf), "preset": X264_PRESET, "bf": "0", "g": str(gop)}
        if audio is not None:
            aus = add_aac_stream(out, sample_rate, audio_bitrate)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if audio is not None:
            for packet in encode_audio(aus, audio, sample_rate):
                out.mux(packet)
    return buf.getvalue()


def _open(source: Source | bytes):
    return av.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)


def read_frames(source: Source | bytes) -> tuple[np.ndarray, float]:
    """All video frames as (N, H, W, 3) uint8 RGB, and the stream's frame rate."""
    with _open(source) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return np.stack(frames), float(stream.average_rate)


def read_audio(source: Source | bytes, mono: bool = True) -> tuple[np.ndarray, int]:
    """The first audio stream as float32 (mono: the mean of the channels; else (channels, N)) and its rate,
    trimmed to the stream's duration. Raises LookupError when the file has no audio stream."""
    with _open(source) as container:
        if not container.streams.audio:
            raise LookupError("no audio stream")
        stream = container.streams.audio[0]
        chunks = []
        for frame in container.decode(stream):
            x = frame.to_ndarray()  # planar formats: (channels, n); packed: (1, n * channels)
            if not frame.format.is_planar:
                x = x.reshape(-1, len(frame.layout.channels)).T
            if np.issubdtype(x.dtype, np.integer):  # s16/s32 formats: scale to [-1, 1)
                x = x / float(np.iinfo(x.dtype).max + 1)
            chunks.append(x.astype(np.float32))
        x = np.concatenate(chunks, axis=1)
        if stream.duration is not None:
            # The decoder drops the leading priming samples (edit list) but returns the encoder's padding
            # of the last AAC frame; the track's duration says where the audio really ends.
            x = x[:, : int(round(stream.duration * stream.time_base * stream.rate))]
        return (x.mean(axis=0) if mono else x), int(stream.rate)
