"""Music-only training clips from the synthetic world (no video needed): class-balanced, seeded."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidmusician.config.schema import WorldConfig
from vidmusician.synth.music import make_music


@dataclass
class MusicSet:
    audio: np.ndarray        # [N, samples] float32
    classes: list[str]
    hit_times: list[np.ndarray]


def music_set(world: WorldConfig, count: int, seed: int) -> MusicSet:
    rng = np.random.default_rng(seed)
    audio, classes, hits = [], [], []
    for i in range(count):
        name = world.classes[i % len(world.classes)]
        clip = make_music(rng, name, float(rng.choice(world.tempos_bpm)), world)
        audio.append(clip.audio)
        classes.append(name)
        hits.append(clip.hit_times)
    return MusicSet(np.stack(audio), classes, hits)
