"""Where the soundtracking job writes, and the model version its outputs are keyed by. A soundtrack's
files are named by its key: the content hash, plus a short hash of the row's controls when the
manifest sets any (soundtrack/controls.py); below, <content_hash> stands for that key.

    <output>/<model_version>/soundtracks/<content_hash>.wav   the music (faded, at the target loudness)
    <output>/<model_version>/soundtracks/<content_hash>.mix.wav  the mixed track, when a mix policy
                                                              kept the source's audio under it
    <output>/<model_version>/soundtracks/<content_hash>.mp4   the video with it (video stream copied)
    <output>/<model_version>/soundtracks/<content_hash>.json  its score row, written last: the marker
                                                              that the three files are complete
    <output>/<model_version>/outcomes/part-<run>-<n>.parquet  one row per input, flushed as videos end
    <output>/<model_version>/scores.parquet                   the score table of the inputs of the run
    <output>/<model_version>/review/index.html                the review page
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from vidmusician.config import Config, config_hash
from vidmusician.storage import Storage, join_uri

NO_ADAPTERS = "none"


def adapter_version(cfg: Config, storage: Storage) -> str:
    """Short sha256 of the adapter file's bytes ("none" for the base model)."""
    if not cfg.soundtrack.adapters:
        return NO_ADAPTERS
    return hashlib.sha256(storage.read_bytes(cfg.soundtrack.adapters)).hexdigest()[:16]


def model_version(cfg: Config, adapters: str) -> str:
    """Everything that shapes the published sound: model config (backbone id or local path, CLIP, T5,
    adapter architecture), the adapter bytes, the generation settings, the precision, the seed and the
    publishing settings (loudness, fades, mix policy) and best-of-N's. A local backbone directory is
    identified by its path: replacing the weights in place needs a new path (or a new seed)."""
    st = cfg.soundtrack
    return "mv-" + config_hash({"model": config_hash(cfg.model), "generation": config_hash(cfg.generation),
                                "adapters": adapters, "precision": cfg.precision.value,
                                "seed": cfg.seed, "publish": config_hash(cfg.soundtrack.publish),
                                "selection": [st.candidates, st.select_by, st.max_clipped_fraction,
                                              st.min_music_lufs]})[:12]


def run_config_hash(cfg: Config) -> str:
    """The whole config minus what only says where (input, output, Ray, storage endpoints)."""
    return config_hash({k: config_hash(getattr(cfg, k)) for k in ("model", "generation", "video", "soundtrack")}
                       | {"seed": cfg.seed})


@dataclass(frozen=True)
class Layout:
    root: str  # <output>/<model_version>

    @classmethod
    def of(cls, output: str, version: str) -> "Layout":
        return cls(join_uri(output, version))

    def artefact(self, content_hash: str, suffix: str) -> str:
        return join_uri(self.root, "soundtracks", f"{content_hash}{suffix}")

    def wav(self, content_hash: str) -> str:
        return self.artefact(content_hash, ".wav")

    def mix_wav(self, content_hash: str) -> str:
        return self.artefact(content_hash, ".mix.wav")

    def mp4(self, content_hash: str) -> str:
        return self.artefact(content_hash, ".mp4")

    def marker(self, content_hash: str) -> str:
        return self.artefact(content_hash, ".json")

    @property
    def outcomes(self) -> str:
        return join_uri(self.root, "outcomes")

    @property
    def scores(self) -> str:
        return join_uri(self.root, "scores.parquet")

    @property
    def review(self) -> str:
        return join_uri(self.root, "review", "index.html")
