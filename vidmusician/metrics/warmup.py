"""Compiles librosa's numba kernels that the scores use, once, in one process.

librosa jit-compiles with `cache=True` into its own package folder. Processes that compile the same
kernel at the same time (Ray write tasks, the test process) race on that cache and can leave an entry
that crashes the next process loading it (seen as a SIGSEGV in librosa's beat tracker on a fresh venv).
scripts/setup_env.sh runs this right after installing, so every later process only reads the cache.

    python -m vidmusician.metrics.warmup
"""
from __future__ import annotations

import time

import numpy as np

from vidmusician.config.schema import ScoresConfig
from vidmusician.metrics.flow_beats import flow_beats
from vidmusician.metrics.video_scores import rhythm_scores, visual_beats

SAMPLE_RATE, SECONDS, CURVE_RATE, FPS = 16000, 4.0, 50.0, 25.0


def main() -> None:
    start = time.perf_counter()
    scores = ScoresConfig()  # the job's defaults
    rng = np.random.default_rng(0)
    wav = (rng.standard_normal(int(SAMPLE_RATE * SECONDS)) * 0.1).astype(np.float32)
    wav[:: SAMPLE_RATE // 2] = 1.0  # clicks: onsets for the detectors to find
    curve = rng.random((int(CURVE_RATE * SECONDS), 2)).astype(np.float32)
    frames = rng.integers(0, 255, (int(FPS * SECONDS), 32, 32, 3), dtype=np.uint8)
    rhythm_scores(visual_beats(curve, CURVE_RATE), wav, SAMPLE_RATE, SECONDS,
                  flow=flow_beats(frames, FPS, scores.flow_size, scores.flow_bins))
    print(f"warmup: librosa's numba kernels compiled and cached in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
