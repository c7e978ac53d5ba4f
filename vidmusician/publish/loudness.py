"""Loudness of a track as the platforms measure it (ITU-R BS.1770 / EBU R128, by FFmpeg's ebur128
filter: integrated loudness, loudness range, 4x-oversampled true peak), and normalisation to a target
loudness under a true-peak ceiling: a gain, and where the gain would push peaks over the ceiling,
FFmpeg's look-ahead limiter run at 4x the rate (so it sees the peaks between samples), then measured
again and corrected until both hold."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from vidmusician.config.schema import PublishConfig
from vidmusician.config.validate import LOUDNESS_PLATFORMS
from vidmusician.publish.filters import run_chain

# ebur128 gates out blocks below -70 LUFS: a quieter track has no integrated loudness (silence).
SILENCE_LUFS = -70.0
OVERSAMPLING = 4          # true peak: BS.1770-4 Annex 2 oversamples by 4
PASSES = 4                # gain / limiter corrections before the last resort (a plain gain down)
# The peak is held this far under the ceiling: ebur128 prints 0.1 dB steps, and true-peak meters
# interpolate differently (scipy's polyphase filter reads up to 0.1 dB above ebur128 on clipped input).
PEAK_MARGIN_DB = 0.2
_NUMBER = r"(-?inf|-?\d+(?:\.\d+)?)"


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float   # -inf: silent (every block gated out)
    true_peak_dbtp: float
    range_lu: float

    @property
    def silent(self) -> bool:
        return not self.integrated_lufs > SILENCE_LUFS


def targets(pub: PublishConfig) -> tuple[float, float]:
    """(target LUFS, true-peak ceiling dBTP): the platform's, each overridden where set."""
    target, ceiling = LOUDNESS_PLATFORMS[pub.platform]
    return (target if pub.target_lufs is None else pub.target_lufs,
            ceiling if pub.true_peak_dbtp is None else pub.true_peak_dbtp)


def _field(name: str, text: str) -> float:
    found = re.search(rf"{name}:\s*{_NUMBER}", text)
    if not found:
        raise RuntimeError(f"FFmpeg's ebur128 summary has no {name!r}: {text!r}")
    return float(found.group(1))


def measure(audio: np.ndarray, sample_rate: int) -> Loudness:
    """Integrated loudness, true peak and loudness range of a mono track (FFmpeg ebur128)."""
    if len(audio) == 0:
        return Loudness(-math.inf, -math.inf, 0.0)
    _, logs = run_chain(audio, sample_rate, "ebur128=peak=true")
    summary = "".join(m for m in logs if "Summary" in m or "True peak" in m)
    integrated = _field("I", summary)
    # Below the absolute gate ebur128 still prints its floor (-70.0): that is silence, not a level.
    return Loudness(integrated if integrated > SILENCE_LUFS else -math.inf,
                    _field("Peak", summary.split("True peak")[-1]), _field("LRA", summary))


def _limited(audio: np.ndarray, sample_rate: int, gain_db: float, limit_db: float | None,
             attack_ms: float, release_ms: float) -> np.ndarray:
    gained = (audio * 10 ** (gain_db / 20)).astype(np.float32)
    if limit_db is None:
        return gained
    up = sample_rate * OVERSAMPLING
    chain = (f"aresample={up},alimiter=limit={10 ** (limit_db / 20):.6f}:attack={attack_ms:g}"
             f":release={release_ms:g}:level=0:latency=1,aresample={sample_rate}")
    limited, _ = run_chain(gained, sample_rate, chain)
    return limited[:len(audio)] if len(limited) >= len(audio) else np.pad(limited, (0, len(audio) - len(limited)))


def normalize(audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbtp: float,
              tolerance_lu: float, attack_ms: float, release_ms: float) -> tuple[np.ndarray, Loudness]:
    """(`audio` at `target_lufs` +- `tolerance_lu` with its true peak <= `ceiling_dbtp`, its measured
    loudness). A silent track is returned as it is. The limiter is used only where the gain alone
    would cross the ceiling; if it still cannot meet both, the peak wins (a plain gain down)."""
    level = measure(audio, sample_rate)
    if level.silent:
        return audio, level
    aim = ceiling_dbtp - PEAK_MARGIN_DB  # the highest true peak accepted
    gain = target_lufs - level.integrated_lufs
    limit = aim - PEAK_MARGIN_DB if level.true_peak_dbtp + gain > aim else None
    out, now = audio, level
    for _ in range(PASSES):
        out = _limited(audio, sample_rate, gain, limit, attack_ms, release_ms)
        now = measure(out, sample_rate)
        over, short = now.true_peak_dbtp - aim, target_lufs - now.integrated_lufs
        if over <= 0 and abs(short) <= tolerance_lu:
            return out, now
        if over > 0:
            limit = (aim if limit is None else limit) - over - PEAK_MARGIN_DB
        if abs(short) > tolerance_lu:
            gain += short
    if now.true_peak_dbtp > aim:  # the last resort: the ceiling is a hard rule
        out = (out * 10 ** ((aim - PEAK_MARGIN_DB - now.true_peak_dbtp) / 20)).astype(np.float32)
        now = measure(out, sample_rate)
    return out, now
