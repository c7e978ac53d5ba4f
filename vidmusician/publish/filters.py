"""One mono float track through an FFmpeg filter chain (PyAV's filter graph), with what the filters
log: ebur128 reports its measurements only in its log."""
from __future__ import annotations

import av
import av.filter
import av.logging
import numpy as np

# Samples per frame pushed into the graph.
FRAME_SAMPLES = 8192


def _filtered(x: np.ndarray, sample_rate: int, chain: str) -> list[np.ndarray]:
    graph = av.filter.Graph()
    nodes = [graph.add_abuffer(format="flt", sample_rate=sample_rate, layout="mono")]
    nodes += [graph.add(*f.split("=", 1)) if "=" in f else graph.add(f) for f in chain.split(",") if f]
    nodes += [graph.add("aformat", "sample_fmts=flt:channel_layouts=mono"), graph.add("abuffersink")]
    for a, b in zip(nodes, nodes[1:]):
        a.link_to(b)
    graph.configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                out.append(graph.pull().to_ndarray().reshape(-1))
            except (av.BlockingIOError, av.EOFError):
                return

    for start in range(0, x.shape[1], FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(x[:, start:start + FRAME_SAMPLES], format="flt", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, start
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return out  # the graph is freed on return, and its filters log their summaries then


def run_chain(audio: np.ndarray, sample_rate: int, chain: str) -> tuple[np.ndarray, list[str]]:
    """(`audio` through the FFmpeg audio filter chain `chain` (e.g. "aresample=96000,alimiter=..."),
    the filters' log messages). The output is mono float; its rate is whatever the chain ends at."""
    x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(1, -1))
    level = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)
    try:
        with av.logging.Capture() as logs:
            out = _filtered(x, sample_rate, chain)
    finally:
        av.logging.set_level(level)
    y = np.concatenate(out) if out else np.zeros(0, np.float32)
    return y.astype(np.float32, copy=False), [message for _, _, message in logs]
