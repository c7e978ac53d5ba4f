"""Putting music into videos with PyAV (FFmpeg): the music is encoded to AAC, and the file appears
under its final name only when complete.

The video stream is copied packet for packet (never re-encoded) when its codec is one of
`copy_codecs`: an mp4 carries it and browsers play it. Its timestamps (a variable frame rate) and its
display matrix (a phone's rotation) travel with it, so it is shown exactly as the source is. Any other
codec (ProRes, VP8, MJPEG, MPEG-4 Part 2...) is re-encoded to H.264 at a constant quality, frames
turned upright (the matrix is then the identity) and each kept at its own time.

AAC priming: FFmpeg's mp4 muxer records the encoder's 1024 priming samples in an edit list, so audio
fed with pts 0 starts at 0 for every FFmpeg-based player (see synth/media.py)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

AUDIO_CODEC = "aac"
AUDIO_BITRATE = 128000
# What re-encoded video becomes: H.264 in 4:2:0, what every browser and phone plays.
REENCODE_CODEC, REENCODE_PIX_FMT = "libx264", "yuv420p"
# Codecs an mp4 carries and the major browsers play (HEVC: Safari, Edge, Chrome with hardware support).
DEFAULT_COPY_CODECS = ("h264", "hevc", "av1", "vp9")
# HEVC in mp4 plays in Apple's players only under the 'hvc1' sample entry (FFmpeg writes 'hev1').
MP4_CODEC_TAGS = {"hevc": "hvc1"}


@dataclass(frozen=True)
class VideoPolicy:
    """How the video stream reaches the output (config: soundtrack.video)."""
    copy_codecs: tuple[str, ...] = DEFAULT_COPY_CODECS
    crf: int = 18
    preset: str = "medium"


def add_aac_stream(out, sample_rate: int, bitrate: int = AUDIO_BITRATE):
    stream = out.add_stream(AUDIO_CODEC, rate=sample_rate, layout="mono")
    stream.bit_rate = bitrate
    stream.time_base = Fraction(1, sample_rate)
    return stream


def encode_audio(stream, audio: np.ndarray, sample_rate: int, offset: int = 0) -> list:
    """All AAC packets of a mono float track, in the codec's frame size (1024; the last may be shorter),
    starting `offset` samples after time 0."""
    samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
    step = stream.codec_context.frame_size
    packets = []
    for start in range(0, samples.shape[1], step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + step]),
                                           format="fltp", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, offset + start
        packets += stream.encode(frame)
    return packets + stream.encode(None)


def _seconds(packet) -> float:
    return float((packet.dts if packet.dts is not None else packet.pts or 0) * packet.time_base)


def _reencode(src, vin, out, policy: VideoPolicy):
    """A generator of the H.264 packets of `vin`'s frames, upright, each at its source time."""
    vout = out.add_stream(REENCODE_CODEC, rate=vin.average_rate or vin.guessed_rate)
    vout.pix_fmt = REENCODE_PIX_FMT
    vout.time_base = vout.codec_context.time_base = vin.time_base
    vout.options = {"crf": str(policy.crf), "preset": policy.preset}
    vout.width = vout.height = 0  # set from the first frame, once its rotation is known

    def packets():
        for frame in src.decode(vin):
            if frame.pts is None:
                continue
            turns = round((frame.rotation or 0) / 90) % 4
            image = np.rot90(frame.to_ndarray(format="rgb24"), k=turns)
            if not vout.width:
                # 4:2:0 needs even sizes: an odd last row or column is dropped.
                vout.height, vout.width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
            upright = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:vout.height, :vout.width]),
                                                 format="rgb24")
            upright.pts, upright.time_base = frame.pts, frame.time_base
            yield from vout.encode(upright)
        yield from vout.encode(None)
    return vout, packets()


def _copy(src, vin, out):
    vout = out.add_stream_from_template(vin, opaque=True)  # the codec id is what matters: no encoder
    if codec_name(vin) in MP4_CODEC_TAGS:
        vout.codec_tag = MP4_CODEC_TAGS[codec_name(vin)]

    def packets():
        for packet in src.demux(vin):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = vout
            yield packet
    return vout, packets()


def codec_name(stream) -> str:
    """The stream's codec ("av1"), not the decoder FFmpeg picked for it ("libdav1d")."""
    return stream.codec_context.codec.canonical_name


def video_output(codec: str, policy: VideoPolicy) -> str:
    """What happens to a video stream of this codec: "copy" or the codec it is re-encoded to."""
    return "copy" if codec in policy.copy_codecs else "h264"


def mux_soundtrack(video_path: str, audio: np.ndarray, sample_rate: int, out_path: str,
                   bitrate: int = AUDIO_BITRATE, policy: VideoPolicy = VideoPolicy()) -> str:
    """Writes `out_path` (mp4): the first video stream of `video_path` (copied, or re-encoded per
    `policy`), plus `audio` (mono float) as its only audio track; any audio the source had is dropped.
    Atomic: written beside the target under a temporary name, then renamed. Returns what happened to
    the video stream (`video_output`)."""
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".mp4.part", dir=directory)
    os.close(fd)
    try:
        with av.open(video_path) as src, av.open(tmp, mode="w", format="mp4") as out:
            if not src.streams.video:
                raise ValueError(f"{video_path}: no video stream")
            vin = src.streams.video[0]
            how = video_output(codec_name(vin), policy)
            vout, video = _copy(src, vin, out) if how == "copy" else _reencode(src, vin, out, policy)
            aout = add_aac_stream(out, sample_rate, bitrate)
            # The music starts with the picture: a video stream may start after 0 (Matroska, edit lists).
            offset = round(float(vin.start_time * vin.time_base) * sample_rate) if vin.start_time else 0
            audio_packets = None
            a = 0
            for packet in video:
                if audio_packets is None:
                    # The codecs open once every stream is complete (a re-encode knows its size from the
                    # first frame); from here on the AAC frame size is known.
                    out.start_encoding()
                    audio_packets = encode_audio(aout, audio, sample_rate, offset)
                # Interleave by time, so the muxer never buffers a whole stream.
                while a < len(audio_packets) and _seconds(audio_packets[a]) <= _seconds(packet):
                    out.mux(audio_packets[a])
                    a += 1
                out.mux(packet)
            if audio_packets is None:
                raise ValueError(f"{video_path}: no video frames")
            for packet in audio_packets[a:]:
                out.mux(packet)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return how
