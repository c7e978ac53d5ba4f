"""One video's published sound track from its generated music: fades, loudness, and the mix with the
source's own audio that its mix policy asks for."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidmusician.config.schema import PublishConfig
from vidmusician.publish.fades import apply_fades, fade_out_start
from vidmusician.publish.loudness import Loudness, normalize, targets
from vidmusician.publish.mix import DUCK, REPLACE, duck
from vidmusician.video.audio import read_audio_aligned


@dataclass
class Published:
    music: np.ndarray        # the music stem: faded, at the target loudness
    audio: np.ndarray        # what is muxed: the music, or the mix
    music_level: Loudness
    output_level: Loudness
    fade_out_start_s: float

    @property
    def mixed(self) -> bool:
        return self.audio is not self.music


def _normalized(audio: np.ndarray, sample_rate: int, pub: PublishConfig) -> tuple[np.ndarray, Loudness]:
    target, ceiling = targets(pub)
    return normalize(audio, sample_rate, target, ceiling, pub.tolerance_lu, pub.limiter_attack_ms,
                     pub.limiter_release_ms)


def publish_track(music: np.ndarray, sample_rate: int, beats_s: np.ndarray, mix: str, source_path: str,
                  speech: np.ndarray, pub: PublishConfig) -> Published:
    """Fades first (the loudness is then measured on what is heard), then the music normalised. Under
    `duck` the source's audio is brought to the same target first (its speech then sits where the
    music would, and the ducked music under it), then the sum is normalised again: a small correction,
    where normalising a quiet voice plus full-level music as a whole would push the music-only parts
    into the limiter."""
    start = fade_out_start(len(music) / sample_rate, beats_s, pub.fade_out_s, pub.fade_beat_window_s,
                           pub.fade_max_fraction)
    stem, level = _normalized(apply_fades(music, sample_rate, pub.fade_in_s, start), sample_rate, pub)
    if mix == REPLACE:
        return Published(stem, stem, level, level, start)
    if mix != DUCK:
        raise ValueError(f"no published track for mix {mix!r}")
    source, _ = _normalized(read_audio_aligned(source_path, sample_rate), sample_rate, pub)
    mixed, mixed_level = _normalized(duck(stem, source, sample_rate, speech, pub), sample_rate, pub)
    return Published(stem, mixed, level, mixed_level, start)
