"""Music track preparation, as the paper's DVMSet was built: decode, mix to mono, resample to the
codec's rate, optional vocal removal, loudness normalisation, silence checks."""
from __future__ import annotations

import math

import numpy as np
import pyloudnorm


# pyloudnorm's gating needs at least one 400 ms block.
MIN_LOUDNESS_S = 0.4
# Normalisation never pushes peaks above this (a hard limiter would colour the codec's input).
PEAK_CEILING = 0.99


def rms_dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def normalize_loudness(x: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    if x.size < MIN_LOUDNESS_S * sample_rate:
        return x
    loudness = pyloudnorm.Meter(sample_rate).integrated_loudness(x.astype(np.float64))
    if not math.isfinite(loudness):
        return x
    y = x * (10 ** ((target_lufs - loudness) / 20))
    peak = float(np.abs(y).max())
    if peak > PEAK_CEILING:
        y = y * (PEAK_CEILING / peak)
    return y.astype(np.float32)


class Separator:
    """Vocal removal hook. `build_separator` returns None when `extract.separation` is "none"."""

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        raise NotImplementedError


class DemucsSeparator(Separator):
    """Keeps Demucs' non-vocal stems. Needs the `demucs` package and a local checkpoint."""

    def __init__(self, model_path: str):
        try:
            import demucs.apply
            import demucs.states
        except ImportError as err:
            raise RuntimeError("extract.separation=demucs needs the demucs package (pip install demucs)") from err
        import torch

        self._apply = demucs.apply.apply_model
        self.model = demucs.states.load_model(torch.load(model_path, map_location="cpu", weights_only=False))
        self.model.eval()

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import julius
        import torch

        x = torch.from_numpy(audio).view(1, 1, -1)
        x = julius.resample_frac(x, sample_rate, self.model.samplerate).expand(-1, self.model.audio_channels, -1)
        stems = self._apply(self.model, x, device="cpu")[0]  # [sources, channels, T]
        keep = [i for i, name in enumerate(self.model.sources) if name != "vocals"]
        music = stems[keep].sum(0).mean(0, keepdim=True)
        return julius.resample_frac(music, self.model.samplerate, sample_rate)[0].numpy().astype(np.float32)


def build_separator(kind: str, model_path: str | None) -> Separator | None:
    if kind == "none":
        return None
    if kind == "demucs":
        if not model_path:
            raise ValueError("extract.separation=demucs needs extract.separation_model")
        return DemucsSeparator(model_path)
    raise ValueError(f"extract.separation={kind!r}: expected 'none' or 'demucs'")
