"""Scores that need model weights (FAD, KL over an audio tagger, ImageBind-style video-music
similarity) plug in here: a scorer registers a factory under its name; `soundtrack.scores.model_scores`
maps a name to its weights. A score whose weights are not configured is absent (null) in the table,
never zero: a missing model must not read as a bad soundtrack."""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

# The table always has these columns; they are null unless their scorer is configured.
MODEL_SCORE_COLUMNS = ("fad", "kl", "imagebind")


class ModelScorer(Protocol):
    """features: the video's VideoFeatures (CLIP CLS tokens at the semantic rate, the rhythm curve);
    the frames themselves are never held whole (see soundtrack/generate.py)."""
    def __call__(self, features, wav: np.ndarray, sr: int) -> float: ...


_FACTORIES: dict[str, Callable[[str], ModelScorer]] = {}


def register(name: str):
    """Decorator: `@register("kl")` on a factory `weights -> scorer`."""
    if name not in MODEL_SCORE_COLUMNS:
        raise ValueError(f"model score {name!r} has no column (known: {MODEL_SCORE_COLUMNS})")

    def wrap(factory: Callable[[str], ModelScorer]):
        _FACTORIES[name] = factory
        return factory
    return wrap


def build_scorers(configured: dict[str, str]) -> dict[str, ModelScorer]:
    """The configured scorers, built once per worker. An unknown or unregistered name is an error
    before any video is processed."""
    missing = sorted(set(configured) - set(_FACTORIES))
    if missing:
        raise ValueError(f"soundtrack.scores.model_scores: no scorer registered for {missing} "
                         f"(registered: {sorted(_FACTORIES) or 'none'}; columns: {MODEL_SCORE_COLUMNS})")
    return {name: _FACTORIES[name](weights) for name, weights in configured.items()}
