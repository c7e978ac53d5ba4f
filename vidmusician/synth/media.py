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
import struct
from fractions import Fraction
from typing import BinaryIO, Optional, Sequence, Union

import av
import numpy as np

from vidmusician.mux import add_aac_stream, encode_audio

VIDEO_CODEC = "libx264"
PIX_FMT = "yuv420p"
X264_PRESET = "medium"
GOP_S = 0.5  # longest distance between keyframes

Source = Union[str, BinaryIO]


# Time base of variable-frame-rate encodes (MPEG's 90 kHz clock).
VFR_CLOCK = 90000


def encode_mp4(frames: np.ndarray, fps: int, crf: int, audio: np.ndarray | None = None,
               sample_rate: int | None = None, audio_bitrate: int = 96000) -> bytes:
    """Encodes RGB frames (N, H, W, 3) uint8 and an optional mono float audio track into mp4 bytes."""
    gop = max(1, int(round(GOP_S * fps)))
    return encode_video(frames, fps, VIDEO_CODEC, "mp4", {"crf": str(crf), "preset": X264_PRESET, "bf": "0",
                                                          "g": str(gop)},
                        audio=audio, sample_rate=sample_rate, audio_bitrate=audio_bitrate)


def encode_video(frames: np.ndarray, fps: int, codec: str, container: str, options: dict | None = None,
                 pix_fmt: str = PIX_FMT, times_s: Optional[Sequence[float]] = None,
                 audio: np.ndarray | None = None, sample_rate: int | None = None,
                 audio_bitrate: int = 96000, container_options: dict | None = None,
                 path: str | None = None) -> bytes:
    """RGB frames (N, H, W, 3) uint8 in any codec and container FFmpeg writes (the odd uploads of the
    tests: HEVC, AV1, VP8/9, ProRes...). Frame i is shown at i / fps, or at `times_s[i]` (a variable
    frame rate, on a 90 kHz clock); an optional mono float audio track (AAC). container_options: the
    muxer's, e.g. {"movflags": "frag_keyframe+empty_moov"} for a fragmented mp4, or "faststart" (the
    index first, as web uploads have it: that one rewrites a real file, so give `path`)."""
    n, height, width, _ = frames.shape
    if height % 2 or width % 2:
        raise ValueError(f"4:2:x pixel formats need even frame sizes, got {width}x{height}")
    clock = Fraction(1, fps) if times_s is None else Fraction(1, VFR_CLOCK)
    pts = list(range(n)) if times_s is None else [round(t * VFR_CLOCK) for t in times_s]
    buf = io.BytesIO()
    with av.open(path or buf, mode="w", format=container, options=container_options or {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.time_base = vs.codec_context.time_base = clock
        vs.options = dict(options or {})
        if audio is not None:
            aus = add_aac_stream(out, sample_rate, audio_bitrate)
        for rgb, t in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = t, clock
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if audio is not None:
            for packet in encode_audio(aus, audio, sample_rate):
                out.mux(packet)
    if path:
        with open(path, "rb") as f:
            return f.read()
    return buf.getvalue()


# mp4 'tkhd' box: after its 8-byte header, version (1) and flags (3), then the times, track id and
# duration (20 bytes in version 0, 32 in version 1), 8 reserved bytes, layer, alternate group, volume
# and 2 reserved bytes (8), then the 3x3 display matrix (9 x int32) and the track's width and height.
_TKHD_TIMES = {0: 20, 1: 32}


def set_mp4_rotation(data: bytes, degrees: int) -> bytes:
    """The mp4 with the display matrix of its video track(s) set to a rotation, as phones record
    portrait video: the pictures stay stored as they were, players turn them (`degrees` counter-
    clockwise as FFmpeg reports it: a phone's portrait clip is -90)."""
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), -90: (0, -1), 270: (0, -1)}[degrees]
    # ISO/IEC 14496-12 matrix {a, b, u, c, d, v, x, y, w}: a-d, x, y in 16.16 fixed point, u, v, w 2.30.
    # FFmpeg's av_display_rotation_get reads the angle as atan2(b, a) of the transposed matrix.
    matrix = [cos, -sin, 0, sin, cos, 0, 0, 0, 1]
    packed = struct.pack(">9i", *[int(v * (1 << 30 if k in (2, 5, 8) else 1 << 16)) for k, v in enumerate(matrix)])
    out, at = bytearray(data), 0
    while (at := out.find(b"tkhd", at + 1)) > 0:
        matrix_at = at + 8 + _TKHD_TIMES[out[at + 4]] + 16
        if struct.unpack(">I", out[matrix_at + 36:matrix_at + 40])[0]:  # a visual track has a width
            out[matrix_at:matrix_at + 36] = packed
    return bytes(out)


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
